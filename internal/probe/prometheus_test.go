package probe

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// TestPrometheusProbe runs the real Prometheus server (Debian package
// prometheus, installed by hack/install-deps.sh) scraping a test target,
// so the probe is checked against the real /api/v1/query, not a mock.
func TestPrometheusProbe(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the prometheus binary is not in PATH and CI=true: hack/install-deps.sh installs it (Debian package prometheus)")
		}
		t.Skip("skipping: the prometheus binary is not in PATH; run hack/install-deps.sh as root (Debian package prometheus)")
	}
	t.Parallel()

	reg := prometheus.NewRegistry() // not the global registry: no shared state between tests
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "faultline_test_queue_depth", Help: "Requests waiting, per replica.",
	}, []string{"replica"})
	reg.MustRegister(depth)
	depth.WithLabelValues("model-0").Set(3)
	depth.WithLabelValues("model-1").Set(5)
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer target.Close()

	promURL := startPrometheus(t, bin, strings.TrimPrefix(target.URL, "http://"))

	probe := func(query string, op v1alpha1.ComparisonOperator, v float64) Probe {
		return mustNew(t, v1alpha1.ExperimentProbe{Name: "prom", Type: v1alpha1.ProbePrometheusType, Timeout: "10s",
			Prometheus: &v1alpha1.ProbePrometheus{URL: promURL, Query: query,
				Comparator: &v1alpha1.NumericComparator{Criteria: op, Value: v}}}, nil)
	}
	// The first scrape lands within a scrape interval of start; wait for it
	// through the probe itself.
	ready := probe(`faultline_test_queue_depth{replica="model-0"}`, "==", 3)
	waitFor(t, "Prometheus to have scraped the target", func() bool { return check(t, ready).OK })

	tests := []struct {
		name  string
		query string
		op    v1alpha1.ComparisonOperator
		value float64
		ok    bool
		msg   []string
	}{
		{"single sample passes", `faultline_test_queue_depth{replica="model-0"}`, "<=", 3, true, []string{"value 3 <= 3"}},
		{"single sample fails", `faultline_test_queue_depth{replica="model-1"}`, "<", 5, false, []string{"value 5 is not < 5"}},
		{"aggregate", `sum(faultline_test_queue_depth)`, "==", 8, true, nil},
		{"not equal", `max(faultline_test_queue_depth)`, "!=", 5, false, []string{"value 5 is not != 5"}},
		{"scalar", `scalar(sum(faultline_test_queue_depth)) * 2`, ">=", 16, true, []string{"value 16 >= 16"}},
		{"scrape health", `up{job="target"}`, "==", 1, true, nil},
		{"no sample", `faultline_test_not_a_metric`, "==", 0, false, []string{"returned no sample"}},
		{"several samples", `faultline_test_queue_depth`, ">", 0, false, []string{"returned 2 samples", "aggregate them"}},
		{"range vector", `faultline_test_queue_depth[1m]`, ">", 0, false, []string{"range vector"}},
		{"bad PromQL", `sum(`, ">", 0, false, []string{"query sum(:", "parse error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkWant(t, check(t, probe(tc.query, tc.op, tc.value)), tc.ok, tc.msg...)
		})
	}

	t.Run("server as a service of the environment", func(t *testing.T) {
		env := StaticEnv{URLs: map[string]string{"prometheus-k8s.monitoring:web": promURL}}
		p := mustNew(t, v1alpha1.ExperimentProbe{Name: "prom", Type: v1alpha1.ProbePrometheusType, Timeout: "10s",
			Prometheus: &v1alpha1.ProbePrometheus{Service: "prometheus-k8s.monitoring:web", Query: `sum(faultline_test_queue_depth)`,
				Comparator: &v1alpha1.NumericComparator{Criteria: "==", Value: 8}}}, env)
		checkWant(t, check(t, p), true)
		if _, err := New(v1alpha1.ExperimentProbe{Name: "prom", Type: v1alpha1.ProbePrometheusType,
			Prometheus: &v1alpha1.ProbePrometheus{Service: "nope", Query: "up", Comparator: &v1alpha1.NumericComparator{Criteria: "==", Value: 1}}}, env); err == nil || !strings.Contains(err.Error(), `unknown service "nope"`) {
			t.Fatalf("an unknown service must be an error naming it, got %v", err)
		}
	})

	t.Run("unreachable server", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gone := "http://" + l.Addr().String()
		l.Close()
		p := mustNew(t, v1alpha1.ExperimentProbe{Name: "prom", Type: v1alpha1.ProbePrometheusType,
			Prometheus: &v1alpha1.ProbePrometheus{URL: gone, Query: "up", Comparator: &v1alpha1.NumericComparator{Criteria: "==", Value: 1}}}, nil)
		checkWant(t, check(t, p), false, "query up: Post \"http://", "connection refused")
	})
}

// startPrometheus runs Prometheus on a free loopback port, scraping target
// every second, and returns its URL once it is ready.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: target
    static_configs:
      - targets: [%q]
`, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // Prometheus binds it next; a race with another process is unlikely on loopback

	var logs syncBuffer
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})

	u := "http://" + addr
	client := &http.Client{Transport: newTransport(), Timeout: 5 * time.Second}
	waitFor(t, "Prometheus to be ready", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"/-/ready", nil)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return u
}

// syncBuffer is a bytes.Buffer safe for the process's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
