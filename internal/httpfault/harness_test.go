package httpfault

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// testProxy is a loopback TCP proxy that serves every connection with
// Serve, the way the embedded engine's gateway does: on ErrStopped it
// relays raw bytes (the splice fast path) until the connection ends.
type testProxy struct {
	t        testing.TB
	ln       net.Listener
	upstream string
	set      *Set

	mu    sync.Mutex
	conns map[*proxyConn]struct{}
	wg    sync.WaitGroup

	// rawOnly (a nil set) skips Serve: a plain TCP relay, the
	// benchmark's baseline.
	rawOnly    bool
	handedBack atomic.Int64
	served     atomic.Int64
	errs       chan error
}

type proxyConn struct {
	client, upstream net.Conn
	cancel           context.CancelFunc
	mu               sync.Mutex
	raw              bool
}

func newTestProxy(t testing.TB, upstream string, set *Set) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{t: t, ln: ln, upstream: upstream, set: set, conns: map[*proxyConn]struct{}{},
		errs: make(chan error, 1024), rawOnly: set == nil}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *testProxy) addr() string { return p.ln.Addr().String() }

func (p *testProxy) url() string { return "http://" + p.addr() }

func (p *testProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *testProxy) handle(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	pc := &proxyConn{client: c, upstream: u}
	p.mu.Lock()
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
		c.Close()
		u.Close()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	pc.mu.Lock()
	pc.cancel = cancel
	pc.mu.Unlock()
	p.served.Add(1)
	err = ErrStopped
	if !p.rawOnly {
		err = Serve(ctx, c, u, p.set)
	}
	cancel()
	if !errors.Is(err, ErrStopped) {
		if err != nil {
			select {
			case p.errs <- err:
			default:
			}
		}
		return
	}
	p.handedBack.Add(1)
	pc.mu.Lock()
	pc.raw = true
	pc.mu.Unlock()
	// The fast path: raw bytes both ways, half-closes passed on.
	var wg sync.WaitGroup
	wg.Add(2)
	pump := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		closeWrite(dst)
	}
	go pump(u, c)
	go pump(c, u)
	wg.Wait()
}

// interrupt does what the gateway does when the fault set changes: cancel
// every Serve's ctx, then expire both read deadlines.
func (p *testProxy) interrupt() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		pc.mu.Lock()
		if pc.cancel != nil && !pc.raw {
			pc.cancel()
			past := time.Unix(1, 0)
			_ = pc.client.SetReadDeadline(past)
			_ = pc.upstream.SetReadDeadline(past)
		}
		pc.mu.Unlock()
	}
}

func (p *testProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for pc := range p.conns {
		pc.client.Close()
		pc.upstream.Close()
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.t.Error("proxy goroutines did not end within 10s")
	}
}

// startServer runs handler on a loopback HTTP/1.1 server.
func startServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func hostOf(s *httptest.Server) string { return s.Listener.Addr().String() }

func newClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 16, DisableCompression: true, ExpectContinueTimeout: 5 * time.Second}}
}

func mustCompile(t *testing.T, s *v1alpha1.HTTPChaosSpec) *Rule {
	t.Helper()
	r, err := Compile(s)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return r
}

func ptr[T any](v T) *T { return &v }

func spec(target Target, mod func(*v1alpha1.HTTPChaosSpec)) *v1alpha1.HTTPChaosSpec {
	s := &v1alpha1.HTTPChaosSpec{Target: target}
	mod(s)
	return s
}

// withTimeout runs fn and fails the test if it does not return in d.
func withTimeout(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not finish within %s", what, d)
	}
}
