package local

import (
	"context"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// applyParallelism bounds how many targets one injection acts on at once:
// enough that a pod-kill with a grace period on many replicas does not
// take grace × targets, few enough not to fork a hundred stress-ngs at once.
const applyParallelism = 16

// injection is one active fault of the local engine: the shared
// lifecycle, plus its journal entry.
type injection struct {
	*engine.Lifecycle
	e    *Engine
	id   string
	plan *faultPlan
	// applied is the lifecycle's: closed once every target was acted on.
	applied <-chan struct{}
	// held is the journal entry.
	held *engine.HeldEntry
}

var _ engine.Injection = (*injection)(nil)

func newInjection(e *Engine, f engine.Fault, p *faultPlan, entry *engine.Entry) *injection {
	inj := &injection{e: e, id: entry.ID, plan: p, held: engine.NewHeldEntry(entry, engine.JournalStore{Journal: e.journal})}
	actions := make([]engine.Action, len(p.actions))
	names := make([]string, len(p.actions))
	for i, a := range p.actions {
		actions[i] = boundAction{a: a, rec: undoRecorder{inj}}
		names[i] = p.targets[i].Name
	}
	// An instant fault (or one every target failed) is over before Inject
	// returns: Done is closed then.
	inj.Lifecycle = engine.NewLifecycle(e.ctx, engine.LifecycleConfig{ID: entry.ID, Fault: f, Targets: p.targets,
		Actions: actions, ActionTargets: names, Notes: p.notes, Instant: p.instant,
		ApplyParallelism: applyParallelism, RevertTimeout: revertTimeout, Journal: inj.held,
		Kept: "journal entry " + entry.ID, DoneBeforeApplied: true, Fidelity: p.fidelity,
		OnFinish: func() { e.active.Remove(entry.ID) }})
	inj.applied = inj.Applied()
	return inj
}

// boundAction is an action with the undo recorder of its injection.
type boundAction struct {
	a   faultAction
	rec undoRecorder
}

func (b boundAction) Apply(ctx context.Context) (string, error)  { return b.a.apply(ctx, b.rec) }
func (b boundAction) Revert(ctx context.Context) (string, error) { return b.a.revert(ctx) }

// fidelity is what the plan's applied actions measured (stress), beyond
// the duration the lifecycle measures itself.
func (p *faultPlan) fidelity(ok []bool) []engine.Fidelity {
	var out []engine.Fidelity
	for i, a := range p.actions {
		if ok[i] {
			out = append(out, a.fidelity()...)
		}
	}
	return out
}

// since returns the events after the first n, a channel closed when there
// are more, and whether the injection is over (no event follows then).
func (inj *injection) since(n int) ([]engine.Event, <-chan struct{}, bool) { return inj.Since(n) }

func (inj *injection) event(typ engine.EventType, target, msg string) { inj.Event(typ, target, msg) }

// applyError is why the injection failed as a whole (every target failed).
func (inj *injection) applyError() error { return inj.ApplyErr() }

// renew extends the injection's lease in the journal (unless it is over:
// reverted, or failed to revert and left to recover).
func (inj *injection) renew() {
	if err := inj.held.Renew(context.Background(), time.Now().Add(inj.e.lease), inj.Done()); err != nil {
		inj.event(engine.EventInfo, "", "lease renewal failed: "+err.Error())
	}
}

// undoRecorder lets an action record its undo steps in the injection's
// journal entry, each before the step it undoes.
type undoRecorder struct{ inj *injection }

// add appends an undo step durably and returns its index.
func (r undoRecorder) add(action string, args map[string]string) (int, error) {
	if args == nil {
		args = map[string]string{}
	}
	args[undoEnvironment] = r.inj.e.sup.Name()
	return r.inj.held.AddUndo(context.Background(), engine.Undo{Action: action, Args: args}, false)
}

// set replaces argument key of undo step i (e.g. the stressor's pids once
// they are known) and writes the entry.
func (r undoRecorder) set(i int, key, value string) error {
	return r.inj.held.SetUndoArg(context.Background(), i, key, value)
}

// drop marks undo step i as not needed: the step it guarded failed without
// changing anything, so recovery must not undo it (it might undo another
// fault's work). Indices of the other steps stay valid.
func (r undoRecorder) drop(i int) error {
	return r.inj.held.ReplaceUndo(context.Background(), i, undoNone)
}

// status is the injection as the control socket reports it.
func (inj *injection) status() InjectionStatus {
	f := inj.Fault()
	st := InjectionStatus{ID: inj.id, Kind: f.Kind, Name: f.Name, Duration: f.Duration,
		Started: inj.Started(), Targets: inj.Targets(), Events: inj.Events(), Fidelity: inj.Fidelity()}
	select {
	case <-inj.Done():
		st.Done = true
		if err := inj.ApplyErr(); err != nil {
			st.Error = err.Error()
		} else if err := inj.RevertErr(); err != nil {
			st.Error = err.Error()
		}
	default:
	}
	return st
}
