package netfault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Direction says which half of a connection a fault acts on.
type Direction int

// Directions, named from the client's side of the hop.
const (
	// Upstream is client → server.
	Upstream Direction = 1 << iota
	// Downstream is server → client.
	Downstream
	// Both is the two of them.
	Both = Upstream | Downstream
)

func (d Direction) String() string {
	switch d {
	case Upstream:
		return "upstream"
	case Downstream:
		return "downstream"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Verdict is what a fault decides for a chunk.
type Verdict int

const (
	// Pass hands the chunk to the next fault, and after the last one to the
	// peer.
	Pass Verdict = iota
	// Drop discards the chunk (black hole); the connection stays open.
	Drop
	// Refuse closes both ends of the connection at once.
	Refuse
	// Reset writes what is left of the chunk's Data, then closes both ends
	// with an RST (SO_LINGER 0).
	Reset
)

// Chunk is one read's worth of one direction of the stream.
type Chunk struct {
	// Data is what was read; a fault may shorten it.
	Data []byte
	// Arrival is when it was read from the sender.
	Arrival time.Time
	// Offset counts the bytes of this direction read before Data.
	Offset int64
	// Dir is the direction the chunk travels.
	Dir Direction

	changed <-chan struct{}
}

// ErrInterrupted is returned by Chunk.WaitUntil when the faults of the set
// changed during the wait; the link then runs the chunk through the new
// faults.
var ErrInterrupted = errors.New("netfault: faults changed while waiting")

// WaitUntil blocks until t, until ctx ends, or until the faults change.
func (c *Chunk) WaitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-c.changed:
		return ErrInterrupted
	case <-ctx.Done():
		return fmt.Errorf("netfault: wait: %w", ctx.Err())
	}
}

// Fault transforms one direction of a proxied byte stream, one chunk at a
// time. Apply is called in stream order on one goroutine per link and
// direction, but a Fault value may be shared by many links (and both
// directions), so it must be safe for concurrent use. Apply may wait (with
// Chunk.WaitUntil) and must return the error of the wait.
type Fault interface {
	Apply(ctx context.Context, c *Chunk) (Verdict, error)
}

// connCounter is implemented by faults that count the connections they end.
type connCounter interface{ countConn() }

// faults is one immutable configuration of a Set.
type faults struct {
	up, down []Fault
	changed  chan struct{} // closed when this configuration is replaced
}

func (f *faults) of(d Direction) []Fault {
	if d == Upstream {
		return f.up
	}
	return f.down
}

// Set holds the faults of each direction, shared by every link that uses it.
// The zero value is not usable; call NewSet.
type Set struct {
	mu  sync.Mutex // serializes writers; readers only load cur
	cur atomic.Pointer[faults]
}

// NewSet returns a set with no faults.
func NewSet() *Set {
	s := &Set{}
	s.cur.Store(&faults{changed: make(chan struct{})})
	return s
}

// Replace sets the faults of the directions in dir (applied in the order
// given), leaving the other direction's, and reaches live links at once.
func (s *Set) Replace(dir Direction, fs ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	next := &faults{up: old.up, down: old.down, changed: make(chan struct{})}
	list := append([]Fault(nil), fs...)
	if dir&Upstream != 0 {
		next.up = list
	}
	if dir&Downstream != 0 {
		next.down = list
	}
	s.cur.Store(next)
	close(old.changed)
}

// Clear removes every fault (revert).
func (s *Set) Clear() { s.Replace(Both) }

func (s *Set) load() *faults { return s.cur.Load() }
