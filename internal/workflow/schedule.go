package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/ctxtime"
	"github.com/faultline-dev/faultline/internal/engine"
)

// DefaultHistoryLimit is how many finished runs a schedule keeps when
// historyLimit is unset. (Chaos Mesh's unset limit is 0 and keeps none,
// which would leave a report without the runs.)
const DefaultHistoryLimit = 100

// maxMissedTicks bounds the catch-up over missed cron times, as Chaos Mesh
// does (it gives up beyond 100).
const maxMissedTicks = 100

// RunSchedule drives a Schedule object until ctx ends (the runner bounds
// it by the fault phase): at every cron time it injects the embedded chaos,
// or runs the embedded workflow with Run, honouring concurrencyPolicy,
// startingDeadlineSeconds and historyLimit (see the package
// documentation). When ctx ends, every active run is stopped and reverted
// before RunSchedule returns; that is the normal end, not an error. An
// invalid spec is an error before anything runs.
func RunSchedule(ctx context.Context, spec *v1alpha1.ScheduleSpec, name string, deps Deps) (*ScheduleResult, error) {
	if spec == nil {
		return nil, fmt.Errorf("schedule %s: no spec", name)
	}
	sched, err := parseSchedule(&spec.ChaosOnlyScheduleSpec)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", name, err)
	}
	deps, cleanup := deps.withDefaults()
	defer cleanup()
	ev := &emitter{fn: deps.Events, now: deps.Now, workflow: name}
	emit := func(t EventType, msg string) { ev.emit(name, name, t, msg) }

	var (
		launch func(ctx context.Context, index int) runOutcome
		inj    *injector
	)
	if spec.Type == v1alpha1.ScheduleTypeWorkflow {
		if spec.Workflow == nil {
			return nil, fmt.Errorf("schedule %s: type Workflow needs workflow", name)
		}
		if err := checkSpec(spec.Workflow); err != nil {
			return nil, fmt.Errorf("schedule %s: workflow: %w", name, err)
		}
		launch = func(ctx context.Context, index int) runOutcome {
			return workflowRun(ctx, spec.Workflow, fmt.Sprintf("%s-%d", name, index), index, deps, emit)
		}
	} else {
		kind, chaosSpec, err := scheduledChaos(&spec.ChaosOnlyScheduleSpec)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: %w", name, err)
		}
		inj = newInjector(deps)
		launch = func(ctx context.Context, index int) runOutcome {
			return chaosRun(ctx, inj, name, kind, chaosSpec, index, emit, func(context.Context) (Status, string) {
				// The end of ctx is the schedule's normal end.
				return StatusSucceeded, "reverted at the end of the schedule"
			})
		}
	}

	res := &ScheduleResult{Name: name, Type: spec.Type, Start: deps.Now()}
	s := newScheduler(&spec.ChaosOnlyScheduleSpec, sched, deps.Now, emit, launch)
	s.loop(ctx)
	res.ScheduleHistory = s.history()
	res.End = deps.Now()
	if inj != nil {
		if err := inj.sweep(ctx); err != nil {
			return res, fmt.Errorf("schedule %s: %w", name, err)
		}
	}
	return res, nil
}

// schedule runs a Schedule template: a scheduler bounded by the node's
// deadline, its runs' injections made through the workflow's injector.
func (r *runner) schedule(ctx context.Context, n *Node, t *v1alpha1.Template) outcome {
	sc := t.Schedule
	sched, _ := parseSchedule(sc) // checkSpec vetted it
	kind, spec, err := scheduledChaos(sc)
	if err != nil {
		return outcome{status: StatusFailed, msg: err.Error(), holdSlot: true}
	}
	emit := func(et EventType, msg string) { r.emit(n, et, msg) }
	classify := func(ctx context.Context) (Status, string) {
		st, msg, _ := classify(ctx, n.Path, StatusSucceeded, "reverted at the end of the schedule")
		return st, msg
	}
	s := newScheduler(sc, sched, r.deps.Now, emit, func(ctx context.Context, index int) runOutcome {
		return chaosRun(ctx, r.inj, t.Name, kind, spec, index, emit, classify)
	})
	s.loop(ctx)
	hist := s.history()
	n.Schedule = &hist
	o := r.interrupted(ctx, n, StatusSucceeded, fmt.Sprintf("%d runs started, %d ticks skipped", hist.Started, hist.Skipped))
	if o.status == StatusSucceeded && hist.Failed > 0 {
		return outcome{status: StatusFailed, msg: fmt.Sprintf("%d of %d runs failed", hist.Failed, hist.Started)}
	}
	return o
}

// scheduledChaos returns the kind and spec a chaos schedule injects.
func scheduledChaos(sc *v1alpha1.ChaosOnlyScheduleSpec) (kind string, spec any, err error) {
	kind = string(sc.Type)
	if _, ok := v1alpha1.EmbedChaosField(kind); !ok {
		return "", nil, fmt.Errorf("schedule type %q is not a chaos kind faultline runs", sc.Type)
	}
	spec, ok := sc.EmbedChaos.Get(kind)
	if !ok {
		field, _ := v1alpha1.EmbedChaosField(kind)
		return "", nil, fmt.Errorf("schedule type %s needs its spec in %s", kind, field)
	}
	return kind, spec, nil
}

// runOutcome is how one scheduled run ended.
type runOutcome struct {
	status    Status
	msg       string
	injection *InjectionRecord
	workflow  *Result
}

// chaosRun injects one scheduled chaos, named <schedule>-<index>, with the
// spec's own duration, and holds it until it ends or ctx does. classify
// turns the end of ctx into the run's status.
func chaosRun(ctx context.Context, inj *injector, name, kind string, spec any, index int,
	emit func(EventType, string), classify func(context.Context) (Status, string)) runOutcome {
	f := engine.Fault{Kind: kind, Name: fmt.Sprintf("%s-%d", name, index), Spec: spec, Duration: specDuration(spec)}
	i, rec, err := inj.start(ctx, f)
	if err != nil {
		if ctx.Err() != nil {
			st, msg := classify(ctx)
			return runOutcome{status: st, msg: msg}
		}
		emit(EventFailed, fmt.Sprintf("run %d: %v", index, err))
		return runOutcome{status: StatusFailed, msg: err.Error()}
	}
	emit(EventInjected, fmt.Sprintf("run %d: %s", index, describeInjection(rec)))
	var endedOnItsOwn bool
	err = inj.hold(ctx, i, rec, false, func(onItsOwn bool, err error) {
		endedOnItsOwn = onItsOwn
		if err == nil {
			emit(EventReverted, fmt.Sprintf("run %d: %s", index, f.Name))
		}
	})
	if err != nil {
		emit(EventFailed, fmt.Sprintf("run %d: %v", index, err))
		return runOutcome{status: StatusFailed, msg: err.Error(), injection: rec}
	}
	if endedOnItsOwn {
		return runOutcome{status: StatusSucceeded, msg: "the fault ended on its own", injection: rec}
	}
	st, msg := classify(ctx)
	return runOutcome{status: st, msg: msg, injection: rec}
}

// workflowRun runs one scheduled workflow.
func workflowRun(ctx context.Context, spec *v1alpha1.WorkflowSpec, name string, index int, deps Deps, emit func(EventType, string)) runOutcome {
	emit(EventStarted, fmt.Sprintf("run %d: workflow %s", index, name))
	res, err := Run(ctx, spec, name, deps)
	if res == nil { // checkSpec passed before the schedule started
		emit(EventFailed, fmt.Sprintf("run %d: %v", index, err))
		return runOutcome{status: StatusFailed, msg: fmt.Sprint(err)}
	}
	out := runOutcome{status: res.Status, workflow: res}
	switch {
	case res.Aborted:
		out.msg = res.AbortReason
	case err != nil && ctx.Err() != nil:
		out.msg = "stopped at the end of the schedule"
	case err != nil:
		out.msg = err.Error()
	}
	emit(eventOf(out.status), fmt.Sprintf("run %d: workflow %s %s", index, name, out.status))
	return out
}

// specDuration is a scheduled chaos's own duration, 0 (until reverted)
// without one.
func specDuration(spec any) time.Duration {
	if s, ok := spec.(interface{ GetDuration() *string }); ok {
		if d, err := parseDuration(s.GetDuration()); err == nil {
			return d
		}
	}
	return 0
}

// scheduler ticks one schedule by cron and starts a run per tick.
type scheduler struct {
	spec   *v1alpha1.ChaosOnlyScheduleSpec
	cron   cron.Schedule
	now    func() time.Time
	emit   func(EventType, string)
	launch func(ctx context.Context, index int) runOutcome
	limit  int

	mu     sync.Mutex
	hist   ScheduleHistory // guarded by mu, as are the runs in it
	active int
}

func newScheduler(spec *v1alpha1.ChaosOnlyScheduleSpec, c cron.Schedule, now func() time.Time,
	emit func(EventType, string), launch func(context.Context, int) runOutcome) *scheduler {
	limit := DefaultHistoryLimit
	if spec.HistoryLimit != nil && *spec.HistoryLimit > 0 {
		limit = *spec.HistoryLimit
	}
	return &scheduler{spec: spec, cron: c, now: now, emit: emit, launch: launch, limit: limit}
}

// loop ticks until ctx ends, then waits for every run to end (each run
// reverts its fault when ctx ends).
func (s *scheduler) loop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	forbid := s.spec.ConcurrencyPolicy != v1alpha1.ConcurrencyAllow
	last := s.now()
	for {
		next := s.cron.Next(last)
		if next.IsZero() { // no time matches in the next five years
			<-ctx.Done()
			return
		}
		if !ctxtime.Sleep(ctx, next.Sub(s.now())) {
			return
		}
		now := s.now()
		at, late := dueTick(s.cron, next, now, s.spec.StartingDeadlineSeconds)
		last = at
		if late {
			s.skip(fmt.Sprintf("tick of %s skipped: %s late, beyond startingDeadlineSeconds %d",
				at.Format(time.RFC3339), now.Sub(at).Round(time.Millisecond), *s.spec.StartingDeadlineSeconds))
			continue
		}
		s.mu.Lock()
		if forbid && s.active > 0 {
			s.mu.Unlock()
			s.skip(fmt.Sprintf("tick of %s skipped: the previous run is still active (concurrencyPolicy Forbid)", at.Format(time.RFC3339)))
			continue
		}
		s.hist.Started++
		run := &ScheduleRun{Index: s.hist.Started, ScheduledAt: at, Start: now, Status: StatusRunning}
		s.hist.Runs = append(s.hist.Runs, run)
		s.active++
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.finish(run, s.launch(ctx, run.Index))
		}()
	}
}

func (s *scheduler) skip(msg string) {
	s.mu.Lock()
	s.hist.Skipped++
	s.mu.Unlock()
	s.emit(EventSkipped, msg)
}

// finish records a run's end and forgets the oldest finished runs beyond
// historyLimit. Active runs are always kept.
func (s *scheduler) finish(run *ScheduleRun, out runOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run.End = s.now()
	run.Status, run.Message = out.status, out.msg
	run.Injection, run.Workflow = out.injection, out.workflow
	s.active--
	if out.status == StatusFailed {
		s.hist.Failed++
	}
	finished := 0
	for _, r := range s.hist.Runs {
		if r.Status != StatusRunning {
			finished++
		}
	}
	if finished <= s.limit {
		return
	}
	kept := s.hist.Runs[:0:0]
	for _, r := range s.hist.Runs {
		if r.Status != StatusRunning && finished > s.limit {
			finished--
			continue
		}
		kept = append(kept, r)
	}
	s.hist.Runs = kept
}

// history returns a copy of what the scheduler did so far.
func (s *scheduler) history() ScheduleHistory {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hist
	h.Runs = make([]*ScheduleRun, len(s.hist.Runs))
	for i, r := range s.hist.Runs {
		c := *r
		h.Runs[i] = &c
	}
	return h
}

// startSlack is how late a tick may start and still count as on time
// under startingDeadlineSeconds: timers fire a little late, and
// startingDeadlineSeconds 0 must mean "on time", not "never".
const startSlack = 100 * time.Millisecond

// dueTick returns the cron time a wake-up at now serves, given that next
// was the time waited for: the latest time not after now, since times
// missed while faultline was not scheduled collapse into the latest one,
// as in Chaos Mesh's getRecentUnmetScheduleTime. late reports that it is
// more than startingDeadlineSeconds (plus startSlack) old, so is skipped.
func dueTick(c cron.Schedule, next, now time.Time, startingDeadlineSeconds *int64) (at time.Time, late bool) {
	at = next
	for range maxMissedTicks {
		t := c.Next(at)
		if t.IsZero() || t.After(now) {
			break
		}
		at = t
	}
	if startingDeadlineSeconds == nil {
		return at, false
	}
	return at, now.Sub(at) > time.Duration(*startingDeadlineSeconds)*time.Second+startSlack
}

// classify says how the end of a node's context ended the node: own is
// the status when the node's own deadline did (path identifies the node);
// cut is true when something above the node ended it.
func classify(ctx context.Context, path string, own Status, ownMsg string) (st Status, msg string, cut bool) {
	cause := context.Cause(ctx)
	var dc *deadlineCause
	var ac *abortCause
	switch {
	case errors.As(cause, &dc) && dc.path == path:
		return own, ownMsg, false
	case errors.As(cause, &dc):
		return StatusDeadlineExceeded, dc.Error(), true
	case errors.As(cause, &ac):
		return StatusAborted, ac.Error(), true
	default:
		return StatusCancelled, "cancelled: " + fmt.Sprint(cause), true
	}
}
