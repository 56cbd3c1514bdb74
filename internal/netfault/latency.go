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
//
// Correlation (0 to 1) ties each chunk's jitter to the previous one's the
// way netem's delay correlation does: the uniform draw is
// (1-Correlation)·random + Correlation·previous, so successive delays drift
// instead of jumping, and (as with netem) the spread narrows as the
// correlation grows. The previous draw is the fault's, shared by every link
// it is installed on, as netem's state belongs to its qdisc.
type Latency struct {
	Delay       time.Duration
	Jitter      time.Duration
	Correlation float64

	chunks  atomic.Int64
	mu      sync.Mutex
	samples []time.Duration // ring of the last len(samples) added delays
	next    int
	last    float64 // previous uniform draw in [0,1], for Correlation
	drawn   bool
}

// latencySamples bounds the memory the measurement keeps.
const latencySamples = 8192

// Apply implements Fault.
func (l *Latency) Apply(ctx context.Context, c *Chunk) (Verdict, error) {
	if len(c.Data) == 0 {
		return Pass, nil
	}
	d := l.delay()
	if err := c.WaitUntil(ctx, c.Arrival.Add(d)); err != nil {
		return Pass, err
	}
	l.record(time.Since(c.Arrival))
	return Pass, nil
}

// delay draws the delay of the next chunk.
func (l *Latency) delay() time.Duration {
	if l.Jitter <= 0 {
		return l.Delay
	}
	u := rand.Float64()
	if rho := min(max(l.Correlation, 0), 1); rho > 0 {
		l.mu.Lock()
		if l.drawn {
			u = (1-rho)*u + rho*l.last
		}
		l.last, l.drawn = u, true
		l.mu.Unlock()
	}
	return l.Delay + time.Duration((2*u-1)*float64(l.Jitter))
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
	// Mean is the average added delay over the same window.
	Mean time.Duration `json:"mean"`
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
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	st.Mean = sum / time.Duration(len(s))
	st.P50 = s[(len(s)-1)/2]
	st.P99 = s[(len(s)-1)*99/100]
	return st
}
