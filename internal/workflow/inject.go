package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// revertTimeout bounds one Revert. The embedded engine reverts in well under
// a second; the bound only keeps a wedged engine from holding a run open
// forever (its journal still has the fault for `faultline recover`).
const revertTimeout = 30 * time.Second

// injector injects through Deps.Inject and keeps every injection it made
// until it is reverted, so that nothing outlives the run.
type injector struct {
	inject func(ctx context.Context, f engine.Fault) (engine.Injection, error)
	now    func() time.Time

	mu     sync.Mutex
	active map[engine.Injection]*InjectionRecord
}

func newInjector(d Deps) *injector {
	return &injector{inject: d.Inject, now: d.Now, active: map[engine.Injection]*InjectionRecord{}}
}

// start injects f and records it.
func (in *injector) start(ctx context.Context, f engine.Fault) (engine.Injection, *InjectionRecord, error) {
	if in.inject == nil {
		return nil, nil, fmt.Errorf("inject %s %s: no engine to inject with", f.Kind, f.Name)
	}
	inj, err := in.inject(ctx, f)
	if err != nil {
		return nil, nil, fmt.Errorf("inject %s %s: %w", f.Kind, f.Name, err)
	}
	if inj == nil {
		return nil, nil, fmt.Errorf("inject %s %s: the engine returned no injection", f.Kind, f.Name)
	}
	rec := &InjectionRecord{
		ID: inj.ID(), Kind: f.Kind, Name: f.Name, Duration: f.Duration,
		Injected: in.now(), Targets: inj.Targets(),
	}
	in.mu.Lock()
	in.active[inj] = rec
	in.mu.Unlock()
	return inj, rec, nil
}

// ended notes that inj ended on its own (instantaneous, or its duration
// ran out) before anyone reverted it.
func (in *injector) ended(inj engine.Injection, rec *InjectionRecord) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if rec.Reverted.IsZero() {
		rec.Reverted = in.now()
	}
}

// revert reverts inj (harmless for one that already ended) and completes
// its record. It runs even when ctx is done: ending a run is exactly when
// faults must go.
func (in *injector) revert(ctx context.Context, inj engine.Injection, rec *InjectionRecord) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revertTimeout)
	defer cancel()
	err := inj.Revert(rctx)
	if err != nil {
		err = fmt.Errorf("revert %s %s: %w", rec.Kind, rec.Name, err)
	}
	fid, evs := inj.Fidelity(), inj.Events()
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.active, inj)
	if rec.Reverted.IsZero() {
		rec.Reverted = in.now()
	}
	rec.Fidelity, rec.Events = fid, evs
	if err != nil {
		rec.RevertError = err.Error()
	}
	return err
}

// sweep reverts, in parallel, whatever is still active. Nodes revert their
// own injections; this is the backstop that makes "nothing is left behind"
// independent of every node getting it right.
func (in *injector) sweep(ctx context.Context) error {
	in.mu.Lock()
	left := make(map[engine.Injection]*InjectionRecord, len(in.active))
	for inj, rec := range in.active {
		left[inj] = rec
	}
	in.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for inj, rec := range left {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.revert(ctx, inj, rec); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// hold keeps inj until ctx ends or, when untilStop is false, until the
// injection ends on its own, whichever is first, and reverts it. gone is
// called once, when the fault is over: onItsOwn tells an instantaneous
// action or an engine-side duration from a revert. With untilStop, hold
// still waits for ctx after the fault ended on its own, because a chaos
// node with a deadline occupies its whole deadline.
func (in *injector) hold(ctx context.Context, inj engine.Injection, rec *InjectionRecord, untilStop bool, gone func(onItsOwn bool, err error)) error {
	select {
	case <-inj.Done():
		in.ended(inj, rec)
		gone(true, nil)
		if untilStop {
			<-ctx.Done()
		}
		// Revert of an ended injection is a no-op for the engine; it
		// collects fidelity and clears the bookkeeping.
		return in.revert(ctx, inj, rec)
	case <-ctx.Done():
		err := in.revert(ctx, inj, rec)
		gone(false, err)
		return err
	}
}
