package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Journal records every active injection on disk before it acts, so a
// faultline that crashed (or was SIGKILLed) mid-fault is cleaned up by
// `faultline recover` or at the next start. One file per injection, written
// atomically (temp file, fsync, rename), removed once reverted.
type Journal struct {
	dir string
}

// Undo is one step that reverts part of an injection, recorded before the
// step it undoes is taken. Action names are engine-specific ("thaw-cgroup",
// "kill-pids", "uncordon-node"); Args are plain strings so any later
// faultline can read them.
type Undo struct {
	Action string            `json:"action"`
	Args   map[string]string `json:"args,omitempty"`
}

// Owner identifies the process that holds an injection. StartTime (clock
// ticks since boot, from /proc/PID/stat) guards against a reused PID.
type Owner struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	Host      string `json:"host,omitempty"`
}

// Entry is one journaled injection.
type Entry struct {
	ID          string          `json:"id"`
	Engine      string          `json:"engine"`
	Environment string          `json:"environment,omitempty"`
	Kind        string          `json:"kind"`
	Name        string          `json:"name"`
	Spec        json.RawMessage `json:"spec,omitempty"`
	Targets     []string        `json:"targets,omitempty"`
	Owner       Owner           `json:"owner"`
	Created     time.Time       `json:"created"`
	// LeaseUntil is renewed by the owner while it holds the fault; once it
	// passes, anyone may revert the injection.
	LeaseUntil time.Time `json:"leaseUntil"`
	Undo       []Undo    `json:"undo,omitempty"`
}

// OpenJournal opens (creating) the journal directory.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal directory %s: %w", dir, err)
	}
	return &Journal{dir: dir}, nil
}

// Dir is the journal's directory.
func (j *Journal) Dir() string { return j.dir }

func (j *Journal) path(id string) string { return filepath.Join(j.dir, id+".json") }

// Write records or replaces an entry durably.
func (j *Journal) Write(e *Entry) error {
	if e.ID == "" || strings.ContainsAny(e.ID, `/\`) {
		return fmt.Errorf("journal entry needs a plain id, got %q", e.ID)
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encode journal entry %s: %w", e.ID, err)
	}
	tmp, err := os.CreateTemp(j.dir, "."+e.ID+".tmp*")
	if err != nil {
		return fmt.Errorf("write journal entry %s: %w", e.ID, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write journal entry %s: %w", e.ID, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync journal entry %s: %w", e.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close journal entry %s: %w", e.ID, err)
	}
	if err := os.Rename(tmp.Name(), j.path(e.ID)); err != nil {
		return fmt.Errorf("commit journal entry %s: %w", e.ID, err)
	}
	return syncDir(j.dir)
}

// AddUndo appends an undo step and writes the entry: call it before taking
// the step it undoes.
func (j *Journal) AddUndo(e *Entry, u Undo) error {
	e.Undo = append(e.Undo, u)
	return j.Write(e)
}

// Remove deletes an entry once its injection is fully reverted.
func (j *Journal) Remove(id string) error {
	err := os.Remove(j.path(id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal entry %s: %w", id, err)
	}
	return syncDir(j.dir)
}

// List returns every entry, oldest first. Unreadable entries are returned
// as errors alongside the readable ones: recovery must not stop at one bad file.
func (j *Journal) List() ([]*Entry, error) {
	files, err := filepath.Glob(filepath.Join(j.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*Entry
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			errs = append(errs, fmt.Errorf("journal entry %s is corrupt: %w", f, err))
			continue
		}
		out = append(out, &e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Created.Before(out[b].Created) })
	return out, errors.Join(errs...)
}

// Orphaned reports whether nobody holds the entry any more: its owner
// process is gone (or is a different process with the same PID) or its
// lease has run out.
func (e *Entry) Orphaned(now time.Time) bool {
	if !e.LeaseUntil.IsZero() && now.After(e.LeaseUntil) {
		return true
	}
	return !e.Owner.Alive()
}

// Self returns the Owner describing the calling process.
func Self() Owner {
	pid := os.Getpid()
	st, _ := ProcessStartTime(pid)
	host, _ := os.Hostname()
	return Owner{PID: pid, StartTime: st, Host: host}
}

// Alive reports whether the owner process still runs.
func (o Owner) Alive() bool {
	if o.PID <= 0 {
		return false
	}
	st, err := ProcessStartTime(o.PID)
	if err != nil {
		return false
	}
	return o.StartTime == 0 || st == o.StartTime
}

// ProcessStartTime reads a process's start time (field 22 of
// /proc/PID/stat, clock ticks since boot): with the PID it names a process
// uniquely, even after the PID is reused.
func ProcessStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; fields
	// after it start past the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	v, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat start time: %w", pid, err)
	}
	// A zombie has exited: it no longer holds anything.
	if fields[0] == "Z" {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	return v, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// StateDir is where faultline keeps its journal, environment state and run
// history: $FAULTLINE_STATE_DIR, else $XDG_STATE_HOME/faultline, else
// ~/.local/state/faultline.
func StateDir() string {
	if d := os.Getenv("FAULTLINE_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "faultline")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "faultline")
	}
	return filepath.Join(os.TempDir(), "faultline-state")
}
