package engine

import (
	"context"
	"errors"
	"sort"
	"sync"
)

// Registry is an engine's set of active injections: it lists them oldest
// first, reverts them all (StopAll) and, once closed, refuses new ones. The
// zero value is an open, empty registry; it is safe from any goroutine.
type Registry[T Injection] struct {
	mu     sync.Mutex
	closed bool
	seq    uint64
	active map[string]registered[T]
}

type registered[T any] struct {
	inj T
	seq uint64
}

// Add registers inj under its ID; false when the registry is closed.
func (r *Registry[T]) Add(inj T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if r.active == nil {
		r.active = map[string]registered[T]{}
	}
	r.seq++
	r.active[inj.ID()] = registered[T]{inj: inj, seq: r.seq}
	return true
}

// Remove forgets the injection with this id (it is over).
func (r *Registry[T]) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, id)
}

// Get returns the active injection with this id.
func (r *Registry[T]) Get(id string) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.active[id]
	return e.inj, ok
}

// List returns the active injections, oldest first.
func (r *Registry[T]) List() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listLocked()
}

func (r *Registry[T]) listLocked() []T {
	list := make([]registered[T], 0, len(r.active))
	for _, e := range r.active {
		list = append(list, e)
	}
	sort.Slice(list, func(a, b int) bool { return list[a].seq < list[b].seq })
	out := make([]T, len(list))
	for i, e := range list {
		out[i] = e.inj
	}
	return out
}

// Injections is List as engine.Injection values.
func (r *Registry[T]) Injections() []Injection {
	list := r.List()
	out := make([]Injection, len(list))
	for i, inj := range list {
		out[i] = inj
	}
	return out
}

// Close refuses new injections from now on; the active ones stay.
func (r *Registry[T]) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

// Closed reports whether Close (or Abandon) was called.
func (r *Registry[T]) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// StopAll reverts every active injection at once, in parallel, and returns
// how many it reverted; the error joins those that could not be.
func (r *Registry[T]) StopAll(ctx context.Context) (int, error) {
	list := r.List()
	errs := make([]error, len(list))
	parallel(len(list), 0, nil, func(i int) { errs[i] = list[i].Revert(ctx) })
	return len(list), errors.Join(errs...)
}

// Abandon closes the registry and empties it without reverting anything,
// returning what it held: what a crash leaves (tests of recovery).
func (r *Registry[T]) Abandon() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	list := r.listLocked()
	clear(r.active)
	return list
}
