package engine

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"
)

// EntryStore is where an engine keeps its journal entries: files of a
// Journal (local) or Leases (kube).
type EntryStore interface {
	// Write records or replaces an entry durably.
	Write(ctx context.Context, e *Entry) error
	// Remove deletes an entry; an entry already gone is no error.
	Remove(ctx context.Context, id string) error
}

// HeldEntry is the journal entry of an active injection as its holder
// keeps it: every change (an undo step, a lease renewal) is written before
// it counts, one at a time, and once the entry is removed nothing writes it
// again. It is the injection's JournalRecord.
type HeldEntry struct {
	mu      sync.Mutex
	entry   *Entry
	removed bool
	store   EntryStore
}

var _ JournalRecord = (*HeldEntry)(nil)

// NewHeldEntry holds e, already written to store.
func NewHeldEntry(e *Entry, store EntryStore) *HeldEntry {
	return &HeldEntry{entry: e, store: store}
}

// ID is the entry's id.
func (h *HeldEntry) ID() string { return h.entry.ID }

// Remove deletes the entry once nothing of its injection is held; removing
// it again is a no-op.
func (h *HeldEntry) Remove(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.removed {
		return nil
	}
	if err := h.store.Remove(ctx, h.entry.ID); err != nil {
		return err
	}
	h.removed = true
	return nil
}

// Renew writes the entry with its lease extended to until, unless it was
// removed or done is closed (the injection is over: a revert that failed
// leaves its entry to `faultline recover`).
func (h *HeldEntry) Renew(ctx context.Context, until time.Time, done <-chan struct{}) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.removed {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	h.entry.LeaseUntil = until
	return h.store.Write(ctx, h.entry)
}

// AddUndo appends an undo step durably, before the step it undoes is
// taken, and returns its index. A step that could not be written is not
// kept. With once, a step equal to one already recorded is not repeated
// (its index is returned).
func (h *HeldEntry) AddUndo(ctx context.Context, u Undo, once bool) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if once {
		for i, v := range h.entry.Undo {
			if v.Action == u.Action && maps.Equal(v.Args, u.Args) {
				return i, nil
			}
		}
	}
	i := len(h.entry.Undo)
	h.entry.Undo = append(h.entry.Undo, u)
	if err := h.store.Write(ctx, h.entry); err != nil {
		h.entry.Undo = h.entry.Undo[:i]
		return 0, fmt.Errorf("journal undo step %s: %w", u.Action, err)
	}
	return i, nil
}

// SetUndoArg replaces argument key of undo step i (e.g. pids once they are
// known) and writes the entry.
func (h *HeldEntry) SetUndoArg(ctx context.Context, i int, key, value string) error {
	return h.changeUndo(ctx, i, func(u *Undo) {
		if u.Args == nil {
			u.Args = map[string]string{}
		}
		u.Args[key] = value
	})
}

// ReplaceUndo sets the action of undo step i, e.g. to a no-op once the step
// it guarded turned out to change nothing (recovery must not undo another
// fault's work); the other steps' indices stay valid.
func (h *HeldEntry) ReplaceUndo(ctx context.Context, i int, action string) error {
	return h.changeUndo(ctx, i, func(u *Undo) { u.Action = action })
}

func (h *HeldEntry) changeUndo(ctx context.Context, i int, change func(*Undo)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i < 0 || i >= len(h.entry.Undo) {
		return fmt.Errorf("journal: no undo step %d", i)
	}
	change(&h.entry.Undo[i])
	if err := h.store.Write(ctx, h.entry); err != nil {
		return fmt.Errorf("journal undo step %s: %w", h.entry.Undo[i].Action, err)
	}
	return nil
}

// RenewEvery calls renew every period until ctx ends: an engine renews the
// leases of its active injections with it.
func RenewEvery(ctx context.Context, period time.Duration, renew func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		renew()
	}
}

// JournalStore is a Journal as an EntryStore (its writes are local and
// take no context).
type JournalStore struct{ *Journal }

// Write records or replaces e.
func (s JournalStore) Write(_ context.Context, e *Entry) error { return s.Journal.Write(e) }

// Remove deletes entry id.
func (s JournalStore) Remove(_ context.Context, id string) error { return s.Journal.Remove(id) }
