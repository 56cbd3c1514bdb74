package workflow

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/manifest"
)

// delaySchedule is a Schedule of a network delay of the given duration
// ("" for none).
func delaySchedule(every string, policy v1alpha1.ConcurrencyPolicy, duration string) v1alpha1.ChaosOnlyScheduleSpec {
	return v1alpha1.ChaosOnlyScheduleSpec{Schedule: every, Type: v1alpha1.ScheduleTypeNetworkChaos, ConcurrencyPolicy: policy,
		EmbedChaos: v1alpha1.EmbedChaos{NetworkChaos: &v1alpha1.NetworkChaosSpec{Action: "delay", Duration: dl(duration)}}}
}

func killSchedule(every string, policy v1alpha1.ConcurrencyPolicy) v1alpha1.ChaosOnlyScheduleSpec {
	return v1alpha1.ChaosOnlyScheduleSpec{Schedule: every, Type: v1alpha1.ScheduleTypePodChaos, ConcurrencyPolicy: policy,
		EmbedChaos: v1alpha1.EmbedChaos{PodChaos: &v1alpha1.PodChaosSpec{Action: v1alpha1.PodKill}}}
}

func scheduleNode(name, deadline string, s v1alpha1.ChaosOnlyScheduleSpec) v1alpha1.Template {
	return v1alpha1.Template{Name: name, Type: v1alpha1.TemplateTypeSchedule, Deadline: dl(deadline), Schedule: &s}
}

// overlaps reports whether any two injections were active at once.
func overlaps(injs []*recordedInjection) bool {
	for i := range injs {
		for j := i + 1; j < len(injs); j++ {
			iEnd, _ := injs[i].ended()
			jEnd, _ := injs[j].ended()
			if injs[j].injectedAt.Before(iEnd) && injs[i].injectedAt.Before(jEnd) {
				return true
			}
		}
	}
	return false
}

func TestScheduleNodeConcurrencyPolicy(t *testing.T) {
	t.Parallel()
	// Ticks every second (robfig/cron rounds @every to whole seconds, so
	// sub-second schedules cannot be written); each run holds its fault
	// 1.5s, longer than the period, so consecutive runs would overlap.
	tests := []struct {
		policy  v1alpha1.ConcurrencyPolicy
		overlap bool
	}{
		{v1alpha1.ConcurrencyAllow, true},
		{v1alpha1.ConcurrencyForbid, false},
		{"", false}, // Forbid is the default
	}
	for _, tt := range tests {
		t.Run(string(tt.policy)+"-policy", func(t *testing.T) {
			t.Parallel()
			e, log := newRecordingEngine(), &eventLog{}
			spec := wf("sched", scheduleNode("sched", "2800ms", delaySchedule("@every 1s", tt.policy, "1500ms")))
			res := mustRun(t, context.Background(), spec, testDeps(e, log))
			n := res.Root
			if n.Status != StatusSucceeded {
				t.Fatalf("status %s, want Succeeded (messages %q)", n.Status, n.Messages)
			}
			injs := e.injections()
			if got := overlaps(injs); got != tt.overlap {
				t.Errorf("runs overlap: %v, want %v", got, tt.overlap)
			}
			h := n.Schedule
			switch tt.overlap {
			case true:
				if h.Started < 2 || h.Skipped != 0 {
					t.Errorf("started %d skipped %d, want at least 2 started and none skipped", h.Started, h.Skipped)
				}
			default:
				if h.Started < 1 || h.Skipped < 1 {
					t.Errorf("started %d skipped %d, want the tick during the first run skipped", h.Started, h.Skipped)
				}
				if !strings.Contains(strings.Join(eventMessages(log, EventSkipped), " "), "Forbid") {
					t.Errorf("no Skipped event names Forbid: %q", eventMessages(log, EventSkipped))
				}
			}
			if len(injs) != h.Started {
				t.Errorf("%d injections for %d runs", len(injs), h.Started)
			}
			for i, inj := range injs {
				if want := "sched-" + string(rune('1'+i)); inj.fault.Name != want {
					t.Errorf("run %d fault named %s, want %s", i+1, inj.fault.Name, want)
				}
				if inj.fault.Duration != 1500*time.Millisecond {
					t.Errorf("run %d asked %s, want the spec's duration 1.5s", i+1, inj.fault.Duration)
				}
			}
			for _, r := range h.Runs {
				if r.Injection == nil || r.End.IsZero() || r.Status != StatusSucceeded {
					t.Errorf("run %+v, want finished with its injection", r)
				}
			}
			noneActive(t, e)
		})
	}
}

func eventMessages(l *eventLog, t EventType) []string {
	var out []string
	for _, e := range l.events() {
		if e.Type == t {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestScheduleNodeRevertsActiveRunsAtItsDeadline(t *testing.T) {
	t.Parallel()
	e, log := newRecordingEngine(), &eventLog{}
	s := delaySchedule("@every 1s", v1alpha1.ConcurrencyAllow, "") // no duration: held until the schedule ends
	spec := wf("the-entry", serial("the-entry", "", "sched", "after"), scheduleNode("sched", "2500ms", s), suspend("after", "100ms"))
	res := mustRun(t, context.Background(), spec, testDeps(e, log))
	wantStatus(t, res, map[string]Status{"sched": StatusSucceeded, "after": StatusSucceeded})
	injs := e.injections()
	if len(injs) < 2 {
		t.Fatalf("%d runs, want at least 2", len(injs))
	}
	after := node(t, res, "after")
	for _, inj := range injs {
		end, _ := inj.ended()
		if inj.how() != "revert" || after.Start.Before(end) {
			t.Errorf("%s ended by %s at %v, want reverted at the schedule's end, before %v", inj.fault.Name, inj.how(), end, after.Start)
		}
	}
	noneActive(t, e)
}

func TestScheduleHistoryLimit(t *testing.T) {
	t.Parallel()
	e, log := newRecordingEngine(), &eventLog{}
	s := killSchedule("@every 1s", v1alpha1.ConcurrencyAllow)
	s.HistoryLimit = ptr(1)
	res := mustRun(t, context.Background(), wf("sched", scheduleNode("sched", "3800ms", s)), testDeps(e, log))
	h := res.Root.Schedule
	if h.Started < 3 {
		t.Fatalf("%d runs, want at least 3", h.Started)
	}
	if len(h.Runs) != 1 || h.Runs[0].Index != h.Started {
		t.Errorf("kept runs %+v, want only the latest of %d", h.Runs, h.Started)
	}
}

func TestRunSchedule(t *testing.T) {
	t.Parallel()
	t.Run("chaos with a duration", func(t *testing.T) {
		t.Parallel()
		e, log := newRecordingEngine(), &eventLog{}
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		spec := &v1alpha1.ScheduleSpec{ChaosOnlyScheduleSpec: delaySchedule("@every 1s", v1alpha1.ConcurrencyForbid, "300ms")}
		res, err := RunSchedule(ctx, spec, "delays", testDeps(e, log))
		if err != nil {
			t.Fatalf("RunSchedule: %v", err)
		}
		if res.Started < 2 || res.Skipped != 0 {
			t.Errorf("started %d skipped %d, want at least 2 and none skipped (runs end before the next tick)", res.Started, res.Skipped)
		}
		// Runs end on their own after 300ms; only one the end of the
		// schedule cut short is reverted.
		for i, inj := range e.injections() {
			if how := inj.how(); how != "duration" && (i == 0 || how != "revert") {
				t.Errorf("%s ended by %s, want its own duration", inj.fault.Name, how)
			}
		}
		if len(log.types("delays")) == 0 {
			t.Errorf("no events for the schedule")
		}
		noneActive(t, e)
	})
	t.Run("chaos without duration is reverted when the schedule ends", func(t *testing.T) {
		t.Parallel()
		e, log := newRecordingEngine(), &eventLog{}
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		spec := &v1alpha1.ScheduleSpec{ChaosOnlyScheduleSpec: delaySchedule("@every 1s", v1alpha1.ConcurrencyAllow, "")}
		res, err := RunSchedule(ctx, spec, "held", testDeps(e, log))
		if err != nil {
			t.Fatalf("RunSchedule: %v", err)
		}
		if res.Started < 2 || !overlaps(e.injections()) {
			t.Errorf("started %d, want at least 2 overlapping runs", res.Started)
		}
		for _, r := range res.Runs {
			if r.Status != StatusSucceeded || r.Injection == nil || r.Injection.Reverted.IsZero() {
				t.Errorf("run %+v, want Succeeded and reverted", r)
			}
		}
		noneActive(t, e)
	})
	t.Run("workflow", func(t *testing.T) {
		t.Parallel()
		e, log := newRecordingEngine(), &eventLog{}
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		spec := &v1alpha1.ScheduleSpec{
			ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 1s", Type: v1alpha1.ScheduleTypeWorkflow},
			Workflow:              wf("steps", serial("steps", "", "delay", "pause"), networkDelay("delay", "200ms"), suspend("pause", "100ms")),
		}
		res, err := RunSchedule(ctx, spec, "nightly", testDeps(e, log))
		if err != nil {
			t.Fatalf("RunSchedule: %v", err)
		}
		if res.Started < 2 {
			t.Fatalf("started %d, want at least 2", res.Started)
		}
		for _, r := range res.Runs {
			if r.Workflow == nil || r.Workflow.Name != "nightly-"+string(rune('0'+r.Index)) {
				t.Errorf("run %d: workflow result %+v", r.Index, r.Workflow)
				continue
			}
			// Only the last run may be cut short by the end of the schedule.
			last := r.Index == res.Started
			if (r.Status != StatusSucceeded && !(last && r.Status == StatusCancelled)) ||
				(r.Status == StatusSucceeded && r.Workflow.Find("delay").Status != StatusSucceeded) {
				t.Errorf("run %d: status %s, want Succeeded", r.Index, r.Status)
			}
		}
		if len(e.byName("delay")) != res.Started {
			t.Errorf("%d delays for %d runs", len(e.byName("delay")), res.Started)
		}
		noneActive(t, e)
	})
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		for _, spec := range []*v1alpha1.ScheduleSpec{
			nil,
			{ChaosOnlyScheduleSpec: killSchedule("whenever", "")},
			{ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 1s", Type: v1alpha1.ScheduleTypeWorkflow}},
			{ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 1s", Type: "JVMChaos"}},
			{ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 1s", Type: v1alpha1.ScheduleTypePodChaos}},
		} {
			if res, err := RunSchedule(context.Background(), spec, "bad", Deps{}); err == nil {
				t.Errorf("RunSchedule(%+v) = %+v, want an error", spec, res)
			}
		}
	})
}

func TestDueTick(t *testing.T) {
	t.Parallel()
	every10s, err := manifest.ParseCron("@every 10s")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		next     time.Time
		now      time.Time
		deadline *int64
		at       time.Time
		late     bool
	}{
		{"on time", t0, t0.Add(2 * time.Millisecond), nil, t0, false},
		{"on time with startingDeadlineSeconds 0", t0, t0.Add(2 * time.Millisecond), ptr(int64(0)), t0, false},
		{"late without startingDeadlineSeconds still runs", t0, t0.Add(5 * time.Second), nil, t0, false},
		{"late within startingDeadlineSeconds", t0, t0.Add(5 * time.Second), ptr(int64(10)), t0, false},
		{"late beyond startingDeadlineSeconds", t0, t0.Add(5 * time.Second), ptr(int64(1)), t0, true},
		{"missed ticks collapse into the latest", t0, t0.Add(35 * time.Second), ptr(int64(10)), t0.Add(30 * time.Second), false},
		{"the latest missed tick is late too", t0, t0.Add(38 * time.Second), ptr(int64(5)), t0.Add(30 * time.Second), true},
	}
	for _, tt := range tests {
		at, late := dueTick(every10s, tt.next, tt.now, tt.deadline)
		if !at.Equal(tt.at) || late != tt.late {
			t.Errorf("%s: dueTick = %v, %v; want %v, %v", tt.name, at, late, tt.at, tt.late)
		}
	}
}
