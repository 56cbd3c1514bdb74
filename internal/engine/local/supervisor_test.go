package local

import (
	"strconv"

	"context"
	"errors"
	"github.com/faultline-dev/faultline/api/v1alpha1"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReplicasComeUpAndGatewayBalances(t *testing.T) {
	s := startEnv(t, testEnvironment("basic"), testOptions(t))
	waitReady(t, s)

	ts := s.Targets()
	var names []string
	nodes := map[string]string{}
	for _, tg := range ts {
		names = append(names, tg.Name)
		nodes[tg.Name] = tg.Node
		if tg.Namespace != "chaos" || tg.Phase != PhaseRunning || !tg.Ready {
			t.Errorf("target %s: namespace %q phase %q ready %v", tg.Name, tg.Namespace, tg.Phase, tg.Ready)
		}
		if tg.Labels["tier"] == "" || tg.Labels["app"] != tg.Owner || tg.NodeLabels["zone"] == "" {
			t.Errorf("target %s: labels %v node labels %v", tg.Name, tg.Labels, tg.NodeLabels)
		}
	}
	if got := strings.Join(names, ","); got != "backend-0,backend-1,api-0,api-1" {
		t.Fatalf("targets %s", got)
	}
	// Least loaded first, in node order: deterministic.
	want := map[string]string{"backend-0": "node-1", "backend-1": "node-2", "api-0": "node-3", "api-1": "node-1"}
	for n, node := range want {
		if nodes[n] != node {
			t.Errorf("%s on %s, want %s", n, nodes[n], node)
		}
	}

	// Every new connection through the gateway lands on a ready replica,
	// round-robin: both replicas answer.
	api := gatewayURL(t, s, "api")
	seen := map[string]int{}
	for range 10 {
		body, err := httpGet(api + "/")
		if err != nil {
			t.Fatal(err)
		}
		seen[body]++
	}
	if seen["api-0"] == 0 || seen["api-1"] == 0 || len(seen) != 2 {
		t.Fatalf("gateway reached %v", seen)
	}

	// Replicas reach their dependency through their own egress listener,
	// balanced over the dependency's ready replicas.
	deps := map[string]bool{}
	for range 10 {
		body, err := httpGet(api + "/dep?name=BACKEND")
		if err != nil {
			t.Fatal(err)
		}
		deps[body] = true
	}
	if !deps["backend-0"] || !deps["backend-1"] {
		t.Fatalf("dependency calls reached %v", deps)
	}
	env, err := httpGet(replicaURL(t, s, "api-0") + "/env?k=NODE_NAME")
	if err != nil || env != "node-3" {
		t.Fatalf("NODE_NAME of api-0 = %q, %v", env, err)
	}
	env, _ = httpGet(replicaURL(t, s, "api-0") + "/env?k=POD_NAMESPACE")
	if env != "chaos" {
		t.Fatalf("POD_NAMESPACE = %q", env)
	}

	// A replica that stops being ready gets no new connections.
	if _, err := httpGet(replicaURL(t, s, "api-0") + "/ready/off"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "api-0 is not ready", func() bool { return !replicaOf(t, s, "api-0").Ready })
	for range 6 {
		body, err := httpGet(api + "/")
		if err != nil {
			t.Fatal(err)
		}
		if body != "api-1" {
			t.Fatalf("not-ready api-0 got a connection")
		}
	}
	if _, err := httpGet(replicaURL(t, s, "api-0") + "/ready/on"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "api-0 is ready again", func() bool { return replicaOf(t, s, "api-0").Ready })

	st := s.Status()
	if len(st.Services) != 2 || st.Services[1].Ready != 2 || st.Services[1].Stats.Accepted < 20 {
		t.Fatalf("services %+v", st.Services)
	}
}

func TestGatewayWithoutReadyReplicaFailsFast(t *testing.T) {
	env := testEnvironment("noready")
	env.Spec.Services = env.Spec.Services[:1]
	env.Spec.Services[0].Env = append(env.Spec.Services[0].Env, envVar1("READY", "0"))
	s := startEnv(t, env, testOptions(t))
	waitUntil(t, "backend replicas run", func() bool {
		r := replicaOf(t, s, "backend-0")
		return r.Phase == PhaseRunning && r.Containers[0].State == StateRunning
	})
	addr, _ := s.GatewayAddr("backend")
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err == nil {
		// The reset may come before or after the connect completes.
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = c.Read(make([]byte, 1))
		if err == nil {
			t.Fatal("read succeeded through a gateway with no ready replica")
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the connection hung instead of failing")
	}
	if _, err := httpGet("http://" + addr + "/"); err == nil {
		t.Fatal("HTTP through a gateway with no ready replica succeeded")
	}
}

func TestKillContainerRestartsAndCounts(t *testing.T) {
	s := startEnv(t, testEnvironment("kill"), testOptions(t))
	waitReady(t, s)
	before := replicaOf(t, s, "api-0")
	if err := s.KillContainer("api-0", "", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "api-0 restarted and ready", func() bool {
		r := replicaOf(t, s, "api-0")
		return r.Restarts == 1 && r.Ready
	})
	after := replicaOf(t, s, "api-0")
	if after.Containers[0].PID == before.Containers[0].PID || after.UID != before.UID || after.Node != before.Node {
		t.Fatalf("before %+v after %+v", before, after)
	}
	if c := after.Containers[0]; c.LastSignal != "killed" || c.LastExitCode == nil || *c.LastExitCode != 137 {
		t.Fatalf("last exit %v %q", c.LastExitCode, c.LastSignal)
	}
	// The previous run's log is kept, like kubectl logs --previous.
	prev, err := s.LogPath("api-0", LogOptions{Previous: true})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(prev)
	if err != nil || !strings.Contains(string(data), "listening on") {
		t.Fatalf("previous log %q: %v", data, err)
	}

	if err := s.KillContainer("api-0", "nope", syscall.SIGKILL); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown container: %v", err)
	}
	if err := s.KillContainer("api-9", "", syscall.SIGKILL); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown replica: %v", err)
	}
}

func TestCrashLoopBackOffGrows(t *testing.T) {
	env := testEnvironment("crash")
	env.Spec.Services = env.Spec.Services[:1]
	env.Spec.Services[0].Replicas = ptr(int32(1))
	env.Spec.Services[0].Env = append(env.Spec.Services[0].Env, envVar1("CRASH", "2"))
	opts := testOptions(t)
	opts.BackoffBase, opts.BackoffMax = 100*time.Millisecond, 800*time.Millisecond
	s, err := New(env, opts)
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := s.Subscribe()
	defer cancel()
	startOnly(t, s)

	var delays []time.Duration
	deadline := time.After(60 * time.Second)
	for len(delays) < 5 {
		select {
		case e := <-events:
			if e.Reason == "BackOff" && e.Replica != nil {
				delays = append(delays, e.Replica.Containers[0].BackOff)
				if e.Replica.Status != ReasonCrashLoopBackOff {
					t.Errorf("status during back-off %q", e.Replica.Status)
				}
			}
		case <-deadline:
			t.Fatalf("back-offs seen: %v", delays)
		}
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 800 * time.Millisecond}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("back-off delays %v, want %v", delays, want)
		}
	}
	r := replicaOf(t, s, "backend-0")
	if r.Restarts < 5 || r.Ready || r.Phase != PhaseRunning {
		t.Fatalf("replica %+v", r)
	}
}

func TestRestartPolicies(t *testing.T) {
	env := testEnvironment("policy")
	env.Spec.Services = env.Spec.Services[:1]
	never := env.Spec.Services[0]
	never.Name, never.RestartPolicy, never.Replicas = "never", "Never", ptr(int32(1))
	never.Env = append(never.Env, envVar1("CRASH", "4"))
	onf := env.Spec.Services[0]
	onf.Name, onf.RestartPolicy, onf.Replicas = "done", "OnFailure", ptr(int32(1))
	onf.Env = append(onf.Env, envVar1("CRASH", "0"))
	env.Spec.Services = append(env.Spec.Services, never, onf)
	s := startEnv(t, env, testOptions(t))
	waitUntil(t, "never-0 failed", func() bool { return replicaOf(t, s, "never-0").Phase == PhaseFailed })
	waitUntil(t, "done-0 succeeded", func() bool { return replicaOf(t, s, "done-0").Phase == PhaseSucceeded })
	if r := replicaOf(t, s, "never-0"); r.Restarts != 0 || r.Status != ReasonError {
		t.Fatalf("never-0 %+v", r)
	}
	if r := replicaOf(t, s, "done-0"); r.Restarts != 0 || r.Status != ReasonCompleted {
		t.Fatalf("done-0 %+v", r)
	}
}

func TestLivenessFailureRestarts(t *testing.T) {
	s := startEnv(t, testEnvironment("liveness"), testOptions(t))
	waitReady(t, s)
	if _, err := httpGet(replicaURL(t, s, "backend-1") + "/sick"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "backend-1 restarted by its liveness probe", func() bool {
		r := replicaOf(t, s, "backend-1")
		return r.Restarts >= 1 && r.Ready
	})
	// The liveness kill is graceful: the process saw SIGTERM.
	prev, _ := s.LogPath("backend-1", LogOptions{Previous: true})
	data, _ := os.ReadFile(prev)
	if !strings.Contains(string(data), "got signal terminated") {
		t.Fatalf("previous log of backend-1: %q", data)
	}
}

func TestGracefulStopSIGTERMThenSIGKILL(t *testing.T) {
	// A process that honours SIGTERM exits on its own (scale-down stops
	// gracefully).
	env := testEnvironment("grace")
	env.Spec.Services = env.Spec.Services[:1]
	env.Spec.Services[0].TerminationGracePeriodSeconds = ptr(int64(1))
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	logPath, _ := s.LogPath("backend-1", LogOptions{})
	if _, err := s.Scale("backend", 1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "backend-1 gone", func() bool { _, ok := s.Replica("backend-1"); return !ok })
	data, _ := os.ReadFile(logPath)
	if !strings.Contains(string(data), "exiting after terminated") {
		t.Fatalf("log of backend-1: %q", data)
	}

	// A process that ignores SIGTERM dies by SIGKILL once its grace period
	// is over, and not before.
	env2 := testEnvironment("grace2")
	env2.Spec.Services = env2.Spec.Services[:1]
	env2.Spec.Services[0].Replicas = ptr(int32(1))
	env2.Spec.Services[0].TerminationGracePeriodSeconds = ptr(int64(1))
	env2.Spec.Services[0].Env = append(env2.Spec.Services[0].Env, envVar1("IGNORE_SIGTERM", "1"))
	s2 := startEnv(t, env2, testOptions(t))
	waitReady(t, s2)
	logPath, _ = s2.LogPath("backend-0", LogOptions{})
	pid := replicaOf(t, s2, "backend-0").Containers[0].PID
	start := time.Now()
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("a process ignoring SIGTERM was gone after %s, before its 1s grace period", took)
	}
	if st := procState(pid); st != "" {
		t.Fatalf("pid %d still exists (%s)", pid, st)
	}
	data, _ = os.ReadFile(logPath)
	if !strings.Contains(string(data), "got signal terminated") || !strings.Contains(string(data), "ignoring it") {
		t.Fatalf("log: %q", data)
	}
}

func TestNodeDownReschedulesAfterEvictionDelay(t *testing.T) {
	s := startEnv(t, testEnvironment("nodedown"), testOptions(t))
	waitReady(t, s)
	before := map[string]ReplicaStatus{}
	for _, r := range s.Status().Replicas {
		before[r.Name] = r
	}
	onNode1 := []string{"backend-0", "api-1"}
	events, cancel := s.Subscribe()
	defer cancel()

	if err := s.NodeDown("node-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.NodeDown("node-1"); err == nil {
		t.Fatal("a second NodeDown of the same node succeeded")
	}
	for _, n := range onNode1 {
		r := replicaOf(t, s, n)
		if r.Ready || r.Status != ReasonNodeLost || r.Phase != PhaseUnknown {
			t.Fatalf("%s right after node-down: %+v", n, r)
		}
		if pid := before[n].Containers[0].PID; procState(pid) != "" && procState(pid) != "Z" {
			waitUntil(t, "the processes of node-1 die", func() bool { s := procState(pid); return s == "" || s == "Z" })
		}
	}
	if nodeReady(s, "node-1") {
		t.Fatal("node-1 still Ready")
	}
	waitUntil(t, "replicas of node-1 rescheduled and ready", func() bool {
		for _, n := range onNode1 {
			r := replicaOf(t, s, n)
			if !r.Ready || r.Node == "node-1" {
				return false
			}
		}
		return true
	})
	var evicted time.Time
	var down time.Time
	for len(events) > 0 {
		e := <-events
		if e.Reason == "NodeNotReady" {
			down = e.Time
		}
		if e.Reason == "Evicted" && evicted.IsZero() {
			evicted = e.Time
		}
	}
	if down.IsZero() || evicted.Sub(down) < 500*time.Millisecond {
		t.Fatalf("evicted %s after node-down, eviction delay 500ms", evicted.Sub(down))
	}
	for _, n := range onNode1 {
		r := replicaOf(t, s, n)
		if r.UID == before[n].UID || r.Restarts != 0 || r.Port != before[n].Port {
			t.Fatalf("%s rescheduled: %+v (was %+v)", n, r, before[n])
		}
	}
	// Replicas elsewhere were untouched.
	if r := replicaOf(t, s, "api-0"); r.UID != before["api-0"].UID || r.Restarts != 0 {
		t.Fatalf("api-0 touched: %+v", r)
	}
	if err := s.NodeUp("node-1"); err != nil {
		t.Fatal(err)
	}
	if !nodeReady(s, "node-1") {
		t.Fatal("node-1 not Ready after NodeUp")
	}
	// No rebalancing back onto node-1.
	for _, r := range s.Status().Replicas {
		if r.Node == "node-1" {
			t.Fatalf("%s moved back to node-1", r.Name)
		}
	}
}

func TestNodeUpBeforeEvictionRestartsInPlace(t *testing.T) {
	env := testEnvironment("nodeblip")
	env.Spec.EvictionDelay = "1h"
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	if err := s.NodeDown("node-2"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "backend-1 lost", func() bool { return replicaOf(t, s, "backend-1").Status == ReasonNodeLost })
	if err := s.NodeUp("node-2"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "backend-1 ready on node-2 again", func() bool {
		r := replicaOf(t, s, "backend-1")
		return r.Ready && r.Node == "node-2" && r.Restarts == 1
	})
}

func TestDrainKeepsServicesRunning(t *testing.T) {
	env := testEnvironment("drain")
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	events, cancel := s.Subscribe()
	defer cancel()
	ctx, done := context.WithTimeout(context.Background(), 2*time.Minute)
	defer done()
	if err := s.Drain(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Status().Replicas {
		if r.Node == "node-1" || !r.Ready {
			t.Fatalf("after drain: %s on %s ready=%v", r.Name, r.Node, r.Ready)
		}
	}
	for _, n := range s.Nodes() {
		if n.Name == "node-1" && (n.Schedulable || !n.Ready) {
			t.Fatalf("node-1 after drain: %+v", n)
		}
	}
	// Each service kept a ready replica throughout.
	ready := map[string]map[string]bool{"api": {"api-0": true, "api-1": true}, "backend": {"backend-0": true, "backend-1": true}}
	for len(events) > 0 {
		e := <-events
		if e.Kind != EventReplica || e.Replica == nil {
			continue
		}
		ready[e.Replica.Service][e.Name] = e.Replica.Ready
		n := 0
		for _, ok := range ready[e.Replica.Service] {
			if ok {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("service %s had no ready replica during the drain (at %s %s)", e.Replica.Service, e.Name, e.Reason)
		}
	}
	if err := s.Uncordon("node-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scale("api", 3); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	if r := replicaOf(t, s, "api-2"); r.Node != "node-1" {
		t.Fatalf("api-2 placed on %s, want the empty node-1", r.Node)
	}
}

func TestScaleUpAndDown(t *testing.T) {
	s := startEnv(t, testEnvironment("scale"), testOptions(t))
	waitReady(t, s)
	prev, err := s.Scale("api", 4)
	if err != nil || prev != 2 {
		t.Fatalf("Scale up: %d, %v", prev, err)
	}
	waitReady(t, s)
	if len(s.Targets()) != 6 {
		t.Fatalf("targets %d", len(s.Targets()))
	}
	prev, err = s.Scale("api", 1)
	if err != nil || prev != 4 {
		t.Fatalf("Scale down: %d, %v", prev, err)
	}
	waitUntil(t, "api-1..3 removed", func() bool { return len(s.Targets()) == 3 })
	api := gatewayURL(t, s, "api")
	for range 4 {
		if body, err := httpGet(api + "/"); err != nil || body != "api-0" {
			t.Fatalf("after scale-down: %q %v", body, err)
		}
	}
	// Down and straight back up: the terminating replica comes back.
	if _, err := s.Scale("api", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scale("api", 2); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	if _, err := s.Scale("nope", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
	if _, err := s.Scale("api", -1); err == nil {
		t.Fatal("negative scale accepted")
	}
}

func TestSetReplicaFailed(t *testing.T) {
	for _, cg := range []bool{false, true} {
		name := "sigstop"
		if cg {
			name = "cgroup"
		}
		t.Run(name, func(t *testing.T) {
			if cg && !isRoot() {
				t.Skip("needs root: cgroup freezer")
			}
			opts := testOptions(t)
			opts.DisableCgroups = !cg
			s := startEnv(t, testEnvironment("fail-"+name), opts)
			waitReady(t, s)
			pid := replicaOf(t, s, "api-1").Containers[0].PID
			if err := s.SetReplicaFailed("api-1", true); err != nil {
				t.Fatal(err)
			}
			r := replicaOf(t, s, "api-1")
			if r.Ready || !r.Frozen || r.Status != ReasonFrozen {
				t.Fatalf("failed replica %+v", r)
			}
			waitUntil(t, "the process is stopped", func() bool { st := procState(pid); return st == "T" || st == "D" || (cg && st == "S") })
			// Frozen for real: a direct request gets no answer.
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(replicaURL(t, s, "api-1"), "http://"), 5*time.Second)
			if err == nil {
				_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
				_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				if n, err := c.Read(make([]byte, 10)); err == nil || n > 0 {
					t.Fatal("a frozen replica answered")
				}
				c.Close()
			}
			// Probes are paused: liveness does not restart it.
			time.Sleep(1500 * time.Millisecond)
			if r := replicaOf(t, s, "api-1"); r.Restarts != 0 || !r.Frozen {
				t.Fatalf("frozen replica restarted: %+v", r)
			}
			for range 4 {
				if body, err := httpGet(gatewayURL(t, s, "api") + "/"); err != nil || body != "api-0" {
					t.Fatalf("gateway with api-1 failed: %q %v", body, err)
				}
			}
			if err := s.SetReplicaFailed("api-1", true); err != nil {
				t.Fatalf("second failure is not idempotent: %v", err)
			}
			if err := s.SetReplicaFailed("api-1", false); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "api-1 ready again", func() bool { return replicaOf(t, s, "api-1").Ready })
			if st := procState(pid); st != "S" && st != "R" {
				t.Fatalf("process state after restore %q", st)
			}
			if r := replicaOf(t, s, "api-1"); r.Restarts != 0 || r.Containers[0].PID != pid {
				t.Fatalf("restored replica %+v", r)
			}
			if err := s.SetReplicaFailed("api-1", false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMissingCommandIsRefusedBeforeStart(t *testing.T) {
	for _, cmd := range []string{"./no-such-server", "no-such-command-xyz", "/nonexistent/bin/server"} {
		env := testEnvironment("missing")
		env.Spec.Services[1].Command = []string{cmd, "--flag"}
		_, err := New(env, testOptions(t))
		if err == nil || !strings.Contains(err.Error(), "service api") || !strings.Contains(err.Error(), cmd) {
			t.Fatalf("command %s: %v", cmd, err)
		}
	}
	assertNoChildren(t, "")
}

func TestNonLocalEnvironmentIsRefused(t *testing.T) {
	env := testEnvironment("kube")
	env.Spec.Kube = &kubeEnv
	if _, err := New(env, testOptions(t)); err == nil || !strings.Contains(err.Error(), "Kubernetes") {
		t.Fatalf("kube environment: %v", err)
	}
	env = testEnvironment("cycle")
	env.Spec.Services[0].DependsOn = []string{"api"}
	if _, err := New(env, testOptions(t)); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
}

func TestPortInUseStopsEverything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	for _, gateway := range []bool{false, true} {
		env := testEnvironment("busy")
		if gateway {
			env.Spec.Services[1].GatewayPort = int32(port)
		} else {
			env.Spec.Services[1].Port = int32(port) // api-0 gets port
		}
		opts := testOptions(t)
		s, err := New(env, opts)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start(context.Background())
		if err == nil {
			s.Shutdown(context.Background())
			t.Fatal("Start succeeded with a port in use")
		}
		msg := err.Error()
		if !strings.Contains(msg, "service api") || !strings.Contains(msg, itoa(port)) || (!gateway && !strings.Contains(msg, "api-0")) {
			t.Fatalf("error %q does not name the service, replica and port", msg)
		}
		assertNoChildren(t, "")
		if _, err := os.Stat(s.SocketPath()); err == nil {
			t.Fatal("control socket left behind")
		}
		if _, err := ReadState(opts.StateDir, "busy"); err == nil {
			t.Fatal("state file left behind")
		}
		waitClosed(t, "supervisor done after a failed Start", s.Done())
	}
}

func TestFollowLogAcrossRestart(t *testing.T) {
	s := startEnv(t, testEnvironment("logs"), testOptions(t))
	waitReady(t, s)
	path, err := s.LogPath("backend-0", LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		_ = copyLog(ctx, pw, path, true)
		pw.Close()
	}()
	if err := s.KillContainer("backend-0", "", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Following goes on across the restart.
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 512)
	for strings.Count(string(buf), "listening on") < 2 {
		n, err := pr.Read(tmp)
		if err != nil {
			t.Fatalf("follow: %v after %q", err, buf)
		}
		buf = append(buf, tmp[:n]...)
	}
	cancel()
	pr.Close()
}

func nodeReady(s *Supervisor, name string) bool {
	for _, n := range s.Nodes() {
		if n.Name == name {
			return n.Ready
		}
	}
	return false
}

func envVar1(name, value string) v1alpha1.ServiceEnvVar {
	return v1alpha1.ServiceEnvVar{Name: name, Value: value}
}

var kubeEnv = v1alpha1.KubeEnvironment{Namespaces: []string{"default"}}

func itoa(i int) string { return strconv.Itoa(i) }

// startOnly starts s and stops it when the test ends.
func startOnly(t *testing.T, s *Supervisor) {
	t.Helper()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		assertNoChildren(t, s.Name())
	})
}

func TestTCPAndExecProbes(t *testing.T) {
	dir := t.TempDir()
	env := testEnvironment("probes")
	env.Spec.Services = env.Spec.Services[:1]
	svc := &env.Spec.Services[0]
	svc.WorkingDir = dir
	svc.ReadinessProbe = &v1alpha1.HealthProbe{TCPSocket: &v1alpha1.HealthProbeTCPSocket{}, PeriodSeconds: ptr(int32(1))}
	svc.LivenessProbe = &v1alpha1.HealthProbe{Exec: &v1alpha1.HealthProbeExec{Command: []string{"sh", "-c", "test ! -e sick-$REPLICA_NAME"}},
		PeriodSeconds: ptr(int32(1)), FailureThreshold: ptr(int32(1))}
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	marker := dir + "/sick-backend-0"
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the exec liveness probe restarted backend-0", func() bool { return replicaOf(t, s, "backend-0").Restarts >= 1 })
	os.Remove(marker)
	waitReady(t, s)
	if r := replicaOf(t, s, "backend-1"); r.Restarts != 0 {
		t.Fatalf("backend-1 restarted: %+v", r)
	}
}
