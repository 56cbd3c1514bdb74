package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// RecoverOptions tune Recover.
type RecoverOptions struct {
	// All reverts every journaled injection not held by this engine, even
	// one whose lease still runs (`faultline recover --force`): only safe
	// when no other faultline is running against the cluster.
	All bool
}

// RecoverReport says what Recover did.
type RecoverReport struct {
	Injections []RecoveredInjection `json:"injections,omitempty"`
	// Held are injections left alone because their holder still renews them.
	Held []string `json:"held,omitempty"`
	// Errors are journal Leases that could not be read.
	Errors []string `json:"errors,omitempty"`
}

// RecoveredInjection is one journaled injection Recover reverted (or tried to).
type RecoveredInjection struct {
	ID     string          `json:"id"`
	Kind   string          `json:"kind"`
	Name   string          `json:"name"`
	Reason string          `json:"reason"`
	Steps  []RecoveredStep `json:"steps,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// RecoveredStep is one undo step performed.
type RecoveredStep struct {
	Action  string `json:"action"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// OK reports whether everything found was reverted.
func (r *RecoverReport) OK() bool {
	for _, i := range r.Injections {
		if i.Error != "" {
			return false
		}
	}
	return len(r.Errors) == 0
}

// Recover reverts the journaled injections nobody holds any more (lease
// run out, or owner on this host gone) — a faultline that crashed — by
// performing their undo steps, newest first, and deleting their Leases. A
// Lease whose steps fail stays for the next attempt. Injections of this
// engine are never touched.
func (e *Engine) Recover(ctx context.Context, opts RecoverOptions) (*RecoverReport, error) {
	entries, bad, err := e.journal.list(ctx)
	if err != nil {
		return nil, err
	}
	rep := &RecoverReport{}
	for _, b := range bad {
		rep.Errors = append(rep.Errors, b.Error())
	}
	host, _ := os.Hostname()
	now := time.Now()
	for _, en := range entries {
		if _, mine := e.active.Get(en.ID); mine {
			continue
		}
		orphan, why := orphaned(en, now, host)
		if !orphan && !opts.All {
			rep.Held = append(rep.Held, en.ID)
			continue
		}
		if !orphan {
			why = "forced (--all)"
		}
		rep.Injections = append(rep.Injections, e.recoverEntry(ctx, en, why))
	}
	if !rep.OK() {
		return rep, errors.New("recover: some injections could not be reverted; their journal leases were kept")
	}
	return rep, nil
}

func (e *Engine) recoverEntry(ctx context.Context, en *engine.Entry, why string) RecoveredInjection {
	ri := RecoveredInjection{ID: en.ID, Kind: en.Kind, Name: en.Name, Reason: why}
	var errs []error
	for i := len(en.Undo) - 1; i >= 0; i-- {
		u := en.Undo[i]
		if u.Action == undoNone {
			continue
		}
		msg, err := e.performUndo(ctx, u)
		st := RecoveredStep{Action: u.Action, Message: msg}
		if err != nil {
			st.Error = err.Error()
			errs = append(errs, err)
		}
		ri.Steps = append(ri.Steps, st)
	}
	if err := errors.Join(errs...); err != nil {
		ri.Error = err.Error()
		return ri
	}
	if err := e.journal.remove(ctx, en.ID); err != nil {
		ri.Error = err.Error()
	}
	return ri
}

func (e *Engine) performUndo(ctx context.Context, u engine.Undo) (string, error) {
	a := u.Args
	switch u.Action {
	case undoRestoreImages:
		return restoreFailedPods(ctx, e, a["injection"])
	case undoUncordon:
		if err := e.setUnschedulable(ctx, a["node"], false); err != nil {
			if isNotFound(errors.Unwrap(err)) {
				return "node " + a["node"] + " is gone", nil
			}
			return "", err
		}
		return "node " + a["node"] + " uncordoned", nil
	case undoNodeUp:
		if err := e.nodeUp(ctx, a["node"]); err != nil {
			return "", err
		}
		return "node " + a["node"] + " untainted and uncordoned", nil
	case undoDeleteChaosMesh:
		return deleteChaosMesh(ctx, e, a["resource"], a["namespace"], a["name"])
	case undoScale:
		return undoScaleStep(ctx, e, a)
	}
	return "", fmt.Errorf("unknown undo step %q (written by a newer faultline?)", u.Action)
}
