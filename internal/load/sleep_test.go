package load

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The sleeper may return up to its lead early (the worker spins out the
// rest), never more; with spinUntil the send is never early. Only lower
// bounds are asserted: a loaded box may always wake us late.
func TestSleeperNeverEarly(t *testing.T) {
	sl := newSleeper()
	for _, gap := range []time.Duration{0, 50 * time.Microsecond, time.Millisecond, 5 * time.Millisecond} {
		for i := 0; i < 20; i++ {
			deadline := time.Now().Add(gap + 300*time.Microsecond)
			if err := sl.until(context.Background(), deadline, gap); err != nil {
				t.Fatal(err)
			}
			if early := time.Until(deadline); early > sl.maxLead {
				t.Fatalf("gap %v: returned %v before the deadline, more than the %v lead", gap, early, sl.maxLead)
			}
			spinUntil(deadline)
			if time.Now().Before(deadline) {
				t.Fatalf("gap %v: spinUntil returned before the deadline", gap)
			}
		}
	}
}

func TestSleeperCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := newSleeper().until(ctx, time.Now().Add(time.Hour), time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("until = %v, want context.Canceled", err)
	}
}
