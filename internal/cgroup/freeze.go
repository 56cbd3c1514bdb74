package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// freezeTimeout bounds how long Freeze and Thaw wait for the kernel. A
// healthy group freezes in milliseconds; a task stuck in uninterruptible
// sleep (e.g. on a dead NFS server) can keep a v1 group FREEZING forever,
// and faultline must report that rather than hang.
const freezeTimeout = 5 * time.Second

// killFreezeTimeout bounds Kill's best-effort freeze on v1: freezing only
// keeps forks from racing the signals, so a group that will not freeze is
// signalled anyway, quickly, rather than after freezeTimeout.
const killFreezeTimeout = 500 * time.Millisecond

// killTimeout bounds how long Kill waits for SIGKILLed processes to leave
// the group (exit teardown of a process with a large address space takes
// tens of milliseconds; this leaves a wide margin on a loaded machine).
const killTimeout = 10 * time.Second

// Freeze stops every process in the group (and its child groups) and
// returns once the kernel reports the group frozen: v1 freezer.state
// FROZEN, v2 cgroup.events "frozen 1". Frozen processes keep their memory
// and sockets but run no instruction, like a hung pod. If the group does
// not freeze within freezeTimeout it is thawed again and an error returned,
// so a failed Freeze never leaves a half-frozen group.
//
// Written by hand: containerd's v1 Freeze polls without a deadline, and its
// v2 Freeze returns as soon as cgroup.freeze is written, before the kernel
// has stopped the processes.
func (g *Group) Freeze() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.setFrozen(true, freezeTimeout); err != nil {
		return fmt.Errorf("freeze cgroup %s: %w", g.path, err)
	}
	return nil
}

// Thaw resumes a frozen group and returns once the kernel reports it
// thawed. Thawing a group that is not frozen is a no-op.
func (g *Group) Thaw() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.setFrozen(false, freezeTimeout); err != nil {
		return fmt.Errorf("thaw cgroup %s: %w", g.path, err)
	}
	return nil
}

// Frozen reports whether the group is completely frozen now (a group still
// freezing is not).
func (g *Group) Frozen() (bool, error) {
	state, err := g.freezeState()
	if err != nil {
		return false, fmt.Errorf("read freezer state of cgroup %s: %w", g.path, err)
	}
	return state == freezerStates(g.mode, true), nil
}

// stateDir is where the freezer files live: the v1 freezer hierarchy's
// directory (first in dirs) or the v2 group directory.
func (g *Group) stateDir() string { return g.dirs[0] }

// freezerStates returns what is written to the freezer file to reach a
// state, which is also what freezeState reads once it is reached.
func freezerStates(m Mode, frozen bool) string {
	switch {
	case m == ModeV1 && frozen:
		return "FROZEN"
	case m == ModeV1:
		return "THAWED"
	case frozen:
		return "1"
	default:
		return "0"
	}
}

func (g *Group) setFrozen(frozen bool, timeout time.Duration) error {
	file := "freezer.state"
	if g.mode == ModeV2 {
		file = "cgroup.freeze"
	}
	path := filepath.Join(g.stateDir(), file)
	want := freezerStates(g.mode, frozen)
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		// Rewritten on every round: on v1 the kernel retries the tasks it
		// could not freeze yet on each write of FROZEN; on v2 it is a no-op.
		if err := os.WriteFile(path, []byte(want), 0); err != nil {
			return err
		}
		state, err := g.freezeState()
		if err != nil {
			return err
		}
		if state == want {
			return nil
		}
		if time.Now().After(deadline) {
			if frozen {
				_ = os.WriteFile(path, []byte(freezerStates(g.mode, false)), 0)
			}
			return fmt.Errorf("%s is %q, not %q, after %v (a process in uninterruptible sleep, or a frozen parent?)",
				path, state, want, timeout)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// freezeState reads the effective freezer state: v1 freezer.state
// ("FROZEN", "FREEZING", "THAWED"), or v2's "frozen" key of cgroup.events
// ("1", "0"), which — unlike cgroup.freeze — turns 1 only once every
// process has stopped.
func (g *Group) freezeState() (string, error) {
	if g.mode == ModeV1 {
		data, err := os.ReadFile(filepath.Join(g.stateDir(), "freezer.state"))
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(data)), nil
	}
	f, err := os.Open(filepath.Join(g.stateDir(), "cgroup.events"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == "frozen" {
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("cgroup.events has no \"frozen\" key (kernel older than 5.2?)")
}

// Kill sends SIGKILL to every process in the group and its child groups and
// returns once none is left, with the group thawed, so that Delete can
// follow and a restarted replica in the same group is not born frozen. It
// works on a frozen group too.
//
// v2 uses containerd's Kill (cgroup.kill, atomic against forks since Linux
// 5.14) plus a wait for the group to empty, which containerd does not do.
// v1 has no kill in containerd and no kernel equivalent, so it is written
// here the way runc does it: freeze (so nothing forks between listing and
// signalling), SIGKILL each listed process, thaw (a v1-frozen process acts
// on SIGKILL only once thawed), repeat until empty.
func (g *Group) Kill() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.exists() {
		return nil
	}
	var err error
	if g.mode == ModeV2 {
		err = g.killV2()
	} else {
		err = g.killV1()
	}
	if err != nil {
		return fmt.Errorf("kill processes of cgroup %s: %w", g.path, err)
	}
	return nil
}

func (g *Group) killV2() error {
	if err := g.v2.Kill(); err != nil {
		return err
	}
	if err := g.waitEmpty(time.Now().Add(killTimeout)); err != nil {
		return err
	}
	return g.setFrozen(false, freezeTimeout)
}

func (g *Group) killV1() error {
	deadline := time.Now().Add(killTimeout)
	for {
		pids, err := g.processes()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			// Leave it thawed even if it was frozen and empty.
			return g.setFrozen(false, freezeTimeout)
		}
		// Best effort: a group that cannot freeze (a task in D state)
		// is still signalled; the loop repeats for late forks.
		freezeErr := g.setFrozen(true, killFreezeTimeout)
		if freezeErr == nil {
			if pids, err = g.processes(); err != nil {
				return err
			}
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("SIGKILL pid %d: %w", pid, err)
			}
		}
		if err := g.setFrozen(false, freezeTimeout); err != nil {
			return err
		}
		round := time.Now().Add(200 * time.Millisecond)
		if round.After(deadline) {
			round = deadline
		}
		if err := g.waitEmpty(round); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			left, _ := g.processes()
			return fmt.Errorf("%d processes still in the group %v after SIGKILL (freeze: %v): %v", len(left), killTimeout, freezeErr, left)
		}
	}
}

// waitEmpty polls until the group has no process or the deadline passes.
func (g *Group) waitEmpty(deadline time.Time) error {
	delay := time.Millisecond
	for {
		pids, err := g.processes()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes still in the group after SIGKILL: %v", len(pids), pids)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}
