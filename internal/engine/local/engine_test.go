package local

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/cgroup"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/selector"
)

// newTestEngine attaches a fault engine to s with a seeded source; at the
// end of the test it is closed and its journal must be empty.
func newTestEngine(t testing.TB, s *Supervisor) *Engine {
	t.Helper()
	e, err := AttachEngine(s, EngineOptions{Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatalf("AttachEngine: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("engine Close: %v", err)
		}
		assertJournalEmpty(t, e)
	})
	return e
}

func assertJournalEmpty(t testing.TB, e *Engine) {
	t.Helper()
	j, err := engine.OpenJournal(e.JournalDir())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := j.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		t.Errorf("journal entry left: %s (%s %s) undo %+v", en.ID, en.Kind, en.Name, en.Undo)
	}
}

func podChaos(name string, action v1alpha1.PodChaosAction, sel v1alpha1.PodSelectorSpec, mode v1alpha1.SelectorMode, value string, d time.Duration) engine.Fault {
	spec := &v1alpha1.PodChaosSpec{Action: action}
	spec.Selector, spec.Mode, spec.Value = sel, mode, value
	return engine.Fault{Kind: "PodChaos", Name: name, Spec: spec, Duration: d}
}

func pods(names ...string) v1alpha1.PodSelectorSpec {
	return v1alpha1.PodSelectorSpec{Pods: map[string][]string{"chaos": names}}
}

func eventsOf(inj engine.Injection, typ engine.EventType) map[string]string {
	out := map[string]string{}
	for _, e := range inj.Events() {
		if e.Type == typ {
			out[e.Target] = e.Message
		}
	}
	return out
}

func waitDone(t testing.TB, inj engine.Injection) {
	t.Helper()
	select {
	case <-inj.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("injection %s not over after 60s; events %+v", inj.ID(), inj.Events())
	}
}

func TestPodKillRestartsAndReadinessReturns(t *testing.T) {
	s := startEnv(t, testEnvironment("fpodkill"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	before := replicaOf(t, s, "api-0")

	inj, err := e.Inject(testContext(t), podChaos("kill-api", v1alpha1.PodKill, pods("api-0"), v1alpha1.ModeOne, "", time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Instantaneous: complete when Inject returns, duration or not.
	select {
	case <-inj.Done():
	default:
		t.Fatal("pod-kill injection not done after Inject returned")
	}
	if msg, ok := eventsOf(inj, engine.EventInjected)["api-0"]; !ok || !strings.Contains(msg, "SIGKILL") {
		t.Fatalf("events %+v", inj.Events())
	}
	if ts := inj.Targets(); len(ts) != 1 || ts[0].Name != "api-0" || ts[0].Node != before.Node {
		t.Fatalf("targets %+v", ts)
	}
	waitUntil(t, "api-0 restarted and ready", func() bool {
		r := replicaOf(t, s, "api-0")
		return r.Restarts > before.Restarts && r.Ready
	})
	if c := replicaOf(t, s, "api-0").Containers[0]; c.LastSignal != "killed" || c.PID == before.Containers[0].PID {
		t.Fatalf("container after pod-kill %+v", c)
	}
	assertJournalEmpty(t, e)
}

func TestPodKillGracePeriod(t *testing.T) {
	env := testEnvironment("fgrace")
	env.Spec.Services = env.Spec.Services[:1]
	env.Spec.Services[0].Env = append(env.Spec.Services[0].Env, envVar1("IGNORE_SIGTERM", "1"))
	env.Spec.Services[0].TerminationGracePeriodSeconds = ptr(int64(1)) // for the final shutdown
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	before := replicaOf(t, s, "backend-1")
	f := podChaos("kill-graceful", v1alpha1.PodKill, pods("backend-1"), v1alpha1.ModeAll, "", 0)
	f.Spec.(*v1alpha1.PodChaosSpec).GracePeriod = 1
	start := time.Now()
	inj, err := e.Inject(testContext(t), f)
	if err != nil {
		t.Fatal(err)
	}
	// SIGTERM is ignored, so SIGKILL comes once the grace period is over.
	if time.Since(start) < time.Second {
		t.Fatalf("pod-kill with gracePeriod 1 returned after %s", time.Since(start))
	}
	if msg := eventsOf(inj, engine.EventInjected)["backend-1"]; !strings.Contains(msg, "SIGKILL to backend after the grace period") {
		t.Fatalf("events %+v", inj.Events())
	}
	waitUntil(t, "backend-1 restarted and ready", func() bool {
		r := replicaOf(t, s, "backend-1")
		return r.Restarts == before.Restarts+1 && r.Ready
	})
	// The new process is not killed by the grace period's SIGKILL.
	pid := replicaOf(t, s, "backend-1").Containers[0].PID
	time.Sleep(300 * time.Millisecond)
	if r := replicaOf(t, s, "backend-1"); r.Restarts != before.Restarts+1 || r.Containers[0].PID != pid {
		t.Fatalf("restarted process killed again: %+v", r)
	}
}

func TestPodFailureHoldsForItsDuration(t *testing.T) {
	s := startEnv(t, testEnvironment("fpodfail"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	before := replicaOf(t, s, "api-1")
	pid := before.Containers[0].PID

	inj, err := e.Inject(testContext(t), podChaos("fail-api", v1alpha1.PodFailure, pods("api-1"), v1alpha1.ModeAll, "", 1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	r := replicaOf(t, s, "api-1")
	if r.Ready || !r.Frozen || r.Status != ReasonFrozen {
		t.Fatalf("replica during pod-failure: %+v", r)
	}
	if r.Cgroup != "" {
		g, err := cgroup.Open(r.Cgroup)
		if err != nil {
			t.Fatal(err)
		}
		if frozen, err := g.Frozen(); err != nil || !frozen {
			t.Fatalf("cgroup %s frozen=%v err=%v", r.Cgroup, frozen, err)
		}
	} else if st := procState(pid); st != "T" {
		t.Fatalf("process state %q during pod-failure without cgroups", st)
	}
	// The journal holds the entry and its undo step while the fault holds.
	j, _ := engine.OpenJournal(e.JournalDir())
	entries, _ := j.List()
	if len(entries) != 1 || len(entries[0].Undo) != 1 || entries[0].Undo[0].Action != undoUnfailReplica || entries[0].Undo[0].Args[undoReplica] != "api-1" {
		t.Fatalf("journal during pod-failure: %+v", entries)
	}
	if got := e.Injections(); len(got) != 1 || got[0].ID() != inj.ID() {
		t.Fatalf("active injections %v", got)
	}
	// A second pod-failure of the same replica is refused, not a silent
	// no-op whose revert would cut the first one short.
	if _, err := e.Inject(testContext(t), podChaos("again", v1alpha1.PodFailure, pods("api-1"), v1alpha1.ModeAll, "", time.Hour)); err == nil || !strings.Contains(err.Error(), "already failed") {
		t.Fatalf("overlapping pod-failure: %v", err)
	}

	waitDone(t, inj)
	if _, ok := eventsOf(inj, engine.EventRecovered)["api-1"]; !ok {
		t.Fatalf("no Recovered event: %+v", inj.Events())
	}
	waitUntil(t, "api-1 ready again", func() bool { r := replicaOf(t, s, "api-1"); return r.Ready && !r.Frozen })
	if r := replicaOf(t, s, "api-1"); r.Restarts != before.Restarts || r.Containers[0].PID != pid {
		t.Fatalf("pod-failure restarted the replica: %+v", r)
	}
	var dur *engine.Fidelity
	for _, f := range inj.Fidelity() {
		if f.Quantity == "duration" {
			dur = &f
		}
	}
	if dur == nil || dur.AskedValue != 1.5 || dur.MeasuredValue < 1.5 {
		t.Fatalf("duration fidelity %+v", inj.Fidelity())
	}
	assertJournalEmpty(t, e)
}

func TestContainerKillSidecar(t *testing.T) {
	env := testEnvironment("fsidecar")
	env.Spec.Services = env.Spec.Services[:1]
	env.Spec.Services[0].Sidecars = []v1alpha1.ServiceContainer{{Name: "logger", Command: []string{"sleep", "1000"}}}
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	before := replicaOf(t, s, "backend-0")

	f := podChaos("kill-logger", v1alpha1.ContainerKill, pods("backend-0"), v1alpha1.ModeAll, "", 0)
	f.Spec.(*v1alpha1.PodChaosSpec).ContainerNames = []string{"logger"}
	inj, err := e.Inject(testContext(t), f)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, inj)
	waitUntil(t, "the sidecar restarted", func() bool {
		r := replicaOf(t, s, "backend-0")
		return len(r.Containers) == 2 && r.Containers[1].RestartCount == before.Containers[1].RestartCount+1 && r.Containers[1].State == StateRunning
	})
	if r := replicaOf(t, s, "backend-0"); r.Containers[0].RestartCount != before.Containers[0].RestartCount || r.Containers[0].PID != before.Containers[0].PID {
		t.Fatalf("main container touched: %+v", r.Containers[0])
	}

	// An unknown container name is refused before anything happens.
	f.Spec.(*v1alpha1.PodChaosSpec).ContainerNames = []string{"loger"}
	_, err = e.Inject(testContext(t), f)
	if err == nil || !strings.Contains(err.Error(), `no container "loger" (containers: backend, logger)`) {
		t.Fatalf("unknown container: %v", err)
	}
	assertJournalEmpty(t, e)
}

func nodeChaos(name string, action v1alpha1.NodeChaosAction, nodes []string, d time.Duration) engine.Fault {
	return engine.Fault{Kind: "NodeChaos", Name: name, Duration: d,
		Spec: &v1alpha1.NodeChaosSpec{Action: action, Selector: v1alpha1.NodeChaosSelector{Nodes: nodes}, Mode: v1alpha1.ModeAll}}
}

func TestNodeDownReschedulesAndComesBack(t *testing.T) {
	s := startEnv(t, testEnvironment("fnodedown"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	before := map[string]ReplicaStatus{}
	for _, r := range s.Status().Replicas {
		before[r.Name] = r
	}

	inj, err := e.Inject(testContext(t), nodeChaos("node-1-down", v1alpha1.NodeDown, []string{"node-1"}, 4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ts := inj.Targets(); len(ts) != 1 || ts[0].Name != "node-1" {
		t.Fatalf("targets %+v", ts)
	}
	if nodeReady(s, "node-1") {
		t.Fatal("node-1 Ready during node-down")
	}
	waitUntil(t, "node-1's replicas rescheduled elsewhere and ready", func() bool {
		for _, n := range []string{"backend-0", "api-1"} {
			r := replicaOf(t, s, n)
			if !r.Ready || r.Node == "node-1" || r.UID == before[n].UID {
				return false
			}
		}
		return true
	})
	waitDone(t, inj)
	if !nodeReady(s, "node-1") {
		t.Fatal("node-1 not Ready after the fault")
	}
	if msg := eventsOf(inj, engine.EventRecovered)["node-1"]; msg == "" {
		t.Fatalf("events %+v", inj.Events())
	}
}

func TestNodeDrainAndUncordon(t *testing.T) {
	s := startEnv(t, testEnvironment("fdrain"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)

	// No duration: held until reverted.
	inj, err := e.Inject(testContext(t), nodeChaos("drain-2", v1alpha1.NodeDrain, []string{"node-2"}, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Status().Replicas {
		if r.Node == "node-2" {
			t.Fatalf("%s still on node-2 after the drain", r.Name)
		}
	}
	for _, n := range s.Nodes() {
		if n.Name == "node-2" && n.Schedulable {
			t.Fatal("node-2 schedulable during the drain")
		}
	}
	select {
	case <-inj.Done():
		t.Fatal("a fault without duration ended on its own")
	case <-time.After(200 * time.Millisecond):
	}
	if err := inj.Revert(testContext(t)); err != nil {
		t.Fatal(err)
	}
	for _, n := range s.Nodes() {
		if n.Name == "node-2" && !n.Schedulable {
			t.Fatal("node-2 still cordoned after revert")
		}
	}
	// Revert is idempotent.
	if err := inj.Revert(testContext(t)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
}

func TestScaleDownAndBack(t *testing.T) {
	s := startEnv(t, testEnvironment("fscale"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	f := engine.Fault{Kind: "ScaleChaos", Name: "api-to-1", Duration: 1500 * time.Millisecond,
		Spec: &v1alpha1.ScaleChaosSpec{Service: "api", Replicas: ptr(int32(1))}}
	inj, err := e.Inject(testContext(t), f)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "api scaled to 1", func() bool { _, ok := s.Replica("api-1"); return !ok })
	waitDone(t, inj)
	waitReady(t, s)
	if _, ok := s.Replica("api-1"); !ok {
		t.Fatal("api-1 not back after the fault")
	}
	if msg := eventsOf(inj, engine.EventRecovered)["api"]; !strings.Contains(msg, "back to 2") {
		t.Fatalf("events %+v", inj.Events())
	}

	f.Spec = &v1alpha1.ScaleChaosSpec{Workload: &v1alpha1.ScaleWorkload{Kind: v1alpha1.WorkloadDeployment, Name: "api"}, Replicas: ptr(int32(1))}
	if _, err := e.Inject(testContext(t), f); err == nil || !strings.Contains(err.Error(), "kube engine") {
		t.Fatalf("workload form: %v", err)
	}
	f.Spec = &v1alpha1.ScaleChaosSpec{Service: "nope", Replicas: ptr(int32(1))}
	if _, err := e.Inject(testContext(t), f); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
}

func stressChaos(name string, sel v1alpha1.PodSelectorSpec, st *v1alpha1.Stressors, d time.Duration) engine.Fault {
	spec := &v1alpha1.StressChaosSpec{Stressors: st}
	spec.Selector, spec.Mode = sel, v1alpha1.ModeAll
	return engine.Fault{Kind: "StressChaos", Name: name, Spec: spec, Duration: d}
}

func TestStressRunsInTheReplicaCgroup(t *testing.T) {
	if !isRoot() {
		t.Skip("needs root: stressors run inside the replica's cgroup")
	}
	s := startEnv(t, testEnvironment("fstress"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	g, err := s.ReplicaCgroup("backend-0")
	if err != nil {
		t.Fatal(err)
	}
	before, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	f := stressChaos("burn", pods("backend-0"), &v1alpha1.Stressors{
		CPU:    &v1alpha1.CPUStressor{Stressor: v1alpha1.Stressor{Workers: 1}, Load: ptr(50)},
		Memory: &v1alpha1.MemoryStressor{Stressor: v1alpha1.Stressor{Workers: 1}, Size: "64MB"},
	}, 3*time.Second)
	inj, err := e.Inject(testContext(t), f)
	if err != nil {
		t.Fatal(err)
	}
	pids, _ := g.Processes()
	if len(pids) < 3 { // testsvc, stress-ng and its workers
		t.Fatalf("processes in the cgroup during stress: %v", pids)
	}
	waitDone(t, inj)
	after, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	used := after.CPUUsage - before.CPUUsage
	if used < 500*time.Millisecond {
		t.Fatalf("the replica's cgroup used %s of CPU during 3s of 1 worker at 50%%", used)
	}
	fid := map[string]engine.Fidelity{}
	for _, x := range inj.Fidelity() {
		fid[x.Quantity] = x
	}
	cpu, mem := fid["cpu"], fid["memory"]
	if cpu.Target != "backend-0" || cpu.Asked != "1 CPU worker at 50%" || cpu.AskedValue != 0.5 || cpu.MeasuredValue < 0.15 || cpu.MeasuredValue > 1.2 {
		t.Fatalf("cpu fidelity %+v", cpu)
	}
	if mem.AskedValue != 64<<20 || mem.MeasuredValue < 0.5*64*(1<<20) {
		t.Fatalf("memory fidelity %+v", mem)
	}
	// Nothing of the stress is left in the cgroup: just the replica.
	waitUntil(t, "only the replica left in its cgroup", func() bool {
		pids, _ := g.Processes()
		return len(pids) == 1
	})
	if msg := eventsOf(inj, engine.EventRecovered)["backend-0"]; !strings.Contains(msg, "cores") {
		t.Fatalf("events %+v", inj.Events())
	}
}

func TestStressWithoutCgroupsNeedsRoot(t *testing.T) {
	opts := testOptions(t)
	opts.DisableCgroups = true
	s := startEnv(t, testEnvironment("fstressnocg"), opts)
	e := newTestEngine(t, s)
	f := stressChaos("burn", pods("api-0"), &v1alpha1.Stressors{CPU: &v1alpha1.CPUStressor{Stressor: v1alpha1.Stressor{Workers: 1}}}, time.Second)
	_, err := e.Inject(testContext(t), f)
	if err == nil || !strings.Contains(err.Error(), "needs root for StressChaos") {
		t.Fatalf("stress without cgroups: %v", err)
	}
}

func TestSelectAndBadInput(t *testing.T) {
	s := startEnv(t, testEnvironment("fselect"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	ctx := testContext(t)
	restarts := map[string]int{}
	for _, r := range s.Status().Replicas {
		restarts[r.Name] = r.Restarts
	}
	tier := func(v string) v1alpha1.PodSelectorSpec {
		return v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"tier": v}}
	}

	ts, err := e.Select(ctx, podChaos("x", v1alpha1.PodKill, tier("api"), v1alpha1.ModeAll, "", 0))
	if err != nil || len(ts) != 2 || ts[0].Name != "api-0" || ts[1].Name != "api-1" {
		t.Fatalf("all api: %v %v", ts, err)
	}
	// A seed picks the same target every time, and Inject hits what
	// Select showed.
	seed := uint64(42)
	one := podChaos("x", v1alpha1.PodFailure, v1alpha1.PodSelectorSpec{}, v1alpha1.ModeOne, "", 0)
	first, err := e.SelectWith(ctx, one, InjectOptions{Seed: &seed})
	if err != nil || len(first) != 1 {
		t.Fatalf("one: %v %v", first, err)
	}
	for range 5 {
		again, _ := e.SelectWith(ctx, one, InjectOptions{Seed: &seed})
		if again[0].Name != first[0].Name {
			t.Fatalf("seeded choice changed: %s then %s", first[0].Name, again[0].Name)
		}
	}
	inj, err := e.InjectWith(ctx, one, InjectOptions{Seed: &seed})
	if err != nil || inj.Targets()[0].Name != first[0].Name {
		t.Fatalf("inject hit %v, dry run chose %s: %v", inj, first[0].Name, err)
	}
	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	// The object's namespace is the default namespace; the environment's
	// when it has none.
	if _, err := e.SelectWith(ctx, one, InjectOptions{Namespace: "other"}); !errors.Is(err, selector.ErrNoMatch) {
		t.Fatalf("namespace other: %v", err)
	}

	bad := []struct {
		name string
		f    engine.Fault
		want string
	}{
		{"selector matches nothing", podChaos("x", v1alpha1.PodKill, tier("nope"), v1alpha1.ModeOne, "", 0), "matches no target"},
		{"mode asks for too many", podChaos("x", v1alpha1.PodKill, tier("api"), v1alpha1.ModeFixed, "3", 0), "asks for 3 targets but the selector matches only 2"},
		{"unknown action", podChaos("x", "pod-explode", tier("api"), v1alpha1.ModeOne, "", 0), `unknown action "pod-explode"`},
		{"container-kill without names", podChaos("x", v1alpha1.ContainerKill, tier("api"), v1alpha1.ModeOne, "", 0), "needs containerNames"},
		{"node that does not exist", nodeChaos("x", v1alpha1.NodeDown, []string{"node-9"}, 0), "node-9"},
		{"empty node selector", engine.Fault{Kind: "NodeChaos", Name: "x", Spec: &v1alpha1.NodeChaosSpec{Action: v1alpha1.NodeDown, Mode: v1alpha1.ModeAll}}, "selector is empty"},
		{"NetworkChaos without an action", engine.Fault{Kind: "NetworkChaos", Name: "x", Spec: &v1alpha1.NetworkChaosSpec{}}, `action "": want netem, delay`},
		{"HTTPChaos without a port", engine.Fault{Kind: "HTTPChaos", Name: "x", Spec: &v1alpha1.HTTPChaosSpec{}}, "port 0: write the port"},
		{"IOChaos", engine.Fault{Kind: "IOChaos", Name: "x", Spec: &v1alpha1.IOChaosSpec{}}, "IOChaos is not supported by the local engine yet; the kube engine"},
		{"DNSChaos", engine.Fault{Kind: "DNSChaos", Name: "x", Spec: &v1alpha1.DNSChaosSpec{}}, "DNSChaos is not supported"},
		{"TimeChaos", engine.Fault{Kind: "TimeChaos", Name: "x", Spec: &v1alpha1.TimeChaosSpec{}}, "TimeChaos is not supported"},
		{"ModelChaos without an action", engine.Fault{Kind: "ModelChaos", Name: "x", Spec: &v1alpha1.ModelChaosSpec{}}, "no action given; ModelChaos takes"},
		{"no stressor", stressChaos("x", tier("api"), nil, 0), "no stressor given"},
		{"negative duration", engine.Fault{Kind: "PodChaos", Name: "x", Spec: &v1alpha1.PodChaosSpec{}, Duration: -time.Second}, "negative"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.Select(ctx, tc.f); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Select: %v, want %q", err, tc.want)
			}
			if _, err := e.Inject(ctx, tc.f); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Inject: %v, want %q", err, tc.want)
			}
		})
	}
	// Nothing was injected by any of them.
	assertJournalEmpty(t, e)
	for _, r := range s.Status().Replicas {
		if r.Restarts != restarts[r.Name] || r.Frozen {
			t.Fatalf("a refused fault touched %s: %+v", r.Name, r)
		}
	}
}

func TestStopAllRevertsEverything(t *testing.T) {
	s := startEnv(t, testEnvironment("fstopall"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	ctx := testContext(t)
	var injs []engine.Injection
	add := func(f engine.Fault) {
		t.Helper()
		inj, err := e.Inject(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		injs = append(injs, inj)
	}
	add(podChaos("fail-api-0", v1alpha1.PodFailure, pods("api-0"), v1alpha1.ModeAll, "", time.Hour))
	add(podChaos("fail-backend-1", v1alpha1.PodFailure, pods("backend-1"), v1alpha1.ModeAll, "", 0))
	add(engine.Fault{Kind: "ScaleChaos", Name: "api-to-3", Duration: time.Hour, Spec: &v1alpha1.ScaleChaosSpec{Service: "api", Replicas: ptr(int32(3))}})
	add(nodeChaos("cordon-3", v1alpha1.NodeDrain, []string{"node-3"}, time.Hour))
	if isRoot() {
		add(stressChaos("burn", pods("backend-0"), &v1alpha1.Stressors{CPU: &v1alpha1.CPUStressor{Stressor: v1alpha1.Stressor{Workers: 1}, Load: ptr(20)}}, time.Hour))
	}
	if n := len(e.Injections()); n != len(injs) {
		t.Fatalf("%d active injections, want %d", n, len(injs))
	}
	n, err := e.StopAll(ctx)
	if err != nil || n != len(injs) {
		t.Fatalf("StopAll: %d, %v", n, err)
	}
	for _, inj := range injs {
		select {
		case <-inj.Done():
		default:
			t.Fatalf("%s not done after StopAll", inj.Fault().Name)
		}
	}
	if len(e.Injections()) != 0 {
		t.Fatal("injections left after StopAll")
	}
	for _, r := range s.Status().Replicas {
		if r.Frozen {
			t.Fatalf("%s still frozen", r.Name)
		}
	}
	for _, nd := range s.Nodes() {
		if !nd.Schedulable || !nd.Ready {
			t.Fatalf("node %+v after StopAll", nd)
		}
	}
	waitUntil(t, "api back to 2 replicas", func() bool { _, ok := s.Replica("api-2"); return !ok })
	assertJournalEmpty(t, e)
	waitReady(t, s)
}

func TestShutdownRevertsActiveFaults(t *testing.T) {
	opts := testOptions(t)
	s, err := New(testEnvironment("fshutdown"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	e, err := AttachEngine(s, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inj, err := e.Inject(testContext(t), podChaos("fail", v1alpha1.PodFailure, pods("api-0", "api-1"), v1alpha1.ModeAll, "", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, inj)
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	assertJournalEmpty(t, e)
	assertNoChildren(t, "fshutdown")
	if _, err := e.Inject(ctx, podChaos("late", v1alpha1.PodKill, pods("api-0"), v1alpha1.ModeAll, "", 0)); err == nil {
		t.Fatal("inject after shutdown succeeded")
	}
}

func TestDurationPrecision(t *testing.T) {
	s := startEnv(t, testEnvironment("fprecise"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	inj, err := e.Inject(testContext(t), podChaos("fail", v1alpha1.PodFailure, pods("backend-0"), v1alpha1.ModeAll, "", 700*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, inj)
	// Never earlier than asked; how much later depends on the machine's
	// load, so it is reported rather than bounded.
	for _, f := range inj.Fidelity() {
		if f.Quantity == "duration" {
			if f.MeasuredValue < 0.7 {
				t.Fatalf("held %.3fs, asked 0.7s", f.MeasuredValue)
			}
			t.Logf("asked %s, held %s", f.Asked, f.Measured)
		}
	}
}
