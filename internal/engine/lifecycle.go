package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Action is one fault acting on one target, as a Lifecycle drives it. Each
// engine adapts its own actions to it (they journal their undo steps their
// own way).
type Action interface {
	// Apply acts and says what it did. ctx ends when the injection is
	// reverted (or its engine closes): a long apply (a drain) stops then.
	Apply(ctx context.Context) (string, error)
	// Revert undoes a successful Apply and says what it did. It is called
	// at most once, only after Apply succeeded, and never on an instant
	// fault.
	Revert(ctx context.Context) (string, error)
}

// JournalRecord is an injection's record in its engine's journal (a file
// of the local engine, a Lease of the kube engine).
type JournalRecord interface {
	// Remove deletes the record once nothing of the injection is held. It
	// must be idempotent and bound its own wait.
	Remove(ctx context.Context) error
}

// DefaultRevertTimeout bounds a revert the lifecycle starts itself when
// LifecycleConfig.RevertTimeout is 0.
const DefaultRevertTimeout = 60 * time.Second

// LifecycleConfig is what an engine tells a Lifecycle about one injection:
// what acts, where its journal record is, and the few places where engines
// differ.
type LifecycleConfig struct {
	ID    string
	Fault Fault
	// Targets are what Targets reports.
	Targets []Target
	// Actions act on the targets; ActionTargets name each action's target
	// in events ("" for none).
	Actions       []Action
	ActionTargets []string
	// Notes are said once, as Info events, before anything acts.
	Notes []string
	// Instant faults (pod-kill) are complete once applied: nothing is
	// held and nothing is reverted.
	Instant bool
	// ApplyParallelism and RevertParallelism bound how many actions run
	// at once; 0 or less: all at once.
	ApplyParallelism  int
	RevertParallelism int
	// RevertTimeout bounds the revert the lifecycle runs (on Revert or at
	// the end of the duration) and the one it starts when AwaitApplied's
	// context ends; 0 is DefaultRevertTimeout.
	RevertTimeout time.Duration
	// Journal is removed once nothing is held; a target whose revert fails
	// keeps it. nil: there is no record.
	Journal JournalRecord
	// Kept names the journal record in the error of a failed revert, e.g.
	// "journal entry ID": "revert KIND NAME (Kept kept for 'faultline
	// recover'): …".
	Kept string
	// DoneBeforeApplied orders the end of an injection that holds nothing
	// (instant, or every target failed): true, it is Done before Applied
	// closes, so the engine's Inject returns one that is Done (local);
	// false, Applied closes first, then Settle runs, then Done (kube, whose
	// pod-kill measures recovery after Inject returned). Either way the
	// journal record is removed before Applied closes.
	DoneBeforeApplied bool
	// Settle runs after an instant fault was applied and before it is
	// Done, with which actions succeeded; its ctx ends on Revert. Only
	// with DoneBeforeApplied false.
	Settle func(ctx context.Context, ok []bool)
	// Fidelity adds what the succeeded actions measured to Fidelity.
	Fidelity func(ok []bool) []Fidelity
	// OnFinish runs once when the injection is over, before Done closes
	// (the engine forgets it there).
	OnFinish func()
}

// Lifecycle is the part of an injection both engines share: it applies the
// actions (bounded in parallel), holds the fault for its duration from the
// first target hit, reverts it once (Revert is idempotent and safe from any
// goroutine), removes the journal record when nothing is held, and keeps
// the per-target events and fidelity. It implements Injection.
type Lifecycle struct {
	cfg     LifecycleConfig
	started time.Time

	// ctx ends when the injection is reverted or over.
	ctx    context.Context
	cancel context.CancelFunc

	applied    chan struct{} // closed once every target was acted on
	done       chan struct{} // closed once reverted (or complete, or failed)
	revertOnce sync.Once
	finishOnce sync.Once

	mu         sync.Mutex
	events     []Event
	changed    chan struct{} // made by Since; closed when events grow or done
	fidelity   []Fidelity
	ok         []bool    // per action: applied
	appliedAt  time.Time // when the first target was hit
	revertedAt time.Time // when the last target was restored
	applyErr   error
	revertErr  error
	timer      *time.Timer
	abandoned  bool
}

var _ Injection = (*Lifecycle)(nil)

// NewLifecycle returns the lifecycle of one injection; its context derives
// from parent (the engine's). Nothing acts before Run.
func NewLifecycle(parent context.Context, cfg LifecycleConfig) *Lifecycle {
	if cfg.RevertTimeout <= 0 {
		cfg.RevertTimeout = DefaultRevertTimeout
	}
	l := &Lifecycle{cfg: cfg, started: time.Now(), applied: make(chan struct{}), done: make(chan struct{}),
		ok: make([]bool, len(cfg.Actions))}
	l.ctx, l.cancel = context.WithCancel(parent)
	return l
}

// ID is the injection's id.
func (l *Lifecycle) ID() string { return l.cfg.ID }

// Fault is the injected fault.
func (l *Lifecycle) Fault() Fault { return l.cfg.Fault }

// Started is when the lifecycle was created.
func (l *Lifecycle) Started() time.Time { return l.started }

// Context ends when the injection is reverted or over.
func (l *Lifecycle) Context() context.Context { return l.ctx }

// Applied is closed once every target was acted on.
func (l *Lifecycle) Applied() <-chan struct{} { return l.applied }

// Done is closed once the injection is over.
func (l *Lifecycle) Done() <-chan struct{} { return l.done }

// Targets returns the injection's targets.
func (l *Lifecycle) Targets() []Target { return append([]Target(nil), l.cfg.Targets...) }

// ApplyErr is why the injection failed as a whole (every target failed).
func (l *Lifecycle) ApplyErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.applyErr
}

// RevertErr is why the revert failed, once Done.
func (l *Lifecycle) RevertErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.revertErr
}

// Event records one per-target event.
func (l *Lifecycle) Event(typ EventType, target, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, Event{Time: time.Now(), Fault: l.cfg.Fault.Name, Target: target, Type: typ, Message: msg})
	l.notifyLocked()
}

func (l *Lifecycle) notifyLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// Events returns the per-target records so far.
func (l *Lifecycle) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// Since returns the events after the first n, a channel closed when there
// are more (or the injection ends), and whether the injection is over (no
// event follows then).
func (l *Lifecycle) Since(n int) ([]Event, <-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var evs []Event
	if n < len(l.events) {
		evs = append(evs, l.events[n:]...)
	}
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	select {
	case <-l.done:
		return evs, l.changed, true
	default:
		return evs, l.changed, false
	}
}

// AddFidelity records one asked-versus-measured figure.
func (l *Lifecycle) AddFidelity(f Fidelity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fidelity = append(l.fidelity, f)
}

// Fidelity reports how long the fault held against its duration (a fault
// with one), the figures added with AddFidelity, and what the succeeded
// actions measured.
func (l *Lifecycle) Fidelity() []Fidelity {
	l.mu.Lock()
	ok := append([]bool(nil), l.ok...)
	applied, reverted := l.appliedAt, l.revertedAt
	added := append([]Fidelity(nil), l.fidelity...)
	l.mu.Unlock()
	var out []Fidelity
	if d := l.cfg.Fault.Duration; d > 0 && !l.cfg.Instant && !applied.IsZero() {
		end := reverted
		if end.IsZero() {
			end = time.Now()
		}
		held := end.Sub(applied)
		measured := held.Round(time.Millisecond).String()
		if reverted.IsZero() {
			measured += " so far"
		}
		out = append(out, Fidelity{Quantity: "duration", Asked: d.String(), Measured: measured,
			AskedValue: d.Seconds(), MeasuredValue: held.Seconds(), Unit: "s"})
	}
	out = append(out, added...)
	if l.cfg.Fidelity != nil {
		out = append(out, l.cfg.Fidelity(ok)...)
	}
	return out
}

func (l *Lifecycle) actionTarget(i int) string {
	if i < len(l.cfg.ActionTargets) {
		return l.cfg.ActionTargets[i]
	}
	return ""
}

// Run applies the fault to every target, then completes an instant fault
// (or one every target failed) or arms the revert at the end of the
// duration. Call it once, in its own goroutine.
func (l *Lifecycle) Run() {
	for _, n := range l.cfg.Notes {
		l.Event(EventInfo, "", n)
	}
	errs := make([]error, len(l.cfg.Actions))
	parallel(len(l.cfg.Actions), l.cfg.ApplyParallelism, nil, func(i int) {
		target := l.actionTarget(i)
		if l.ctx.Err() != nil {
			errs[i] = fmt.Errorf("%s: not injected: the fault was reverted first", target)
			return
		}
		msg, err := l.cfg.Actions[i].Apply(l.ctx)
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", target, err)
			l.Event(EventFailed, target, err.Error())
			return
		}
		l.mu.Lock()
		l.ok[i] = true
		if l.appliedAt.IsZero() {
			l.appliedAt = time.Now()
		}
		l.mu.Unlock()
		l.Event(EventInjected, target, msg)
	})
	l.mu.Lock()
	anyOK := false
	for _, ok := range l.ok {
		anyOK = anyOK || ok
	}
	if !anyOK && len(l.cfg.Actions) > 0 {
		l.applyErr = fmt.Errorf("inject %s %s: no target could be injected: %w", l.cfg.Fault.Kind, l.cfg.Fault.Name, errors.Join(errs...))
	}
	failed := l.applyErr != nil
	if d := l.cfg.Fault.Duration; d > 0 && !l.cfg.Instant && !failed && !l.abandoned {
		// Measured from the moment the first target was hit, so every
		// target holds the fault at least as long as asked; a drain that
		// takes longer than the duration is reverted as soon as it is done.
		l.timer = time.AfterFunc(max(d-time.Since(l.appliedAt), 0), l.startRevert)
	}
	ok := append([]bool(nil), l.ok...)
	l.mu.Unlock()
	if !failed && !l.cfg.Instant {
		close(l.applied)
		return
	}
	// Nothing is held: the journal record goes now.
	err := l.removeRecord()
	if l.cfg.DoneBeforeApplied {
		l.finish(err)
		close(l.applied)
		return
	}
	close(l.applied)
	if !failed && l.cfg.Settle != nil {
		l.cfg.Settle(l.ctx, ok)
	}
	l.finish(err)
}

// AwaitApplied waits until Run has acted on every target. When ctx ends
// first, what was applied is reverted (bounded by RevertTimeout) and the
// error says so; when every target failed, it waits until the injection is
// over and returns ApplyErr.
func (l *Lifecycle) AwaitApplied(ctx context.Context) error {
	select {
	case <-l.applied:
	case <-ctx.Done():
		rctx, cancel := context.WithTimeout(context.Background(), l.cfg.RevertTimeout)
		defer cancel()
		_ = l.Revert(rctx)
		return fmt.Errorf("inject %s %s: %w", l.cfg.Fault.Kind, l.cfg.Fault.Name, ctx.Err())
	}
	if err := l.ApplyErr(); err != nil {
		<-l.done
		return err
	}
	return nil
}

// Revert undoes the fault on every target it was applied to and removes
// the journal record; it is idempotent and safe from any goroutine, and
// returns once the injection is over (or ctx ends; the revert goes on
// regardless). A target that cannot be restored keeps the journal record
// for `faultline recover`. On an instant fault it ends Settle.
func (l *Lifecycle) Revert(ctx context.Context) error {
	l.startRevert()
	select {
	case <-l.done:
		return l.RevertErr()
	case <-ctx.Done():
		return fmt.Errorf("revert %s %s: %w", l.cfg.Fault.Kind, l.cfg.Fault.Name, ctx.Err())
	}
}

func (l *Lifecycle) startRevert() {
	l.revertOnce.Do(func() {
		l.cancel()
		go l.revert()
	})
}

func (l *Lifecycle) revert() {
	<-l.applied
	l.mu.Lock()
	if l.timer != nil {
		l.timer.Stop()
	}
	over := l.applyErr != nil || l.cfg.Instant
	ok := append([]bool(nil), l.ok...)
	l.mu.Unlock()
	if over {
		<-l.done
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RevertTimeout)
	defer cancel()
	errs := make([]error, len(ok))
	skip := func(i int) bool { return !ok[i] }
	parallel(len(ok), l.cfg.RevertParallelism, skip, func(i int) {
		target := l.actionTarget(i)
		msg, err := l.cfg.Actions[i].Revert(ctx)
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", target, err)
			l.Event(EventFailed, target, "revert failed: "+err.Error())
			return
		}
		l.Event(EventRecovered, target, msg)
	})
	l.mu.Lock()
	l.revertedAt = time.Now()
	l.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		// The record stays: `faultline recover` retries from its undo steps.
		l.finish(fmt.Errorf("revert %s %s (%s kept for 'faultline recover'): %w", l.cfg.Fault.Kind, l.cfg.Fault.Name, l.cfg.Kept, err))
		return
	}
	l.finish(l.removeRecord())
}

func (l *Lifecycle) removeRecord() error {
	if l.cfg.Journal == nil {
		return nil
	}
	return l.cfg.Journal.Remove(context.Background())
}

// finish ends the injection: OnFinish runs and Done closes.
func (l *Lifecycle) finish(err error) {
	l.finishOnce.Do(func() {
		l.cancel()
		if l.cfg.OnFinish != nil {
			l.cfg.OnFinish()
		}
		l.mu.Lock()
		l.revertErr = err
		close(l.done)
		l.notifyLocked()
		l.mu.Unlock()
	})
}

// Abandon stops the duration timer so the injection never reverts on its
// own, and leaves it applied and journaled: what a crash would leave. Tests
// of recovery use it.
func (l *Lifecycle) Abandon() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.abandoned = true
	if l.timer != nil {
		l.timer.Stop()
	}
}

// parallel runs fn(i) for i in [0, n) except where skip(i), at most limit
// at once (limit <= 0: all at once), and waits for all of them.
func parallel(n, limit int, skip func(int) bool, fn func(int)) {
	var sem chan struct{}
	if limit > 0 {
		sem = make(chan struct{}, limit)
	}
	var wg sync.WaitGroup
	for i := range n {
		if skip != nil && skip(i) {
			continue
		}
		wg.Add(1)
		if sem != nil {
			sem <- struct{}{}
		}
		go func() {
			defer wg.Done()
			if sem != nil {
				defer func() { <-sem }()
			}
			fn(i)
		}()
	}
	wg.Wait()
}
