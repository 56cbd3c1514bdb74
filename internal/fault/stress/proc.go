package stress

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/internal/cgroup"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat; the kernel
// always reports them to userspace in USER_HZ, which is 100 on Linux.
const userHZ = 100

// procStat is what faultline reads from /proc/<pid>/stat.
type procStat struct {
	comm  string
	state byte
	pgid  int
	// cpu is utime + stime + cutime + cstime: the process's own CPU time
	// and that of the children it has reaped (a respawned worker's).
	cpu time.Duration
	// start is the process's start time (clock ticks after boot); with
	// the pid it names one process for good, as pids are reused.
	start uint64
}

// procID names one process: a pid and its start time.
type procID struct {
	pid   int
	start uint64
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// comm may contain spaces and parentheses: it ends at the last ')'.
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open || end+2 > len(data) {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: malformed", pid)
	}
	fields := strings.Fields(string(data[end+2:]))
	// fields[0] is field 3 (state) of proc(5).
	if len(fields) < 20 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	num := func(i int) int64 { n, _ := strconv.ParseInt(fields[i], 10, 64); return n }
	ticks := num(11) + num(12) + num(13) + num(14)    // utime stime cutime cstime
	start, _ := strconv.ParseUint(fields[19], 10, 64) // field 22, starttime
	return procStat{
		comm:  string(data[open+1 : end]),
		state: fields[0][0],
		pgid:  int(num(2)),
		cpu:   time.Duration(ticks) * time.Second / userHZ,
		start: start,
	}, nil
}

func (s procStat) alive() bool { return s.state != 'Z' && s.state != 'X' && s.state != 'x' }

// rssAnon is the anonymous memory a process has resident (RssAnon in
// /proc/<pid>/status): what a memory worker holds, without the shared
// library pages RSS also counts.
func rssAnon(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse RssAnon of %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, sc.Err()
}

// isStressNG reports whether pid runs the stress-ng executable. The exe
// link cannot be changed by the process (unlike comm), and is unreadable
// for zombies and kernel threads, which are then not stress-ng.
func isStressNG(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	// The binary may have been replaced by a package upgrade since.
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "stress-ng"
}

// inFaultlineCgroup reports whether pid is in a cgroup under cgroup.Root
// in any hierarchy — where every stressor runs, and where a user's own
// stress-ng does not.
func inFaultlineCgroup(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[2] == "/"+cgroup.Root || strings.HasPrefix(parts[2], "/"+cgroup.Root+"/")) {
			return true
		}
	}
	return false
}

// isOurStressor reports whether pid is still a stressor started by this
// package: the stress-ng executable, in a faultline cgroup. A pid reused
// by any other process fails one of the two. (A marker in the environment
// would not do: stress-ng overwrites its workers' environment when it
// renames them.)
func isOurStressor(pid int) bool {
	return isStressNG(pid) && inFaultlineCgroup(pid)
}

// KillLeftovers kills the stressor processes among pids — typically the
// ones a crashed faultline journaled from Stressor.PIDs — and returns the
// pids it killed. A pid that is gone, or now belongs to anything but
// faultline's stress-ng, is left alone: pids are reused, and recovery must
// never kill an unrelated process. A stressor's main process also takes
// its whole process group along, workers forked after the journal entry
// included. It returns once the killed processes have exited.
func KillLeftovers(pids []int) ([]int, error) {
	// Decide first, then kill: killing a group leader's group takes its
	// workers along, and they must still count as killed.
	var ours []procID
	for _, pid := range pids {
		if pid <= 0 || slices.ContainsFunc(ours, func(p procID) bool { return p.pid == pid }) || !isOurStressor(pid) {
			continue
		}
		if st, err := readStat(pid); err == nil && st.alive() {
			ours = append(ours, procID{pid, st.start})
		}
	}
	var errs []error
	var killed []int
	for _, p := range ours {
		killed = append(killed, p.pid)
		if st, err := readStat(p.pid); err == nil && st.pgid == p.pid {
			// A group leader that is our stress-ng: the group is the
			// stressor's (Start gives each its own group).
			if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill stressor process group %d: %w", p.pid, err))
			}
		}
		if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill stressor %d: %w", p.pid, err))
		}
	}
	if err := waitGone(ours, 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return killed, fmt.Errorf("kill leftover stressors: %w", errors.Join(errs...))
	}
	return killed, nil
}

// waitGone waits until none of procs runs: each has exited (a zombie
// counts: it runs nothing, and its parent or init reaps it) or its pid now
// names another process.
func waitGone(procs []procID, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, p := range procs {
			st, err := readStat(p.pid)
			if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("check pid %d: %w", p.pid, err)
			}
			if err == nil && st.start == p.start && st.alive() {
				left = append(left, p.pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stressor processes %v still alive %v after SIGKILL", left, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
