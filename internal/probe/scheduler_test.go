package probe

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// fakeProbe counts its checks; with a gate, each check waits for the test
// to release it (or for its context to end).
type fakeProbe struct {
	name    string
	timing  Timing
	fail    bool
	gate    chan struct{}
	started chan struct{}
	checks  []timeline.Check
	n       atomic.Int64
}

func newFake(name string, mode v1alpha1.ProbeMode) *fakeProbe {
	return &fakeProbe{name: name, timing: Timing{Mode: mode, Interval: 2 * time.Millisecond, Timeout: time.Second}}
}

func (f *fakeProbe) Name() string             { return f.name }
func (f *fakeProbe) Mode() v1alpha1.ProbeMode { return f.timing.Mode }
func (f *fakeProbe) Timing() Timing           { return f.timing }
func (f *fakeProbe) Check(ctx context.Context) Result {
	start := time.Now()
	f.n.Add(1)
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return Result{Start: start, Message: "cancelled"}
		}
	}
	if f.fail {
		return Result{Start: start, Message: "service said no"}
	}
	return Result{OK: true, Start: start, Message: "fine", Checks: append([]timeline.Check(nil), f.checks...)}
}

func (f *fakeProbe) count() int64 { return f.n.Load() }

func TestSchedulerModes(t *testing.T) {
	sot, eot, edge := newFake("sot", v1alpha1.ProbeModeSOT), newFake("eot", v1alpha1.ProbeModeEOT), newFake("edge", v1alpha1.ProbeModeEdge)
	cont, chaos := newFake("cont", v1alpha1.ProbeModeContinuous), newFake("chaos", v1alpha1.ProbeModeOnChaos)
	sink := &memSink{}
	var stops atomic.Int64
	s := NewScheduler([]Probe{sot, eot, edge, cont, chaos}, sink, time.Now(), func(string) { stops.Add(1) })

	if failed := s.Start(context.Background()); len(failed) != 0 {
		t.Fatalf("Start failures: %+v", failed)
	}
	if sot.count() != 1 || edge.count() != 1 || eot.count() != 0 {
		t.Fatalf("after Start: SOT %d, Edge %d, EOT %d checks; want 1, 1, 0", sot.count(), edge.count(), eot.count())
	}
	waitFor(t, "Continuous to check many times", func() bool { return cont.count() >= 5 })
	// OnChaos waits on the chaos toggle, so without chaos it never runs.
	time.Sleep(50 * time.Millisecond)
	if n := chaos.count(); n != 0 {
		t.Fatalf("OnChaos checked %d times before chaos", n)
	}

	s.SetChaosActive(true)
	waitFor(t, "OnChaos to check during chaos", func() bool { return chaos.count() >= 3 })
	s.SetChaosActive(false)
	// A check that already passed its wait may still start; after that, none.
	off := chaos.count()
	time.Sleep(50 * time.Millisecond)
	if n := chaos.count(); n > off+1 {
		t.Fatalf("OnChaos checked %d times after chaos ended (was %d)", n, off)
	}
	settled := chaos.count()
	s.SetChaosActive(true)
	waitFor(t, "OnChaos to resume in the next chaos window", func() bool { return chaos.count() >= settled+2 })
	s.SetChaosActive(false)

	if failed := s.Finish(context.Background()); len(failed) != 0 {
		t.Fatalf("Finish failures: %+v", failed)
	}
	if sot.count() != 1 || edge.count() != 2 || eot.count() != 1 {
		t.Fatalf("after Finish: SOT %d, Edge %d, EOT %d checks; want 1, 2, 1", sot.count(), edge.count(), eot.count())
	}
	// Finish waited for the loops: nothing checks any more.
	c, ch := cont.count(), chaos.count()
	s.SetChaosActive(true)
	time.Sleep(50 * time.Millisecond)
	if cont.count() != c || chaos.count() != ch {
		t.Fatalf("loops ran after Finish: Continuous %d→%d, OnChaos %d→%d", c, cont.count(), ch, chaos.count())
	}
	if stops.Load() != 0 {
		t.Fatal("onStop called with no failing probe")
	}
	// Every check was recorded, with its mode and an offset from origin.
	for _, p := range []*fakeProbe{sot, eot, edge, cont, chaos} {
		rs := sink.results(p.name)
		// A loop's check in flight when Finish stopped it is dropped.
		dropped := p.count() - int64(len(rs))
		loop := p.timing.Mode == v1alpha1.ProbeModeContinuous || p.timing.Mode == v1alpha1.ProbeModeOnChaos
		if dropped < 0 || dropped > 1 || (dropped == 1 && !loop) {
			t.Errorf("%s: %d results recorded for %d checks", p.name, len(rs), p.count())
		}
		for _, r := range rs {
			if r.Mode != string(p.timing.Mode) || r.At < 0 || !r.OK || r.Message != "fine" {
				t.Errorf("%s: result %+v", p.name, r)
			}
		}
	}
}

func TestSchedulerOnChaosCheckSpanningTheEnd(t *testing.T) {
	p := newFake("chaos", v1alpha1.ProbeModeOnChaos)
	p.gate, p.started = make(chan struct{}), make(chan struct{}, 1)
	sink := &memSink{}
	s := NewScheduler([]Probe{p}, sink, time.Now(), nil)
	s.StartLoops(context.Background())
	s.SetChaosActive(true)
	<-p.started
	s.SetChaosActive(false) // while the check is in flight
	p.gate <- struct{}{}
	waitFor(t, "the check that began during chaos to be recorded", func() bool { return len(sink.results("chaos")) == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := p.count(); n != 1 {
		t.Fatalf("%d checks; want only the one begun during chaos", n)
	}
	s.Stop()
}

func TestSchedulerInitialDelay(t *testing.T) {
	const delay = 60 * time.Millisecond
	sot, cont, chaos := newFake("sot", v1alpha1.ProbeModeSOT), newFake("cont", v1alpha1.ProbeModeContinuous), newFake("chaos", v1alpha1.ProbeModeOnChaos)
	for _, p := range []*fakeProbe{sot, cont, chaos} {
		p.timing.InitialDelay = delay
	}
	sink := &memSink{}
	origin := time.Now()
	s := NewScheduler([]Probe{sot, cont, chaos}, sink, origin, nil)
	s.Start(context.Background())
	if r := sink.results("sot"); len(r) != 1 || r[0].At < delay {
		t.Fatalf("SOT results %+v; want one at or after %v", r, delay)
	}
	waitFor(t, "Continuous to check", func() bool { return cont.count() >= 1 })
	if r := sink.results("cont"); r[0].At < delay {
		t.Errorf("first Continuous check at %v, before its initial delay %v", r[0].At, delay)
	}
	on := time.Since(origin)
	s.SetChaosActive(true)
	waitFor(t, "OnChaos to check", func() bool { return len(sink.results("chaos")) >= 1 })
	if r := sink.results("chaos"); r[0].At < on+delay {
		t.Errorf("first OnChaos check at %v; chaos began at %v, initial delay %v", r[0].At, on, delay)
	}
	s.Finish(context.Background())
}

func TestSchedulerStopOnFailure(t *testing.T) {
	t.Run("continuous", func(t *testing.T) {
		bad := newFake("bad", v1alpha1.ProbeModeContinuous)
		bad.fail, bad.timing.StopOnFailure = true, true
		also := newFake("also-bad", v1alpha1.ProbeModeContinuous)
		also.fail, also.timing.StopOnFailure = true, true
		quiet := newFake("quiet", v1alpha1.ProbeModeContinuous)
		quiet.fail = true // fails, but does not stop the run
		var (
			mu      sync.Mutex
			reasons []string
		)
		s := NewScheduler([]Probe{bad, also, quiet}, &memSink{}, time.Now(), func(r string) {
			mu.Lock()
			reasons = append(reasons, r)
			mu.Unlock()
		})
		s.StartLoops(context.Background())
		waitFor(t, "several failures", func() bool { return bad.count() >= 5 && also.count() >= 5 })
		s.Finish(context.Background())
		mu.Lock()
		defer mu.Unlock()
		if len(reasons) != 1 {
			t.Fatalf("onStop called %d times: %q", len(reasons), reasons)
		}
		if !strings.Contains(reasons[0], "failed: service said no") || !strings.Contains(reasons[0], "bad (Continuous)") {
			t.Errorf("reason %q", reasons[0])
		}
	})
	t.Run("SOT", func(t *testing.T) {
		bad := newFake("bad", v1alpha1.ProbeModeSOT)
		bad.fail, bad.timing.StopOnFailure = true, true
		ok := newFake("ok", v1alpha1.ProbeModeSOT)
		var stops atomic.Int64
		s := NewScheduler([]Probe{bad, ok}, &memSink{}, time.Now(), func(string) { stops.Add(1) })
		failed := s.Start(context.Background())
		if len(failed) != 1 || failed[0].Probe != "bad" || failed[0].Message != "service said no" {
			t.Fatalf("Start failures %+v; want the one of probe bad", failed)
		}
		if stops.Load() != 1 {
			t.Fatalf("onStop called %d times, want 1", stops.Load())
		}
		s.Finish(context.Background())
	})
	t.Run("without stopOnFailure", func(t *testing.T) {
		bad := newFake("bad", v1alpha1.ProbeModeEdge)
		bad.fail = true
		var stops atomic.Int64
		s := NewScheduler([]Probe{bad}, &memSink{}, time.Now(), func(string) { stops.Add(1) })
		if f := s.Start(context.Background()); len(f) != 1 {
			t.Fatalf("Start failures %+v", f)
		}
		if f := s.Finish(context.Background()); len(f) != 1 {
			t.Fatalf("Finish failures %+v", f)
		}
		if stops.Load() != 0 {
			t.Fatal("onStop called for a probe without stopOnFailure")
		}
	})
}

// TestSchedulerDropsCancelledChecks: a check cut short by the end of the
// run says nothing about the service and is not recorded.
func TestSchedulerDropsCancelledChecks(t *testing.T) {
	p := newFake("cont", v1alpha1.ProbeModeContinuous)
	p.gate, p.started = make(chan struct{}), make(chan struct{}, 1)
	sink := &memSink{}
	ctx, cancel := context.WithCancel(context.Background())
	s := NewScheduler([]Probe{p}, sink, time.Now(), nil)
	s.StartLoops(ctx)
	<-p.started
	cancel()
	s.Stop()
	if r := sink.results("cont"); len(r) != 0 {
		t.Fatalf("recorded %+v from a cancelled check", r)
	}
}

func TestSchedulerRebasesChecks(t *testing.T) {
	p := newFake("consistency", v1alpha1.ProbeModeSOT)
	p.checks = []timeline.Check{{Request: "a", At: time.Millisecond, Match: true}, {Request: "b", At: 2 * time.Millisecond, Detail: "x"}}
	rec := timeline.NewRecorder("exp", time.Now())
	s := NewScheduler([]Probe{p}, rec, rec.Start(), nil)
	s.Start(context.Background())
	s.Finish(context.Background())
	tl := rec.Finish(time.Second)
	if len(tl.Probes) != 1 || len(tl.Checks) != 2 {
		t.Fatalf("timeline has %d probe results and %d checks", len(tl.Probes), len(tl.Checks))
	}
	for i, c := range tl.Checks {
		if c.Probe != "consistency" || c.At != tl.Probes[0].At+p.checks[i].At {
			t.Errorf("check %+v; want probe consistency at %v", c, tl.Probes[0].At+p.checks[i].At)
		}
	}
}

// TestSchedulerNoGoroutineLeak runs real probes of every kind on loopback in
// every mode and checks that no goroutine outlives Finish.
func TestSchedulerNoGoroutineLeak(t *testing.T) {
	web := newHTTPTarget(t)
	model := httptest.NewServer(&recsys{replicas: 3, stale: -1})
	defer model.Close()
	env := StaticEnv{Dir: t.TempDir(), URLs: map[string]string{"web": web.URL, "model": model.URL}}
	spec := func(name string, mode v1alpha1.ProbeMode) v1alpha1.ExperimentProbe {
		return v1alpha1.ExperimentProbe{Name: name, Mode: mode, Interval: "5ms", Timeout: "2s"}
	}
	var probes []Probe
	for _, mode := range []v1alpha1.ProbeMode{v1alpha1.ProbeModeSOT, v1alpha1.ProbeModeEOT, v1alpha1.ProbeModeEdge,
		v1alpha1.ProbeModeContinuous, v1alpha1.ProbeModeOnChaos} {
		h := spec("http-"+string(mode), mode)
		h.Type, h.HTTP = v1alpha1.ProbeHTTPType, &v1alpha1.ProbeHTTP{Service: "web", Path: "/ok"}
		tc := spec("tcp-"+string(mode), mode)
		tc.Type, tc.TCP = v1alpha1.ProbeTCPType, &v1alpha1.ProbeTCP{Service: "web"}
		c := spec("cmd-"+string(mode), mode)
		c.Type, c.Cmd = v1alpha1.ProbeCmdType, &v1alpha1.ProbeCmd{Command: []string{"true"}}
		in := spec("inference-"+string(mode), mode)
		in.Type, in.Inference = v1alpha1.ProbeInferenceType, &v1alpha1.ProbeInference{Service: "model", Model: "recsys", Requests: golden(3, "items")}
		slow := spec("slow-"+string(mode), mode) // in flight when the loops stop
		slow.Type, slow.HTTP = v1alpha1.ProbeHTTPType, &v1alpha1.ProbeHTTP{Service: "web", Path: "/slow"}
		for _, s := range []v1alpha1.ExperimentProbe{h, tc, c, in, slow} {
			probes = append(probes, mustNew(t, s, env))
		}
	}
	// Count after the servers have started, so only probe goroutines differ.
	before := runtime.NumGoroutine()

	sink := &memSink{}
	s := NewScheduler(probes, sink, time.Now(), func(string) {})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startCtx, stopStart := context.WithTimeout(ctx, 100*time.Millisecond) // the slow SOT probe is cut short
	s.StartLoops(ctx)
	s.Start(startCtx)
	stopStart()
	s.SetChaosActive(true)
	waitFor(t, "OnChaos probes to run", func() bool { return len(sink.results("inference-OnChaos")) >= 2 })
	s.SetChaosActive(false)
	waitFor(t, "Continuous probes to run", func() bool { return len(sink.results("cmd-Continuous")) >= 3 })
	finishCtx, stopFinish := context.WithTimeout(ctx, 100*time.Millisecond)
	s.Finish(finishCtx)
	stopFinish()

	if n := len(sink.allChecks()); n == 0 {
		t.Error("no golden checks recorded")
	}
	for _, name := range []string{"http-SOT", "tcp-Edge", "cmd-EOT", "inference-Continuous"} {
		if r := sink.results(name); len(r) == 0 || !r[0].OK {
			t.Errorf("%s: results %+v", name, r)
		}
	}

	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Finish, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
