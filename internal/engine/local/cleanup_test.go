package local

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/cgroup"
	"github.com/faultline-dev/faultline/internal/engine"
)

// TestCleanupAfterSupervisorSIGKILL runs `faultline env up --detach`, kills
// the background supervisor with SIGKILL and checks that its replicas died
// with it (Pdeathsig) and that Cleanup leaves no process, cgroup, socket or
// state behind.
func TestCleanupAfterSupervisorSIGKILL(t *testing.T) {
	if faultlineErr != nil {
		t.Fatal(faultlineErr)
	}
	opts := testOptions(t)
	env := testEnvironment("crashed")
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(opts.StateDir, "env.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(faultlineBin, "env", "up", "--detach", "-f", file, "--timeout", "60s")
	cmd.Env = append(os.Environ(), "FAULTLINE_STATE_DIR="+opts.StateDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("env up --detach: %v\n%s", err, out)
	}
	st, err := ReadState(opts.StateDir, "crashed")
	if err != nil {
		t.Fatal(err)
	}
	sup := st.Owner.PID
	t.Cleanup(func() {
		// Whatever happens, leave nothing running.
		_ = syscall.Kill(sup, syscall.SIGKILL)
		_ = CleanupDir(opts.StateDir, "crashed")
	})
	var procs []ProcessState
	for _, r := range st.Replicas {
		procs = append(procs, r.Processes...)
	}
	if len(procs) != 4 || !st.Owner.Alive() {
		t.Fatalf("state after up: %+v", st)
	}
	if isRoot() {
		if _, err := cgroup.Available(); err == nil && st.CgroupParent == "" {
			t.Fatal("no cgroups recorded although they are available")
		}
	}

	if err := syscall.Kill(sup, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the supervisor is dead", func() bool { return !st.Owner.Alive() })
	// Pdeathsig: the replicas die with their supervisor, without anyone's
	// help.
	waitUntil(t, "the replicas died with the supervisor", func() bool {
		for _, p := range procs {
			if s, err := engineProcessStart(p.PID); err == nil && s == p.StartTime {
				return false
			}
		}
		return true
	})
	if _, err := Dial(opts.StateDir, "crashed"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial of a dead supervisor: %v", err)
	}
	envs, err := ListEnvironments(opts.StateDir)
	if err != nil || len(envs) != 1 || envs[0].Running {
		t.Fatalf("environments %+v: %v", envs, err)
	}

	if err := CleanupDir(opts.StateDir, "crashed"); err != nil {
		t.Fatal(err)
	}
	if isRoot() {
		if left, err := cgroup.List("faultline/crashed"); err != nil || len(left) != 0 {
			t.Fatalf("cgroups left: %v %v", left, err)
		}
	}
	for _, f := range []string{"control.sock", "state.json"} {
		if _, err := os.Stat(filepath.Join(EnvDir(opts.StateDir, "crashed"), f)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left: %v", f, err)
		}
	}
	// Logs stay, like a crashed pod's.
	if _, err := os.Stat(filepath.Join(EnvDir(opts.StateDir, "crashed"), "logs", "api-0.log")); err != nil {
		t.Fatal(err)
	}
	// Cleaning twice is fine.
	if err := CleanupDir(opts.StateDir, "crashed"); err != nil {
		t.Fatal(err)
	}

	// A new supervisor of the same environment starts cleanly on the
	// leftovers' place.
	s := startEnv(t, testEnvironment("crashed"), opts)
	waitReady(t, s)
}

// TestCleanupKillsLeftoversAndSparesReusedPIDs plants a state file as a
// dead supervisor would leave it: one replica process still alive, one
// PID now belonging to an unrelated process.
func TestCleanupKillsLeftoversAndSparesReusedPIDs(t *testing.T) {
	opts := testOptions(t)
	dir := EnvDir(opts.StateDir, "planted")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	leftover := exec.Command("sleep", "300")
	leftover.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	bystander := exec.Command("sleep", "300")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = leftover.Process.Kill()
		_ = bystander.Process.Kill()
		_ = leftover.Wait()
		_ = bystander.Wait()
	})
	lst, _ := engineProcessStart(leftover.Process.Pid)
	bst, _ := engineProcessStart(bystander.Process.Pid)
	dead := exec.Command("true")
	_ = dead.Run()
	st := &State{Name: "planted", Owner: ownerOf(dead.Process.Pid), Socket: filepath.Join(dir, "control.sock"),
		Replicas: []ReplicaState{{Name: "api-0", Processes: []ProcessState{
			{Container: "api", PID: leftover.Process.Pid, StartTime: lst},
			// Same PID as the bystander but another start time: a reused PID.
			{Container: "sidecar", PID: bystander.Process.Pid, StartTime: bst + 1},
		}}}}
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	if err := CleanupDir(opts.StateDir, "planted"); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- leftover.Wait() }()
	select {
	case err := <-waitErr:
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("leftover ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the leftover process survived Cleanup")
	}
	if s := procState(bystander.Process.Pid); s == "" || s == "Z" {
		t.Fatal("Cleanup killed a process whose PID was reused")
	}
	if _, err := ReadState(opts.StateDir, "planted"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state after cleanup: %v", err)
	}

	// A live supervisor is never cleaned up under its feet.
	s := startEnv(t, testEnvironment("alive"), opts)
	if err := CleanupDir(opts.StateDir, "alive"); err == nil || !strings.Contains(err.Error(), "still run") {
		t.Fatalf("cleanup of a live environment: %v", err)
	}
	other, err := New(testEnvironment("alive"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second supervisor of a running environment: %v", err)
	}
	waitReady(t, s)
}

func engineProcessStart(pid int) (uint64, error) { return engine.ProcessStartTime(pid) }

func ownerOf(pid int) engine.Owner { return engine.Owner{PID: pid, StartTime: 1} }
