package load

import (
	"math"
	"time"
)

// schedule gives the send time of every request as a pure function of its
// sequence number, so the generator never drifts: however late one wake-up
// is, request n is still due at origin + at(n), not "previous + interval".
//
// The rate ramps linearly from `from` to `to` over `over` and then holds
// `to`; a constant rate is a ramp with from == to. The cumulative count of
// requests due by time t is
//
//	N(t) = from·t + (to−from)·t²/(2·over)   for t ≤ over
//	N(t) = N(over) + to·(t−over)            after
//
// and request n is sent at the t where N(t) = n (request 0 at t = 0).
type schedule struct {
	from, to float64 // requests per second
	over     float64 // seconds; 0 means constant rate `to`
	end      float64 // seconds: requests are due in [0, end)
	nOver    float64 // N(over)
}

func newSchedule(from, to float64, over, duration time.Duration) schedule {
	s := schedule{from: from, to: to, over: over.Seconds(), end: duration.Seconds()}
	if s.over <= 0 || from == to {
		s.over, s.from = 0, to
	}
	s.nOver = s.from*s.over + (s.to-s.from)*s.over/2
	return s
}

// at is the offset of request n from the origin; ok is false when request n
// is not due before the end of the load.
func (s schedule) at(n int64) (time.Duration, bool) {
	fn := float64(n)
	var t float64
	switch {
	case s.over > 0 && fn <= s.nOver:
		// Solve a·t² + b·t − n = 0 with a = (to−from)/(2·over), b = from.
		// This form of the root stays exact when a is 0 or tiny and when
		// from is 0, where the textbook (−b+√…)/2a cancels badly.
		a := (s.to - s.from) / (2 * s.over)
		disc := s.from*s.from + 4*a*fn
		if disc < 0 {
			disc = 0 // rounding at the top of a downward ramp
		}
		den := s.from + math.Sqrt(disc)
		if den <= 0 {
			t = 0
		} else {
			t = 2 * fn / den
		}
	case s.to > 0:
		t = s.over + (fn-s.nOver)/s.to
	default:
		return 0, false // ramped down to 0: nothing more is due
	}
	if t >= s.end || math.IsNaN(t) {
		return 0, false
	}
	return time.Duration(t * float64(time.Second)), true
}

// count is how many requests are due in [0, end): the length of the run.
func (s schedule) count() int64 {
	var n float64
	switch {
	case s.over > 0 && s.end <= s.over:
		n = s.from*s.end + (s.to-s.from)*s.end*s.end/(2*s.over)
	default:
		n = s.nOver + s.to*(s.end-s.over)
	}
	// N(end) requests are due in [0, end] counting n = 0; those landing
	// exactly on end are excluded, hence the check against at().
	// The estimate is off by at most one either way from float rounding;
	// the loops are bounded accordingly.
	c := int64(math.Ceil(n))
	for i := 0; i < 3 && c > 0; i++ {
		if _, ok := s.at(c - 1); ok {
			break
		}
		c--
	}
	for i := 0; i < 3; i++ {
		if _, ok := s.at(c); !ok {
			break
		}
		c++
	}
	return c
}

// peak is the highest rate of the schedule, for sizing the worker pool.
func (s schedule) peak() float64 { return math.Max(s.from, s.to) }
