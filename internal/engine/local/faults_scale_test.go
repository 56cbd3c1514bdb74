package local

import (
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// Two ScaleChaos on one service that overlap and end in the order they
// began: the first to end must not restore the count it replaced while
// the second still holds the service, and the last to end restores the
// original count.
func TestOverlappingScalesRestoreTheOriginalCount(t *testing.T) {
	tests := []struct {
		name       string
		firstEnds  bool // the older fault is reverted first
		wantMiddle int  // replicas once one of the two is reverted
	}{
		{"older ends first", true, 3},
		{"newer ends first", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startEnv(t, testEnvironment("oscale"), testOptions(t))
			waitReady(t, s)
			e := newTestEngine(t, s)
			scale := func(name string, n int32) engine.Injection {
				inj, err := e.Inject(testContext(t), engine.Fault{Kind: "ScaleChaos", Name: name, Duration: time.Hour,
					Spec: &v1alpha1.ScaleChaosSpec{Service: "api", Replicas: ptr(n)}})
				if err != nil {
					t.Fatal(err)
				}
				return inj
			}
			desired := func() int {
				n, err := e.desiredReplicas("api")
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			older := scale("api-to-1", 1)
			newer := scale("api-to-3", 3)
			if got := desired(); got != 3 {
				t.Fatalf("after both faults: %d replicas, want 3", got)
			}
			first, second := newer, older
			if tt.firstEnds {
				first, second = older, newer
			}
			if err := first.Revert(testContext(t)); err != nil {
				t.Fatal(err)
			}
			if got := desired(); got != tt.wantMiddle {
				t.Fatalf("after the first revert: %d replicas, want %d", got, tt.wantMiddle)
			}
			if err := second.Revert(testContext(t)); err != nil {
				t.Fatal(err)
			}
			if got := desired(); got != 2 {
				t.Fatalf("after both reverts: %d replicas, want the original 2", got)
			}
			waitReady(t, s)
		})
	}
}
