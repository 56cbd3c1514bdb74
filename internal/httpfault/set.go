package httpfault

import (
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultMaxBody is how much of a body a patch buffers by default; a
// larger body cannot be patched (see the package doc).
const DefaultMaxBody = 16 << 20

// Set is the live rule list of a hop. Serve reads it again for every
// request, so changes reach connections already being served. The zero
// value is not usable; call NewSet.
type Set struct {
	mu      sync.Mutex
	entries []*entry
	maxBody atomic.Int64
}

// entry is one rule in one Set; removed is closed when it leaves the Set,
// which ends its delays early: a reverted fault holds nothing back.
type entry struct {
	rule    *Rule
	removed chan struct{}
	once    sync.Once
}

func (e *entry) remove() { e.once.Do(func() { close(e.removed) }) }

// NewSet returns an empty set with the default body limit.
func NewSet(rules ...*Rule) *Set {
	s := &Set{}
	s.maxBody.Store(DefaultMaxBody)
	s.Replace(rules...)
	return s
}

// SetMaxBody sets how many bytes of a body a patch may buffer (n > 0).
func (s *Set) SetMaxBody(n int64) {
	if n > 0 {
		s.maxBody.Store(n)
	}
}

// Add appends r; the returned func removes it (idempotent).
func (s *Set) Add(r *Rule) (remove func()) {
	e := &entry{rule: r, removed: make(chan struct{})}
	s.mu.Lock()
	s.entries = append(slices.Clone(s.entries), e)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.entries = slices.DeleteFunc(slices.Clone(s.entries), func(x *entry) bool { return x == e })
		s.mu.Unlock()
		e.remove()
	}
}

// Replace makes rules the set's rules, in order. Rules already in the set
// keep their entry (a delay in progress goes on); the others are removed.
func (s *Set) Replace(rules ...*Rule) {
	s.mu.Lock()
	old := s.entries
	next := make([]*entry, 0, len(rules))
	for _, r := range rules {
		i := slices.IndexFunc(old, func(e *entry) bool { return e.rule == r })
		if i >= 0 && !slices.Contains(next, old[i]) {
			next = append(next, old[i])
			continue
		}
		next = append(next, &entry{rule: r, removed: make(chan struct{})})
	}
	s.entries = next
	s.mu.Unlock()
	for _, e := range old {
		if !slices.Contains(next, e) {
			e.remove()
		}
	}
}

// Rules lists the set's rules in order.
func (s *Set) Rules() []*Rule {
	es := s.snapshot()
	out := make([]*Rule, len(es))
	for i, e := range es {
		out[i] = e.rule
	}
	return out
}

// Len is the number of rules.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// snapshot returns the current entries; the slice is never modified.
func (s *Set) snapshot() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries
}

// matching returns the entries that match a request (target Request).
func (s *Set) matchingRequest(port int, q *requestView) []*entry {
	var out []*entry
	for _, e := range s.snapshot() {
		if e.rule.target == TargetRequest && e.rule.matchRequest(port, q) {
			out = append(out, e)
		}
	}
	return out
}

func (s *Set) matchingResponse(port int, q *requestView, code int, h map[string][]string) []*entry {
	var out []*entry
	for _, e := range s.snapshot() {
		if e.rule.target == TargetResponse && e.rule.matchResponse(port, q, code, h) {
			out = append(out, e)
		}
	}
	return out
}

// Targets, re-exported so callers need not import api/v1alpha1.
const (
	TargetRequest  = Target("Request")
	TargetResponse = Target("Response")
)
