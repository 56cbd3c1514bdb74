package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
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

type injection struct {
	e       *Engine
	id      string
	fault   engine.Fault
	plan    *faultPlan
	started time.Time

	ctx    context.Context
	cancel context.CancelFunc

	applied    chan struct{}
	done       chan struct{}
	revertOnce sync.Once
	finishOnce sync.Once

	jmu     sync.Mutex
	entry   *engine.Entry
	removed bool

	mu         sync.Mutex
	events     []engine.Event
	fidelity   []engine.Fidelity
	ok         []bool
	appliedAt  time.Time
	revertedAt time.Time
	applyErr   error
	revertErr  error
	timer      *time.Timer
}

var _ engine.Injection = (*injection)(nil)

func newInjection(e *Engine, f engine.Fault, p *faultPlan, entry *engine.Entry) *injection {
	inj := &injection{e: e, id: entry.ID, fault: f, plan: p, started: time.Now(), entry: entry,
		applied: make(chan struct{}), done: make(chan struct{}), ok: make([]bool, len(p.actions))}
	inj.ctx, inj.cancel = context.WithCancel(e.ctx)
	return inj
}

func (inj *injection) ID() string            { return inj.id }
func (inj *injection) Fault() engine.Fault   { return inj.fault }
func (inj *injection) Done() <-chan struct{} { return inj.done }
func (inj *injection) Targets() []engine.Target {
	return append([]engine.Target(nil), inj.plan.targets...)
}

// Events returns the per-target records so far; they live in this process
// only (never in an etcd object), whatever the number of targets.
func (inj *injection) Events() []engine.Event {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return append([]engine.Event(nil), inj.events...)
}

func (inj *injection) event(typ engine.EventType, target, msg string) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.events = append(inj.events, engine.Event{Time: time.Now(), Fault: inj.fault.Name, Target: target, Type: typ, Message: msg})
}

func (inj *injection) addFidelity(f engine.Fidelity) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.fidelity = append(inj.fidelity, f)
}

// Fidelity reports how long the fault held against its duration, and what
// the actions measured (pod-kill: each workload's recovery time).
func (inj *injection) Fidelity() []engine.Fidelity {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	var out []engine.Fidelity
	if d := inj.fault.Duration; d > 0 && !inj.plan.instant && !inj.appliedAt.IsZero() {
		end := inj.revertedAt
		if end.IsZero() {
			end = time.Now()
		}
		held := end.Sub(inj.appliedAt)
		measured := held.Round(time.Millisecond).String()
		if inj.revertedAt.IsZero() {
			measured += " so far"
		}
		out = append(out, engine.Fidelity{Quantity: "duration", Asked: d.String(), Measured: measured,
			AskedValue: d.Seconds(), MeasuredValue: held.Seconds(), Unit: "s"})
	}
	return append(out, inj.fidelity...)
}

func (inj *injection) applyError() error {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return inj.applyErr
}

func (inj *injection) run() {
	for _, n := range inj.plan.notes {
		inj.event(engine.EventInfo, "", n)
	}
	errs := make([]error, len(inj.plan.actions))
	sem := make(chan struct{}, applyParallelism)
	var wg sync.WaitGroup
	rec := &recorder{inj: inj}
	for i, a := range inj.plan.actions {
		target := inj.plan.actionTarget(i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if inj.ctx.Err() != nil {
				errs[i] = fmt.Errorf("%s: not injected: the fault was reverted first", target)
				return
			}
			msg, err := a.apply(inj.ctx, rec)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", target, err)
				inj.event(engine.EventFailed, target, err.Error())
				return
			}
			inj.mu.Lock()
			inj.ok[i] = true
			if inj.appliedAt.IsZero() {
				inj.appliedAt = time.Now()
			}
			inj.mu.Unlock()
			inj.event(engine.EventInjected, target, msg)
		}()
	}
	wg.Wait()
	inj.mu.Lock()
	anyOK := false
	for _, ok := range inj.ok {
		anyOK = anyOK || ok
	}
	if !anyOK && len(inj.plan.actions) > 0 {
		inj.applyErr = fmt.Errorf("inject %s %s: no target could be injected: %w", inj.fault.Kind, inj.fault.Name, errors.Join(errs...))
	}
	failed := inj.applyErr != nil
	if d := inj.fault.Duration; d > 0 && !inj.plan.instant && !failed {
		inj.timer = time.AfterFunc(max(d-time.Since(inj.appliedAt), 0), inj.startRevert)
	}
	ok := append([]bool(nil), inj.ok...)
	inj.mu.Unlock()
	if failed || inj.plan.instant {
		// Nothing is held: the journal entry goes now.
		err := inj.removeEntry()
		close(inj.applied)
		if !failed && inj.plan.settle != nil {
			inj.plan.settle(inj.ctx, inj, ok)
		}
		inj.finish(err)
		return
	}
	close(inj.applied)
}

// Revert undoes the fault everywhere it was applied and removes its journal
// Lease; idempotent. A target that cannot be restored keeps the Lease for
// Recover. On an instant fault it ends the recovery measurement.
func (inj *injection) Revert(ctx context.Context) error {
	inj.startRevert()
	select {
	case <-inj.done:
		inj.mu.Lock()
		defer inj.mu.Unlock()
		return inj.revertErr
	case <-ctx.Done():
		return fmt.Errorf("revert %s %s: %w", inj.fault.Kind, inj.fault.Name, ctx.Err())
	}
}

func (inj *injection) startRevert() {
	inj.revertOnce.Do(func() {
		inj.cancel()
		go inj.revert()
	})
}

func (inj *injection) revert() {
	<-inj.applied
	inj.mu.Lock()
	if inj.timer != nil {
		inj.timer.Stop()
	}
	over := inj.applyErr != nil || inj.plan.instant
	ok := append([]bool(nil), inj.ok...)
	inj.mu.Unlock()
	if over {
		<-inj.done
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
	defer cancel()
	errs := make([]error, len(ok))
	sem := make(chan struct{}, applyParallelism)
	var wg sync.WaitGroup
	for i, a := range inj.plan.actions {
		if !ok[i] {
			continue
		}
		target := inj.plan.actionTarget(i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			msg, err := a.revert(ctx)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", target, err)
				inj.event(engine.EventFailed, target, "revert failed: "+err.Error())
				return
			}
			inj.event(engine.EventRecovered, target, msg)
		}()
	}
	wg.Wait()
	inj.mu.Lock()
	inj.revertedAt = time.Now()
	inj.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		inj.finish(fmt.Errorf("revert %s %s (journal lease %s/%s kept for 'faultline recover'): %w",
			inj.fault.Kind, inj.fault.Name, inj.e.journal.ns, inj.id, err))
		return
	}
	inj.finish(inj.removeEntry())
}

func (inj *injection) finish(err error) {
	inj.finishOnce.Do(func() {
		inj.cancel()
		inj.e.forget(inj)
		inj.mu.Lock()
		inj.revertErr = err
		close(inj.done)
		inj.mu.Unlock()
	})
}

// journalTimeout bounds one journal write.
const journalTimeout = 15 * time.Second

func (inj *injection) removeEntry() error {
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if inj.removed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if err := inj.e.journal.remove(ctx, inj.id); err != nil {
		return err
	}
	inj.removed = true
	return nil
}

// renew extends the injection's Lease.
func (inj *injection) renew() {
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if inj.removed {
		return
	}
	select {
	case <-inj.done:
		return
	default:
	}
	inj.entry.LeaseUntil = time.Now().Add(inj.e.opts.Lease)
	ctx, cancel := context.WithTimeout(inj.e.ctx, journalTimeout)
	defer cancel()
	if err := inj.e.journal.write(ctx, inj.entry, inj.e.opts.Lease); err != nil && inj.e.ctx.Err() == nil {
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
	inj := r.inj
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	for i, u := range inj.entry.Undo {
		if u.Action == act && maps.Equal(u.Args, args) {
			return i, nil
		}
	}
	i := len(inj.entry.Undo)
	inj.entry.Undo = append(inj.entry.Undo, engine.Undo{Action: act, Args: args})
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if err := inj.e.journal.write(ctx, inj.entry, inj.e.opts.Lease); err != nil {
		inj.entry.Undo = inj.entry.Undo[:i]
		return 0, fmt.Errorf("journal undo step %s: %w", act, err)
	}
	return i, nil
}

// set replaces argument key of undo step i and writes the entry.
func (r *recorder) set(i int, key, value string) error {
	inj := r.inj
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if i < 0 || i >= len(inj.entry.Undo) {
		return fmt.Errorf("journal: no undo step %d", i)
	}
	inj.entry.Undo[i].Args[key] = value
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	return inj.e.journal.write(ctx, inj.entry, inj.e.opts.Lease)
}

// drop marks undo step i as not needed (the step it guarded changed
// nothing), so recovery does not undo another fault's work.
func (r *recorder) drop(i int) error {
	inj := r.inj
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if i < 0 || i >= len(inj.entry.Undo) {
		return fmt.Errorf("journal: no undo step %d", i)
	}
	inj.entry.Undo[i].Action = undoNone
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	return inj.e.journal.write(ctx, inj.entry, inj.e.opts.Lease)
}
