package load

import (
	"context"
	"runtime"
	"time"
)

// sleeper waits until a send time precisely without burning a core.
//
// Go timers alone are not precise enough here: when every P is idle the
// runtime parks in epoll_wait with a millisecond timeout, so a timer fires
// up to ~1 ms late, and that lateness would be added to every measured
// latency (latency runs from the scheduled time). Measured on the 2-core
// box, idle, sleeping to a send time:
//
//	time.Timer alone              p50 ≈ 550 µs late, ~2 % CPU at 200 sends/s
//	timer + Gosched spin 1.2 ms   p50 < 1 µs late, 17 % CPU at 200/s, 100 % above ~800/s
//	timer + nanosleep             p50 ≈ 50 µs late, ~5 % CPU at 200/s
//
// So waiting has three stages: a reused time.Timer until `coarse` before
// the send time (covering the epoll rounding); then a thread sleep
// (nanosleep on Linux, woken within the kernel's ~50 µs timer slack) until
// `lead` before it; then the dispatcher hands the request over and the
// worker spins (yielding) for the last `lead` and sends. Handing over
// early takes the goroutine wake-up (tens of µs on an idle runtime) out of
// the measured latency. The lead is at most a quarter of the gap between
// sends, so at most about one worker spins at a time and the spin costs at
// most a quarter of one core; spinning more at high rates was measured to
// starve the requests themselves.
//
// Above 1/fineMinGap (4000) sends per second the timer alone is used. The
// precise stages cost about 30 µs of CPU per send (mostly the runtime
// handing the sleeping thread's P to another thread and back), which is
// noise at a few hundred sends per second but a third of a core at 10000
// (measured: 75 vs 42 µs of process CPU per request for vegeta), and that
// CPU would be taken from the service under test on a small box. At high
// rates the runtime is also busier and its timers later by less.
type sleeper struct {
	timer      *time.Timer
	coarse     time.Duration
	maxLead    time.Duration
	leadFrac   float64
	fineMinGap time.Duration
}

func newSleeper() *sleeper {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &sleeper{timer: t, coarse: 1200 * time.Microsecond, maxLead: 80 * time.Microsecond,
		leadFrac: 0.25, fineMinGap: 250 * time.Microsecond}
}

// until returns shortly before deadline (by at most the lead it returns),
// or early with ctx's error. gap is the time since the previous send time
// (the schedule's current spacing). The caller spins out the lead with
// spinUntil, ideally in the goroutine that will send.
func (s *sleeper) until(ctx context.Context, deadline time.Time, gap time.Duration) error {
	d := time.Until(deadline)
	if d <= 0 {
		return ctx.Err()
	}
	fine := gap >= s.fineMinGap && s.coarse > 0
	if !fine || d > s.coarse {
		wait := d
		if fine {
			wait = d - s.coarse
		}
		// Go 1.23+ timers: Reset on a stopped or fired timer is safe and
		// its channel never delivers a stale tick.
		s.timer.Reset(wait)
		select {
		case <-s.timer.C:
		case <-ctx.Done():
			s.timer.Stop()
			return ctx.Err()
		}
		if !fine {
			return nil
		}
	}
	lead := min(s.maxLead, time.Duration(float64(gap)*s.leadFrac))
	if d = time.Until(deadline) - lead; d > 0 {
		threadSleep(d) // at most `coarse`: not worth a ctx check
	}
	return ctx.Err()
}

// spinUntil yields until deadline. It is bounded twice over: by the
// deadline, and by a count in case the clock misbehaves (each round is a
// scheduler pass, well over 50 ns, so the count is beyond any lead).
func spinUntil(deadline time.Time) {
	for i := 0; i < 1_000_000 && time.Now().Before(deadline); i++ {
		runtime.Gosched()
	}
}
