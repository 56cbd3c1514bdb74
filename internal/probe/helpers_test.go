package probe

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// memSink records what a Scheduler writes.
type memSink struct {
	mu     sync.Mutex
	probes []timeline.ProbeResult
	checks []timeline.Check
}

func (s *memSink) AddProbe(p timeline.ProbeResult) {
	s.mu.Lock()
	s.probes = append(s.probes, p)
	s.mu.Unlock()
}

func (s *memSink) AddCheck(c timeline.Check) {
	s.mu.Lock()
	s.checks = append(s.checks, c)
	s.mu.Unlock()
}

func (s *memSink) results(name string) []timeline.ProbeResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []timeline.ProbeResult
	for _, p := range s.probes {
		if p.Probe == name {
			out = append(out, p)
		}
	}
	return out
}

func (s *memSink) allChecks() []timeline.Check {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]timeline.Check(nil), s.checks...)
}

// waitFor polls cond. The deadline only keeps a broken test from hanging;
// it is generous because CI has two noisy cores.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustNew(t *testing.T, spec v1alpha1.ExperimentProbe, env Env) Probe {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "p"
	}
	p, err := New(spec, env)
	if err != nil {
		t.Fatalf("New(%s): %v", spec.Name, err)
	}
	return p
}

// checkWant asserts a result's verdict and that its message holds every
// fragment, so a failing test shows what the probe said.
func checkWant(t *testing.T, r Result, ok bool, fragments ...string) {
	t.Helper()
	t.Logf("OK=%v message: %s", r.OK, r.Message)
	if r.OK != ok {
		t.Errorf("OK = %v, want %v; message: %s", r.OK, ok, r.Message)
	}
	for _, f := range fragments {
		if !strings.Contains(r.Message, f) {
			t.Errorf("message %q lacks %q", r.Message, f)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func check(t *testing.T, p Probe) Result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return p.Check(ctx)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
