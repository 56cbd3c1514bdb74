package measure

import (
	"math/bits"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/faultline-dev/faultline/internal/timeline"
)

// Latency histogram geometry: microseconds from 1 µs to 1 h at three
// significant digits, so any percentile is within 0.1% of the recorded
// value. Latencies above an hour are recorded as an hour (Max keeps the
// real value).
const (
	histUnit    = time.Microsecond
	histLowest  = 1
	histHighest = int64(time.Hour / histUnit)
	histDigits  = 3
)

// phaseAcc accumulates one span's requests and checks. Percentiles come
// from an HdrHistogram; max and mean are kept exactly, because the
// histogram's are rounded to its buckets and a report's "max" should be a
// latency that really happened.
type phaseAcc struct {
	span         timeline.Span
	requests, ok int64
	hist         *hdrhistogram.Histogram
	// sumHi:sumLo is the 128-bit sum of latencies in nanoseconds: an int64
	// sum would overflow after ~2.5 million hour-long requests, and the
	// mean must not silently wrap.
	sumHi, sumLo uint64
	max          time.Duration
	errors       map[string]int64
	// timed counts the requests with a latency (all but drops).
	timed   int64
	checks  int
	matched int
}

func newPhaseAcc(span timeline.Span) *phaseAcc {
	return &phaseAcc{span: span, hist: hdrhistogram.New(histLowest, histHighest, histDigits)}
}

func (a *phaseAcc) addRequest(r *timeline.Request) {
	a.requests++
	if r.Error == timeline.ErrorDropped {
		// A dropped request never reached the service: it counts against
		// availability but has no latency to report.
		a.countError(r)
		return
	}
	a.timed++
	lat := max(r.Latency, 0)
	v := min(int64(lat/histUnit), histHighest)
	// RecordValue cannot fail: v is clamped into the histogram's range.
	_ = a.hist.RecordValue(v)
	var carry uint64
	a.sumLo, carry = bits.Add64(a.sumLo, uint64(lat), 0)
	a.sumHi += carry
	a.max = max(a.max, lat)
	if r.OK {
		a.ok++
		return
	}
	a.countError(r)
}

func (a *phaseAcc) countError(r *timeline.Request) {
	if a.errors == nil {
		a.errors = map[string]int64{}
	}
	a.errors[errorKind(r)]++
}

func (a *phaseAcc) addCheck(c *timeline.Check) {
	a.checks++
	if c.Match {
		a.matched++
	}
}

// errorKind classifies a failed request for ErrorsByKind: the load
// generator's class when it gave one, else the HTTP status.
func errorKind(r *timeline.Request) string {
	switch {
	case r.Error != "":
		return r.Error
	case r.Status != 0:
		return "status " + strconv.Itoa(r.Status)
	default:
		return "failed"
	}
}

// percentile returns the latency at percentile p (0 < p ≤ 100) the way
// HdrHistogram computes it — the value at rank round(p/100·n), reported as
// the highest value equivalent to it at three significant digits — and
// capped at the exact maximum, so p99.9 never exceeds max.
func (a *phaseAcc) percentile(p float64) time.Duration {
	if a.timed == 0 {
		return 0
	}
	if p >= 100 {
		return a.max
	}
	v := time.Duration(a.hist.ValueAtPercentile(p)) * histUnit
	return min(v, a.max)
}

func (a *phaseAcc) mean() time.Duration {
	if a.timed == 0 {
		return 0
	}
	// The sum is below timed·2^63, so the high word is below the divisor
	// and Div64 cannot panic.
	q, _ := bits.Div64(a.sumHi, a.sumLo, uint64(a.timed))
	return time.Duration(q)
}

func (a *phaseAcc) stats() PhaseStats {
	s := PhaseStats{
		Phase:        a.span.Name,
		Start:        a.span.Start,
		End:          a.span.End,
		Requests:     a.requests,
		OK:           a.ok,
		Errors:       a.requests - a.ok,
		Availability: 100,
		ErrorsByKind: a.errors,
		Consistency:  -1,
	}
	if a.requests > 0 {
		s.Availability = percentOf(a.ok, a.requests)
		s.ErrorRate = percentOf(a.requests-a.ok, a.requests)
	}
	s.Throughput = rate(a.ok, a.span.End-a.span.Start)
	s.Latency = Latency{
		P50:  a.percentile(50),
		P90:  a.percentile(90),
		P99:  a.percentile(99),
		P999: a.percentile(99.9),
		Max:  a.max,
		Mean: a.mean(),
	}
	if a.checks > 0 {
		s.Consistency = percentOf(int64(a.matched), int64(a.checks))
	}
	return s
}

// percentOf is 100·part/whole with a single rounding, so that a ratio that
// is exactly a bound written in a manifest (995 of 1000 against 99.5)
// compares equal to it; whole must be positive.
func percentOf(part, whole int64) float64 {
	return float64(part*100) / float64(whole)
}

// rate is events per second over d, with a single rounding; 0 for an empty
// span.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) * float64(time.Second) / float64(d)
}
