package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// helperEnv makes the test binary a detached supervisor (see
// TestHelperSupervisor): its value is the environment's JSON file.
const helperEnv = "FAULTLINE_TEST_SUPERVISOR"

// TestHelperSupervisor is not a test on its own: the crash-safety test runs
// the test binary with it as a supervisor with the fault engine in a
// process of its own, which it can SIGKILL — what `faultline env up
// --detach` runs, without depending on the CLI.
func TestHelperSupervisor(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process of TestCrashSafety")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var env v1alpha1.Environment
	if err := json.Unmarshal(data, &env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := New(&env, Options{StateDir: engine.StateDir(), BackoffBase: 200 * time.Millisecond, BackoffMax: 2 * time.Second,
		ReadinessPollInterval: 50 * time.Millisecond})
	if err == nil {
		err = s.Start(context.Background())
	}
	var e *Engine
	if err == nil {
		e, err = AttachEngine(s, EngineOptions{Lease: 3 * time.Second})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper supervisor:", err)
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sigs:
	case <-s.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = e.Close(ctx)
	_ = s.Shutdown(ctx)
	os.Exit(0)
}

// startHelperSupervisor runs env in a supervisor process of its own and
// waits until it is ready.
func startHelperSupervisor(t *testing.T, stateDir string, env *v1alpha1.Environment) *exec.Cmd {
	t.Helper()
	tmp := t.TempDir()
	envFile := filepath.Join(tmp, "env.json")
	data, _ := json.Marshal(env)
	if err := os.WriteFile(envFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSupervisor$", "-test.count=1")
	// TMPDIR: the helper's TestMain builds its binaries there, and a
	// SIGKILLed helper cannot remove them itself.
	cmd.Env = append(os.Environ(), helperEnv+"="+envFile, "FAULTLINE_STATE_DIR="+stateDir, "TMPDIR="+tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A replica that inherited the output pipe must not keep Wait waiting.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Errorf("helper supervisor did not exit after SIGKILL")
			}
		}
		_, _ = Recover(context.Background(), stateDir, RecoverOptions{Force: true})
		_ = CleanupDir(stateDir, env.Name)
	})
	deadline := time.Now().Add(120 * time.Second)
	for {
		if c, err := Dial(stateDir, env.Name); err == nil {
			st, err := c.Status(context.Background())
			c.Close()
			if err == nil && st.Ready {
				return cmd
			}
		}
		select {
		case <-exited:
			t.Fatalf("helper supervisor exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper supervisor not ready after 2 minutes: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const crashFaults = `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: freeze-api}
spec:
  action: pod-failure
  mode: all
  selector: {pods: {chaos: [api-1]}}
  duration: 10m
`

const crashStress = `---
apiVersion: chaos-mesh.org/v1alpha1
kind: StressChaos
metadata: {name: burn-backend}
spec:
  mode: all
  selector: {pods: {chaos: [backend-0]}}
  stressors:
    cpu: {workers: 1, load: 30}
  duration: 10m
`

// runInjectClient starts `faultline inject` against the environment.
func runInjectClient(t *testing.T, stateDir, file, env string, args ...string) (*exec.Cmd, *bytes.Buffer, chan struct{}) {
	t.Helper()
	cmd := exec.Command(faultlineBin, append([]string{"inject", "-f", file, "--env", env}, args...)...)
	cmd.Env = append(os.Environ(), "FAULTLINE_STATE_DIR="+stateDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			t.Errorf("faultline inject did not exit after SIGKILL")
		}
	})
	return cmd, &out, exited
}

// stressProcsIn lists the stress-ng processes in the environment's cgroups.
func stressProcsIn(env string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		if !strings.HasPrefix(string(comm), "stress-ng") {
			continue
		}
		cg, _ := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if st := procState(pid); st != "" && st != "Z" && strings.Contains(string(cg), "/faultline/"+env+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// envCgroupDirs lists the cgroup directories left for the environment.
func envCgroupDirs(env string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/faultline/" + env)
	if d := "/sys/fs/cgroup/faultline/" + env; dirExists(d) {
		dirs = append(dirs, d)
	}
	return dirs
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func TestCrashSafety(t *testing.T) {
	if faultlineErr != nil {
		t.Fatal(faultlineErr)
	}
	stateDir := testOptions(t).StateDir
	const name = "crashenv"
	env := testEnvironment(name)
	startHelperSupervisor(t, stateDir, env)
	file := filepath.Join(t.TempDir(), "faults.yaml")
	faults := crashFaults
	withStress := isRoot()
	if withStress {
		faults += crashStress
	} else {
		t.Log("not root: the stress part is skipped (needs root: cgroups)")
	}
	if err := os.WriteFile(file, []byte(faults), 0o644); err != nil {
		t.Fatal(err)
	}
	want := 1
	if withStress {
		want = 2
	}
	c, err := Dial(stateDir, name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testContext(t)
	journal := journalIn(t, stateDir)
	replica := func(n string) ReplicaStatus {
		r, err := c.Replica(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return *r
	}
	waitActive := func(out *bytes.Buffer) {
		waitUntil(t, "both faults active", func() bool {
			list, err := c.Injections(ctx)
			return err == nil && len(list) == want && replica("api-1").Frozen && (!withStress || len(stressProcsIn(name)) > 0)
		})
	}

	// 1. The inject client dies: its connection was the lease, the
	// supervisor reverts.
	client, out, exited := runInjectClient(t, stateDir, file, name)
	waitActive(out)
	if err := client.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, "faultline inject exited after SIGKILL", exited)
	waitUntil(t, "the supervisor reverted after its client died", func() bool {
		list, err := c.Injections(ctx)
		return err == nil && len(list) == 0 && !replica("api-1").Frozen && len(stressProcsIn(name)) == 0
	})
	if entries, _ := journal.List(); len(entries) != 0 {
		t.Fatalf("journal after the client died: %+v", entries)
	}

	// 2. The supervisor dies mid-fault: `faultline recover` reverts.
	_, out2, exited2 := runInjectClient(t, stateDir, file, name)
	waitActive(out2)
	st, err := ReadState(stateDir, name)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, r := range st.Replicas {
		for _, p := range r.Processes {
			pids = append(pids, p.PID)
		}
	}
	pids = append(pids, stressProcsIn(name)...)
	entries, _ := journal.List()
	if len(entries) != want {
		t.Fatalf("journal during the faults: %+v", entries)
	}
	if err := syscall.Kill(st.Owner.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the supervisor is gone", func() bool { return !st.Owner.Alive() })
	select {
	case <-exited2:
	case <-time.After(60 * time.Second):
		t.Fatalf("faultline inject still running after its supervisor died: %s", out2.String())
	}

	rec := exec.CommandContext(ctx, faultlineBin, "recover")
	rec.Env = append(os.Environ(), "FAULTLINE_STATE_DIR="+stateDir)
	recOut, err := rec.CombinedOutput()
	if err != nil {
		t.Fatalf("faultline recover: %v\n%s", err, recOut)
	}
	t.Logf("faultline recover:\n%s", recOut)
	if !strings.Contains(string(recOut), "reverted") || !strings.Contains(string(recOut), "environment "+name) {
		t.Fatalf("recover output:\n%s", recOut)
	}
	waitUntil(t, "every process of the environment gone (none stopped or frozen)", func() bool {
		for _, pid := range pids {
			if s := procState(pid); s != "" && s != "Z" {
				return false
			}
		}
		return true
	})
	if left := stressProcsIn(name); len(left) != 0 {
		t.Fatalf("stress-ng left: %v", left)
	}
	if dirs := envCgroupDirs(name); len(dirs) != 0 {
		t.Fatalf("cgroups left: %v", dirs)
	}
	if entries, _ := journal.List(); len(entries) != 0 {
		t.Fatalf("journal after recover: %+v", entries)
	}
	if _, err := ReadState(stateDir, name); !os.IsNotExist(err) {
		t.Fatalf("state file after recover: %v", err)
	}
	// Nothing left to do on a second run.
	again := exec.CommandContext(ctx, faultlineBin, "recover")
	again.Env = rec.Env
	if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), "nothing to recover") {
		t.Fatalf("second recover: %v\n%s", err, out)
	}
}
