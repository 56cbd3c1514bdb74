package workflow

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestStatusCheckSynchronous(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		script              []int // status codes of successive probes
		failures, successes int
		deadline, duration  string
		abort               bool
		status              Status
		aborted             bool
		probes              int // at least
	}{{
		name:   "success threshold",
		script: []int{200}, failures: 3, successes: 2,
		status: StatusSucceeded, probes: 2,
	}, {
		name:   "failure threshold without abort fails the node only",
		script: []int{503}, failures: 2, successes: 1,
		status: StatusFailed, probes: 2,
	}, {
		name:   "failures then recovery: the streak resets",
		script: []int{503, 503, 200, 200}, failures: 3, successes: 2,
		status: StatusSucceeded, probes: 4,
	}, {
		name:   "successes then failures",
		script: []int{200, 503, 503}, failures: 2, successes: 2,
		status: StatusFailed, probes: 3,
	}, {
		name:   "the deadline before a verdict never aborts",
		script: []int{200}, failures: 3, successes: 5, deadline: "2500ms", abort: true,
		status: StatusDeadlineExceeded, probes: 1,
	}, {
		name:   "the duration before a verdict fails and aborts",
		script: []int{200}, failures: 3, successes: 5, duration: "2500ms", abort: true,
		status: StatusFailed, aborted: true, probes: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newStatusServer(t, 0, tt.script...)
			sc := httpCheck(srv.URL, v1alpha1.StatusCheckSynchronous, tt.failures, tt.successes)
			sc.Duration = dl(tt.duration)
			e, log := newRecordingEngine(), &eventLog{}
			res := mustRun(t, context.Background(), wf("check", statusCheck("check", tt.deadline, tt.abort, sc)), testDeps(e, log))
			n := res.Root
			if n.Status != tt.status {
				t.Errorf("status %s, want %s (messages %q)", n.Status, tt.status, n.Messages)
			}
			if res.Aborted != tt.aborted {
				t.Errorf("aborted %v (%s), want %v", res.Aborted, res.AbortReason, tt.aborted)
			}
			if len(n.Probes) < tt.probes {
				t.Errorf("%d probes, want at least %d", len(n.Probes), tt.probes)
			}
			for i, p := range n.Probes {
				want := tt.script[min(i, len(tt.script)-1)]
				if p.StatusCode != want || p.Success != (want == 200) {
					t.Errorf("probe %d: %+v, want status %d", i, p, want)
				}
			}
		})
	}
}

func TestStatusCheckContinuous(t *testing.T) {
	t.Parallel()
	t.Run("healthy until the deadline", func(t *testing.T) {
		t.Parallel()
		srv := newStatusServer(t, 200)
		e, log := newRecordingEngine(), &eventLog{}
		sc := httpCheck(srv.URL, v1alpha1.StatusCheckContinuous, 2, 1)
		res := mustRun(t, context.Background(), wf("check", statusCheck("check", "2500ms", true, sc)), testDeps(e, log))
		if res.Root.Status != StatusSucceeded || res.Aborted {
			t.Errorf("status %s aborted %v, want Succeeded: successes do not end a Continuous check", res.Root.Status, res.Aborted)
		}
		if len(res.Root.Probes) < 2 {
			t.Errorf("%d probes, want the check to keep probing past successThreshold", len(res.Root.Probes))
		}
	})
	t.Run("failure with abortWithStatusCheck aborts and reverts everything", func(t *testing.T) {
		t.Parallel()
		srv := newStatusServer(t, 200)
		e, log := newRecordingEngine(), &eventLog{}
		spec := wf("the-entry",
			parallel("the-entry", "", "guard", "delay", "steps"),
			statusCheck("guard", "", true, httpCheck(srv.URL, v1alpha1.StatusCheckContinuous, 2, 1)),
			networkDelay("delay", "60s"),
			serial("steps", "", "pause", "later"),
			suspend("pause", "60s"),
			networkDelay("later", "60s"),
		)
		// The service breaks once the fault is in.
		go func() {
			for len(e.byName("delay")) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			srv.code.Store(503)
		}()
		res := mustRun(t, context.Background(), spec, testDeps(e, log))
		if !res.Aborted || res.Status != StatusAborted {
			t.Fatalf("aborted %v status %s, want Aborted", res.Aborted, res.Status)
		}
		if !strings.Contains(res.AbortReason, "guard") || !strings.Contains(res.AbortReason, "503") {
			t.Errorf("abort reason %q should name the check and the failure", res.AbortReason)
		}
		wantStatus(t, res, map[string]Status{"guard": StatusFailed, "delay": StatusAborted,
			"steps": StatusAborted, "pause": StatusAborted, "later": StatusSkipped, "the-entry": StatusAborted})
		if how := e.byName("delay")[0].how(); how != "revert" {
			t.Errorf("delay ended by %s, want reverted by the abort", how)
		}
		if len(e.byName("later")) != 0 {
			t.Errorf("later was injected after the abort")
		}
		if !slices.Contains(log.types("guard"), EventAborted) || !slices.Contains(log.types("delay"), EventAborted) {
			t.Errorf("events guard %v delay %v, want Aborted in both", log.types("guard"), log.types("delay"))
		}
		noneActive(t, e)
	})
}

func TestParseCriteria(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		match   []int
		nomatch []int
		err     bool
	}{
		{in: "200", match: []int{200}, nomatch: []int{201, 199}},
		{in: "200-299", match: []int{200, 250, 299}, nomatch: []int{300, 199}},
		{in: " 200 - 399 ", match: []int{302}, nomatch: []int{404}},
		{in: "2xx", err: true},
		{in: "300-200", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		c, err := parseCriteria(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("parseCriteria(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		for _, code := range tt.match {
			if !c.match(code) {
				t.Errorf("%q does not match %d", tt.in, code)
			}
		}
		for _, code := range tt.nomatch {
			if c.match(code) {
				t.Errorf("%q matches %d", tt.in, code)
			}
		}
	}
}
