package kube

import (
	"context"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// action is one fault acting on one target (a pod, a node, a workload),
// the same small extension point as the local engine's.
type action interface {
	// apply acts and says what it did; before each step that needs undoing
	// it records the undo step with rec. ctx ends when the injection is
	// reverted (a long drain stops then).
	apply(ctx context.Context, rec *recorder) (string, error)
	// revert undoes a successful apply and says what it did.
	revert(ctx context.Context) (string, error)
}

// faultPlan is a fault resolved against the cluster.
type faultPlan struct {
	targets []engine.Target
	actions []action
	// instant faults (pod-kill) hold nothing and revert nothing.
	instant bool
	notes   []string
	// actionTargets name the actions' targets in events when they are not
	// one per target (a delegated Chaos Mesh object acts on all).
	actionTargets []string
	// settle runs after an instant fault was applied and before it is
	// Done: pod-kill measures the workloads' recovery there.
	settle func(ctx context.Context, inj *injection, ok []bool)
}

func (p *faultPlan) actionTarget(i int) string {
	if i < len(p.actionTargets) {
		return p.actionTargets[i]
	}
	if i < len(p.targets) {
		return targetKey(p.targets[i])
	}
	return ""
}

// applyParallelism bounds the API calls one injection makes at once (the
// client's QPS limits them further).
const applyParallelism = 16

// injection is one active fault of the kube engine: the shared lifecycle,
// plus its journal Lease.
type injection struct {
	*engine.Lifecycle
	e    *Engine
	id   string
	plan *faultPlan
	// ctx is the lifecycle's: it ends when the injection is reverted.
	ctx context.Context
	// held is the journal Lease.
	held *engine.HeldEntry
}

var _ engine.Injection = (*injection)(nil)

func newInjection(e *Engine, f engine.Fault, p *faultPlan, entry *engine.Entry) *injection {
	inj := &injection{e: e, id: entry.ID, plan: p, held: engine.NewHeldEntry(entry, leaseStore{j: e.journal, ttl: e.opts.Lease})}
	rec := &recorder{inj: inj}
	actions := make([]engine.Action, len(p.actions))
	names := make([]string, len(p.actions))
	for i, a := range p.actions {
		actions[i] = boundAction{a: a, rec: rec}
		names[i] = p.actionTarget(i)
	}
	cfg := engine.LifecycleConfig{ID: entry.ID, Fault: f, Targets: p.targets, Actions: actions, ActionTargets: names,
		Notes: p.notes, Instant: p.instant, ApplyParallelism: applyParallelism, RevertParallelism: applyParallelism,
		RevertTimeout: revertTimeout, Journal: inj.held, Kept: "journal lease " + e.journal.ns + "/" + entry.ID,
		OnFinish: func() { e.active.Remove(entry.ID) }}
	if p.settle != nil {
		cfg.Settle = func(ctx context.Context, ok []bool) { p.settle(ctx, inj, ok) }
	}
	inj.Lifecycle = engine.NewLifecycle(e.ctx, cfg)
	inj.ctx = inj.Context()
	return inj
}

// boundAction is an action with the recorder of its injection.
type boundAction struct {
	a   action
	rec *recorder
}

func (b boundAction) Apply(ctx context.Context) (string, error)  { return b.a.apply(ctx, b.rec) }
func (b boundAction) Revert(ctx context.Context) (string, error) { return b.a.revert(ctx) }

// Events live in this process only (never in an etcd object), whatever
// the number of targets.
func (inj *injection) event(typ engine.EventType, target, msg string) { inj.Event(typ, target, msg) }

// addFidelity records what an action measured (pod-kill: each workload's
// recovery time).
func (inj *injection) addFidelity(f engine.Fidelity) { inj.AddFidelity(f) }

// journalTimeout bounds one journal write.
const journalTimeout = 15 * time.Second

// leaseStore is the Lease journal as an engine.EntryStore, each call
// bounded by journalTimeout.
type leaseStore struct {
	j   *leaseJournal
	ttl time.Duration
}

func (s leaseStore) Write(ctx context.Context, e *engine.Entry) error {
	ctx, cancel := context.WithTimeout(ctx, journalTimeout)
	defer cancel()
	return s.j.write(ctx, e, s.ttl)
}

func (s leaseStore) Remove(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, journalTimeout)
	defer cancel()
	return s.j.remove(ctx, id)
}

// renew extends the injection's Lease.
func (inj *injection) renew() {
	err := inj.held.Renew(inj.e.ctx, time.Now().Add(inj.e.opts.Lease), inj.Done())
	if err != nil && inj.e.ctx.Err() == nil {
		inj.event(engine.EventInfo, "", "lease renewal failed: "+err.Error())
	}
}

// recorder lets actions add undo steps to the injection's journal Lease,
// each before the step it undoes.
type recorder struct{ inj *injection }

// add appends an undo step durably and returns its index. A step equal to
// one already recorded is not repeated (pod-failure records one step for
// all its pods).
func (r *recorder) add(act string, args map[string]string) (int, error) {
	return r.inj.held.AddUndo(context.Background(), engine.Undo{Action: act, Args: args}, true)
}

// set replaces argument key of undo step i and writes the entry.
func (r *recorder) set(i int, key, value string) error {
	return r.inj.held.SetUndoArg(context.Background(), i, key, value)
}

// drop marks undo step i as not needed (the step it guarded changed
// nothing), so recovery does not undo another fault's work.
func (r *recorder) drop(i int) error {
	return r.inj.held.ReplaceUndo(context.Background(), i, undoNone)
}
