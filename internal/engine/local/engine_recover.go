package local

import (
	"context"
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
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/fault/stress"
)

// RecoverOptions tune Recover.
type RecoverOptions struct {
	// Force reverts every journaled injection, also those a live owner
	// still holds (`faultline recover --force`).
	Force bool
	// JournalDir is the journal to recover; "" is <stateDir>/journal.
	JournalDir string
}

// RecoverReport says what Recover did.
type RecoverReport struct {
	Injections   []RecoveredInjection   `json:"injections"`
	Environments []RecoveredEnvironment `json:"environments"`
	// Held counts the journal entries left alone because a live owner
	// still holds them (and renews their lease).
	Held int `json:"held"`
}

// RecoveredInjection is one journal entry Recover reverted, or tried to.
type RecoveredInjection struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Environment string `json:"environment,omitempty"`
	// Why the entry was recovered: its owner is gone, its lease ran out,
	// or --force.
	Why      string          `json:"why"`
	Steps    []RecoveredStep `json:"steps"`
	Reverted bool            `json:"reverted"`
	Error    string          `json:"error,omitempty"`
}

// RecoveredStep is one undo step performed.
type RecoveredStep struct {
	Action string `json:"action"`
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// RecoveredEnvironment is an environment whose supervisor had died, cleaned
// up with CleanupDir.
type RecoveredEnvironment struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Error string `json:"error,omitempty"`
}

// OK reports whether everything found was reverted and cleaned up.
func (r *RecoverReport) OK() bool {
	for _, i := range r.Injections {
		if !i.Reverted {
			return false
		}
	}
	for _, e := range r.Environments {
		if e.Error != "" {
			return false
		}
	}
	return true
}

// Recover reverts what a crashed faultline left behind in stateDir: every
// journaled injection that is orphaned — its owner process is gone or its
// lease ran out; every one with opts.Force — from its undo steps, newest
// step first (thaw the replica, kill leftover stress-ng processes, bring a
// node up, uncordon it, scale back: through the environment's supervisor
// when it still runs, directly on cgroups and processes when it does not),
// removing each entry once fully reverted. Then every environment whose
// supervisor died is cleaned up (CleanupDir: its processes, cgroups and
// socket). `faultline recover` runs it, and so do `faultline inject` and
// the experiment runner when they start. The error is non-nil when
// something could not be reverted; the report says what.
func Recover(ctx context.Context, stateDir string, opts RecoverOptions) (*RecoverReport, error) {
	rep := &RecoverReport{Injections: []RecoveredInjection{}, Environments: []RecoveredEnvironment{}}
	dir := opts.JournalDir
	if dir == "" {
		dir = filepath.Join(stateDir, "journal")
	}
	var errs []error
	if _, err := os.Stat(dir); err == nil {
		j, err := engine.OpenJournal(dir)
		if err != nil {
			return rep, err
		}
		entries, lerr := j.List()
		if lerr != nil {
			errs = append(errs, lerr)
		}
		now := time.Now()
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			why := orphanReason(e, now)
			if why == "" && !opts.Force {
				rep.Held++
				continue
			}
			if why == "" {
				why = fmt.Sprintf("forced (held by pid %d)", e.Owner.PID)
			}
			ri := recoverEntry(ctx, stateDir, j, e, why)
			if !ri.Reverted {
				errs = append(errs, fmt.Errorf("injection %s (%s %s): %s", ri.ID, ri.Kind, ri.Name, ri.Error))
			}
			rep.Injections = append(rep.Injections, ri)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return rep, fmt.Errorf("read journal %s: %w", dir, err)
	}

	envs, err := ListEnvironments(stateDir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, env := range envs {
		if env.Running {
			continue
		}
		re := RecoveredEnvironment{Name: env.Name, PID: env.PID}
		if err := CleanupDir(stateDir, env.Name); err != nil {
			re.Error = err.Error()
			errs = append(errs, fmt.Errorf("environment %s: %w", env.Name, err))
		}
		rep.Environments = append(rep.Environments, re)
	}
	return rep, errors.Join(errs...)
}

// orphanReason says why nobody holds e any more, "" while it is held.
func orphanReason(e *engine.Entry, now time.Time) string {
	if !e.Owner.Alive() {
		return fmt.Sprintf("its owner (pid %d) is gone", e.Owner.PID)
	}
	if !e.LeaseUntil.IsZero() && now.After(e.LeaseUntil) {
		return fmt.Sprintf("its lease ran out %s ago (owner pid %d stopped renewing it)", now.Sub(e.LeaseUntil).Round(time.Second), e.Owner.PID)
	}
	return ""
}

// recoverEntry reverts one entry and removes it when every step succeeded.
func recoverEntry(ctx context.Context, stateDir string, j *engine.Journal, e *engine.Entry, why string) RecoveredInjection {
	ri := RecoveredInjection{ID: e.ID, Kind: e.Kind, Name: e.Name, Environment: e.Environment, Why: why, Steps: []RecoveredStep{}}
	if e.Engine != "" && e.Engine != "local" {
		ri.Error = fmt.Sprintf("journaled by the %s engine; this faultline reverts only local injections", e.Engine)
		return ri
	}
	var client *Client
	if e.Environment != "" {
		if c, err := Dial(stateDir, e.Environment); err == nil {
			client = c
			defer c.Close()
		}
	}
	// A live supervisor that still knows the injection reverts it itself
	// (it also updates its own view of the replicas).
	if client != nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := client.RevertInjection(rctx, e.ID)
		cancel()
		if err == nil && st.Error == "" {
			ri.Steps = append(ri.Steps, RecoveredStep{Action: "revert", Result: "reverted by the supervisor of " + e.Environment})
			if _, serr := os.Stat(filepath.Join(j.Dir(), e.ID+".json")); errors.Is(serr, fs.ErrNotExist) {
				ri.Reverted = true
				return ri
			}
		}
	}
	var errs []error
	for i := len(e.Undo) - 1; i >= 0; i-- {
		u := e.Undo[i]
		if u.Action == undoNone {
			continue
		}
		res, err := performUndo(ctx, client, u)
		step := RecoveredStep{Action: u.Action, Result: res}
		if err != nil {
			step.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", u.Action, err))
		}
		ri.Steps = append(ri.Steps, step)
	}
	if err := errors.Join(errs...); err != nil {
		ri.Error = err.Error()
		return ri
	}
	if err := j.Remove(e.ID); err != nil {
		ri.Error = err.Error()
		return ri
	}
	ri.Reverted = true
	return ri
}

// performUndo carries out one journaled undo step. client is the
// environment's supervisor, nil when it is not running.
func performUndo(ctx context.Context, client *Client, u engine.Undo) (string, error) {
	a := u.Args
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch u.Action {
	case undoUnfailReplica:
		if client != nil {
			err := client.SetReplicaFailed(ctx, a[undoReplica], false)
			if err == nil {
				return "replica " + a[undoReplica] + " thawed by its supervisor", nil
			}
			if errors.Is(err, ErrNotFound) {
				return "replica " + a[undoReplica] + " is gone", nil
			}
			// A supervisor that does not answer: thaw directly.
		}
		return thawDirectly(a[undoCgroup], a[undoPIDs])
	case undoKillStressors:
		pids := parsePIDs(a[undoPIDs])
		if p := a[undoCgroup]; p != "" {
			if g, err := cgroup.Open(p); err == nil {
				if in, err := g.Processes(); err == nil {
					pids = append(pids, in...)
				}
			}
		}
		slices.Sort(pids)
		pids = slices.Compact(pids)
		killed, err := stress.KillLeftovers(pids)
		if err != nil {
			return "", err
		}
		if len(killed) == 0 {
			return "no stress-ng left", nil
		}
		return fmt.Sprintf("killed stress-ng %v", killed), nil
	case undoHopFaults:
		// Proxy hop faults live in the fault engine's process: it is gone,
		// or its supervisor would have reverted the injection above.
		return "hop faults of " + a[undoReplica] + " ended with the process that held them", nil
	case undoNodeUp, undoUncordonNode:
		if client == nil {
			return "environment " + a[undoEnvironment] + " is not running: no node to restore", nil
		}
		var err error
		if u.Action == undoNodeUp {
			err = client.NodeUp(ctx, a[undoNode])
		} else {
			err = client.Uncordon(ctx, a[undoNode])
		}
		if err != nil {
			return "", err
		}
		return u.Action + " " + a[undoNode], nil
	case undoScale:
		if client == nil {
			return "environment " + a[undoEnvironment] + " is not running: nothing to scale back", nil
		}
		n, err := strconv.Atoi(a[undoReplicas])
		if err != nil {
			return "", fmt.Errorf("bad replica count %q in the journal", a[undoReplicas])
		}
		if _, err := client.Scale(ctx, a[undoService], n); err != nil {
			if errors.Is(err, ErrNotFound) {
				return "service " + a[undoService] + " is gone", nil
			}
			return "", err
		}
		return fmt.Sprintf("service %s scaled back to %d", a[undoService], n), nil
	}
	// Model files, overrides and views of ModelChaos.
	if res, ok, err := performModelUndo(u); ok {
		return res, err
	}
	// nftables tables and qdiscs of the packet network backend.
	if res, ok, err := performPacketUndo(u); ok {
		return res, err
	}
	return "", fmt.Errorf("unknown undo action %q (journaled by a newer faultline?)", u.Action)
}

// thawDirectly releases a frozen replica without its supervisor: thaw its
// cgroup, and SIGCONT its recorded processes (only those whose PID and
// start time still match: a reused PID is never signalled).
func thawDirectly(cgroupPath, pidList string) (string, error) {
	var did []string
	if cgroupPath != "" {
		g, err := cgroup.Open(cgroupPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			did = append(did, "cgroup "+cgroupPath+" is gone")
		case err != nil:
			return "", err
		default:
			if err := g.Thaw(); err != nil {
				return "", err
			}
			did = append(did, "cgroup "+cgroupPath+" thawed")
		}
	}
	cont := 0
	for _, p := range strings.Split(pidList, ",") {
		pidS, startS, ok := strings.Cut(p, ":")
		if !ok {
			continue
		}
		pid, err1 := strconv.Atoi(pidS)
		start, err2 := strconv.ParseUint(startS, 10, 64)
		if err1 != nil || err2 != nil || pid <= 0 {
			continue
		}
		if st, err := engine.ProcessStartTime(pid); err != nil || st != start {
			continue
		}
		_ = syscall.Kill(-pid, syscall.SIGCONT)
		if err := syscall.Kill(pid, syscall.SIGCONT); err == nil {
			cont++
		}
	}
	if cont > 0 {
		did = append(did, fmt.Sprintf("SIGCONT to %d %s", cont, plural(cont, "process", "processes")))
	}
	if len(did) == 0 {
		return "nothing left frozen", nil
	}
	return strings.Join(did, "; "), nil
}

func parsePIDs(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if pid, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}
