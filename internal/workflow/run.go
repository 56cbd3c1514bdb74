package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// Run executes spec from its entry template with Chaos Mesh's semantics
// (see the package documentation) and returns what every node did. name
// names the run in events and fault names' context.
//
// An invalid spec (no entry, a reference to no template, a cycle, a
// malformed deadline or cron expression) is an error before anything runs.
// Otherwise Run returns a Result, and every fault it injected has been
// reverted by the time it returns. A workflow aborted by a status check is
// not an error: Result.Aborted says so. When ctx ends first, Run stops
// every node, reverts everything and returns the Result so far (Status
// Cancelled) with an error wrapping ctx.Err().
func Run(ctx context.Context, spec *v1alpha1.WorkflowSpec, name string, deps Deps) (*Result, error) {
	if err := checkSpec(spec); err != nil {
		return nil, fmt.Errorf("workflow %s: %w", name, err)
	}
	deps, cleanup := deps.withDefaults()
	defer cleanup()
	r := newRunner(spec, name, deps)
	return r.run(ctx)
}

// runner is one execution of a workflow.
type runner struct {
	spec *v1alpha1.WorkflowSpec
	name string
	deps Deps
	inj  *injector
	ev   *emitter

	// cancel ends every node; abort passes an *abortCause.
	cancel    context.CancelCauseFunc
	abortOnce sync.Once
	mu        sync.Mutex
	abortMsg  string // guarded by mu
}

func newRunner(spec *v1alpha1.WorkflowSpec, name string, deps Deps) *runner {
	return &runner{
		spec: spec, name: name, deps: deps,
		inj: newInjector(deps),
		ev:  &emitter{fn: deps.Events, now: deps.Now, workflow: name},
	}
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel

	res := &Result{Name: r.name, Start: r.deps.Now()}
	root := r.newNode(nil, r.spec.Template(r.spec.Entry))
	res.Root = root
	r.start(rctx, root)
	sweepErr := r.inj.sweep(ctx)
	res.End = r.deps.Now()

	r.mu.Lock()
	res.AbortReason = r.abortMsg
	r.mu.Unlock()
	res.Aborted = res.AbortReason != ""
	switch {
	case res.Aborted:
		res.Status = StatusAborted
	case ctx.Err() != nil:
		res.Status = StatusCancelled
	default:
		res.Status = StatusSucceeded
		for _, n := range res.Nodes() {
			if n.Status == StatusFailed {
				res.Status = StatusFailed
				break
			}
		}
	}
	if sweepErr != nil {
		res.Status = StatusFailed
		root.Messages = append(root.Messages, sweepErr.Error())
	}
	if ctx.Err() != nil && !res.Aborted {
		return res, errors.Join(fmt.Errorf("workflow %s: %w", r.name, ctx.Err()), sweepErr)
	}
	if sweepErr != nil {
		return res, fmt.Errorf("workflow %s: %w", r.name, sweepErr)
	}
	return res, nil
}

// abort ends the whole workflow because a status check failed.
func (r *runner) abort(n *Node, reason string) {
	r.abortOnce.Do(func() {
		r.mu.Lock()
		r.abortMsg = reason
		r.mu.Unlock()
		r.ev.emit(n.Name, n.Path, EventAborted, "aborting the workflow: "+reason)
		r.cancel(&abortCause{reason: reason})
	})
}

// deadlineCause ends the context of a node whose deadline expired; every
// descendant sees it as its cause too, which is how a node tells its own
// deadline from an ancestor's.
type deadlineCause struct {
	path, name string
	deadline   time.Duration
}

func (d *deadlineCause) Error() string {
	return fmt.Sprintf("deadline %s of %s exceeded", d.deadline, d.name)
}

// abortCause ends every node of an aborted workflow.
type abortCause struct{ reason string }

func (a *abortCause) Error() string { return "workflow aborted: " + a.reason }

// outcome is how a node's work ended.
type outcome struct {
	status Status
	msg    string
	// abort, when set, aborts the workflow after the node is finished.
	abort string
	// holdSlot keeps a node that failed early in its place until its
	// deadline, as Chaos Mesh keeps retrying until then.
	holdSlot bool
}

// newNode makes the node of template t under parent (nil for the entry).
func (r *runner) newNode(parent *Node, t *v1alpha1.Template) *Node {
	n := &Node{Name: t.Name, Type: t.Type, Path: t.Name}
	n.Deadline, _ = parseDeadline(t.Deadline) // checkSpec vetted it
	if parent != nil {
		same := 1
		for _, c := range parent.Children {
			if c.Name == t.Name {
				same++
			}
		}
		n.Path = parent.Path + "/" + t.Name
		if same > 1 {
			n.Path += fmt.Sprintf("#%d", same)
		}
		parent.Children = append(parent.Children, n)
	}
	return n
}

// start runs node n to its end; it does not start it when ctx is already
// done (a Serial cut short, an aborted workflow).
func (r *runner) start(ctx context.Context, n *Node) {
	if ctx.Err() != nil {
		out := r.interrupted(ctx, n, StatusSkipped, "")
		r.skip(n, "not started: "+out.msg)
		n.cutByAncestor = true
		return
	}
	t := r.spec.Template(n.Name)
	n.Start = r.deps.Now()
	n.Status = StatusRunning
	r.emit(n, EventStarted, "")

	nctx := ctx
	if n.Deadline > 0 {
		var cancel context.CancelFunc
		nctx, cancel = context.WithTimeoutCause(ctx, n.Deadline, &deadlineCause{path: n.Path, name: n.Name, deadline: n.Deadline})
		defer cancel()
	}
	out := r.exec(nctx, n, t)
	n.End = r.deps.Now()
	n.Status = out.status
	if out.msg != "" {
		n.Messages = append(n.Messages, out.msg)
	}
	r.emit(n, eventOf(out.status), out.msg)
	if out.abort != "" {
		r.abort(n, out.abort)
	}
	if out.holdSlot && n.Deadline > 0 {
		<-nctx.Done()
	}
}

// skip marks n as never started.
func (r *runner) skip(n *Node, msg string) {
	n.Status = StatusSkipped
	n.Messages = append(n.Messages, msg)
	r.emit(n, EventSkipped, msg)
}

func (r *runner) emit(n *Node, t EventType, msg string) { r.ev.emit(n.Name, n.Path, t, msg) }

func eventOf(s Status) EventType {
	switch s {
	case StatusSucceeded:
		return EventSucceeded
	case StatusDeadlineExceeded:
		return EventDeadlineExceeded
	case StatusSkipped:
		return EventSkipped
	case StatusAborted:
		return EventAborted
	case StatusCancelled:
		return EventCancelled
	default:
		return EventFailed
	}
}

// exec does what n's template type does.
func (r *runner) exec(ctx context.Context, n *Node, t *v1alpha1.Template) outcome {
	switch t.Type {
	case v1alpha1.TemplateTypeSerial:
		return r.serial(ctx, n, t)
	case v1alpha1.TemplateTypeParallel:
		return r.parallel(ctx, n, t)
	case v1alpha1.TemplateTypeSuspend:
		<-ctx.Done()
		return r.interrupted(ctx, n, StatusSucceeded, "")
	case v1alpha1.TemplateTypeTask:
		return r.task(ctx, n, t)
	case v1alpha1.TemplateTypeStatusCheck:
		return r.statusCheck(ctx, n, t)
	case v1alpha1.TemplateTypeSchedule:
		return r.schedule(ctx, n, t)
	}
	if t.Type.IsChaos() {
		return r.chaos(ctx, n, t)
	}
	return outcome{status: StatusFailed, holdSlot: true,
		msg: fmt.Sprintf("templateType %s is not supported by faultline; it runs Serial, Parallel, Suspend, Task, StatusCheck, Schedule and %s",
			t.Type, strings.Join(v1alpha1.SupportedEmbedKinds(), ", "))}
}

// interrupted is the outcome of a node whose context ended. own is the
// status when the node's own deadline ended it: the normal end of chaos,
// Suspend and Schedule nodes, DeadlineExceeded for the others.
func (r *runner) interrupted(ctx context.Context, n *Node, own Status, ownMsg string) outcome {
	st, msg, cut := classify(ctx, n.Path, own, ownMsg)
	if cut {
		n.cutByAncestor = true
	}
	return outcome{status: st, msg: msg}
}

func (r *runner) serial(ctx context.Context, n *Node, t *v1alpha1.Template) outcome {
	for _, c := range t.Children {
		r.start(ctx, r.newNode(n, r.spec.Template(c)))
	}
	return r.childrenOutcome(ctx, n)
}

func (r *runner) parallel(ctx context.Context, n *Node, t *v1alpha1.Template) outcome {
	kids := make([]*Node, len(t.Children))
	for i, c := range t.Children {
		kids[i] = r.newNode(n, r.spec.Template(c))
	}
	r.startAll(ctx, kids)
	return r.childrenOutcome(ctx, n)
}

// startAll runs nodes at once and waits for them all.
func (r *runner) startAll(ctx context.Context, nodes []*Node) {
	var wg sync.WaitGroup
	for _, k := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.start(ctx, k)
		}()
	}
	wg.Wait()
}

// childrenOutcome is the outcome of a node that ends with its children: a
// Serial, a Parallel, a Task's branches. A node whose children all ran to
// their end finished, even if its deadline expired a moment later (Chaos
// Mesh's NodeDeadlineOmitted); a failed child makes it Failed.
func (r *runner) childrenOutcome(ctx context.Context, n *Node) outcome {
	if ctx.Err() != nil {
		for _, c := range n.Children {
			if c.cutByAncestor {
				return r.interrupted(ctx, n, StatusDeadlineExceeded, fmt.Sprintf("deadline %s exceeded before all children finished", n.Deadline))
			}
		}
	}
	var failed []string
	for _, c := range n.Children {
		if c.Status == StatusFailed {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		return outcome{status: StatusFailed, msg: "failed: " + strings.Join(failed, ", ")}
	}
	return outcome{status: StatusSucceeded}
}

// chaos injects a chaos template's spec and holds it.
func (r *runner) chaos(ctx context.Context, n *Node, t *v1alpha1.Template) outcome {
	spec, ok := t.EmbedChaos.Get(string(t.Type))
	if !ok {
		field, _ := v1alpha1.EmbedChaosField(string(t.Type))
		return outcome{status: StatusFailed, holdSlot: true,
			msg: fmt.Sprintf("templateType %s needs its spec in %s", t.Type, field)}
	}
	f := engine.Fault{Kind: string(t.Type), Name: t.Name, Spec: spec, Duration: holdFor(ctx, n.Deadline)}
	inj, rec, err := r.inj.start(ctx, f)
	if err != nil {
		if ctx.Err() != nil {
			return r.interrupted(ctx, n, StatusDeadlineExceeded, "the deadline came before the fault was injected: "+err.Error())
		}
		return outcome{status: StatusFailed, msg: err.Error(), holdSlot: true}
	}
	n.Injections = append(n.Injections, rec)
	r.emit(n, EventInjected, describeInjection(rec))
	ownDeadline := n.Deadline > 0
	err = r.inj.hold(ctx, inj, rec, ownDeadline, func(onItsOwn bool, err error) {
		switch {
		case err != nil:
			// finish reports the failure.
		case onItsOwn:
			r.emit(n, EventReverted, "the fault ended on its own")
		default:
			r.emit(n, EventReverted, "")
		}
	})
	if err != nil {
		return outcome{status: StatusFailed, msg: err.Error()}
	}
	if ctx.Err() != nil {
		return r.interrupted(ctx, n, StatusSucceeded, "")
	}
	return outcome{status: StatusSucceeded, msg: "the fault ended on its own"}
}

// holdFor is the duration a chaos node asks the engine for: its deadline,
// or what is left of an ancestor's when that ends first, so that the
// engine's own timer reverts the fault on time even if faultline dies.
func holdFor(ctx context.Context, own time.Duration) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return own
	}
	left := time.Until(dl)
	// ctx includes the node's own deadline, started a moment ago: within a
	// few milliseconds of it, the node's own deadline is what was asked.
	if own > 0 && left > own-50*time.Millisecond {
		return own
	}
	if left < time.Millisecond {
		left = time.Millisecond
	}
	return left.Round(time.Millisecond)
}

func describeInjection(rec *InjectionRecord) string {
	names := make([]string, 0, len(rec.Targets))
	for _, t := range rec.Targets {
		names = append(names, t.Name)
	}
	msg := fmt.Sprintf("%s %s", rec.Kind, rec.Name)
	if len(names) > 0 {
		msg += " on " + strings.Join(names, ", ")
	}
	if rec.Duration > 0 {
		msg += fmt.Sprintf(" for %s", rec.Duration)
	}
	return msg
}
