package load

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	tests := []struct {
		name           string
		from, to       float64
		over, duration time.Duration
		count          int64
		firstHalf      int64 // requests due before duration/2
		checkAt        map[int64]time.Duration
	}{
		{name: "constant 200/s for 2s", from: 200, to: 200, duration: 2 * time.Second, count: 400, firstHalf: 200,
			checkAt: map[int64]time.Duration{0: 0, 1: 5 * time.Millisecond, 399: 1995 * time.Millisecond}},
		{name: "fraction 0.5/s for 5s", from: 0.5, to: 0.5, duration: 5 * time.Second, count: 3, firstHalf: 2,
			checkAt: map[int64]time.Duration{1: 2 * time.Second, 2: 4 * time.Second}},
		// N(1s) = 50 + 100/4 = 75; N(2s) = 200.
		{name: "ramp 50→150 over 2s", from: 50, to: 150, over: 2 * time.Second, duration: 2 * time.Second, count: 200, firstHalf: 75},
		// From 0: N(t) = 25 t², request n at √(n/25).
		{name: "ramp 0→100 over 2s", from: 0, to: 100, over: 2 * time.Second, duration: 2 * time.Second, count: 100, firstHalf: 25,
			checkAt: map[int64]time.Duration{0: 0, 25: time.Second}},
		// Down to 0 and nothing after: N(1s) = 50, so requests 0…50, the
		// last exactly at the bottom of the ramp.
		{name: "ramp 100→0 over 1s, then none", from: 100, to: 0, over: time.Second, duration: 3 * time.Second, count: 51, firstHalf: 51},
		// 1 s ramp 0→100 (50 requests), then held 100/s for 1 s (100).
		{name: "ramp then hold", from: 0, to: 100, over: time.Second, duration: 2 * time.Second, count: 150, firstHalf: 50,
			checkAt: map[int64]time.Duration{50: time.Second, 100: 1500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSchedule(tt.from, tt.to, tt.over, tt.duration)
			if got := s.count(); got != tt.count {
				t.Errorf("count = %d, want %d", got, tt.count)
			}
			var n, first int64
			prev := time.Duration(-1)
			for ; n < 10*tt.count+10; n++ {
				at, ok := s.at(n)
				if !ok {
					break
				}
				if at < prev {
					t.Fatalf("at(%d) = %v goes back from %v", n, at, prev)
				}
				prev = at
				if at < tt.duration/2 {
					first++
				}
			}
			if n != tt.count {
				t.Errorf("at() yields %d requests, want %d", n, tt.count)
			}
			if first != tt.firstHalf {
				t.Errorf("first half holds %d requests, want %d", first, tt.firstHalf)
			}
			for i, want := range tt.checkAt {
				got, ok := s.at(i)
				if d := got - want; !ok || d < -time.Microsecond || d > time.Microsecond {
					t.Errorf("at(%d) = %v, %v; want %v", i, got, ok, want)
				}
			}
		})
	}
}

// A long run at a high rate: send times stay exact (no accumulated drift)
// because each is computed from n, not from the previous one.
func TestScheduleNoDrift(t *testing.T) {
	s := newSchedule(1000, 1000, 0, 24*time.Hour)
	n := int64(86_399_999)
	at, ok := s.at(n)
	if want := time.Duration(n) * time.Millisecond; !ok || at != want {
		t.Fatalf("at(%d) = %v, %v; want %v", n, at, ok, want)
	}
}
