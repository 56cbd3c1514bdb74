package netfault

import (
	"errors"
	"io"
	"math"
	"os"
	"testing"
	"time"
)

func TestPartitionHoldDeliversAfterRevert(t *testing.T) {
	t.Parallel()
	part := &Partition{Hold: true}
	set := NewSet()
	p := newPair(t, set)
	set.Replace(Upstream, part)

	if _, err := p.client.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	_ = p.server.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 64)
	if n, err := p.server.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("through a partition: read %q, %v; want nothing", buf[:n], err)
	}
	if st := part.Stats(); st.HeldBytes != 4 || st.HeldChunks != 1 || st.DroppedBytes != 0 {
		t.Errorf("stats %+v, want 4 bytes in 1 chunk held", st)
	}
	// Replacing the faults with the same partition keeps holding, and
	// counts the chunk once.
	set.Replace(Upstream, part)
	_ = p.server.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := p.server.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after re-install: read %q, %v; want nothing", buf[:n], err)
	}
	if st := part.Stats(); st.HeldBytes != 4 {
		t.Errorf("held %d bytes after re-install, want 4", st.HeldBytes)
	}

	set.Clear()
	if _, err := p.client.Write([]byte("+more")); err != nil {
		t.Fatal(err)
	}
	_ = p.server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.ReadAtLeast(p.server, buf, 9)
	if err != nil || string(buf[:n]) != "held+more" {
		t.Fatalf("after revert: read %q, %v; want %q (nothing lost, in order)", buf[:n], err, "held+more")
	}
}

// A read deadline set from outside (the gateway interrupting every
// connection) must not end a link that is not stopping.
func TestForeignReadDeadlineDoesNotEndLink(t *testing.T) {
	t.Parallel()
	set := NewSet()
	set.Replace(Both, &Latency{Delay: time.Millisecond})
	p := newPair(t, set)
	echo(t, p.server)
	roundTrip(t, p.client, []byte("one"))
	for range 5 {
		_ = p.link.client.SetReadDeadline(time.Unix(1, 0))
		_ = p.link.upstream.SetReadDeadline(time.Unix(1, 0))
		time.Sleep(5 * time.Millisecond)
	}
	_ = p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	roundTrip(t, p.client, []byte("two"))
	select {
	case <-p.link.Done():
		t.Fatalf("link ended: %v", p.link.Wait())
	default:
	}
}

// Correlation makes successive delays drift: the mean step between two
// draws shrinks, as with netem.
func TestLatencyCorrelation(t *testing.T) {
	t.Parallel()
	step := func(rho float64) float64 {
		l := &Latency{Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, Correlation: rho}
		const n = 20000
		var sum float64
		prev := l.delay()
		for range n {
			d := l.delay()
			if d < 90*time.Millisecond || d > 110*time.Millisecond {
				t.Fatalf("rho %.2f: delay %v outside 100ms ± 10ms", rho, d)
			}
			sum += math.Abs(float64(d - prev))
			prev = d
		}
		return sum / n / float64(time.Millisecond)
	}
	// Uncorrelated uniform ±10 ms: E|X-Y| = 20 ms / 3 ≈ 6.7 ms.
	free, tied := step(0), step(0.9)
	if free < 6 || free > 7.4 {
		t.Errorf("uncorrelated mean step %.2f ms, want ≈ 6.7", free)
	}
	if tied > free/3 {
		t.Errorf("correlation 0.9: mean step %.2f ms, want well under %.2f ms", tied, free)
	}
}

// Closing the connections under a link whose chunk a partition holds ends
// the link: nothing waits for the partition to lift.
func TestClosedConnEndsHeldLink(t *testing.T) {
	t.Parallel()
	set := NewSet()
	set.Replace(Upstream, &Partition{Hold: true})
	p := newPair(t, set)
	if _, err := p.client.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the chunk reach the partition
	_ = p.link.client.Close()
	_ = p.link.upstream.Close()
	select {
	case <-p.link.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the link still runs after its connections were closed")
	}
}
