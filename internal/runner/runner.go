// Package runner executes an Experiment: it starts (or attaches to) the
// environment, drives open-loop load and probes through the baseline, fault
// and recovery phases, injects the faults at their offsets (or runs a Chaos
// Mesh workflow and schedules), reverts everything — at the end, on error,
// on Ctrl-C and when a stop condition fires — and measures the timeline.
//
// The runner owns time: engines, load and probes only report into the
// timeline; measurement reads it afterwards (internal/measure).
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/ctxtime"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
	"github.com/faultline-dev/faultline/internal/load"
	"github.com/faultline-dev/faultline/internal/manifest"
	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/probe"
	"github.com/faultline-dev/faultline/internal/timeline"
	"github.com/faultline-dev/faultline/internal/workflow"
)

// Options tune a run.
type Options struct {
	// BaseDir resolves relative paths in the experiment (its file's directory).
	BaseDir string
	// StateDir is faultline's state directory ("" = engine.StateDir()).
	StateDir string
	// Seed makes target selection reproducible; 0 picks one at random.
	Seed uint64
	// Repeat overrides spec.repeat when > 0.
	Repeat int
	// NetworkBackend is where NetworkChaos runs on the local engine: ""
	// (auto), "proxy" or "packet" (--network-backend).
	NetworkBackend string
	// Environment, when set, is the path of an Environment file that
	// replaces the experiment's spec.environment (`run -e`): the same
	// experiment against another environment, e.g. a cluster.
	Environment string
	// PodDialer, when set, dials pod addresses for a kube environment's
	// direct access mode instead of the network: tests whose pod IPs are
	// simulated map them to addresses they can reach.
	PodDialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// dryRun: the environment is only read (DryRun): no recovery of an
	// earlier run's faults on a cluster.
	dryRun bool
	// ReadyTimeout bounds how long the environment may take to be ready.
	ReadyTimeout time.Duration
	// Supervisor tunes the local environment (back-off, readiness polling).
	Supervisor local.Options
	// Live receives progress; nil is silent. Interactive redraws one line
	// (a terminal); otherwise a line is printed every LiveEvery.
	Live        io.Writer
	Interactive bool
	LiveEvery   time.Duration
}

func (o Options) readyTimeout() time.Duration {
	if o.ReadyTimeout > 0 {
		return o.ReadyTimeout
	}
	return 2 * time.Minute
}

func (o Options) rand() *mrand.Rand {
	if o.Seed == 0 {
		return nil
	}
	return mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
}

// Run is one execution of an experiment and what was measured.
type RunResult struct {
	Result   *measure.Result
	Timeline *timeline.Timeline
}

// Outcome is the result of every repetition.
type Outcome struct {
	Runs      []RunResult
	Aggregate *measure.Aggregate
}

// Aborted reports whether a stop condition ended a run.
func (o *Outcome) Aborted() bool {
	for _, r := range o.Runs {
		if r.Result.Verdict == measure.VerdictAborted {
			return true
		}
	}
	return false
}

// Passed reports whether every run passed.
func (o *Outcome) Passed() bool {
	for _, r := range o.Runs {
		if r.Result.Verdict != measure.VerdictPass {
			return false
		}
	}
	return len(o.Runs) > 0
}

// prepare validates the experiment, applies opts.Environment, and makes
// the state and base directories definite.
func prepare(exp *v1alpha1.Experiment, opts Options) (*v1alpha1.Experiment, Options, error) {
	if ps := manifest.ValidateObject(exp); hasErrors(ps) {
		return nil, opts, fmt.Errorf("experiment %s is invalid: %s: %s", exp.Name, ps[0].Path, ps[0].Message)
	}
	if opts.Environment != "" {
		cp := *exp
		cp.Spec.Environment = &v1alpha1.ExperimentEnvironment{File: opts.Environment}
		exp = &cp
	}
	stateDir := opts.StateDir
	if stateDir == "" {
		stateDir = engine.StateDir()
	}
	opts.StateDir = stateDir
	// Replicas run in their own working directories: relative paths must
	// not depend on where faultline was started.
	if abs, err := filepath.Abs(opts.BaseDir); err == nil {
		opts.BaseDir = abs
	}
	return exp, opts, nil
}

// Run executes the experiment opts.Repeat (or spec.repeat) times against one
// environment and returns what was measured. Faults are always reverted
// before Run returns, whatever happened.
func Run(ctx context.Context, exp *v1alpha1.Experiment, opts Options) (*Outcome, error) {
	if exp == nil {
		return nil, errors.New("no experiment")
	}
	exp, opts, err := prepare(exp, opts)
	if err != nil {
		return nil, err
	}
	stateDir := opts.StateDir
	// Faults left behind by a faultline that crashed are reverted first.
	if rep, err := local.Recover(ctx, stateDir, local.RecoverOptions{}); err != nil {
		return nil, fmt.Errorf("recover faults left by an earlier run: %w", err)
	} else if rep != nil && !rep.OK() {
		return nil, fmt.Errorf("faults left by an earlier run could not all be reverted; run `faultline recover`")
	}
	env, err := startEnvironment(ctx, exp, opts)
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.close(ctx) }()

	repeat := 1
	if exp.Spec.Repeat != nil && *exp.Spec.Repeat > 0 {
		repeat = int(*exp.Spec.Repeat)
	}
	if opts.Repeat > 0 {
		repeat = opts.Repeat
	}
	out := &Outcome{}
	for i := 0; i < repeat; i++ {
		if i > 0 {
			if err := env.waitReady(ctx); err != nil {
				return out, fmt.Errorf("environment not ready before run %d: %w", i+1, err)
			}
		}
		rr, err := runOnce(ctx, exp, env, opts, i, repeat)
		if err != nil {
			return out, err
		}
		out.Runs = append(out.Runs, rr)
		if rr.Result.Verdict == measure.VerdictAborted || ctx.Err() != nil {
			break
		}
	}
	if len(out.Runs) > 1 {
		results := make([]measure.Result, len(out.Runs))
		for i, r := range out.Runs {
			results[i] = *r.Result
		}
		agg := measure.AggregateRuns(results)
		out.Aggregate = &agg
	}
	return out, nil
}

func hasErrors(ps []manifest.Problem) bool {
	for _, p := range ps {
		if !p.Warning {
			return true
		}
	}
	return false
}

func durationOr(s, def string) time.Duration {
	if s == "" {
		s = def
	}
	d, _ := time.ParseDuration(s)
	return d
}

// run holds the state of one repetition.
type run struct {
	exp   *v1alpha1.Experiment
	env   *environment
	opts  Options
	rec   *timeline.Recorder
	start time.Time

	baseline, fault, recovery time.Duration

	cancel    context.CancelFunc
	abortOnce sync.Once

	mu     sync.Mutex
	active map[string]engine.Injection
}

func runOnce(ctx context.Context, exp *v1alpha1.Experiment, env *environment, opts Options, index, total int) (RunResult, error) {
	r := &run{
		exp:      exp,
		env:      env,
		opts:     opts,
		baseline: durationOr(exp.Spec.Phases.Baseline, v1alpha1.DefaultBaselinePhase),
		fault:    durationOr(exp.Spec.Phases.Fault, "0s"),
		recovery: durationOr(exp.Spec.Phases.Recovery, v1alpha1.DefaultRecoveryPhase),
		active:   map[string]engine.Injection{},
	}
	if exp.Spec.Workflow != nil && r.fault == 0 {
		// A workflow without a fault phase length runs for as long as its
		// entry's deadline says.
		r.fault = workflowLength(exp.Spec.Workflow)
	}
	total3 := r.baseline + r.fault + r.recovery

	// Everything that needs files resolves them next to the experiment.
	readFile := readFileFrom(opts.BaseDir)

	// Build load and probes before the clock starts: bad input stops here.
	var (
		loadCfg  load.Config
		haveLoad bool
	)
	if l := exp.Spec.Load; l != nil {
		base, err := env.resolveTarget(l.Target)
		if err != nil {
			return RunResult{}, fmt.Errorf("load target: %w", err)
		}
		cfg, err := load.FromSpec(l, base, readFile)
		if err != nil {
			return RunResult{}, fmt.Errorf("load: %w", err)
		}
		if cfg.Duration <= 0 || cfg.Duration > total3 {
			cfg.Duration = total3
		}
		loadCfg, haveLoad = cfg, true
	}
	var probes []probe.Probe
	penv := probeEnv{env: env, readFile: readFile, dir: opts.BaseDir}
	for _, ps := range exp.Spec.Probes {
		p, err := probe.New(ps, penv)
		if err != nil {
			return RunResult{}, err
		}
		probes = append(probes, p)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.cancel = cancel
	// The clock starts now that everything is built.
	r.start = time.Now()
	r.rec = timeline.NewRecorder(exp.Name, r.start)
	var gen *load.Generator
	if haveLoad {
		gen = load.New(loadCfg, r.rec)
	}
	r.rec.AddPhase(timeline.Span{Name: timeline.PhaseBaseline, Start: 0, End: r.baseline})
	r.rec.AddPhase(timeline.Span{Name: timeline.PhaseFault, Start: r.baseline, End: r.baseline + r.fault})
	r.rec.AddPhase(timeline.Span{Name: timeline.PhaseRecovery, Start: r.baseline + r.fault, End: total3})

	sched := probe.NewScheduler(probes, r.rec, r.start, func(reason string) { r.abort("stop condition: " + reason) })
	live := newLiveView(opts, r, gen, index, total)
	live.start(runCtx)

	var loadWG sync.WaitGroup
	if gen != nil {
		loadWG.Add(1)
		go func() {
			defer loadWG.Done()
			if err := gen.Run(runCtx, r.start); err != nil && runCtx.Err() == nil {
				r.rec.AddEvent(timeline.Event{At: r.rec.Now(), Source: "load", Type: "Error", Message: err.Error()})
			}
		}()
	}
	sched.StartLoops(runCtx)

	// Baseline.
	ctxtime.Until(runCtx, r.start.Add(r.baseline))

	// Fault phase: faults at their offsets, or the workflow, and schedules;
	// everything still active when the phase ends is reverted then.
	if runCtx.Err() == nil {
		// SOT (and Edge) check the steady state right before chaos; a
		// failing stop-condition probe aborts before any fault is injected.
		sched.Start(runCtx)
	}
	if runCtx.Err() == nil {
		sched.SetChaosActive(true)
		phaseCtx, phaseCancel := context.WithDeadline(runCtx, r.start.Add(r.baseline+r.fault))
		r.runFaultPhase(phaseCtx)
		phaseCancel()
		r.revertAll(ctx)
		sched.SetChaosActive(false)
	}

	// Recovery.
	ctxtime.Until(runCtx, r.start.Add(total3))
	r.revertAll(ctx) // after an abort, nothing may stay injected
	finishCtx, finishCancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	sched.Finish(finishCtx)
	finishCancel()
	cancel()
	loadWG.Wait()
	live.stop()

	elapsed := time.Since(r.start)
	tl := r.rec.Finish(elapsed)
	res := measure.Measure(tl, &exp.Spec)
	return RunResult{Result: &res, Timeline: tl}, nil
}

// abort ends the run early: faults are reverted at once by the caller.
func (r *run) abort(reason string) {
	r.abortOnce.Do(func() {
		r.rec.SetAborted(timeline.Abort{At: r.rec.Now(), Reason: reason})
		r.cancel()
	})
}

// runFaultPhase starts every fault, the workflow and the schedules, and
// returns when the phase ends (ctx) and every one of them has finished.
func (r *run) runFaultPhase(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range r.exp.Spec.Faults {
		f := &r.exp.Spec.Faults[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runFault(ctx, f, i)
		}()
	}
	if w := r.exp.Spec.Workflow; w != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runWorkflow(ctx, w)
		}()
	}
	for i := range r.exp.Spec.Schedules {
		s := &r.exp.Spec.Schedules[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runSchedule(ctx, s, i)
		}()
	}
	wg.Wait()
}

// faultOf builds the engine fault of an experiment fault entry.
func (r *run) faultOf(f *v1alpha1.ExperimentFault, index int) (engine.Fault, error) {
	return faultOf(r.opts.BaseDir, f, index)
}

// faultOf builds the fault of spec.faults[index], reading its file
// relative to baseDir.
func faultOf(baseDir string, f *v1alpha1.ExperimentFault, index int) (engine.Fault, error) {
	name := f.Name
	if f.File != "" {
		objs, _, err := loadManifests(baseDir, f.File, "fault")
		if err != nil {
			return engine.Fault{}, err
		}
		if len(objs) != 1 {
			return engine.Fault{}, fmt.Errorf("fault file %s must hold exactly one chaos object, it holds %d", f.File, len(objs))
		}
		ef, ok := engine.FaultFromObject(objs[0])
		if !ok {
			return engine.Fault{}, fmt.Errorf("fault file %s holds a %s, not a chaos kind", f.File, objs[0].GetTypeMeta().Kind)
		}
		if name != "" {
			ef.Name = name
		}
		return ef, nil
	}
	kind, spec := f.EmbedChaos.Chaos()
	if spec == nil {
		return engine.Fault{}, fmt.Errorf("fault %d has neither a file nor an inline chaos spec", index)
	}
	if name == "" {
		name = fmt.Sprintf("%s-%d", kind, index)
	}
	cs, ok := spec.(v1alpha1.ChaosSpec)
	if !ok {
		return engine.Fault{}, fmt.Errorf("fault %d: %s is not a fault kind", index, kind)
	}
	return engine.FaultFromSpec(kind, name, "", cs), nil
}

func (r *run) runFault(ctx context.Context, f *v1alpha1.ExperimentFault, index int) {
	at := durationOr(f.At, "0s")
	ctxtime.Until(ctx, r.start.Add(r.baseline+at))
	if ctx.Err() != nil {
		return
	}
	ef, err := r.faultOf(f, index)
	if err != nil {
		r.recordFailure(f.Name, "", err)
		return
	}
	r.inject(ctx, ef)
}

// inject injects one fault, holds it until it ends or ctx ends, reverts it
// and records its window, events and fidelity.
func (r *run) inject(ctx context.Context, f engine.Fault) {
	// A fault never outlives the fault phase.
	if dl, ok := ctx.Deadline(); ok && (f.Duration == 0 || time.Now().Add(f.Duration).After(dl)) {
		if rem := time.Until(dl); rem > 0 && !instantaneous(f) {
			f.Duration = rem
		}
	}
	inj, startAt, err := r.track(ctx, f)
	if err != nil {
		return
	}
	select {
	case <-inj.Done():
	case <-ctx.Done():
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := inj.Revert(rctx); err != nil {
			r.recordFailure(f.Name, f.Kind, fmt.Errorf("revert: %w", err))
		}
		cancel()
	}
	r.finish(inj, startAt)
}

// track injects f and tracks it as active, so an abort reverts it; a
// failure is recorded in the timeline.
func (r *run) track(ctx context.Context, f engine.Fault) (engine.Injection, time.Duration, error) {
	startAt := r.rec.Now()
	inj, err := r.env.engine.Inject(ctx, f)
	if err != nil {
		r.recordFailure(f.Name, f.Kind, err)
		return nil, 0, err
	}
	r.mu.Lock()
	r.active[inj.ID()] = inj
	r.mu.Unlock()
	return inj, startAt, nil
}

// finish stops tracking an injection that has ended and records it.
func (r *run) finish(inj engine.Injection, startAt time.Duration) {
	r.mu.Lock()
	delete(r.active, inj.ID())
	r.mu.Unlock()
	r.record(inj, startAt)
}

func instantaneous(f engine.Fault) bool {
	if pc, ok := f.Spec.(*v1alpha1.PodChaosSpec); ok {
		return pc.Action == v1alpha1.PodKill || pc.Action == v1alpha1.ContainerKill
	}
	return false
}

func (r *run) record(inj engine.Injection, startAt time.Duration) {
	f := inj.Fault()
	tf := timeline.Fault{Name: f.Name, Kind: f.Kind, Start: startAt, End: r.rec.Now(), Fidelity: inj.Fidelity()}
	if instantaneous(f) {
		tf.End = tf.Start
	}
	for _, t := range inj.Targets() {
		tf.Targets = append(tf.Targets, t.Name)
	}
	for _, e := range inj.Events() {
		r.rec.AddEvent(timeline.Event{At: r.rec.Since(e.Time), Source: f.Name, Type: string(e.Type), Target: e.Target, Message: e.Message})
	}
	r.rec.AddFault(tf)
}

func (r *run) recordFailure(name, kind string, err error) {
	now := r.rec.Now()
	r.rec.AddFault(timeline.Fault{Name: name, Kind: kind, Start: now, End: now, Error: err.Error()})
	r.rec.AddEvent(timeline.Event{At: now, Source: name, Type: string(engine.EventFailed), Message: err.Error()})
}

// revertAll reverts whatever is still injected (abort, Ctrl-C, phase end).
func (r *run) revertAll(ctx context.Context) {
	r.mu.Lock()
	var list []engine.Injection
	for _, inj := range r.active {
		list = append(list, inj)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, inj := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = inj.Revert(rctx)
		}()
	}
	wg.Wait()
}

func (r *run) workflowDeps() workflow.Deps {
	return workflow.Deps{
		Inject: func(ictx context.Context, f engine.Fault) (engine.Injection, error) {
			inj, startAt, err := r.track(ictx, f)
			if err != nil {
				return nil, err
			}
			go func() {
				<-inj.Done()
				r.finish(inj, startAt)
			}()
			return inj, nil
		},
		Events: func(e workflow.Event) {
			r.rec.AddEvent(timeline.Event{At: r.rec.Since(e.Time), Source: "workflow", Type: string(e.Type), Target: e.Node, Message: e.Message})
		},
	}
}

func (r *run) runWorkflow(ctx context.Context, w *v1alpha1.ExperimentWorkflow) {
	spec := &w.WorkflowSpec
	name := r.exp.Name
	if w.File != "" {
		wf, err := r.loadWorkflowFile(w.File)
		if err != nil {
			r.recordFailure("workflow", "Workflow", err)
			return
		}
		spec, name = &wf.Spec, wf.Name
	}
	res, err := workflow.Run(ctx, spec, name, r.workflowDeps())
	if err != nil && ctx.Err() == nil {
		r.recordFailure("workflow", "Workflow", err)
	}
	if res != nil && res.Aborted {
		r.abort("workflow aborted: " + res.AbortReason)
	}
}

func (r *run) loadWorkflowFile(file string) (*v1alpha1.Workflow, error) {
	objs, _, err := loadManifests(r.opts.BaseDir, file, "workflow")
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if wf, ok := o.(*v1alpha1.Workflow); ok {
			return wf, nil
		}
	}
	return nil, fmt.Errorf("workflow file %s holds no Workflow", file)
}

func (r *run) runSchedule(ctx context.Context, s *v1alpha1.ExperimentSchedule, index int) {
	ctxtime.Until(ctx, r.start.Add(r.baseline+durationOr(s.At, "0s")))
	if ctx.Err() != nil {
		return
	}
	spec := &s.ScheduleSpec
	name := s.Name
	if s.File != "" {
		sc, err := r.loadScheduleFile(s.File)
		if err != nil {
			r.recordFailure(name, "Schedule", err)
			return
		}
		spec = &sc.Spec
		if name == "" {
			name = sc.Name
		}
	}
	if name == "" {
		name = fmt.Sprintf("schedule-%d", index)
	}
	if _, err := workflow.RunSchedule(ctx, spec, name, r.workflowDeps()); err != nil && ctx.Err() == nil {
		r.recordFailure(name, "Schedule", err)
	}
}

func (r *run) loadScheduleFile(file string) (*v1alpha1.Schedule, error) {
	objs, _, err := loadManifests(r.opts.BaseDir, file, "schedule")
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if sc, ok := o.(*v1alpha1.Schedule); ok {
			return sc, nil
		}
	}
	return nil, fmt.Errorf("schedule file %s holds no Schedule", file)
}

// workflowLength is the entry template's deadline, or 60 s without one.
func workflowLength(w *v1alpha1.ExperimentWorkflow) time.Duration {
	for _, t := range w.Templates {
		if t.Name == w.Entry && t.Deadline != nil {
			if d, err := time.ParseDuration(*t.Deadline); err == nil {
				return d
			}
		}
	}
	return time.Minute
}

// probeEnv gives probes what the run knows.
type probeEnv struct {
	env      *environment
	readFile func(string) ([]byte, error)
	dir      string
}

func (p probeEnv) ResolveService(name string) (string, error) { return p.env.resolve(name) }
func (p probeEnv) ReadFile(path string) ([]byte, error)       { return p.readFile(path) }
func (p probeEnv) WorkDir() string                            { return p.dir }

// Services lists the environment's services: cmd probes get each one's URL
// as <NAME>_URL.
func (p probeEnv) Services() []string { return p.env.services }
