package local

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/testwatch"
)

// Binaries built once for the package's tests.
var (
	testsvcBin   string
	faultlineBin string
	// faultlineErr is why faultline could not be built: only the tests
	// that run it fail then.
	faultlineErr error
)

func TestMain(m *testing.M) {
	// The package runs in well under a minute; a hung test fails after 6
	// minutes with the test goroutines printed last (CI keeps the tail).
	stop := testwatch.Watch(6 * time.Minute)
	code := runTests(m)
	stop()
	os.Exit(code)
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fl-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testsvcBin = filepath.Join(dir, "testsvc")
	if out, err := exec.Command("go", "build", "-o", testsvcBin, "./testdata/testsvc").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testsvc: %v\n%s", err, out)
		return 1
	}
	faultlineBin = filepath.Join(dir, "faultline")
	if out, err := exec.Command("go", "build", "-o", faultlineBin, "github.com/faultline-dev/faultline/cmd/faultline").CombinedOutput(); err != nil {
		faultlineErr = fmt.Errorf("build faultline: %v\n%s", err, out)
	}
	return m.Run()
}

func ptr[T any](v T) *T { return &v }

// testEnvironment is the standard test environment: 3 nodes, a backend
// service and an api service that depends on it, 2 replicas each, both
// with readiness and liveness probes on the test service.
func testEnvironment(name string) *v1alpha1.Environment {
	probe := func(path string) *v1alpha1.HealthProbe {
		return &v1alpha1.HealthProbe{HTTPGet: &v1alpha1.HealthProbeHTTPGet{Path: path},
			PeriodSeconds: ptr(int32(1)), FailureThreshold: ptr(int32(1))}
	}
	// Liveness gives a starting process a second, as kubelet users do
	// with initialDelaySeconds: a liveness probe that fails before the
	// server listens restarts it for nothing.
	liveness := probe("/healthz")
	liveness.InitialDelaySeconds, liveness.FailureThreshold = 1, ptr(int32(2))
	svc := func(name string, deps ...string) v1alpha1.EnvironmentService {
		return v1alpha1.EnvironmentService{
			Name: name, Replicas: ptr(int32(2)), Command: []string{testsvcBin},
			Labels: map[string]string{"tier": name}, DependsOn: deps,
			ReadinessProbe: probe("/ready"), LivenessProbe: liveness,
			TerminationGracePeriodSeconds: ptr(int64(5)),
		}
	}
	return &v1alpha1.Environment{
		TypeMeta:   v1alpha1.TypeMeta{APIVersion: v1alpha1.FaultlineAPIVersion, Kind: "Environment"},
		ObjectMeta: v1alpha1.ObjectMeta{Name: name},
		Spec: v1alpha1.EnvironmentSpec{
			Namespace:     "chaos",
			EvictionDelay: "500ms",
			Nodes: []v1alpha1.EnvironmentNode{
				{Name: "node-1", Labels: map[string]string{"zone": "a"}},
				{Name: "node-2", Labels: map[string]string{"zone": "b"}},
				{Name: "node-3", Labels: map[string]string{"zone": "c"}},
			},
			Services: []v1alpha1.EnvironmentService{svc("backend"), svc("api", "backend")},
		},
	}
}

// testOptions are fast supervisor options in a fresh, short state
// directory (unix socket paths are limited to 107 bytes).
func testOptions(t testing.TB) Options {
	dir, err := os.MkdirTemp("", "fl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return Options{StateDir: dir, BackoffBase: 200 * time.Millisecond, BackoffMax: 2 * time.Second,
		ReadinessPollInterval: 50 * time.Millisecond}
}

// startEnv starts env and stops it (and checks nothing is left running)
// when the test ends.
func startEnv(t testing.TB, env *v1alpha1.Environment, opts Options) *Supervisor {
	t.Helper()
	s, err := New(env, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		assertNoChildren(t, s.Name())
	})
	return s
}

func waitReady(t testing.TB, s *Supervisor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("%v\n%s", err, dumpStatus(s))
	}
}

// waitClosed waits for ch to close, failing the test after a generous
// deadline instead of hanging.
func waitClosed(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}

// waitGroupDone closes the returned channel once wg's count is zero.
func waitGroupDone(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		wg.Wait()
		close(ch)
	}()
	return ch
}

// testContext is a context for the calls of one test: it ends with the
// test, and after a generous deadline, so a stuck call fails instead of
// hanging.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond until it holds or a generous deadline passes: never
// an upper bound on how fast the machine is, only a guard against hangs.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dumpStatus(s *Supervisor) string {
	var b strings.Builder
	for _, r := range s.Status().Replicas {
		fmt.Fprintf(&b, "  %s node=%s phase=%s status=%s ready=%v restarts=%d\n", r.Name, r.Node, r.Phase, r.Status, r.Ready, r.Restarts)
	}
	return b.String()
}

func replicaOf(t testing.TB, s *Supervisor, name string) ReplicaStatus {
	t.Helper()
	r, ok := s.Replica(name)
	if !ok {
		t.Fatalf("no replica %s", name)
	}
	return r
}

// httpGet sends a GET on a new connection (so the gateway balances it).
func httpGet(url string) (string, error) {
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("%s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

func gatewayURL(t testing.TB, s *Supervisor, svc string) string {
	t.Helper()
	addr, err := s.GatewayAddr(svc)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

func replicaURL(t testing.TB, s *Supervisor, name string) string {
	return "http://127.0.0.1:" + strconv.Itoa(replicaOf(t, s, name).Port)
}

// childPIDs lists the live processes whose parent is this test binary and
// that belong to environment env (all when "").
func childPIDs(env string) []int {
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != self {
			continue
		}
		if env != "" {
			environ, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
			if !strings.Contains("\x00"+string(environ), "\x00FAULTLINE_ENVIRONMENT="+env+"\x00") {
				continue
			}
		}
		out = append(out, pid)
	}
	return out
}

// assertNoChildren fails when a process this test binary started for
// environment env ("": any) still runs, after a short grace for exits in
// flight.
func assertNoChildren(t testing.TB, env string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := childPIDs(env)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, pid := range left {
				cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				desc = append(desc, fmt.Sprintf("%d %q", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
			}
			t.Errorf("processes left running: %s", strings.Join(desc, "; "))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procState is the state letter of /proc/PID/stat (R, S, T, D…).
func procState(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	return f[0]
}

func isRoot() bool { return os.Geteuid() == 0 }
