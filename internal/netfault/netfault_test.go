package netfault

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestLatencyAddsAskedDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   *Latency
		dir     Direction
		added   time.Duration // per round trip
		samples int
	}{
		{"upstream 100ms ±10ms", &Latency{Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond}, Upstream, 100 * time.Millisecond, 31},
		{"downstream 100ms", &Latency{Delay: 100 * time.Millisecond}, Downstream, 100 * time.Millisecond, 21},
		{"both 50ms ±5ms", &Latency{Delay: 50 * time.Millisecond, Jitter: 5 * time.Millisecond}, Both, 100 * time.Millisecond, 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clean := newPair(t, NewSet())
			echo(t, clean.server)
			set := NewSet()
			set.Replace(tt.dir, tt.fault)
			faulty := newPair(t, set)
			echo(t, faulty.server)

			msg := []byte("a request of some sixty-four bytes, give or take a few bytes...")
			var base, with []time.Duration
			for range tt.samples {
				base = append(base, roundTrip(t, clean.client, msg))
				with = append(with, roundTrip(t, faulty.client, msg))
			}
			added := median(with) - median(base)
			if !within(float64(added), float64(tt.added), 0.05) {
				t.Errorf("added p50 %v, want %v ±5%% (clean p50 %v)", added, tt.added, median(base))
			}
			st := tt.fault.Stats()
			if st.Chunks < int64(tt.samples) {
				t.Errorf("fault saw %d chunks, want ≥ %d", st.Chunks, tt.samples)
			}
			if !within(float64(st.P50), float64(tt.fault.Delay), 0.05) {
				t.Errorf("fault measured p50 %v, want %v ±5%%", st.P50, tt.fault.Delay)
			}
		})
	}
}

func TestLatencyKeepsOrder(t *testing.T) {
	t.Parallel()
	set := NewSet()
	// Jitter as large as the delay: release times cross, chunks must not.
	set.Replace(Upstream, &Latency{Delay: 5 * time.Millisecond, Jitter: 5 * time.Millisecond})
	p := newPair(t, set)
	const n = 200
	go func() {
		for i := range n {
			_, _ = p.client.Write([]byte{byte(i)})
			time.Sleep(200 * time.Microsecond)
		}
	}()
	buf := make([]byte, n)
	if _, err := io.ReadFull(p.server, buf); err != nil {
		t.Fatal(err)
	}
	for i, b := range buf {
		if b != byte(i) {
			t.Fatalf("byte %d is %d: order not kept", i, b)
		}
	}
}

func TestBandwidthShapesToRate(t *testing.T) {
	t.Parallel()
	const rate, size = 1 << 20, 2 << 20 // 1 MiB/s, 2 MiB
	bw := &Bandwidth{Rate: rate}
	set := NewSet()
	set.Replace(Upstream, bw)
	p := newPair(t, set)

	start := time.Now()
	go func() {
		_, _ = p.client.Write(make([]byte, size))
		_ = p.client.CloseWrite()
	}()
	n, err := io.Copy(io.Discard, p.server)
	elapsed := time.Since(start)
	if err != nil || n != size {
		t.Fatalf("received %d bytes, err %v; want %d", n, err, size)
	}
	if elapsed < 1800*time.Millisecond {
		t.Errorf("2 MiB at 1 MiB/s took %v, want ≥ 1.8s", elapsed)
	}
	if elapsed > 10*time.Second { // sanity only
		t.Errorf("took %v", elapsed)
	}
	st := bw.Stats()
	if st.Bytes != size || !within(st.Rate, rate, 0.10) {
		t.Errorf("measured %d bytes at %.0f B/s, want %d at %d B/s ±10%%", st.Bytes, st.Rate, size, rate)
	}
}

func TestPartitionBlackHoleThenRevert(t *testing.T) {
	t.Parallel()
	part := &Partition{}
	set := NewSet()
	p := newPair(t, set)
	// The partition reaches a connection that is already open.
	set.Replace(Both, part)

	if _, err := p.client.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	_ = p.server.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 64)
	if n, err := p.server.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("through a black hole: read %q, %v; want nothing", buf[:n], err)
	}
	if st := part.Stats(); st.DroppedBytes != 4 || st.DroppedChunks != 1 {
		t.Errorf("stats %+v, want 4 bytes in 1 chunk dropped", st)
	}

	set.Clear()
	if _, err := p.client.Write([]byte("found")); err != nil {
		t.Fatal(err)
	}
	_ = p.server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.ReadAtLeast(p.server, buf, 5)
	if err != nil || string(buf[:n]) != "found" {
		t.Fatalf("after revert: read %q, %v; want %q", buf[:n], err, "found")
	}
}

func TestPartitionRefuseClosesLiveConnection(t *testing.T) {
	t.Parallel()
	part := &Partition{Refuse: true}
	set := NewSet()
	p := newPair(t, set)
	set.Replace(Both, part)
	_ = p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := p.client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
	if err := p.link.Wait(); !errors.Is(err, ErrRefused) {
		t.Errorf("link: %v, want ErrRefused", err)
	}
	if got := part.Stats().Refused; got != 1 {
		t.Errorf("refused %d connections, want 1", got)
	}
}

func TestResetGivesECONNRESET(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		after    int64
		send     int
		wantSeen int // bytes the server sees before the reset
	}{
		{"at once on a live connection", 0, 0, 0},
		{"after 10 bytes", 10, 20, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &ResetConn{AfterBytes: tt.after}
			set := NewSet()
			p := newPair(t, set)
			set.Replace(Upstream, r)
			if tt.send > 0 {
				if _, err := p.client.Write(make([]byte, tt.send)); err != nil {
					t.Fatal(err)
				}
			}
			_ = p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := p.client.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("client read: %v, want ECONNRESET", err)
			}
			_ = p.server.SetReadDeadline(time.Now().Add(5 * time.Second))
			seen, err := io.Copy(io.Discard, p.server)
			if seen != int64(tt.wantSeen) || !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("server saw %d bytes then %v, want %d then ECONNRESET", seen, err, tt.wantSeen)
			}
			if err := p.link.Wait(); !errors.Is(err, ErrReset) {
				t.Errorf("link: %v, want ErrReset", err)
			}
			if r.Resets() != 1 {
				t.Errorf("resets %d, want 1", r.Resets())
			}
		})
	}
}

func TestLiveChangeReachesOpenConnection(t *testing.T) {
	t.Parallel()
	set := NewSet()
	p := newPair(t, set)
	echo(t, p.server)
	msg := []byte("ping")
	roundTrip(t, p.client, msg)

	set.Replace(Upstream, &Latency{Delay: 200 * time.Millisecond})
	if d := roundTrip(t, p.client, msg); d < 200*time.Millisecond {
		t.Errorf("round trip with 200ms injected took %v", d)
	}
	set.Clear()
	if d := roundTrip(t, p.client, msg); d > 150*time.Millisecond { // generous sanity
		t.Errorf("round trip after revert took %v", d)
	}

	// Reverting releases a chunk already waiting in the fault.
	set.Replace(Upstream, &Latency{Delay: time.Hour})
	if _, err := p.client.Write(msg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	set.Clear()
	_ = p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(p.client, make([]byte, len(msg))); err != nil {
		t.Fatalf("held chunk after revert: %v", err)
	}
	if d := time.Since(start); d > time.Second { // sanity; the aim is ~100ms
		t.Errorf("held chunk released %v after revert", d)
	}
}

func TestHalfClose(t *testing.T) {
	t.Parallel()
	p := newPair(t, NewSet())
	if _, err := p.client.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	if err := p.client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	req, err := io.ReadAll(p.server)
	if err != nil || string(req) != "request" {
		t.Fatalf("server read %q, %v", req, err)
	}
	// The other direction still works after the client's half-close.
	if _, err := p.server.Write([]byte("response")); err != nil {
		t.Fatal(err)
	}
	_ = p.server.CloseWrite()
	resp, err := io.ReadAll(p.client)
	if err != nil || string(resp) != "response" {
		t.Fatalf("client read %q, %v", resp, err)
	}
	if err := p.link.Wait(); err != nil {
		t.Errorf("link: %v", err)
	}
}

func TestServeHandsBackWithoutLosingBytes(t *testing.T) {
	t.Parallel()
	client, clientSide := connect(t, listen(t))
	upstream, server := connect(t, listen(t))
	t.Cleanup(func() { client.Close(); clientSide.Close(); upstream.Close(); server.Close() })
	set := NewSet()
	set.Replace(Upstream, &Latency{Delay: time.Hour})

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, clientSide, upstream, set) }()
	if _, err := client.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, ErrStopped) {
		t.Fatalf("Serve: %v, want ErrStopped", err)
	}
	buf := make([]byte, 4)
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "held" {
		t.Fatalf("server read %q, %v; the held chunk was lost", buf, err)
	}
	// The connection is still open and its deadlines cleared: a plain copy
	// carries on.
	go func() { _, _ = io.Copy(upstream, clientSide) }()
	if _, err := client.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "more" {
		t.Fatalf("after hand-back: %q, %v", buf, err)
	}
}

// TestCloseLeaksNoGoroutines is not parallel: it counts goroutines.
func TestCloseLeaksNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		set := NewSet()
		set.Replace(Both, &Latency{Delay: 10 * time.Millisecond}, &Bandwidth{Rate: 1 << 20})
		var links []*Link
		var conns []net.Conn
		for range 20 {
			client, clientSide := connect(t, listen(t))
			upstream, server := connect(t, listen(t))
			conns = append(conns, client, server)
			links = append(links, Start(clientSide, upstream, set))
			_, _ = client.Write([]byte("in flight"))
		}
		time.Sleep(5 * time.Millisecond)
		for _, l := range links {
			if err := l.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
