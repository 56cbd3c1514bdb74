package local

import "time"

// Kubelet's restart back-off: the first restart after a crash is immediate,
// then 10 s, 20 s, 40 s … capped at 5 minutes; a container that ran for 10
// minutes before it exited starts over from no delay.
const (
	DefaultBackoffBase  = 10 * time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultBackoffReset = 10 * time.Minute
)

// backoff tracks one container's restart delays.
type backoff struct {
	base, max, reset time.Duration
	// crashes is the number of consecutive exits not separated by a run
	// longer than reset.
	crashes int
}

// next records an exit after the container ran for ran and returns how long
// to wait before starting it again.
func (b *backoff) next(ran time.Duration) time.Duration {
	if b.reset > 0 && ran >= b.reset {
		b.crashes = 0
	}
	b.crashes++
	if b.crashes == 1 {
		return 0
	}
	d := b.base
	for i := 2; i < b.crashes && d < b.max; i++ {
		d *= 2
	}
	if d > b.max {
		d = b.max
	}
	return d
}
