package netfault

import (
	"context"
	"sync/atomic"
)

// Partition cuts the hop. A black hole (the default) keeps reading and
// forwards nothing, so senders see a peer that went silent; Refuse closes
// both ends of every connection it sees, at once.
type Partition struct {
	Refuse bool

	bytes, chunks, refused atomic.Int64
}

// Apply implements Fault.
func (p *Partition) Apply(_ context.Context, c *Chunk) (Verdict, error) {
	if p.Refuse {
		return Refuse, nil
	}
	if len(c.Data) > 0 {
		p.chunks.Add(1)
		p.bytes.Add(int64(len(c.Data)))
	}
	return Drop, nil
}

func (p *Partition) countConn() { p.refused.Add(1) }

// PartitionStats is what a Partition fault did: bytes and chunks swallowed
// by the black hole, connections refused.
type PartitionStats struct {
	DroppedBytes  int64 `json:"droppedBytes"`
	DroppedChunks int64 `json:"droppedChunks"`
	Refused       int64 `json:"refused"`
}

// Stats reports what the partition swallowed and refused.
func (p *Partition) Stats() PartitionStats {
	return PartitionStats{DroppedBytes: p.bytes.Load(), DroppedChunks: p.chunks.Load(), Refused: p.refused.Load()}
}
