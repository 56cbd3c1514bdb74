package workflow

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestSerialRunsInOrderAndRevertsBeforeNext(t *testing.T) {
	t.Parallel()
	e, log := newRecordingEngine(), &eventLog{}
	spec := wf("the-entry",
		serial("the-entry", "", "delay-a", "pause", "delay-b", "kill"),
		networkDelay("delay-a", "300ms"),
		suspend("pause", "200ms"),
		networkDelay("delay-b", "300ms"),
		podKill("kill", "200ms"),
	)
	res := mustRun(t, context.Background(), spec, testDeps(e, log))

	if res.Status != StatusSucceeded || res.Aborted {
		t.Fatalf("status %s aborted %v, want Succeeded", res.Status, res.Aborted)
	}
	wantStatus(t, res, map[string]Status{"the-entry": StatusSucceeded, "delay-a": StatusSucceeded,
		"pause": StatusSucceeded, "delay-b": StatusSucceeded, "kill": StatusSucceeded})
	var order []string
	for _, i := range e.injections() {
		order = append(order, i.fault.Name)
	}
	if want := []string{"delay-a", "delay-b", "kill"}; !slices.Equal(order, want) {
		t.Fatalf("injection order %v, want %v", order, want)
	}
	// Each chaos node is reverted (by the workflow, at its deadline) before
	// the next node starts.
	a, b := e.byName("delay-a")[0], e.byName("delay-b")[0]
	aEnd, _ := a.ended()
	if !aEnd.Before(b.injectedAt) {
		t.Errorf("delay-a ended %v, not before delay-b was injected %v", aEnd, b.injectedAt)
	}
	if !atDeadline(a.how()) {
		t.Errorf("delay-a ended by %s, want at its deadline", a.how())
	}
	if pause := node(t, res, "pause"); pause.Start.Before(aEnd) {
		t.Errorf("pause started %v before delay-a ended %v", pause.Start, aEnd)
	}
	// The fault asks the engine for the deadline.
	if a.fault.Duration != 300*time.Millisecond {
		t.Errorf("delay-a asked for %s, want the deadline 300ms", a.fault.Duration)
	}
	// A pod-kill ends at once, yet its node keeps its deadline.
	kill := node(t, res, "kill")
	if got := kill.End.Sub(kill.Start); got < 200*time.Millisecond {
		t.Errorf("kill node lasted %s, want its deadline 200ms", got)
	}
	if how := e.byName("kill")[0].how(); how != "instant" {
		t.Errorf("kill ended by %s, want instant", how)
	}
	if got, want := log.types("delay-a"), []EventType{EventStarted, EventInjected, EventReverted, EventSucceeded}; !slices.Equal(got, want) {
		t.Errorf("delay-a events %v, want %v", got, want)
	}
	rec := node(t, res, "delay-a").Injections
	if len(rec) != 1 || len(rec[0].Targets) != 1 || len(rec[0].Fidelity) != 1 || rec[0].Reverted.IsZero() {
		t.Errorf("delay-a injection record %+v, want one with targets, fidelity and a revert time", rec)
	}
	noneActive(t, e)
}

func TestParallelOverlaps(t *testing.T) {
	t.Parallel()
	e, log := newRecordingEngine(), &eventLog{}
	spec := wf("the-entry",
		parallel("the-entry", "", "delay-a", "delay-b", "pause"),
		networkDelay("delay-a", "600ms"),
		networkDelay("delay-b", "600ms"),
		suspend("pause", "150ms"),
	)
	res := mustRun(t, context.Background(), spec, testDeps(e, log))
	wantStatus(t, res, map[string]Status{"the-entry": StatusSucceeded, "delay-a": StatusSucceeded,
		"delay-b": StatusSucceeded, "pause": StatusSucceeded})
	a, b := e.byName("delay-a")[0], e.byName("delay-b")[0]
	aEnd, _ := a.ended()
	bEnd, _ := b.ended()
	if !a.injectedAt.Before(bEnd) || !b.injectedAt.Before(aEnd) {
		t.Errorf("delay-a [%v, %v] and delay-b [%v, %v] do not overlap", a.injectedAt, aEnd, b.injectedAt, bEnd)
	}
	root := node(t, res, "the-entry")
	for _, c := range root.Children {
		if root.End.Before(c.End) {
			t.Errorf("the Parallel ended %v before its child %s %v", root.End, c.Name, c.End)
		}
	}
	if p := node(t, res, "pause"); !p.End.Before(aEnd) {
		t.Errorf("the short Suspend ended %v, not before the long chaos %v", p.End, aEnd)
	}
	noneActive(t, e)
}

func TestSuspendWaitsItsDeadline(t *testing.T) {
	t.Parallel()
	e, log := newRecordingEngine(), &eventLog{}
	res := mustRun(t, context.Background(), wf("wait", suspend("wait", "300ms")), testDeps(e, log))
	n := node(t, res, "wait")
	if n.Status != StatusSucceeded {
		t.Errorf("status %s, want Succeeded", n.Status)
	}
	if got := n.End.Sub(n.Start); got < 300*time.Millisecond {
		t.Errorf("suspended %s, want at least 300ms", got)
	}
	if got, want := log.types("wait"), []EventType{EventStarted, EventSucceeded}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestDeadlineStopsDescendantsAndReverts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec *v1alpha1.WorkflowSpec
		want map[string]Status
		// reverted chaos must have been reverted by the workflow, not by
		// its own (long) deadline; never must never be injected.
		reverted, never []string
		result          Status
	}{{
		name: "entry deadline cuts a running subtree and skips the rest",
		spec: wf("the-entry",
			serial("the-entry", "400ms", "both", "later"),
			parallel("both", "", "long-delay", "long-pause"),
			networkDelay("long-delay", "30s"),
			suspend("long-pause", "30s"),
			networkDelay("later", "30s"),
		),
		want: map[string]Status{"the-entry": StatusDeadlineExceeded, "both": StatusDeadlineExceeded,
			"long-delay": StatusDeadlineExceeded, "long-pause": StatusDeadlineExceeded, "later": StatusSkipped},
		reverted: []string{"long-delay"},
		never:    []string{"later"},
		result:   StatusSucceeded, // a deadline is not a failure
	}, {
		name: "the parent carries on after a child's deadline",
		spec: wf("the-entry",
			serial("the-entry", "", "cut", "after"),
			parallel("cut", "300ms", "long-delay"),
			networkDelay("long-delay", "30s"),
			suspend("after", "100ms"),
		),
		want: map[string]Status{"the-entry": StatusSucceeded, "cut": StatusDeadlineExceeded,
			"long-delay": StatusDeadlineExceeded, "after": StatusSucceeded},
		reverted: []string{"long-delay"},
		result:   StatusSucceeded,
	}, {
		name: "a Task's deadline kills its process",
		spec: wf("the-entry",
			serial("the-entry", "", "slow", "after"),
			task("slow", "300ms", []string{"sh", "-c", "sleep 30"}),
			suspend("after", "100ms"),
		),
		want:   map[string]Status{"the-entry": StatusSucceeded, "slow": StatusDeadlineExceeded, "after": StatusSucceeded},
		result: StatusSucceeded,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, log := newRecordingEngine(), &eventLog{}
			res := mustRun(t, context.Background(), tt.spec, testDeps(e, log))
			if res.Status != tt.result {
				t.Errorf("result %s, want %s", res.Status, tt.result)
			}
			wantStatus(t, res, tt.want)
			for _, name := range tt.reverted {
				injs := e.byName(name)
				if len(injs) != 1 {
					t.Fatalf("%s injected %d times, want 1", name, len(injs))
				}
				if how := injs[0].how(); !atDeadline(how) {
					t.Errorf("%s ended by %s, want at the deadline that cut it", name, how)
				}
				// The engine is asked to hold it only as long as the
				// ancestor's deadline allows.
				if d := injs[0].fault.Duration; d <= 0 || d >= 30*time.Second {
					t.Errorf("%s asked for %s, want what is left of the ancestor's deadline", name, d)
				}
				if !slices.Contains(log.types(name), EventReverted) {
					t.Errorf("%s: no Reverted event in %v", name, log.types(name))
				}
			}
			for _, name := range tt.never {
				if len(e.byName(name)) != 0 {
					t.Errorf("%s was injected, want never", name)
				}
			}
			noneActive(t, e)
		})
	}
}

func TestInjectErrorsFailTheNodeButNotTheWorkflow(t *testing.T) {
	t.Parallel()
	e, log := newRecordingEngine(), &eventLog{}
	e.failOn("broken", errors.New("no target matches the selector"))
	spec := wf("the-entry",
		serial("the-entry", "", "broken", "unsupported", "after"),
		networkDelay("broken", "300ms"),
		v1alpha1.Template{Name: "unsupported", Type: "JVMChaos", Deadline: dl("100ms")},
		networkDelay("after", "100ms"),
	)
	res := mustRun(t, context.Background(), spec, testDeps(e, log))
	if res.Status != StatusFailed || res.Aborted {
		t.Fatalf("result %s aborted %v, want Failed and not aborted", res.Status, res.Aborted)
	}
	wantStatus(t, res, map[string]Status{"the-entry": StatusFailed, "broken": StatusFailed,
		"unsupported": StatusFailed, "after": StatusSucceeded})
	broken := node(t, res, "broken")
	if !strings.Contains(strings.Join(broken.Messages, " "), "no target matches") {
		t.Errorf("broken: messages %q do not carry the engine's error", broken.Messages)
	}
	// The failed node keeps its place in time: the next node starts at its
	// deadline, as Chaos Mesh moves on only then.
	if after := e.byName("after"); len(after) != 1 || after[0].injectedAt.Sub(broken.Start) < 300*time.Millisecond {
		t.Errorf("after was injected %v after broken started, want at least its 300ms deadline", after[0].injectedAt.Sub(broken.Start))
	}
	if got := log.types("broken"); !slices.Equal(got, []EventType{EventStarted, EventFailed}) {
		t.Errorf("broken events %v, want Started then Failed", got)
	}
	noneActive(t, e)
}

func TestTaskBranches(t *testing.T) {
	t.Parallel()
	targets := []v1alpha1.Template{suspend("branch-a", "50ms"), networkDelay("branch-b", "100ms"),
		suspend("on-failed", "50ms"), suspend("any-branch", "50ms"), suspend("always", "50ms")}
	tests := []struct {
		name     string
		command  []string
		branches []v1alpha1.ConditionalBranch
		taken    []string
		status   Status
		exitCode int
	}{{
		name:    "every true branch runs",
		command: []string{"sh", "-c", "echo branch-b"},
		branches: []v1alpha1.ConditionalBranch{
			{Target: "branch-a", Expression: `exitCode == 0 && stdout == "branch-a"`},
			{Target: "branch-b", Expression: `exitCode == 0 && stdout == "branch-b"`},
			{Target: "on-failed", Expression: `exitCode != 0`},
			{Target: "any-branch", Expression: `stdout startsWith "branch"`},
			{Target: "always"},
		},
		taken:  []string{"branch-b", "any-branch", "always"},
		status: StatusSucceeded,
	}, {
		name:    "exit code",
		command: []string{"sh", "-c", "echo oops >&2; exit 3"},
		branches: []v1alpha1.ConditionalBranch{
			{Target: "branch-a", Expression: `exitCode == 0`},
			{Target: "on-failed", Expression: `exitCode == 3 && stderr == "oops"`},
		},
		taken: []string{"on-failed"}, status: StatusSucceeded, exitCode: 3,
	}, {
		name:    "an expression that cannot be evaluated fails the task and runs no branch",
		command: []string{"sh", "-c", "echo branch-b"},
		branches: []v1alpha1.ConditionalBranch{
			{Target: "branch-b", Expression: `exitCode == 0`},
			{Target: "on-failed", Expression: `exitcode == 0`},
		},
		status: StatusFailed,
	}, {
		name:     "a command that cannot start fails the task",
		command:  []string{"/nonexistent/faultline-task"},
		branches: []v1alpha1.ConditionalBranch{{Target: "always"}},
		status:   StatusFailed,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, log := newRecordingEngine(), &eventLog{}
			spec := wf("the-task", append([]v1alpha1.Template{task("the-task", "", tt.command, tt.branches...)}, targets...)...)
			res := mustRun(t, context.Background(), spec, testDeps(e, log))
			root := res.Root
			if root.Status != tt.status {
				t.Fatalf("task status %s, want %s (messages %q)", root.Status, tt.status, root.Messages)
			}
			var taken, skipped []string
			for _, c := range root.Children {
				switch c.Status {
				case StatusSkipped:
					skipped = append(skipped, c.Name)
				default:
					taken = append(taken, c.Name)
				}
			}
			if !slices.Equal(taken, tt.taken) {
				t.Errorf("branches run %v, want %v (skipped %v)", taken, tt.taken, skipped)
			}
			if len(taken)+len(skipped) != len(root.Children) || (root.Task != nil && len(root.Children) != len(tt.branches)) {
				t.Errorf("%d branch nodes for %d branches", len(root.Children), len(tt.branches))
			}
			if tt.status == StatusSucceeded && root.Task.ExitCode != tt.exitCode {
				t.Errorf("exit code %d, want %d", root.Task.ExitCode, tt.exitCode)
			}
			if slices.Contains(tt.taken, "branch-b") {
				if injs := e.byName("branch-b"); len(injs) != 1 || !atDeadline(injs[0].how()) {
					t.Errorf("branch-b injections %v, want one, ended at its deadline", injs)
				}
				// The branches run at once: all start before any ends.
				b, any := node(t, res, "branch-b"), node(t, res, "any-branch")
				if !b.Start.Before(any.End) || !any.Start.Before(b.End) {
					t.Errorf("branches did not run at the same time")
				}
			}
			noneActive(t, e)
		})
	}
}

func TestCancellationRevertsEverythingAndLeaksNothing(t *testing.T) {
	srv := newStatusServer(t, 200)
	e, log := newRecordingEngine(), &eventLog{}
	base := runtime.NumGoroutine()
	spec := wf("the-entry",
		parallel("the-entry", "", "delay", "steps", "kills", "check", "sleeper"),
		networkDelay("delay", "30s"),
		serial("steps", "", "pause", "never"),
		suspend("pause", "30s"),
		networkDelay("never", "30s"),
		v1alpha1.Template{Name: "kills", Type: v1alpha1.TemplateTypeSchedule, Deadline: dl("30s"),
			Schedule: &v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 1s", Type: v1alpha1.ScheduleTypePodChaos,
				ConcurrencyPolicy: v1alpha1.ConcurrencyAllow,
				EmbedChaos:        v1alpha1.EmbedChaos{PodChaos: &v1alpha1.PodChaosSpec{Action: v1alpha1.PodFailure}}}},
		statusCheck("check", "30s", true, httpCheck(srv.URL, v1alpha1.StatusCheckContinuous, 3, 1)),
		task("sleeper", "", []string{"sh", "-c", "sleep 30 & sleep 30"}),
	)
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once a scheduled run holds a fault, so that one is in flight.
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for len(e.byName("kills-1")) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	res, err := Run(ctx, spec, "cancelled", testDeps(e, log))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error %v, want context.Canceled", err)
	}
	if res == nil || res.Status != StatusCancelled || res.Aborted {
		t.Fatalf("result %+v, want Cancelled", res)
	}
	wantStatus(t, res, map[string]Status{"delay": StatusCancelled, "steps": StatusCancelled, "pause": StatusCancelled,
		"never": StatusSkipped, "kills": StatusCancelled, "check": StatusCancelled, "sleeper": StatusCancelled})
	if len(e.byName("kills-1")) != 1 {
		t.Fatalf("no scheduled run was injected before the cancellation")
	}
	for _, i := range e.injections() {
		if how := i.how(); how != "revert" {
			t.Errorf("%s ended by %q, want reverted by the workflow", i.fault.Name, how)
		}
	}
	noneActive(t, e)
	settleGoroutines(t, base)
}

func TestCheckSpecRefusesWhatCannotRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec *v1alpha1.WorkflowSpec
		want string
	}{
		{"nil", nil, "no workflow spec"},
		{"no entry", wf("missing", suspend("a", "1s")), `entry "missing"`},
		{"dangling child", wf("a", serial("a", "", "b")), "refers to no template"},
		{"cycle", wf("a", serial("a", "", "b"), serial("b", "", "a")), "cycle: a -> b -> a"},
		{"bad deadline", wf("a", suspend("a", "soon")), `"soon" is not a duration`},
		{"suspend without deadline", wf("a", suspend("a", "")), "Suspend needs a deadline"},
		{"task without container", wf("a", v1alpha1.Template{Name: "a", Type: v1alpha1.TemplateTypeTask}), "task.container"},
		{"bad cron", wf("a", v1alpha1.Template{Name: "a", Type: v1alpha1.TemplateTypeSchedule,
			Schedule: &v1alpha1.ChaosOnlyScheduleSpec{Schedule: "every now and then", Type: v1alpha1.ScheduleTypePodChaos}}), "every now and then"},
		{"bad criteria", wf("a", statusCheck("a", "1s", false, v1alpha1.StatusCheckSpec{
			HTTP: &v1alpha1.HTTPStatusCheck{URL: "http://x", Criteria: v1alpha1.HTTPCriteria{StatusCode: "2xx"}}})), "2xx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), tt.spec, "bad", Deps{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run error %v, want one containing %q", err, tt.want)
			}
			if res != nil {
				t.Errorf("result %+v for a spec that cannot run", res)
			}
		})
	}
}

// atDeadline reports whether a fault ended the way one held to a deadline
// does: reverted by the workflow at the deadline or, as the engine is asked
// for the same duration, by the engine's own timer a moment earlier.
func atDeadline(how string) bool { return how == "revert" || how == "duration" }
