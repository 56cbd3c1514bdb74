package netfault

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Latency delays each chunk to its arrival + Delay ± Jitter (uniform). The
// writer releases chunks one after another, so a chunk never overtakes the
// one before it: with jitter, a chunk whose own release time has passed goes
// out right after its predecessor.
type Latency struct {
	Delay  time.Duration
	Jitter time.Duration

	chunks  atomic.Int64
	mu      sync.Mutex
	samples []time.Duration // ring of the last len(samples) added delays
	next    int
}

// latencySamples bounds the memory the measurement keeps.
const latencySamples = 8192

// Apply implements Fault.
func (l *Latency) Apply(ctx context.Context, c *Chunk) (Verdict, error) {
	if len(c.Data) == 0 {
		return Pass, nil
	}
	d := l.Delay
	if l.Jitter > 0 {
		d += time.Duration(rand.Int64N(int64(2*l.Jitter)+1)) - l.Jitter
	}
	if err := c.WaitUntil(ctx, c.Arrival.Add(d)); err != nil {
		return Pass, err
	}
	l.record(time.Since(c.Arrival))
	return Pass, nil
}

func (l *Latency) record(d time.Duration) {
	l.chunks.Add(1)
	l.mu.Lock()
	if len(l.samples) < latencySamples {
		l.samples = append(l.samples, d)
	} else {
		l.samples[l.next] = d
		l.next = (l.next + 1) % latencySamples
	}
	l.mu.Unlock()
}

// LatencyStats is what a Latency fault measured: the delay it actually added
// to each chunk (arrival to release), over the last 8192 chunks.
type LatencyStats struct {
	Chunks int64         `json:"chunks"`
	P50    time.Duration `json:"p50"`
	P99    time.Duration `json:"p99"`
}

// Stats reports the measured added delay.
func (l *Latency) Stats() LatencyStats {
	l.mu.Lock()
	s := slices.Clone(l.samples)
	l.mu.Unlock()
	st := LatencyStats{Chunks: l.chunks.Load()}
	if len(s) == 0 {
		return st
	}
	slices.Sort(s)
	st.P50 = s[(len(s)-1)/2]
	st.P99 = s[(len(s)-1)*99/100]
	return st
}
