package workflow

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// recordingEngine is a TEST DOUBLE of the engine: it injects nothing. Each
// Inject returns an in-process engine.Injection that records when it was
// injected and when and how it ended, honours Fault.Duration with a timer
// (as the real engines do) and is instantaneous for pod-kill and
// container-kill. The real local engine is exercised by the runner's tests.
type recordingEngine struct {
	mu   sync.Mutex
	all  []*recordedInjection
	fail map[string]error // fault name -> error Inject returns
}

func newRecordingEngine() *recordingEngine {
	return &recordingEngine{fail: map[string]error{}}
}

func (e *recordingEngine) failOn(name string, err error) *recordingEngine {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fail[name] = err
	return e
}

func (e *recordingEngine) Inject(_ context.Context, f engine.Fault) (engine.Injection, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.fail[f.Name]; err != nil {
		return nil, err
	}
	inj := &recordedInjection{
		id: fmt.Sprintf("inj-%d", len(e.all)+1), fault: f,
		injectedAt: time.Now(), done: make(chan struct{}),
	}
	e.all = append(e.all, inj)
	switch {
	case isInstant(f):
		inj.end("instant")
	case f.Duration > 0:
		inj.mu.Lock()
		inj.timer = time.AfterFunc(f.Duration, func() { inj.end("duration") })
		inj.mu.Unlock()
	}
	return inj, nil
}

func isInstant(f engine.Fault) bool {
	pc, ok := f.Spec.(*v1alpha1.PodChaosSpec)
	return ok && (pc.Action == v1alpha1.PodKill || pc.Action == v1alpha1.ContainerKill)
}

// injections returns every injection made, in order; byName those of one
// fault name.
func (e *recordingEngine) injections() []*recordedInjection {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.all)
}

func (e *recordingEngine) byName(name string) []*recordedInjection {
	var out []*recordedInjection
	for _, i := range e.injections() {
		if i.fault.Name == name {
			out = append(out, i)
		}
	}
	return out
}

// active counts injections that have not ended.
func (e *recordingEngine) active() int {
	n := 0
	for _, i := range e.injections() {
		if _, ended := i.ended(); !ended {
			n++
		}
	}
	return n
}

type recordedInjection struct {
	id         string
	fault      engine.Fault
	injectedAt time.Time
	done       chan struct{}

	mu      sync.Mutex
	timer   *time.Timer
	endedAt time.Time
	endedBy string // "revert", "duration" or "instant"
}

func (i *recordedInjection) end(by string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.endedAt.IsZero() {
		return
	}
	if i.timer != nil {
		i.timer.Stop()
	}
	i.endedAt, i.endedBy = time.Now(), by
	close(i.done)
}

func (i *recordedInjection) ended() (time.Time, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.endedAt, !i.endedAt.IsZero()
}

func (i *recordedInjection) how() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.endedBy
}

func (i *recordedInjection) ID() string                   { return i.id }
func (i *recordedInjection) Fault() engine.Fault          { return i.fault }
func (i *recordedInjection) Done() <-chan struct{}        { return i.done }
func (i *recordedInjection) Events() []engine.Event       { return nil }
func (i *recordedInjection) Revert(context.Context) error { i.end("revert"); return nil }
func (i *recordedInjection) Targets() []engine.Target {
	return []engine.Target{{Name: "web-0", Namespace: "default", Phase: "Running", Ready: true}}
}
func (i *recordedInjection) Fidelity() []engine.Fidelity {
	return []engine.Fidelity{{Quantity: "duration", Asked: i.fault.Duration.String(), Measured: "recorded"}}
}

// eventLog records workflow events.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
}

func (l *eventLog) events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

// types lists the event types of one node, in order.
func (l *eventLog) types(node string) []EventType {
	var out []EventType
	for _, e := range l.events() {
		if e.Node == node {
			out = append(out, e.Type)
		}
	}
	return out
}

func testDeps(e *recordingEngine, log *eventLog) Deps {
	return Deps{Inject: e.Inject, Events: log.add}
}

// --- spec builders -----------------------------------------------------------

func ptr[T any](v T) *T { return &v }

func serial(name, deadline string, children ...string) v1alpha1.Template {
	return v1alpha1.Template{Name: name, Type: v1alpha1.TemplateTypeSerial, Deadline: dl(deadline), Children: children}
}

func parallel(name, deadline string, children ...string) v1alpha1.Template {
	return v1alpha1.Template{Name: name, Type: v1alpha1.TemplateTypeParallel, Deadline: dl(deadline), Children: children}
}

func suspend(name, deadline string) v1alpha1.Template {
	return v1alpha1.Template{Name: name, Type: v1alpha1.TemplateTypeSuspend, Deadline: dl(deadline)}
}

func networkDelay(name, deadline string) v1alpha1.Template {
	return v1alpha1.Template{Name: name, Type: v1alpha1.TemplateTypeNetworkChaos, Deadline: dl(deadline),
		EmbedChaos: v1alpha1.EmbedChaos{NetworkChaos: &v1alpha1.NetworkChaosSpec{Action: "delay"}}}
}

func podKill(name, deadline string) v1alpha1.Template {
	return v1alpha1.Template{Name: name, Type: v1alpha1.TemplateTypePodChaos, Deadline: dl(deadline),
		EmbedChaos: v1alpha1.EmbedChaos{PodChaos: &v1alpha1.PodChaosSpec{Action: v1alpha1.PodKill}}}
}

func task(name, deadline string, command []string, branches ...v1alpha1.ConditionalBranch) v1alpha1.Template {
	return v1alpha1.Template{Name: name, Type: v1alpha1.TemplateTypeTask, Deadline: dl(deadline),
		Task:                &v1alpha1.Task{Container: &v1alpha1.TaskContainer{Name: "main", Image: "busybox", Command: command}},
		ConditionalBranches: branches}
}

func statusCheck(name, deadline string, abort bool, sc v1alpha1.StatusCheckSpec) v1alpha1.Template {
	return v1alpha1.Template{Name: name, Type: v1alpha1.TemplateTypeStatusCheck, Deadline: dl(deadline),
		StatusCheck: &sc, AbortWithStatusCheck: abort}
}

func dl(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func wf(entry string, ts ...v1alpha1.Template) *v1alpha1.WorkflowSpec {
	return &v1alpha1.WorkflowSpec{Entry: entry, Templates: ts}
}

// --- a switchable HTTP service ------------------------------------------------

// statusServer answers every request with the status code it is set to, or
// with the codes of script in turn and then the last one.
type statusServer struct {
	*httptest.Server
	code     atomic.Int64
	requests atomic.Int64
	script   []int
}

func newStatusServer(t *testing.T, code int, script ...int) *statusServer {
	s := &statusServer{script: script}
	s.code.Store(int64(code))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := s.requests.Add(1)
		c := int(s.code.Load())
		if len(s.script) > 0 {
			c = s.script[min(int(n), len(s.script))-1]
		}
		w.WriteHeader(c)
	}))
	t.Cleanup(s.Close)
	return s
}

func httpCheck(url string, mode v1alpha1.StatusCheckMode, failures, successes int) v1alpha1.StatusCheckSpec {
	return v1alpha1.StatusCheckSpec{
		Mode: mode, Type: v1alpha1.StatusCheckHTTP,
		IntervalSeconds: ptr(1), TimeoutSeconds: ptr(1),
		FailureThreshold: ptr(failures), SuccessThreshold: ptr(successes),
		HTTP: &v1alpha1.HTTPStatusCheck{URL: url, Criteria: v1alpha1.HTTPCriteria{StatusCode: "200-299"}},
	}
}

// --- assertions ----------------------------------------------------------------

func mustRun(t *testing.T, ctx context.Context, spec *v1alpha1.WorkflowSpec, deps Deps) *Result {
	t.Helper()
	res, err := Run(ctx, spec, t.Name(), deps)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func node(t *testing.T, res *Result, name string) *Node {
	t.Helper()
	n := res.Find(name)
	if n == nil {
		t.Fatalf("no node %s in the result", name)
	}
	return n
}

func wantStatus(t *testing.T, res *Result, want map[string]Status) {
	t.Helper()
	for name, st := range want {
		if n := node(t, res, name); n.Status != st {
			t.Errorf("node %s: status %s, want %s (messages %q)", name, n.Status, st, n.Messages)
		}
	}
}

// noneActive fails if the engine still holds a fault.
func noneActive(t *testing.T, e *recordingEngine) {
	t.Helper()
	if n := e.active(); n != 0 {
		t.Errorf("%d injections still active after the run", n)
	}
}

// settleGoroutines waits (generously) for the goroutine count to come back
// to base and fails if it does not.
func settleGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before the run:\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
