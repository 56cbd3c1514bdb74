package netfault

import (
	"context"
	"sync/atomic"
)

// Partition cuts the hop, in one of three ways:
//   - Hold (what a network partition does to TCP): the chunk is kept, not
//     forwarded, until the faults change. The reader stops once its buffers
//     are full, so the sender's socket buffer fills and it blocks, as a
//     sender whose packets are dropped waits for acknowledgements; when the
//     partition is lifted the held bytes go out, as retransmissions would.
//     Nothing is lost, so connections survive a partition shorter than
//     their own timeouts, as they do through a real one.
//   - Refuse: closes both ends of every connection it sees, at once.
//   - neither (black hole): keeps reading and discards everything, so
//     senders see a peer that went silent and the bytes are gone for good.
type Partition struct {
	Refuse bool
	Hold   bool

	bytes, chunks, refused atomic.Int64
	held, heldChunks       atomic.Int64
}

// Apply implements Fault.
func (p *Partition) Apply(ctx context.Context, c *Chunk) (Verdict, error) {
	if p.Refuse {
		return Refuse, nil
	}
	if p.Hold {
		if len(c.Data) == 0 {
			return Pass, nil
		}
		n := int64(len(c.Data))
		p.held.Add(n)
		p.heldChunks.Add(1)
		select {
		case <-ctx.Done():
		case <-c.changed: // nil outside a link: blocks until ctx ends
		}
		if ctx.Err() == nil {
			// The faults changed: the chunk is run through the new ones,
			// which count it again if they still hold it.
			p.held.Add(-n)
			p.heldChunks.Add(-1)
			return Pass, ErrInterrupted
		}
		return Pass, ctx.Err()
	}
	if len(c.Data) > 0 {
		p.chunks.Add(1)
		p.bytes.Add(int64(len(c.Data)))
	}
	return Drop, nil
}

func (p *Partition) countConn() { p.refused.Add(1) }

// PartitionStats is what a Partition fault did: bytes and chunks swallowed
// by the black hole, held back while holding (they were delivered, or are
// still waiting, once the partition lifted), connections refused.
type PartitionStats struct {
	DroppedBytes  int64 `json:"droppedBytes"`
	DroppedChunks int64 `json:"droppedChunks"`
	HeldBytes     int64 `json:"heldBytes"`
	HeldChunks    int64 `json:"heldChunks"`
	Refused       int64 `json:"refused"`
}

// Stats reports what the partition swallowed, held and refused.
func (p *Partition) Stats() PartitionStats {
	return PartitionStats{DroppedBytes: p.bytes.Load(), DroppedChunks: p.chunks.Load(),
		HeldBytes: p.held.Load(), HeldChunks: p.heldChunks.Load(), Refused: p.refused.Load()}
}
