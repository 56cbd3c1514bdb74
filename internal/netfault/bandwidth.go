package netfault

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Bandwidth shapes the stream with a token bucket: Rate bytes per second,
// with up to Burst bytes passing at once after an idle spell. The bucket
// belongs to the fault, so every link and direction it is installed on
// shares the rate, as traffic through one shaped interface does.
type Bandwidth struct {
	Rate  int64 // bytes per second, > 0
	Burst int64 // bytes; 0 means Rate/100 (10 ms worth)

	mu     sync.Mutex
	tokens float64
	last   time.Time

	bytes, firstBytes atomic.Int64
	first, prev       atomic.Int64 // unix nanos of the first and latest release
}

// Apply implements Fault.
func (b *Bandwidth) Apply(ctx context.Context, c *Chunk) (Verdict, error) {
	n := len(c.Data)
	if n == 0 || b.Rate <= 0 {
		return Pass, nil
	}
	// Reserve the chunk's tokens now (the bucket may go into debt) and wait
	// until the debt is paid: concurrent links are served in the order they
	// asked.
	wait := b.reserve(n)
	if err := c.WaitUntil(ctx, time.Now().Add(wait)); err != nil {
		b.refund(n)
		return Pass, err
	}
	now := time.Now().UnixNano()
	if b.first.CompareAndSwap(0, now) {
		b.firstBytes.Store(int64(n))
	}
	b.prev.Store(now)
	b.bytes.Add(int64(n))
	return Pass, nil
}

func (b *Bandwidth) burst() float64 {
	if b.Burst > 0 {
		return float64(b.Burst)
	}
	return max(float64(b.Rate)/100, 1)
}

func (b *Bandwidth) reserve(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.last.IsZero() {
		b.tokens = b.burst()
	} else {
		b.tokens = min(b.burst(), b.tokens+now.Sub(b.last).Seconds()*float64(b.Rate))
	}
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / float64(b.Rate) * float64(time.Second))
}

func (b *Bandwidth) refund(n int) {
	b.mu.Lock()
	b.tokens = min(b.burst(), b.tokens+float64(n))
	b.mu.Unlock()
}

// BandwidthStats is what a Bandwidth fault measured. Rate is the bytes
// passed after the first chunk divided by the time from the first release to
// the latest one, so idle time before traffic does not count; the first
// chunk's bytes are left out because they pass at the start of the span.
type BandwidthStats struct {
	Bytes int64   `json:"bytes"`
	Rate  float64 `json:"rate"` // bytes per second
}

// Stats reports the bytes passed and the measured rate.
func (b *Bandwidth) Stats() BandwidthStats {
	st := BandwidthStats{Bytes: b.bytes.Load()}
	first, last := b.first.Load(), b.prev.Load()
	if span := time.Duration(last - first); span > 0 {
		st.Rate = float64(st.Bytes-b.firstBytes.Load()) / span.Seconds()
	}
	return st
}
