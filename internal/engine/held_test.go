package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// memStore is an EntryStore in memory; failWrites makes the next writes fail.
type memStore struct {
	mu         sync.Mutex
	entries    map[string]Entry
	writes     int
	failWrites int
}

func (s *memStore) Write(_ context.Context, e *Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWrites > 0 {
		s.failWrites--
		return errors.New("disk full")
	}
	s.writes++
	c := *e
	c.Undo = append([]Undo(nil), e.Undo...)
	s.entries[e.ID] = c
	return nil
}

func (s *memStore) Remove(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, id)
	return nil
}

func (s *memStore) get(id string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	return e, ok
}

func TestHeldEntryUndo(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// steps are added in order; fail makes that add's write fail.
		steps     []Undo
		fail      []bool
		once      bool
		wantIdx   []int
		wantSteps int
	}{
		{name: "plain", steps: []Undo{{Action: "a"}, {Action: "a"}}, fail: []bool{false, false}, wantIdx: []int{0, 1}, wantSteps: 2},
		{name: "once", steps: []Undo{{Action: "a", Args: map[string]string{"k": "v"}}, {Action: "a", Args: map[string]string{"k": "v"}}, {Action: "b"}},
			fail: []bool{false, false, false}, once: true, wantIdx: []int{0, 0, 1}, wantSteps: 2},
		{name: "a failed write is not kept", steps: []Undo{{Action: "a"}, {Action: "b"}, {Action: "c"}}, fail: []bool{false, true, false},
			wantIdx: []int{0, -1, 1}, wantSteps: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &memStore{entries: map[string]Entry{}}
			h := NewHeldEntry(&Entry{ID: "e"}, st)
			for i, u := range tt.steps {
				if tt.fail[i] {
					st.failWrites = 1
				}
				got, err := h.AddUndo(ctx, u, tt.once)
				if (err != nil) != tt.fail[i] {
					t.Fatalf("step %d: %v", i, err)
				}
				if err == nil && got != tt.wantIdx[i] {
					t.Fatalf("step %d at %d, want %d", i, got, tt.wantIdx[i])
				}
			}
			e, _ := st.get("e")
			if len(e.Undo) != tt.wantSteps {
				t.Fatalf("stored %+v", e.Undo)
			}
		})
	}
}

func TestHeldEntryChange(t *testing.T) {
	ctx := context.Background()
	st := &memStore{entries: map[string]Entry{}}
	h := NewHeldEntry(&Entry{ID: "e"}, st)
	i, err := h.AddUndo(ctx, Undo{Action: "kill", Args: map[string]string{"cgroup": "x"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetUndoArg(ctx, i, "pids", "1:2"); err != nil {
		t.Fatal(err)
	}
	if e, _ := st.get("e"); e.Undo[0].Args["pids"] != "1:2" {
		t.Fatalf("stored %+v", e.Undo)
	}
	if err := h.ReplaceUndo(ctx, i, "none"); err != nil {
		t.Fatal(err)
	}
	if e, _ := st.get("e"); e.Undo[0].Action != "none" {
		t.Fatalf("stored %+v", e.Undo)
	}
	for _, bad := range []int{-1, 1} {
		if err := h.SetUndoArg(ctx, bad, "k", "v"); err == nil {
			t.Fatalf("SetUndoArg %d: no error", bad)
		}
		if err := h.ReplaceUndo(ctx, bad, "none"); err == nil {
			t.Fatalf("ReplaceUndo %d: no error", bad)
		}
	}
}

func TestHeldEntryRenewAndRemove(t *testing.T) {
	ctx := context.Background()
	st := &memStore{entries: map[string]Entry{}}
	h := NewHeldEntry(&Entry{ID: "e"}, st)
	open := make(chan struct{})
	until := time.Now().Add(time.Minute)
	if err := h.Renew(ctx, until, open); err != nil {
		t.Fatal(err)
	}
	if e, ok := st.get("e"); !ok || !e.LeaseUntil.Equal(until) {
		t.Fatalf("lease not renewed: %+v", e)
	}
	done := make(chan struct{})
	close(done)
	writes := st.writes
	if err := h.Renew(ctx, until.Add(time.Minute), done); err != nil || st.writes != writes {
		t.Fatalf("renewed an injection that is over: %v, %d writes", err, st.writes-writes)
	}
	for range 2 {
		if err := h.Remove(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := st.get("e"); ok {
		t.Fatal("entry still stored")
	}
	if err := h.Renew(ctx, until, open); err != nil || st.writes != writes {
		t.Fatalf("renewed a removed entry: %v", err)
	}
	if _, ok := st.get("e"); ok {
		t.Fatal("a renewal brought a removed entry back")
	}
}

// TestJournalStore holds an entry of a real Journal.
func TestJournalStore(t *testing.T) {
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := &Entry{ID: "held-1", Created: time.Now()}
	if err := j.Write(e); err != nil {
		t.Fatal(err)
	}
	h := NewHeldEntry(e, JournalStore{Journal: j})
	if _, err := h.AddUndo(ctx, Undo{Action: "thaw"}, false); err != nil {
		t.Fatal(err)
	}
	list, err := j.List()
	if err != nil || len(list) != 1 || len(list[0].Undo) != 1 {
		t.Fatalf("journal %+v, %v", list, err)
	}
	if err := h.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if list, err := j.List(); err != nil || len(list) != 0 {
		t.Fatalf("journal after Remove %+v, %v", list, err)
	}
}
