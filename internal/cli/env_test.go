package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
)

// envTestBinaries builds faultline (for `env up --detach`, which re-executes
// its own binary) and the local engine's test service, once per test run.
var envTestBinaries = sync.OnceValues(func() (bins [2]string, err error) {
	dir, err := os.MkdirTemp("", "flcli-bin")
	if err != nil {
		return bins, err
	}
	bins = [2]string{filepath.Join(dir, "faultline"), filepath.Join(dir, "testsvc")}
	for i, pkg := range []string{"github.com/faultline-dev/faultline/cmd/faultline", "../engine/local/testdata/testsvc"} {
		if out, err := exec.Command("go", "build", "-o", bins[i], pkg).CombinedOutput(); err != nil {
			return bins, fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return bins, nil
})

// envTestSetup builds the binaries, points FAULTLINE_STATE_DIR at a fresh
// short directory and writes an environment file of 3 nodes and 2
// services of 2 replicas each.
func envTestSetup(t *testing.T, name string) (faultline, file string) {
	t.Helper()
	bins, err := envTestBinaries()
	if err != nil {
		t.Fatal(err)
	}
	stateDir, err := os.MkdirTemp("", "flce") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stateDir) })
	t.Setenv("FAULTLINE_STATE_DIR", stateDir)
	dir := t.TempDir()
	if err := os.Symlink(bins[1], filepath.Join(dir, "testsvc")); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "env.yaml")
	manifest := `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata:
  name: ` + name + `
spec:
  namespace: shop
  nodes: [{name: node-1}, {name: node-2}, {name: node-3}]
  services:
    - name: backend
      replicas: 2
      command: [./testsvc]
      readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}
      terminationGracePeriodSeconds: 5
    - name: api
      replicas: 2
      command: [./testsvc]
      dependsOn: [backend]
      readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}
      terminationGracePeriodSeconds: 5
`
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Never leave a supervisor behind, whatever failed.
		if st, err := local.ReadState(engine.StateDir(), name); err == nil && st.Owner.Alive() && st.Owner.PID != os.Getpid() {
			_ = syscall.Kill(st.Owner.PID, syscall.SIGKILL)
		}
		_ = local.CleanupDir(stateDir, name)
		envTestAssertGone(t, name)
	})
	return bins[0], file
}

func envTestRun(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// envTestAssertGone fails when a process of environment env still runs.
func envTestAssertGone(t *testing.T, env string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			environ, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
			stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
				continue
			}
			if bytes.Contains(append([]byte{0}, environ...), []byte("\x00FAULTLINE_ENVIRONMENT="+env+"\x00")) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of environment %s left running: %v", env, left)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEnvUpDetachStatusLogsDown(t *testing.T) {
	bin, file := envTestSetup(t, "clienv")

	up := exec.Command(bin, "env", "up", "-f", file, "--detach", "--timeout", "60s")
	out, err := up.CombinedOutput()
	if err != nil {
		t.Fatalf("env up --detach: %v\n%s", err, out)
	}
	for _, want := range []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "api-0", "1/1", "Running", "node-3", "GATEWAY", "http://127.0.0.1:"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("env up output lacks %q:\n%s", want, out)
		}
	}
	st, err := local.ReadState(engine.StateDir(), "clienv")
	if err != nil || !st.Owner.Alive() {
		t.Fatalf("supervisor after env up: %+v %v", st, err)
	}

	code, stdout, stderr := envTestRun("env", "status", "-o", "json")
	if code != 0 {
		t.Fatalf("env status: %d %s", code, stderr)
	}
	var status local.Status
	if err := json.Unmarshal([]byte(stdout), &status); err != nil {
		t.Fatalf("env status -o json: %v\n%s", err, stdout)
	}
	if status.Name != "clienv" || len(status.Replicas) != 4 || !status.Ready || status.Replicas[0].Namespace != "shop" {
		t.Fatalf("status %+v", status)
	}
	code, stdout, _ = envTestRun("env", "status", "--name", "clienv", "-o", "yaml")
	if code != 0 || !strings.Contains(stdout, "name: clienv") {
		t.Fatalf("env status -o yaml: %d\n%s", code, stdout)
	}
	code, stdout, _ = envTestRun("env", "list")
	if code != 0 || !strings.Contains(stdout, "clienv") || !strings.Contains(stdout, "Running") {
		t.Fatalf("env list: %d\n%s", code, stdout)
	}

	code, stdout, stderr = envTestRun("env", "logs", "api-0")
	if code != 0 || !strings.Contains(stdout, "listening on") || !strings.Contains(stdout, "api-0") {
		t.Fatalf("env logs: %d %q %s", code, stdout, stderr)
	}
	if code, _, stderr = envTestRun("env", "logs", "api-0", "--previous"); code != 1 || !strings.Contains(stderr, "no log") {
		t.Fatalf("env logs --previous without a restart: %d %s", code, stderr)
	}
	if code, _, stderr = envTestRun("env", "logs", "nope-0"); code != 1 || !strings.Contains(stderr, "nope-0") {
		t.Fatalf("env logs of an unknown replica: %d %s", code, stderr)
	}
	// Follow goes on until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	var fout bytes.Buffer
	code = Run(ctx, []string{"env", "logs", "-f", "backend-1"}, IO{In: strings.NewReader(""), Out: &fout, Err: &fout})
	cancel()
	if code != 0 || !strings.Contains(fout.String(), "backend-1") {
		t.Fatalf("env logs -f: %d %s", code, fout.String())
	}

	code, stdout, stderr = envTestRun("env", "down")
	if code != 0 || !strings.Contains(stdout, "stopped") {
		t.Fatalf("env down: %d %s %s", code, stdout, stderr)
	}
	if st.Owner.Alive() {
		t.Fatal("the supervisor still runs after env down")
	}
	envTestAssertGone(t, "clienv")
	if code, _, stderr = envTestRun("env", "status"); code != 1 || !strings.Contains(stderr, "no local environment is running") {
		t.Fatalf("env status after down: %d %s", code, stderr)
	}
	// Logs outlive the environment.
	if code, stdout, _ = envTestRun("env", "logs", "api-1", "--name", "clienv"); code != 0 || !strings.Contains(stdout, "listening on") {
		t.Fatalf("env logs after down: %d %q", code, stdout)
	}
}

func TestEnvUpForegroundStopsOnSignal(t *testing.T) {
	_, file := envTestSetup(t, "clifg")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb envTestBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"env", "up", "-f", file}, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(errb.String(), "is ready") {
		select {
		case code := <-done:
			t.Fatalf("env up ended early with %d: %s", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %s\n%s", errb.String(), out.String())
		}
	}
	code, stdout, _ := envTestRun("env", "status")
	if code != 0 || !strings.Contains(stdout, "backend-1") {
		t.Fatalf("env status of a foreground environment: %d\n%s", code, stdout)
	}
	cancel() // what SIGINT/SIGTERM do through main's signal context
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("env up exit %d: %s", code, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("env up did not stop")
	}
	for _, want := range []string{"Scheduled", "Started", "Ready", "api-1", "Stopped"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("event output lacks %q:\n%s", want, out.String())
		}
	}
	envTestAssertGone(t, "clifg")
}

func TestEnvUpBadInput(t *testing.T) {
	_, file := envTestSetup(t, "clibad")
	data, _ := os.ReadFile(file)

	missing := filepath.Join(filepath.Dir(file), "missing.yaml")
	_ = os.WriteFile(missing, bytes.Replace(data, []byte("command: [./testsvc]\n      dependsOn"), []byte("command: [./no-such-server]\n      dependsOn"), 1), 0o644)
	for _, detach := range []bool{false, true} {
		args := []string{"env", "up", "-f", missing}
		if detach {
			args = append(args, "--detach")
		}
		code, _, stderr := envTestRun(args...)
		if code != 1 || !strings.Contains(stderr, "service api") || !strings.Contains(stderr, "./no-such-server") {
			t.Fatalf("missing command (detach %v): %d %s", detach, code, stderr)
		}
	}
	envTestAssertGone(t, "clibad")

	invalid := filepath.Join(filepath.Dir(file), "invalid.yaml")
	_ = os.WriteFile(invalid, bytes.Replace(data, []byte("replicas: 2"), []byte("replicas: two"), 1), 0o644)
	if code, _, stderr := envTestRun("env", "up", "-f", invalid); code != 1 || !strings.Contains(stderr, "invalid.yaml:") {
		t.Fatalf("invalid manifest: %d %s", code, stderr)
	}
	if code, _, _ := envTestRun("env", "up"); code != 2 {
		t.Fatalf("no -f: %d", code)
	}
	if code, _, _ := envTestRun("env", "up", "-f", file, "-o", "xml"); code != 2 {
		t.Fatalf("bad -o: %d", code)
	}
	if code, _, stderr := envTestRun("env", "down", "--name", "nothing"); code != 1 || !strings.Contains(stderr, "not running") {
		t.Fatalf("down of an unknown environment: %d %s", code, stderr)
	}
}

func TestEnvDownAfterSupervisorDied(t *testing.T) {
	bin, file := envTestSetup(t, "clidead")
	if out, err := exec.Command(bin, "env", "up", "-f", file, "--detach").CombinedOutput(); err != nil {
		t.Fatalf("env up --detach: %v\n%s", err, out)
	}
	st, err := local.ReadState(engine.StateDir(), "clidead")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.Owner.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for st.Owner.Alive() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	code, stdout, _ := envTestRun("env", "list")
	if code != 0 || !strings.Contains(stdout, "Dead") {
		t.Fatalf("env list with a dead supervisor: %d\n%s", code, stdout)
	}
	code, stdout, stderr := envTestRun("env", "down")
	if code != 0 || !strings.Contains(stdout, "cleaned up") {
		t.Fatalf("env down of a dead supervisor: %d %s %s", code, stdout, stderr)
	}
	envTestAssertGone(t, "clidead")
	if _, err := local.ReadState(engine.StateDir(), "clidead"); !os.IsNotExist(err) {
		t.Fatalf("state after down: %v", err)
	}
}

// envTestBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type envTestBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *envTestBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *envTestBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
