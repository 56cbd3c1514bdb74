package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAction is an Action that counts its calls; applyErr and revertErr
// make it fail, block holds Apply until ctx ends.
type fakeAction struct {
	applyErr, revertErr error
	block               bool
	applies, reverts    atomic.Int32
}

func (a *fakeAction) Apply(ctx context.Context) (string, error) {
	a.applies.Add(1)
	if a.block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if a.applyErr != nil {
		return "", a.applyErr
	}
	return "applied", nil
}

func (a *fakeAction) Revert(context.Context) (string, error) {
	a.reverts.Add(1)
	if a.revertErr != nil {
		return "", a.revertErr
	}
	return "reverted", nil
}

// record is a JournalRecord that counts removals; removed is its state.
type record struct {
	mu      sync.Mutex
	removes int
	removed bool
}

func (r *record) Remove(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removes++
	r.removed = true
	return nil
}

func (r *record) state() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removes, r.removed
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not happen", what)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func newTestLifecycle(actions []*fakeAction, rec *record, mod func(*LifecycleConfig)) *Lifecycle {
	acts := make([]Action, len(actions))
	names := make([]string, len(actions))
	targets := make([]Target, len(actions))
	for i, a := range actions {
		acts[i] = a
		names[i] = fmt.Sprintf("t%d", i)
		targets[i] = Target{Name: names[i]}
	}
	cfg := LifecycleConfig{ID: "x-1", Fault: Fault{Kind: "PodChaos", Name: "x"}, Targets: targets, Actions: acts,
		ActionTargets: names, ApplyParallelism: 2, RevertTimeout: 10 * time.Second, Journal: rec, Kept: "journal entry x-1"}
	if mod != nil {
		mod(&cfg)
	}
	return NewLifecycle(context.Background(), cfg)
}

func countEvents(evs []Event, typ EventType) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestLifecycleShapes runs instant and held faults, with either end order,
// to the end and checks what each leaves.
func TestLifecycleShapes(t *testing.T) {
	tests := []struct {
		name              string
		instant           bool
		doneBeforeApplied bool
		duration          time.Duration
		// doneAtApplied: Done is already closed when Applied closes.
		doneAtApplied bool
		// needRevert: the fault holds until Revert.
		needRevert bool
		settle     bool
	}{
		{name: "instant, local order", instant: true, doneBeforeApplied: true, doneAtApplied: true},
		{name: "instant, kube order with settle", instant: true, settle: true},
		{name: "held until revert", needRevert: true},
		{name: "held for a duration", duration: 20 * time.Millisecond},
		{name: "held for a duration, local order", duration: 20 * time.Millisecond, doneBeforeApplied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			actions := []*fakeAction{{}, {}, {}}
			rec := &record{}
			settleGo := make(chan struct{})
			var settled atomic.Bool
			var recAtApplied atomic.Bool
			l := newTestLifecycle(actions, rec, func(c *LifecycleConfig) {
				c.Instant = tt.instant
				c.DoneBeforeApplied = tt.doneBeforeApplied
				c.Fault.Duration = tt.duration
				c.Notes = []string{"a note"}
				if tt.settle {
					c.Settle = func(ctx context.Context, ok []bool) {
						<-settleGo
						settled.Store(len(ok) == 3 && ok[0] && ok[1] && ok[2])
					}
				}
			})
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				<-l.Applied()
				_, removed := rec.state()
				recAtApplied.Store(removed)
			}()
			go l.Run()
			if err := l.AwaitApplied(ctxT(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			// (A fault with a duration may have run out already.)
			if got := isClosed(l.Done()); got != tt.doneAtApplied && tt.duration == 0 {
				t.Fatalf("Done closed when applied: %v, want %v", got, tt.doneAtApplied)
			}
			if tt.settle {
				if _, removed := rec.state(); !removed {
					t.Fatal("an instant fault's record must be gone once applied")
				}
				close(settleGo)
			}
			if tt.needRevert {
				if err := l.Revert(ctxT(t, 10*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			wait(t, l.Done(), "Done")
			if tt.settle && !settled.Load() {
				t.Fatal("settle did not run with every action ok")
			}
			n, removed := rec.state()
			if !removed || n != 1 {
				t.Fatalf("record removed %v, %d times; want once", removed, n)
			}
			wait(t, watched, "the Applied watcher")
			if tt.instant && !recAtApplied.Load() {
				t.Fatal("the record of an instant fault must be removed before Applied closes")
			}
			evs := l.Events()
			if countEvents(evs, EventInjected) != 3 || countEvents(evs, EventInfo) != 1 {
				t.Fatalf("events %+v", evs)
			}
			wantRecovered := 3
			if tt.instant {
				wantRecovered = 0
			}
			if got := countEvents(evs, EventRecovered); got != wantRecovered {
				t.Fatalf("%d Recovered events, want %d", got, wantRecovered)
			}
			for i, a := range actions {
				if a.applies.Load() != 1 || int(a.reverts.Load()) != wantRecovered/3 {
					t.Fatalf("action %d: %d applies, %d reverts", i, a.applies.Load(), a.reverts.Load())
				}
			}
			fid := l.Fidelity()
			hasDuration := len(fid) > 0 && fid[0].Quantity == "duration"
			if hasDuration != (tt.duration > 0) {
				t.Fatalf("fidelity %+v", fid)
			}
			if hasDuration && (fid[0].MeasuredValue < tt.duration.Seconds() || strings.HasSuffix(fid[0].Measured, "so far")) {
				t.Fatalf("duration fidelity %+v: held less than asked, or not final", fid[0])
			}
			if err := l.Revert(ctxT(t, 10*time.Second)); err != nil {
				t.Fatalf("a second Revert: %v", err)
			}
		})
	}
}

// TestLifecycleDurationFromFirstHit: the timer runs from the first target
// hit, so a slow apply does not lengthen the fault, and the duration still
// holds on every target once applied.
func TestLifecycleDurationFromFirstHit(t *testing.T) {
	release := make(chan struct{})
	slow := &gateAction{gate: release, started: make(chan struct{})}
	rec := &record{}
	l := NewLifecycle(context.Background(), LifecycleConfig{ID: "d", Fault: Fault{Name: "d", Duration: time.Hour},
		Actions: []Action{&fakeAction{}, slow}, ActionTargets: []string{"fast", "slow"}, Journal: rec})
	go l.Run()
	wait(t, slow.started, "the slow apply")
	for n := 0; ; {
		evs, changed, _ := l.Since(n)
		if countEvents(evs, EventInjected) > 0 {
			break
		}
		n += len(evs)
		wait(t, changed, "the fast target's Injected event")
	}
	// The first target is hit: the duration counts from now, even though
	// the fault is not applied everywhere yet.
	fid := l.Fidelity()
	if len(fid) != 1 || !strings.HasSuffix(fid[0].Measured, "so far") {
		t.Fatalf("fidelity before applied: %+v", fid)
	}
	close(release)
	if err := l.AwaitApplied(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if isClosed(l.Done()) {
		t.Fatal("an hour-long fault ended at once")
	}
	if err := l.Revert(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, removed := rec.state(); !removed {
		t.Fatal("record kept after a clean revert")
	}
}

type gateAction struct {
	gate    chan struct{}
	started chan struct{}
	once    sync.Once
}

func (a *gateAction) Apply(ctx context.Context) (string, error) {
	a.once.Do(func() { close(a.started) })
	select {
	case <-a.gate:
		return "late", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (a *gateAction) Revert(context.Context) (string, error) { return "", nil }

// TestLifecycleRevertConcurrent calls Revert from many goroutines at once:
// every action reverts once and every caller gets the same result.
func TestLifecycleRevertConcurrent(t *testing.T) {
	for _, failing := range []bool{false, true} {
		t.Run(fmt.Sprintf("revert fails %v", failing), func(t *testing.T) {
			actions := []*fakeAction{{}, {}, {}, {}}
			if failing {
				actions[1].revertErr = errors.New("thaw refused")
			}
			rec := &record{}
			var finished atomic.Int32
			l := newTestLifecycle(actions, rec, func(c *LifecycleConfig) {
				c.RevertParallelism = 0
				c.OnFinish = func() { finished.Add(1) }
			})
			go l.Run()
			if err := l.AwaitApplied(ctxT(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			const callers = 16
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = l.Revert(ctxT(t, 10*time.Second))
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if (err != nil) != failing {
					t.Fatalf("caller %d: %v", i, err)
				}
				if failing && !strings.Contains(err.Error(), "journal entry x-1 kept for 'faultline recover'") {
					t.Fatalf("caller %d: the error does not say the entry is kept: %v", i, err)
				}
			}
			for i, a := range actions {
				if a.reverts.Load() != 1 {
					t.Fatalf("action %d reverted %d times", i, a.reverts.Load())
				}
			}
			if finished.Load() != 1 {
				t.Fatalf("OnFinish ran %d times", finished.Load())
			}
			// A target whose revert fails keeps the journal record.
			if _, removed := rec.state(); removed == failing {
				t.Fatalf("record removed: %v with a failing revert: %v", removed, failing)
			}
			if failing && countEvents(l.Events(), EventFailed) != 1 {
				t.Fatalf("events %+v", l.Events())
			}
		})
	}
}

// TestLifecycleApplyFailures: a fault every target refuses is an error and
// holds nothing; one some targets refuse holds the others.
func TestLifecycleApplyFailures(t *testing.T) {
	tests := []struct {
		name    string
		fail    []bool
		wantErr bool
	}{
		{name: "every target fails", fail: []bool{true, true, true}, wantErr: true},
		{name: "one target fails", fail: []bool{false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, doneFirst := range []bool{false, true} {
				actions := make([]*fakeAction, len(tt.fail))
				for i, f := range tt.fail {
					actions[i] = &fakeAction{}
					if f {
						actions[i].applyErr = errors.New("refused")
					}
				}
				rec := &record{}
				l := newTestLifecycle(actions, rec, func(c *LifecycleConfig) {
					c.DoneBeforeApplied = doneFirst
					c.Fault.Duration = time.Hour
				})
				go l.Run()
				err := l.AwaitApplied(ctxT(t, 10*time.Second))
				if (err != nil) != tt.wantErr {
					t.Fatalf("AwaitApplied: %v", err)
				}
				if tt.wantErr {
					if !isClosed(l.Done()) {
						t.Fatal("a failed injection is not Done")
					}
					if !strings.Contains(err.Error(), "no target could be injected") || !strings.Contains(err.Error(), "t1: refused") {
						t.Fatalf("error %v", err)
					}
					if _, removed := rec.state(); !removed {
						t.Fatal("a failed injection kept its record")
					}
					if fid := l.Fidelity(); len(fid) != 0 {
						t.Fatalf("fidelity of nothing held: %+v", fid)
					}
					continue
				}
				if err := l.Revert(ctxT(t, 10*time.Second)); err != nil {
					t.Fatal(err)
				}
				for i, a := range actions {
					if want := int32(0); !tt.fail[i] {
						want = 1
						if a.reverts.Load() != want {
							t.Fatalf("action %d reverted %d times", i, a.reverts.Load())
						}
					} else if a.reverts.Load() != want {
						t.Fatalf("failed action %d was reverted", i)
					}
				}
			}
		})
	}
}

// TestLifecycleRevertDuringApply: Revert while an apply blocks ends it
// through ctx; the injection fails as a whole and nothing is held.
func TestLifecycleRevertDuringApply(t *testing.T) {
	a := &fakeAction{block: true}
	rec := &record{}
	l := newTestLifecycle([]*fakeAction{a}, rec, nil)
	go l.Run()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.AwaitApplied(ctx); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("AwaitApplied with an ended ctx: %v", err)
	}
	wait(t, l.Done(), "Done")
	if l.ApplyErr() == nil {
		t.Fatal("no apply error")
	}
	if _, removed := rec.state(); !removed {
		t.Fatal("record kept")
	}
}

// TestLifecycleSince follows events as a stream does.
func TestLifecycleSince(t *testing.T) {
	l := newTestLifecycle([]*fakeAction{{}}, &record{}, nil)
	evs, changed, over := l.Since(0)
	if len(evs) != 0 || over {
		t.Fatalf("before run: %v %v", evs, over)
	}
	go l.Run()
	wait(t, changed, "the first event")
	if err := l.AwaitApplied(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	evs, changed, over = l.Since(0)
	if len(evs) != 1 || over {
		t.Fatalf("after apply: %v %v", evs, over)
	}
	go func() { _ = l.Revert(ctxT(t, 10*time.Second)) }()
	wait(t, changed, "the next change")
	wait(t, l.Done(), "Done")
	evs, _, over = l.Since(1)
	if len(evs) != 1 || evs[0].Type != EventRecovered || !over {
		t.Fatalf("after revert: %v %v", evs, over)
	}
}

// TestLifecycleAbandon: an abandoned fault with a duration never reverts
// on its own.
func TestLifecycleAbandon(t *testing.T) {
	a := &fakeAction{}
	rec := &record{}
	l := newTestLifecycle([]*fakeAction{a}, rec, func(c *LifecycleConfig) { c.Fault.Duration = time.Millisecond })
	l.Abandon()
	go l.Run()
	if err := l.AwaitApplied(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Done would close within the millisecond if a timer were armed; the
	// lifecycle keeps no timer at all once abandoned.
	l.mu.Lock()
	timer := l.timer
	l.mu.Unlock()
	if timer != nil || isClosed(l.Done()) {
		t.Fatal("an abandoned injection armed its revert")
	}
	if _, removed := rec.state(); removed {
		t.Fatal("an abandoned injection removed its record")
	}
}

func TestParallelBound(t *testing.T) {
	for _, limit := range []int{0, 1, 3} {
		var cur, peak atomic.Int32
		var ran atomic.Int32
		parallel(20, limit, func(i int) bool { return i%5 == 0 }, func(int) {
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			ran.Add(1)
			cur.Add(-1)
		})
		if ran.Load() != 16 {
			t.Fatalf("limit %d: %d ran, want 16", limit, ran.Load())
		}
		if limit > 0 && peak.Load() > int32(limit) {
			t.Fatalf("limit %d: %d at once", limit, peak.Load())
		}
	}
}
