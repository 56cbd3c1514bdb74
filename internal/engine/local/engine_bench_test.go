package local

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// benchEnvironment has one service per size in sizes, each replica a
// sleep: no probes, so a replica is ready as soon as its process runs.
func benchEnvironment(name string, sizes ...int) *v1alpha1.Environment {
	env := &v1alpha1.Environment{
		TypeMeta:   v1alpha1.TypeMeta{APIVersion: v1alpha1.FaultlineAPIVersion, Kind: "Environment"},
		ObjectMeta: v1alpha1.ObjectMeta{Name: name},
		Spec: v1alpha1.EnvironmentSpec{Namespace: "bench",
			Nodes: []v1alpha1.EnvironmentNode{{Name: "node-1"}, {Name: "node-2"}, {Name: "node-3"}}},
	}
	for _, n := range sizes {
		svc := fmt.Sprintf("svc%d", n)
		env.Spec.Services = append(env.Spec.Services, v1alpha1.EnvironmentService{Name: svc, Replicas: ptr(int32(n)),
			Command: []string{"sleep", "100000"}, Labels: map[string]string{"bench": svc},
			TerminationGracePeriodSeconds: ptr(int64(0))})
	}
	return env
}

// benchOptions restart a killed container at once every time (a back-off
// that resets after 1 ns of running), so the benchmarks measure the
// supervisor, not kubelet's back-off.
func benchOptions(b *testing.B) Options {
	opts := testOptions(b)
	opts.BackoffReset = time.Nanosecond
	opts.ReadinessPollInterval = 5 * time.Millisecond
	return opts
}

// restartsOf sums the restarts of a service's replicas, and says whether
// they all run and are ready.
func restartsOf(s *Supervisor, svc string) (int, bool) {
	n, ready := 0, true
	for _, r := range s.Status().Replicas {
		if r.Service == svc {
			n += r.Restarts
			ready = ready && r.Ready
		}
	}
	return n, ready
}

// BenchmarkInjectPodKill is the time to select and inject pod-kill on 1,
// 10 and 100 replicas (journal write, selection, SIGKILL of every
// container, journal removal); the restarts are waited for outside the
// timer.
func BenchmarkInjectPodKill(b *testing.B) {
	sizes := []int{1, 10, 100}
	s := startEnv(b, benchEnvironment("benchkill", sizes...), benchOptions(b))
	waitReady(b, s)
	e := newTestEngine(b, s)
	for _, n := range sizes {
		svc := fmt.Sprintf("svc%d", n)
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			f := podChaos("kill", v1alpha1.PodKill, v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"bench": svc}}, v1alpha1.ModeAll, "", 0)
			want, _ := restartsOf(s, svc)
			for b.Loop() {
				inj, err := e.Inject(context.Background(), f)
				if err != nil {
					b.Fatal(err)
				}
				if len(inj.Targets()) != n {
					b.Fatalf("%d targets", len(inj.Targets()))
				}
				b.StopTimer()
				want += n
				waitUntil(b, svc+" restarted", func() bool { got, ready := restartsOf(s, svc); return got >= want && ready })
				b.StartTimer()
			}
			b.ReportMetric(float64(n), "targets/op")
		})
	}
}

// BenchmarkRestartLatency is the supervisor's restart latency after a
// pod-kill of one replica: until the new process runs, and until its
// readiness probe passes (polled every 5 ms) and the gateway routes to it.
func BenchmarkRestartLatency(b *testing.B) {
	env := testEnvironment("benchrestart")
	env.Spec.Services = env.Spec.Services[:1]
	env.Spec.Services[0].Replicas = ptr(int32(1))
	env.Spec.Services[0].LivenessProbe = nil
	s := startEnv(b, env, benchOptions(b))
	waitReady(b, s)
	e := newTestEngine(b, s)
	f := podChaos("kill", v1alpha1.PodKill, pods("backend-0"), v1alpha1.ModeAll, "", 0)
	var running, ready time.Duration
	for b.Loop() {
		before := replicaOf(b, s, "backend-0").Containers[0].PID
		start := time.Now()
		if _, err := e.Inject(context.Background(), f); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := s.waitFor(ctx, func() bool {
			c := s.replicas["backend-0"].containers[0]
			return c.state == StateRunning && c.pid != before && c.pid > 0
		})
		running += time.Since(start)
		if err == nil {
			err = s.waitFor(ctx, func() bool { return s.replicas["backend-0"].ready })
		}
		ready += time.Since(start)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(running.Microseconds())/1000/float64(b.N), "ms-to-running/op")
	b.ReportMetric(float64(ready.Microseconds())/1000/float64(b.N), "ms-to-ready/op")
}

// BenchmarkStopRevert50 is the time StopAll (`faultline stop`) takes to
// revert 50 active faults: a pod-failure on each of 50 replicas.
func BenchmarkStopRevert50(b *testing.B) {
	s := startEnv(b, benchEnvironment("benchstop", 50), benchOptions(b))
	waitReady(b, s)
	e := newTestEngine(b, s)
	var faults []engine.Fault
	for i := range 50 {
		faults = append(faults, podChaos(fmt.Sprintf("fail-%d", i), v1alpha1.PodFailure, v1alpha1.PodSelectorSpec{Pods: map[string][]string{"bench": {fmt.Sprintf("svc50-%d", i)}}}, v1alpha1.ModeAll, "", time.Hour))
	}
	for b.Loop() {
		b.StopTimer()
		for _, f := range faults {
			if _, err := e.Inject(context.Background(), f); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		n, err := e.StopAll(context.Background())
		if err != nil || n != 50 {
			b.Fatalf("StopAll: %d %v", n, err)
		}
	}
	b.ReportMetric(50, "faults/op")
}
