package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
)

// testParent returns a fresh parent group path for one test, or skips the
// test when cgroups cannot be used here (in CI, where the machine is known
// to support them, it fails instead). Cleanup deletes the parent and
// everything below it even when the test fails.
func testParent(t *testing.T) string {
	t.Helper()
	return testParentIn(t, nil)
}

// testParentIn is testParent for an explicit layout (nil: the host's).
func testParentIn(t *testing.T, lay *layout) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates cgroups")
	}
	if _, err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cgroups unavailable in CI: %v", err)
		}
		t.Skipf("cgroups unavailable: %v", err)
	}
	parent := fmt.Sprintf("%s/test-%s-%d-%d", Root, strings.ReplaceAll(t.Name(), "/", "_"), os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		if lay == nil {
			var err error
			if lay, err = detect(); err != nil {
				t.Errorf("cleanup: %v", err)
				return
			}
		}
		g, err := open(lay, parent)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		if err := g.Delete(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return parent
}

// start runs a command and arranges for it to be killed and reaped at the
// end of the test.
func start(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd
}

func startBusy(t *testing.T) *exec.Cmd {
	return start(t, "sh", "-c", "while :; do :; done")
}

// procCPU is the CPU time a process has used, from /proc/<pid>/stat
// (utime + stime, in USER_HZ = 100 ticks per second).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("read stat of %d: %v", pid, err)
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return strings.TrimSpace(string(data))
}

// eventually polls cond until it holds or a generous deadline passes; the
// deadline only bounds a failing test, it asserts nothing about speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hierarchyDirs lists where a group path could be on this host, found
// independently of the package: every mounted hierarchy under
// /sys/fs/cgroup and the unified root itself.
func hierarchyDirs(t *testing.T, p string) []string {
	t.Helper()
	dirs := []string{filepath.Join("/sys/fs/cgroup", p)}
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", e.Name(), p))
	}
	return dirs
}

func TestPathsOutsideRootAreRefused(t *testing.T) {
	for _, p := range []string{"", "/", "system.slice", "/user.slice/x", "faultline/../etc", "faultline/./x", "faultlinex/a"} {
		if _, err := groupPath(p); err == nil {
			t.Errorf("groupPath(%q) accepted", p)
		}
	}
	for in, want := range map[string]string{"faultline": "/faultline", "/faultline/env/r-0": "/faultline/env/r-0", "faultline//env/": "/faultline/env"} {
		if got, err := groupPath(in); err != nil || got != want {
			t.Errorf("groupPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Create("faultline/env", "a/b", Limits{}); err == nil {
		t.Error("Create accepted a name with a slash")
	}
	if _, err := Create("faultline/env", "..", Limits{}); err == nil {
		t.Error(`Create accepted the name ".."`)
	}
	if _, err := Create("etc", "x", Limits{}); err == nil {
		t.Error("Create accepted a parent outside faultline")
	}
	if _, err := Open("/sys/fs/cgroup"); err == nil {
		t.Error("Open accepted a path outside faultline")
	}
	for _, l := range []Limits{{CPUQuotaCores: -1}, {MemoryBytes: -1}, {CPUQuotaCores: 0.001}} {
		if _, err := Create("faultline/env", "x", l); err == nil {
			t.Errorf("Create accepted limits %+v", l)
		}
	}
}

func TestAvailable(t *testing.T) {
	mode, err := Available()
	if os.Geteuid() != 0 {
		if mode != ModeUnavailable || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "root") {
			t.Fatalf("Available() as non-root = %v, %v; want unavailable because not root", mode, err)
		}
		return
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cgroups unavailable in CI: %v", err)
		}
		t.Skipf("cgroups unavailable: %v", err)
	}
	want := ModeV1
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		want = ModeV2 // the unified hierarchy is mounted at the top
	}
	if mode != want {
		t.Fatalf("Available() = %v, want %v", mode, want)
	}
}

func TestCreateAppliesLimits(t *testing.T) {
	parent := testParent(t)
	g, err := Create(parent, "limited", Limits{CPUQuotaCores: 0.5, MemoryBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.Path(), "/"+parent+"/limited"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	switch g.Mode() {
	case ModeV1:
		if got := readTrim(t, filepath.Join(g.dirOf(cgroup1.Cpu), "cpu.cfs_quota_us")); got != "50000" {
			t.Errorf("cpu.cfs_quota_us = %s, want 50000", got)
		}
		if got := readTrim(t, filepath.Join(g.dirOf(cgroup1.Cpu), "cpu.cfs_period_us")); got != "100000" {
			t.Errorf("cpu.cfs_period_us = %s, want 100000", got)
		}
		if got := readTrim(t, filepath.Join(g.dirOf(cgroup1.Memory), "memory.limit_in_bytes")); got != strconv.Itoa(64<<20) {
			t.Errorf("memory.limit_in_bytes = %s, want %d", got, 64<<20)
		}
	case ModeV2:
		if got := readTrim(t, filepath.Join(g.dirOf(""), "cpu.max")); got != "50000 100000" {
			t.Errorf("cpu.max = %q, want \"50000 100000\"", got)
		}
		if got := readTrim(t, filepath.Join(g.dirOf(""), "memory.max")); got != strconv.Itoa(64<<20) {
			t.Errorf("memory.max = %s, want %d", got, 64<<20)
		}
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryLimit != 64<<20 {
		t.Errorf("Stats().MemoryLimit = %d, want %d", st.MemoryLimit, 64<<20)
	}
	// A second Create of the same group is refused, not silently reused.
	if _, err := Create(parent, "limited", Limits{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create: err = %v, want fs.ErrExist", err)
	}
	// No limits: unlimited, and Stats says so.
	free, err := Create(parent, "free", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := free.Stats(); err != nil || st.MemoryLimit != 0 {
		t.Errorf("unlimited group: Stats() = %+v, %v; want MemoryLimit 0", st, err)
	}
}

func TestProcessesFreezeThaw(t *testing.T) {
	parent := testParent(t)
	g, err := Create(parent, "replica", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sleeper := start(t, "sleep", "300")
	busy := startBusy(t)
	for _, c := range []*exec.Cmd{sleeper, busy} {
		if err := g.AddProcess(c.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	pids, err := g.Processes()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*exec.Cmd{sleeper, busy} {
		if !slices.Contains(pids, c.Process.Pid) {
			t.Errorf("Processes() = %v, missing %d", pids, c.Process.Pid)
		}
	}
	// The kernel agrees the process moved.
	if cg := readTrim(t, fmt.Sprintf("/proc/%d/cgroup", sleeper.Process.Pid)); !strings.Contains(cg, g.Path()) {
		t.Errorf("/proc/%d/cgroup does not mention %s:\n%s", sleeper.Process.Pid, g.Path(), cg)
	}

	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := g.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() after Freeze = %v, %v", frozen, err)
	}
	want := map[Mode]string{ModeV1: "FROZEN", ModeV2: "1"}[g.Mode()]
	if state, err := g.freezeState(); err != nil || state != want {
		t.Errorf("freezer state = %q, %v; want %q", state, err, want)
	}
	// Behaviour, not just the file: a frozen busy loop uses no CPU.
	before := procCPU(t, busy.Process.Pid)
	time.Sleep(300 * time.Millisecond)
	if after := procCPU(t, busy.Process.Pid); after-before > 20*time.Millisecond {
		t.Errorf("frozen busy loop used %v of CPU in 300ms", after-before)
	}

	if err := g.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := g.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() after Thaw = %v, %v", frozen, err)
	}
	thawed := procCPU(t, busy.Process.Pid)
	eventually(t, "the thawed busy loop to use CPU again", func() bool {
		return procCPU(t, busy.Process.Pid)-thawed >= 50*time.Millisecond
	})
}

func TestStatsCountCPU(t *testing.T) {
	parent := testParent(t)
	g, err := Create(parent, "busy", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	busy := startBusy(t)
	if err := g.AddProcess(busy.Process.Pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	eventually(t, "the group to account > 100ms of CPU", func() bool {
		st, err := g.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.CPUUsage > 100*time.Millisecond
	})
}

func TestStatsCountMemory(t *testing.T) {
	parent := testParent(t)
	g, err := Create(parent, "hungry", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// Memory is charged to the group a process was in when it allocated
	// (charges do not move with a process), so the allocation waits until
	// the shell has been moved: it reads a line first.
	cmd := exec.Command("sh", "-c", `read go; x=$(head -c 33554432 /dev/zero | tr '\0' a); echo held; sleep 300`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := g.AddProcess(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := stdout.Read(buf); err != nil {
		t.Fatalf("waiting for the shell to hold its memory: %v", err)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryBytes < 16<<20 || st.MemoryPeak < st.MemoryBytes {
		t.Errorf("Stats() = %+v; want MemoryBytes >= 16MiB (a shell holds a 32MiB string) and MemoryPeak >= MemoryBytes", st)
	}
}

func TestKillAndDeleteLeaveNothing(t *testing.T) {
	parent := testParent(t)
	g, err := Create(parent, "doomed", Limits{CPUQuotaCores: 1, MemoryBytes: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// A process that keeps forking children, to race the kill, plus a
	// plain sleeper and a busy loop.
	forker := start(t, "sh", "-c", "while :; do sleep 30 & sleep 0.01; done")
	cmds := []*exec.Cmd{start(t, "sleep", "300"), startBusy(t), forker}
	for _, c := range cmds {
		if err := g.AddProcess(c.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the forker's children to join the group", func() bool {
		pids, err := g.Processes()
		return err == nil && len(pids) > len(cmds)+2
	})
	// Kill must work on a frozen group too (pod-failure, then crash).
	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if pids, err := g.Processes(); err != nil || len(pids) != 0 {
		t.Fatalf("Processes() after Kill = %v, %v; want none", pids, err)
	}
	if frozen, err := g.Frozen(); err != nil || frozen {
		t.Errorf("Frozen() after Kill = %v, %v; want thawed", frozen, err)
	}
	for _, c := range cmds {
		eventually(t, fmt.Sprintf("pid %d to be gone", c.Process.Pid), func() bool {
			return !alive(c.Process.Pid)
		})
	}

	if err := g.Delete(); err != nil {
		t.Fatal(err)
	}
	for _, d := range hierarchyDirs(t, g.Path()) {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("%s still exists after Delete", d)
		}
	}
	// Deleting again (recovery run twice) is fine.
	if err := g.Delete(); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := Open(g.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Delete: err = %v, want fs.ErrNotExist", err)
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func TestOpenReattachesAndListFindsChildren(t *testing.T) {
	parent := testParent(t)
	a, err := Create(parent, "a", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(parent, "b", Limits{MemoryBytes: 32 << 20}); err != nil {
		t.Fatal(err)
	}
	children, err := List(parent)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/" + parent + "/a", "/" + parent + "/b"}; !slices.Equal(children, want) {
		t.Errorf("List(%s) = %v, want %v", parent, children, want)
	}
	if got, err := List(parent + "/missing"); err != nil || len(got) != 0 {
		t.Errorf("List of a missing parent = %v, %v; want nothing", got, err)
	}

	sleeper := start(t, "sleep", "300")
	if err := a.AddProcess(sleeper.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// As after a crash: a new handle from the recorded path alone.
	again, err := Open(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	if pids, err := again.Processes(); err != nil || !slices.Contains(pids, sleeper.Process.Pid) {
		t.Errorf("reopened Processes() = %v, %v; want %d", pids, err, sleeper.Process.Pid)
	}
	if err := again.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := a.Frozen(); err != nil || !frozen {
		t.Errorf("original handle Frozen() = %v, %v after Freeze through the reopened one", frozen, err)
	}
	// Recovery of the whole parent: kills the frozen sleeper and removes
	// both children and the parent.
	whole, err := Open(parent)
	if err != nil {
		t.Fatal(err)
	}
	if err := whole.Delete(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the frozen sleeper to die", func() bool { return !alive(sleeper.Process.Pid) })
	for _, d := range hierarchyDirs(t, "/"+parent) {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("%s still exists after deleting the parent", d)
		}
	}
}

// TestV2CodeOnHybridHost drives the cgroup v2 code (cgroup.freeze and
// cgroup.events, cgroup.kill, cpu.stat) on a hybrid host's unified
// hierarchy, which has no controllers but has every core v2 feature, so
// the v2 path is exercised on v1 machines too. On a pure v2 host the other
// tests cover it.
func TestV2CodeOnHybridHost(t *testing.T) {
	const unified = "/sys/fs/cgroup/unified"
	if mode, _ := Available(); mode != ModeV1 {
		t.Skip("not a v1 host: the other tests run the v2 code")
	}
	if _, err := os.Stat(filepath.Join(unified, "cgroup.controllers")); err != nil {
		t.Skipf("no cgroup2 hierarchy at %s on this v1 host", unified)
	}
	lay := &layout{mode: ModeV2, v2Root: unified, v2NoControllers: true}
	parent := testParentIn(t, lay)
	g, err := create(lay, parent, "r", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create(lay, parent, "limited", Limits{MemoryBytes: 1 << 20}); err == nil {
		t.Error("limits were accepted without controllers")
	}
	busy := startBusy(t)
	sleeper := start(t, "sleep", "300")
	for _, c := range []*exec.Cmd{busy, sleeper} {
		if err := g.AddProcess(c.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	if pids, err := g.Processes(); err != nil || !slices.Contains(pids, busy.Process.Pid) || !slices.Contains(pids, sleeper.Process.Pid) {
		t.Fatalf("Processes() = %v, %v", pids, err)
	}
	eventually(t, "cpu.stat to account > 100ms", func() bool {
		st, err := g.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.CPUUsage > 100*time.Millisecond
	})
	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	if state, err := g.freezeState(); err != nil || state != "1" {
		t.Fatalf("cgroup.events frozen = %q, %v after Freeze", state, err)
	}
	before := procCPU(t, busy.Process.Pid)
	time.Sleep(300 * time.Millisecond)
	if after := procCPU(t, busy.Process.Pid); after-before > 20*time.Millisecond {
		t.Errorf("frozen busy loop used %v of CPU in 300ms", after-before)
	}
	if err := g.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := g.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() after Thaw = %v, %v", frozen, err)
	}
	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*exec.Cmd{busy, sleeper} {
		eventually(t, "the killed processes to die", func() bool { return !alive(c.Process.Pid) })
	}
	if err := g.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(unified, g.Path())); err == nil {
		t.Errorf("%s still exists after Delete", g.Path())
	}
}
