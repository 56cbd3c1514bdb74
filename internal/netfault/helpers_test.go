package netfault

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// pair is a client and a server joined through a Link on real loopback
// sockets: client → [link: clientSide ⇄ upstream] → server.
type pair struct {
	client, server *net.TCPConn
	link           *Link
}

func listen(t testing.TB) *net.TCPListener {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// connect returns both ends of a fresh loopback connection.
func connect(t testing.TB, ln *net.TCPListener) (dialed, accepted *net.TCPConn) {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	return c, a
}

// newPair joins a client and a server through a link shaped by set.
func newPair(t testing.TB, set *Set) *pair {
	t.Helper()
	client, clientSide := connect(t, listen(t))
	upstream, server := connect(t, listen(t))
	p := &pair{client: client, server: server, link: Start(clientSide, upstream, set)}
	t.Cleanup(func() {
		_ = p.link.Close()
		client.Close()
		server.Close()
	})
	return p
}

// echo makes the server side echo everything until it is closed; the
// returned func waits for it to stop.
func echo(t testing.TB, c *net.TCPConn) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(c, c)
		_ = c.CloseWrite()
	})
	t.Cleanup(func() {
		c.Close()
		wg.Wait()
	})
}

// roundTrip sends msg and reads its echo, returning the time it took.
func roundTrip(t testing.TB, c *net.TCPConn, msg []byte) time.Duration {
	t.Helper()
	buf := make([]byte, len(msg))
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[(len(s)-1)/2]
}

// within reports whether got is within frac of want.
func within(got, want, frac float64) bool {
	return got >= want*(1-frac) && got <= want*(1+frac)
}
