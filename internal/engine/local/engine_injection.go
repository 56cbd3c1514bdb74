package local

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// applyParallelism bounds how many targets one injection acts on at once:
// enough that a pod-kill with a grace period on many replicas does not
// take grace × targets, few enough not to fork a hundred stress-ngs at once.
const applyParallelism = 16

// injection is one active fault of the local engine.
type injection struct {
	e       *Engine
	id      string
	fault   engine.Fault
	plan    *faultPlan
	started time.Time

	// ctx ends when the injection is reverted: it aborts an apply still
	// in progress (a drain) and ends what lives as long as the fault (the
	// stressors).
	ctx    context.Context
	cancel context.CancelFunc

	applied    chan struct{} // closed once every target was acted on
	done       chan struct{} // closed once reverted (or complete, or failed)
	revertOnce sync.Once
	finishOnce sync.Once

	// jmu serialises changes to the journal entry (targets are applied in
	// parallel, and the lease is renewed meanwhile).
	jmu     sync.Mutex
	entry   *engine.Entry
	removed bool

	mu         sync.Mutex
	events     []engine.Event
	changed    chan struct{} // closed and replaced when events grow or done
	ok         []bool        // per action: applied
	appliedAt  time.Time     // when the first target was hit
	revertedAt time.Time     // when the last target was restored
	applyErr   error
	revertErr  error
	timer      *time.Timer
}

var _ engine.Injection = (*injection)(nil)

func newInjection(e *Engine, f engine.Fault, p *faultPlan, entry *engine.Entry) *injection {
	inj := &injection{e: e, id: entry.ID, fault: f, plan: p, started: time.Now(), entry: entry,
		applied: make(chan struct{}), done: make(chan struct{}), changed: make(chan struct{}),
		ok: make([]bool, len(p.actions))}
	inj.ctx, inj.cancel = context.WithCancel(e.ctx)
	return inj
}

func (inj *injection) ID() string            { return inj.id }
func (inj *injection) Fault() engine.Fault   { return inj.fault }
func (inj *injection) Done() <-chan struct{} { return inj.done }
func (inj *injection) Targets() []engine.Target {
	return append([]engine.Target(nil), inj.plan.targets...)
}

// Events returns the injection's per-target records so far.
func (inj *injection) Events() []engine.Event {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return append([]engine.Event(nil), inj.events...)
}

// since returns the events after the first n, a channel closed when there
// are more, and whether the injection is over (no event follows then).
func (inj *injection) since(n int) ([]engine.Event, <-chan struct{}, bool) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	var evs []engine.Event
	if n < len(inj.events) {
		evs = append(evs, inj.events[n:]...)
	}
	select {
	case <-inj.done:
		return evs, inj.changed, true
	default:
		return evs, inj.changed, false
	}
}

func (inj *injection) event(typ engine.EventType, target, msg string) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.events = append(inj.events, engine.Event{Time: time.Now(), Fault: inj.fault.Name, Target: target, Type: typ, Message: msg})
	close(inj.changed)
	inj.changed = make(chan struct{})
}

// Fidelity reports asked versus measured: how long the fault held (for a
// fault with a duration) and what each target's action measured (stress).
func (inj *injection) Fidelity() []engine.Fidelity {
	var out []engine.Fidelity
	inj.mu.Lock()
	ok := append([]bool(nil), inj.ok...)
	applied, reverted := inj.appliedAt, inj.revertedAt
	inj.mu.Unlock()
	if d := inj.fault.Duration; d > 0 && !inj.plan.instant && !applied.IsZero() {
		end := reverted
		if end.IsZero() {
			end = time.Now()
		}
		held := end.Sub(applied)
		measured := held.Round(time.Millisecond).String()
		if reverted.IsZero() {
			measured += " so far"
		}
		out = append(out, engine.Fidelity{Quantity: "duration", Asked: d.String(), Measured: measured,
			AskedValue: d.Seconds(), MeasuredValue: held.Seconds(), Unit: "s"})
	}
	for i, a := range inj.plan.actions {
		if ok[i] {
			out = append(out, a.fidelity()...)
		}
	}
	return out
}

// applyError is why the injection failed as a whole (every target failed).
func (inj *injection) applyError() error {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return inj.applyErr
}

// run applies the fault to every target, then completes an instantaneous
// fault or arms the revert at the end of the duration.
func (inj *injection) run() {
	for _, n := range inj.plan.notes {
		inj.event(engine.EventInfo, "", n)
	}
	errs := make([]error, len(inj.plan.actions))
	sem := make(chan struct{}, applyParallelism)
	var wg sync.WaitGroup
	for i, a := range inj.plan.actions {
		target := inj.plan.targets[i].Name
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := inj.ctx.Err(); err != nil {
				errs[i] = fmt.Errorf("%s: not injected: the fault was reverted first", target)
				return
			}
			msg, err := a.apply(inj.ctx, undoRecorder{inj})
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
		// Measured from the moment the first target was hit, so every
		// target holds the fault at least as long as asked; a drain that
		// takes longer than the duration is reverted as soon as it is done.
		inj.timer = time.AfterFunc(max(d-time.Since(inj.appliedAt), 0), inj.startRevert)
	}
	inj.mu.Unlock()
	if failed || inj.plan.instant {
		// Nothing is held: the entry goes and the injection is over — before
		// applied closes, so Inject returns an injection that is Done.
		inj.finish(inj.removeEntry())
	}
	close(inj.applied)
}

// Revert undoes the fault on every target it was applied to and removes
// its journal entry; it is idempotent and returns once the fault is gone
// (or ctx ends; the revert goes on regardless). A target that cannot be
// restored keeps the entry in the journal for `faultline recover`.
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
	var wg sync.WaitGroup
	for i, a := range inj.plan.actions {
		if !ok[i] {
			continue
		}
		target := inj.plan.targets[i].Name
		wg.Add(1)
		go func() {
			defer wg.Done()
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
		// The entry stays: `faultline recover` retries from its undo steps.
		inj.finish(fmt.Errorf("revert %s %s (journal entry %s kept for 'faultline recover'): %w", inj.fault.Kind, inj.fault.Name, inj.id, err))
		return
	}
	inj.finish(inj.removeEntry())
}

// finish ends the injection: it leaves the engine and Done closes.
func (inj *injection) finish(err error) {
	inj.finishOnce.Do(func() {
		inj.cancel()
		inj.e.forget(inj)
		inj.mu.Lock()
		inj.revertErr = err
		close(inj.done)
		close(inj.changed)
		inj.changed = make(chan struct{})
		inj.mu.Unlock()
	})
}

func (inj *injection) removeEntry() error {
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if inj.removed {
		return nil
	}
	if err := inj.e.journal.Remove(inj.id); err != nil {
		return err
	}
	inj.removed = true
	return nil
}

// renew extends the injection's lease in the journal.
func (inj *injection) renew() {
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if inj.removed {
		return
	}
	select {
	case <-inj.done:
		return // reverted, or failed to revert: leave it to recover
	default:
	}
	inj.entry.LeaseUntil = time.Now().Add(inj.e.lease)
	if err := inj.e.journal.Write(inj.entry); err != nil {
		inj.event(engine.EventInfo, "", "lease renewal failed: "+err.Error())
	}
}

// undoRecorder lets an action record its undo steps in the injection's
// journal entry, each before the step it undoes.
type undoRecorder struct{ inj *injection }

// add appends an undo step durably and returns its index.
func (r undoRecorder) add(action string, args map[string]string) (int, error) {
	inj := r.inj
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if args == nil {
		args = map[string]string{}
	}
	args[undoEnvironment] = inj.e.sup.Name()
	i := len(inj.entry.Undo)
	if err := inj.e.journal.AddUndo(inj.entry, engine.Undo{Action: action, Args: args}); err != nil {
		return 0, fmt.Errorf("journal undo step %s: %w", action, err)
	}
	return i, nil
}

// set replaces argument key of undo step i (e.g. the stressor's pids once
// they are known) and writes the entry.
func (r undoRecorder) set(i int, key, value string) error {
	inj := r.inj
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if i < 0 || i >= len(inj.entry.Undo) {
		return fmt.Errorf("journal: no undo step %d", i)
	}
	inj.entry.Undo[i].Args[key] = value
	if err := inj.e.journal.Write(inj.entry); err != nil {
		return fmt.Errorf("journal undo step %s: %w", inj.entry.Undo[i].Action, err)
	}
	return nil
}

// drop marks undo step i as not needed: the step it guarded failed without
// changing anything, so recovery must not undo it (it might undo another
// fault's work). Indices of the other steps stay valid.
func (r undoRecorder) drop(i int) error {
	inj := r.inj
	inj.jmu.Lock()
	defer inj.jmu.Unlock()
	if i < 0 || i >= len(inj.entry.Undo) {
		return fmt.Errorf("journal: no undo step %d", i)
	}
	inj.entry.Undo[i].Action = undoNone
	if err := inj.e.journal.Write(inj.entry); err != nil {
		return fmt.Errorf("journal: drop undo step: %w", err)
	}
	return nil
}

// status is the injection as the control socket reports it.
func (inj *injection) status() InjectionStatus {
	st := InjectionStatus{ID: inj.id, Kind: inj.fault.Kind, Name: inj.fault.Name, Duration: inj.fault.Duration,
		Started: inj.started, Targets: inj.Targets(), Events: inj.Events(), Fidelity: inj.Fidelity()}
	select {
	case <-inj.done:
		st.Done = true
		inj.mu.Lock()
		if inj.applyErr != nil {
			st.Error = inj.applyErr.Error()
		} else if inj.revertErr != nil {
			st.Error = inj.revertErr.Error()
		}
		inj.mu.Unlock()
	default:
	}
	return st
}
