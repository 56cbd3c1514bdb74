package local

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

func request(t testing.TB, f engine.Fault) InjectRequest {
	t.Helper()
	req, err := NewInjectRequest(f, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// lineLog collects the lines of an inject stream.
type lineLog struct {
	mu    sync.Mutex
	lines []InjectStreamLine
}

func (l *lineLog) add(x InjectStreamLine) {
	l.mu.Lock()
	l.lines = append(l.lines, x)
	l.mu.Unlock()
}

func (l *lineLog) id() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) > 0 && l.lines[0].Injection != nil {
		return l.lines[0].Injection.ID
	}
	return ""
}

func TestInjectRouteStreamsEventsAndFidelity(t *testing.T) {
	s := startEnv(t, testEnvironment("rinject"), testOptions(t))
	waitReady(t, s)
	newTestEngine(t, s)
	c := NewClient(s.SocketPath())
	defer c.Close()
	ctx := testContext(t)

	f := podChaos("fail-api", v1alpha1.PodFailure, v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"tier": "api"}}, v1alpha1.ModeAll, "", time.Second)
	ts, err := c.DryRun(ctx, request(t, f))
	if err != nil || len(ts) != 2 || ts[0].Name != "api-0" || ts[0].Node == "" {
		t.Fatalf("dry run: %+v %v", ts, err)
	}
	var log lineLog
	st, err := c.Inject(ctx, request(t, f), log.add)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || st.Error != "" || len(st.Targets) != 2 {
		t.Fatalf("final status %+v", st)
	}
	// First the injection, then Injected events, Applied, Recovered
	// events, and the final status last.
	var kinds []string
	for _, l := range log.lines {
		switch {
		case l.Injection != nil:
			kinds = append(kinds, "injection")
		case l.Event != nil:
			kinds = append(kinds, string(l.Event.Type))
		case l.Applied:
			kinds = append(kinds, "applied")
		case l.Done != nil:
			kinds = append(kinds, "done")
		}
	}
	if got := strings.Join(kinds, ","); got != "injection,Injected,Injected,applied,Recovered,Recovered,done" {
		t.Fatalf("stream %s", got)
	}
	if len(st.Fidelity) != 1 || st.Fidelity[0].Quantity != "duration" || st.Fidelity[0].MeasuredValue < 1 {
		t.Fatalf("fidelity %+v", st.Fidelity)
	}

	// Bad input is an error answer, before anything is streamed.
	_, err = c.Inject(ctx, request(t, podChaos("x", v1alpha1.PodKill, pods("nope-0"), v1alpha1.ModeOne, "", 0)), nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "matches no target") {
		t.Fatalf("no match: %v", err)
	}
	_, err = c.DryRun(ctx, InjectRequest{Kind: "Experiment", Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "not a fault kind") {
		t.Fatalf("unknown kind: %v", err)
	}
	_, err = c.DryRun(ctx, InjectRequest{Kind: "PodChaos", Name: "x", Spec: []byte(`{"action":"pod-kill","bogus":1}`)})
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestClientConnectionIsTheLease(t *testing.T) {
	s := startEnv(t, testEnvironment("rlease"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	c := NewClient(s.SocketPath())
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var log lineLog
	errc := make(chan error, 1)
	go func() {
		_, err := c.Inject(ctx, request(t, podChaos("hold", v1alpha1.PodFailure, pods("api-0"), v1alpha1.ModeAll, "", time.Hour)), log.add)
		errc <- err
	}()
	waitUntil(t, "api-0 frozen", func() bool { return replicaOf(t, s, "api-0").Frozen })
	if n := len(e.Injections()); n != 1 {
		t.Fatalf("%d injections", n)
	}
	// The client goes away without a word: the supervisor reverts.
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("Inject returned no error after its context was cancelled")
	}
	waitUntil(t, "the fault reverted after the client left", func() bool {
		return len(e.Injections()) == 0 && !replicaOf(t, s, "api-0").Frozen
	})
	assertJournalEmpty(t, e)
}

func TestStopAndDeleteRoutes(t *testing.T) {
	s := startEnv(t, testEnvironment("rstop"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	c := NewClient(s.SocketPath())
	defer c.Close()
	ctx := testContext(t)

	var wg sync.WaitGroup
	finals := make([]*InjectionStatus, 3)
	logs := make([]lineLog, 3)
	for i, name := range []string{"api-0", "api-1", "backend-0"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Inject(ctx, request(t, podChaos("fail-"+name, v1alpha1.PodFailure, pods(name), v1alpha1.ModeAll, "", time.Hour)), logs[i].add)
			if err != nil {
				t.Error(err)
			}
			finals[i] = st
		}()
	}
	waitUntil(t, "three injections active", func() bool { return len(e.Injections()) == 3 })
	list, err := c.Injections(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("injections: %d %v", len(list), err)
	}
	// DELETE one.
	st, err := c.RevertInjection(ctx, logs[0].id())
	if err != nil || !st.Done || st.Error != "" {
		t.Fatalf("revert one: %+v %v", st, err)
	}
	if _, err := c.RevertInjection(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revert unknown: %v", err)
	}
	// stop the rest.
	resp, err := c.StopFaults(ctx)
	if err != nil || resp.Reverted != 2 || len(resp.Errors) != 0 {
		t.Fatalf("stop: %+v %v", resp, err)
	}
	waitClosed(t, "every inject stream ended", waitGroupDone(&wg))
	for i, st := range finals {
		if st == nil || !st.Done || len(st.Events) != 2 || st.Events[1].Type != engine.EventRecovered {
			t.Fatalf("final %d: %+v", i, st)
		}
	}
	for _, r := range s.Status().Replicas {
		if r.Frozen {
			t.Fatalf("%s frozen after stop", r.Name)
		}
	}
}

func TestRemoteEngine(t *testing.T) {
	s := startEnv(t, testEnvironment("rremote"), testOptions(t))
	waitReady(t, s)
	le := newTestEngine(t, s)
	c := NewClient(s.SocketPath())
	defer c.Close()
	var e engine.Engine = NewRemoteEngine(c)
	ctx := testContext(t)

	if ts, err := e.Targets(ctx); err != nil || len(ts) != 4 {
		t.Fatalf("targets %d %v", len(ts), err)
	}
	if ns, err := e.Nodes(ctx); err != nil || len(ns) != 3 {
		t.Fatalf("nodes %d %v", len(ns), err)
	}
	f := podChaos("fail", v1alpha1.PodFailure, pods("backend-1"), v1alpha1.ModeAll, "", 0)
	if ts, err := e.Select(ctx, f); err != nil || len(ts) != 1 || ts[0].Name != "backend-1" {
		t.Fatalf("select %+v %v", ts, err)
	}
	inj, err := e.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if !replicaOf(t, s, "backend-1").Frozen || inj.ID() == "" || len(inj.Targets()) != 1 {
		t.Fatalf("after remote inject: %+v", inj.Targets())
	}
	if ev := inj.Events(); len(ev) != 1 || ev[0].Type != engine.EventInjected {
		t.Fatalf("events %+v", ev)
	}
	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, "the remote injection done", inj.Done())
	if replicaOf(t, s, "backend-1").Frozen || len(le.Injections()) != 0 {
		t.Fatal("remote revert did not revert")
	}
	// An instantaneous fault.
	kill, err := e.Inject(ctx, podChaos("kill", v1alpha1.PodKill, pods("backend-1"), v1alpha1.ModeAll, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-kill.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("remote pod-kill not done")
	}
	if _, err := e.Inject(ctx, podChaos("x", v1alpha1.PodKill, pods("nope"), v1alpha1.ModeAll, "", 0)); err == nil || !strings.Contains(err.Error(), "matches no target") {
		t.Fatalf("bad remote inject: %v", err)
	}
}
