package netfault

import (
	"context"
	"sync/atomic"
)

// ResetConn resets connections (RST, so the peers see ECONNRESET) once
// AfterBytes bytes of the direction have passed; 0 resets at once, even an
// idle connection.
type ResetConn struct {
	AfterBytes int64

	resets atomic.Int64
}

// Apply implements Fault.
func (r *ResetConn) Apply(_ context.Context, c *Chunk) (Verdict, error) {
	left := r.AfterBytes - c.Offset
	if left <= 0 {
		c.Data = c.Data[:0]
		return Reset, nil
	}
	if int64(len(c.Data)) >= left {
		c.Data = c.Data[:left]
		return Reset, nil
	}
	return Pass, nil
}

func (r *ResetConn) countConn() { r.resets.Add(1) }

// Resets counts the connections this fault reset.
func (r *ResetConn) Resets() int64 { return r.resets.Load() }
