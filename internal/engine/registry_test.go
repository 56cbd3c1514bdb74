package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	var r Registry[*Lifecycle]
	rec := &record{}
	var ls []*Lifecycle
	for i, id := range []string{"c", "a", "b"} {
		actions := []*fakeAction{{}}
		if i == 1 {
			actions[0].revertErr = errors.New("stuck")
		}
		l := newTestLifecycle(actions, rec, func(c *LifecycleConfig) {
			c.ID = id
			c.OnFinish = func() { r.Remove(id) }
		})
		if !r.Add(l) {
			t.Fatal("an open registry refused an injection")
		}
		go l.Run()
		if err := l.AwaitApplied(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	// Oldest first, whatever the ids.
	list := r.Injections()
	if len(list) != 3 || list[0].ID() != "c" || list[1].ID() != "a" || list[2].ID() != "b" {
		t.Fatalf("list %v", list)
	}
	if got, ok := r.Get("a"); !ok || got != ls[1] {
		t.Fatal("Get a")
	}
	r.Close()
	if !r.Closed() || r.Add(newTestLifecycle(nil, rec, func(c *LifecycleConfig) { c.ID = "d" })) {
		t.Fatal("a closed registry took an injection")
	}
	n, err := r.StopAll(ctxT(t, 10*time.Second))
	if n != 3 || err == nil {
		t.Fatalf("StopAll: %d, %v; want 3 and the stuck one's error", n, err)
	}
	if len(r.List()) != 0 {
		t.Fatalf("left after StopAll: %v", r.List())
	}
}

func TestRegistryAbandon(t *testing.T) {
	var r Registry[*Lifecycle]
	l := newTestLifecycle([]*fakeAction{{}}, &record{}, nil)
	r.Add(l)
	got := r.Abandon()
	if len(got) != 1 || got[0] != l || len(r.List()) != 0 || !r.Closed() {
		t.Fatalf("Abandon: %v, left %v", got, r.List())
	}
	n, err := r.StopAll(context.Background())
	if n != 0 || err != nil {
		t.Fatalf("StopAll after Abandon: %d %v", n, err)
	}
}
