package load

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/internal/timeline"
)

// LiveStats are rolling figures over about the last second, for the live
// terminal view.
type LiveStats struct {
	// SentRate is requests per second handed to the network.
	SentRate float64
	// OKRate is successful responses per second.
	OKRate float64
	// ErrorRate is the share of completed requests that failed, 0–1
	// (drops included).
	ErrorRate float64
	// P50 and P99 of the latency (from the scheduled send time) of the
	// requests completed in the window, successful and failed alike.
	P50, P99 time.Duration
	// InFlight are requests on the wire now; Queued wait for a worker.
	InFlight, Queued int64
}

// Latency summarises a latency distribution measured from scheduled send
// times.
type Latency struct {
	P50, P90, P99, P999, Max, Mean time.Duration
}

// Totals summarise the whole load so far.
type Totals struct {
	// Scheduled requests came due; every one is eventually Sent or Dropped
	// (or discarded by a cancelled Run).
	Scheduled int64
	// Sent were handed to a worker.
	Sent int64
	// Dropped found every worker busy and the queue full.
	Dropped int64
	// OK and Errors are recorded outcomes (Errors includes Dropped).
	OK, Errors int64
	// ErrorsByKind counts Errors by class: "timeout", "status 503", …
	ErrorsByKind map[string]int64
	// Latency of every completed request, successful or failed; drops
	// are excluded because they never reached the service.
	Latency Latency
}

// Histogram geometry: microseconds from 1 µs to 1 h. The whole-run
// histogram keeps 3 significant digits; the live window's slots keep 2
// (1 % precision is plenty for a terminal and keeps each slot ~20 KiB).
const (
	histMin     = 1
	histMax     = int64(time.Hour / time.Microsecond)
	liveSlots   = 20 // of one flush period each: 20 × 50 ms = 1 s
	flushPeriod = 50 * time.Millisecond
)

// stats is fed by the flusher goroutine alone (batches of outcomes) and
// read by Live and Totals; one mutex is enough because it is taken once
// per flush, not per request.
type stats struct {
	mu       sync.Mutex
	total    *hdrhistogram.Histogram
	live     *hdrhistogram.WindowedHistogram
	slots    [liveSlots]liveSlot
	cur      int // index of the slot being filled
	ok, errs int64
	dropped  int64
	byKind   map[string]int64
}

type liveSlot struct {
	start         time.Time
	sent, ok, err int64
}

func newStats(now time.Time) *stats {
	s := &stats{
		total:  hdrhistogram.New(histMin, histMax, 3),
		live:   hdrhistogram.NewWindowed(liveSlots, histMin, histMax, 2),
		byKind: map[string]int64{},
	}
	s.slots[0].start = now
	return s
}

// add folds one flushed batch into the figures.
func (s *stats) add(batch []timeline.Request, sent int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := &s.slots[s.cur]
	sl.sent += sent
	for i := range batch {
		r := &batch[i]
		if r.OK {
			s.ok++
			sl.ok++
		} else {
			s.errs++
			sl.err++
			s.byKind[r.Error]++
			if r.Error == ErrDropped {
				s.dropped++
				continue
			}
		}
		us := max(int64(r.Latency/time.Microsecond), histMin)
		// RecordValue fails only beyond histMax (an hour); clamp rather than
		// lose the request from the distribution.
		us = min(us, histMax)
		_ = s.total.RecordValue(us)
		_ = s.live.Current.RecordValue(us)
	}
}

// rotate starts a new live slot; called once per flush period.
func (s *stats) rotate(now time.Time) {
	s.mu.Lock()
	s.cur = (s.cur + 1) % liveSlots
	s.slots[s.cur] = liveSlot{start: now}
	s.live.Rotate()
	s.mu.Unlock()
}

func (s *stats) liveStats(now time.Time) LiveStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ls LiveStats
	oldest := now
	var sent, ok, errs int64
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.start.IsZero() {
			continue
		}
		if sl.start.Before(oldest) {
			oldest = sl.start
		}
		sent += sl.sent
		ok += sl.ok
		errs += sl.err
	}
	if span := now.Sub(oldest).Seconds(); span > 0 {
		ls.SentRate = float64(sent) / span
		ls.OKRate = float64(ok) / span
	}
	if ok+errs > 0 {
		ls.ErrorRate = float64(errs) / float64(ok+errs)
	}
	h := s.live.Merge()
	ls.P50 = time.Duration(h.ValueAtQuantile(50)) * time.Microsecond
	ls.P99 = time.Duration(h.ValueAtQuantile(99)) * time.Microsecond
	return ls
}

func (s *stats) totals() Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Totals{OK: s.ok, Errors: s.errs, Dropped: s.dropped, ErrorsByKind: make(map[string]int64, len(s.byKind))}
	for k, v := range s.byKind {
		t.ErrorsByKind[k] = v
	}
	h := s.total
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	t.Latency = Latency{
		P50: us(h.ValueAtQuantile(50)), P90: us(h.ValueAtQuantile(90)), P99: us(h.ValueAtQuantile(99)),
		P999: us(h.ValueAtQuantile(99.9)), Max: us(h.Max()),
		Mean: time.Duration(h.Mean() * float64(time.Microsecond)),
	}
	return t
}
