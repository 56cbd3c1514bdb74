package local

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// supervisorBenchEnv is one service of one replica on one node.
func supervisorBenchEnv(name string, readiness bool) *v1alpha1.Environment {
	env := testEnvironment(name)
	env.Spec.Nodes = env.Spec.Nodes[:1]
	svc := env.Spec.Services[0]
	svc.Replicas = ptr(int32(1))
	svc.LivenessProbe = nil
	if !readiness {
		svc.ReadinessProbe = nil
	}
	env.Spec.Services = []v1alpha1.EnvironmentService{svc}
	return env
}

// BenchmarkSupervisorRestart measures the time from SIGKILL of a replica to
// the replica being Ready again: exit noticed, process restarted (back-off
// disabled), and — with a readiness probe — the probe passing.
func BenchmarkSupervisorRestart(b *testing.B) {
	for _, tc := range []struct {
		name      string
		readiness bool
	}{{"no-probe", false}, {"http-readiness", true}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := testOptions(b)
			// Every restart immediate: a run of any length resets the
			// back-off.
			opts.BackoffReset = time.Nanosecond
			opts.ReadinessPollInterval = 5 * time.Millisecond
			s := startEnv(b, supervisorBenchEnv("bench-restart", tc.readiness), opts)
			waitReady(b, s)
			events, cancel := s.Subscribe()
			defer cancel()
			for b.Loop() {
				if err := s.KillContainer("backend-0", "", syscall.SIGKILL); err != nil {
					b.Fatal(err)
				}
				for e := range events {
					if e.Name == "backend-0" && e.Reason == "Ready" {
						break
					}
				}
			}
		})
	}
}

// BenchmarkGateway compares a request through the service gateway with the
// same request sent to the replica directly, on kept-alive connections
// (latency of the hop), on a new connection per request (accept and
// balancing cost), and for a 1 MiB response (throughput, splice).
func BenchmarkGateway(b *testing.B) {
	opts := testOptions(b)
	s := startEnv(b, supervisorBenchEnv("bench-gw", true), opts)
	waitReady(b, s)
	targets := map[string]string{
		"direct":  replicaURL(b, s, "backend-0"),
		"gateway": gatewayURL(b, s, "backend"),
	}
	for _, path := range []string{"direct", "gateway"} {
		base := targets[path]
		b.Run("keepalive/"+path, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			benchGet(b, &http.Client{Transport: tr}, base+"/")
		})
		b.Run("newconn/"+path, func(b *testing.B) {
			tr := &http.Transport{DisableKeepAlives: true}
			benchGet(b, &http.Client{Transport: tr}, base+"/")
		})
		b.Run("bulk1MiB/"+path, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			b.SetBytes(1 << 20)
			benchGet(b, &http.Client{Transport: tr}, base+"/bulk?n="+strconv.Itoa(1<<20))
		})
	}
}

func benchGet(b *testing.B, cl *http.Client, url string) {
	ctx := context.Background()
	for b.Loop() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := cl.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

// BenchmarkRestartVsForkExec puts the supervisor's restart in proportion:
// each iteration SIGKILLs a replica and waits until it is Ready again
// (readiness polled every 5 ms), then starts the same binary by hand with
// fork/exec and polls its /ready every 5 ms until it answers — the least
// any supervisor could do. The ratio of the two, measured in the same
// iterations, is what docs/BENCHMARKS.md reports.
func BenchmarkRestartVsForkExec(b *testing.B) {
	opts := testOptions(b)
	opts.BackoffReset = time.Nanosecond
	opts.ReadinessPollInterval = 5 * time.Millisecond
	s := startEnv(b, supervisorBenchEnv("bench-ratio", true), opts)
	waitReady(b, s)
	events, cancel := s.Subscribe()
	defer cancel()
	port, err := freePort()
	if err != nil {
		b.Fatal(err)
	}
	readyURL := "http://127.0.0.1:" + strconv.Itoa(port) + "/ready"
	cl := &http.Client{Timeout: time.Second}
	var sup, ref time.Duration
	for b.Loop() {
		start := time.Now()
		if err := s.KillContainer("backend-0", "", syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		for e := range events {
			if e.Name == "backend-0" && e.Reason == "Ready" {
				break
			}
		}
		sup += time.Since(start)

		start = time.Now()
		cmd := exec.Command(testsvcBin)
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "NAME=ref")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			resp, err := cl.Get(readyURL)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				b.Fatal("the reference process never became ready")
			}
			time.Sleep(5 * time.Millisecond)
		}
		ref += time.Since(start)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	n := float64(b.N)
	b.ReportMetric(float64(sup.Microseconds())/n, "restart-µs/op")
	b.ReportMetric(float64(ref.Microseconds())/n, "forkexec-µs/op")
	b.ReportMetric(float64(sup)/float64(ref), "restart/forkexec")
}
