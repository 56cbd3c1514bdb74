package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// HopKind says which socket hop of the data path a proxied connection is.
type HopKind string

// Hop kinds. Every connection between services, and from outside into a
// service, crosses exactly one proxy owned by the supervisor, so a fault
// can act on each of these hops.
const (
	// HopIngress is a client outside the environment → a service's gateway
	// → a replica.
	HopIngress HopKind = "ingress"
	// HopEgress is a replica → one of its dependencies (through the
	// replica's own view of the dependency's gateway, its <DEP>_URL) → a
	// replica of the dependency.
	HopEgress HopKind = "egress"
)

// Hop describes one proxied connection; interceptors decide on it.
type Hop struct {
	Kind HopKind `json:"kind"`
	// Service is the destination service and Replica the ready replica the
	// connection was balanced to.
	Service string `json:"service"`
	Replica string `json:"replica"`
	// Source is the replica that opened the connection and SourceService
	// its service; both are empty for ingress hops.
	Source        string `json:"source,omitempty"`
	SourceService string `json:"sourceService,omitempty"`
	// Listen is the gateway address the client connected to; Upstream the
	// replica's address.
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	// Client is the connecting peer's address.
	Client string `json:"client"`
}

// Interceptor is the extension point for network and HTTP faults: the
// supervisor asks it about every proxied connection. With no interceptor, or
// when it returns nil, the connection takes the fast path (splice(2) in both
// directions); returning a Pipe hands the connection's bytes to the fault.
//
// Intercept is called when a connection is accepted and again for every live
// connection when Supervisor.Reintercept is called (after a fault is injected
// or reverted), so faults reach long-lived keep-alive connections too. It
// must be fast and safe for concurrent use.
type Interceptor interface {
	Intercept(h Hop) Pipe
}

// Pipe carries the bytes of one intercepted connection.
//
// Serve copies between client and upstream (both connected; either may
// already have half-closed its side). Reintercept (and SetInterceptor)
// cancel ctx and expire both read deadlines, so a Pipe blocked in a read
// wakes up; it should then return ErrHandBack to give the still-open
// connection back, and the gateway asks the interceptor again (nil: back to
// the fast path; the deadlines are cleared). Any other return ends the
// connection: the gateway closes both ends. A Pipe that refuses a
// connection (partition) simply returns; one that resets it can call
// SetLinger(0) first.
type Pipe interface {
	Serve(ctx context.Context, client, upstream *net.TCPConn) error
}

// ErrHandBack is returned by Pipe.Serve to give a connection back.
var ErrHandBack = errors.New("connection handed back to the gateway")

// GatewayStats counts what one listener did since it started.
type GatewayStats struct {
	Accepted int64 `json:"accepted"`
	// Refused counts connections closed at once because no replica was
	// ready; DialFailed those whose chosen replica refused the connection.
	Refused    int64 `json:"refused"`
	DialFailed int64 `json:"dialFailed"`
	Active     int64 `json:"active"`
}

type gatewayCounters struct {
	accepted, refused, dialFailed, active atomic.Int64
}

func (c *gatewayCounters) snapshot() GatewayStats {
	return GatewayStats{Accepted: c.accepted.Load(), Refused: c.refused.Load(),
		DialFailed: c.dialFailed.Load(), Active: c.active.Load()}
}

// endpoint is a ready replica a gateway can balance to.
type endpoint struct {
	replica string
	addr    string
}

// balancer holds one service's ready replicas and picks them round-robin.
// The supervisor replaces the whole set when readiness changes; readers never
// block on it.
type balancer struct {
	service string
	eps     atomic.Pointer[[]endpoint]
	next    atomic.Uint64
}

func newBalancer(service string) *balancer {
	b := &balancer{service: service}
	b.eps.Store(&[]endpoint{})
	return b
}

func (b *balancer) set(eps []endpoint) { b.eps.Store(&eps) }

func (b *balancer) pick() (endpoint, bool) {
	eps := *b.eps.Load()
	if len(eps) == 0 {
		return endpoint{}, false
	}
	return eps[(b.next.Add(1)-1)%uint64(len(eps))], true
}

func (b *balancer) ready() []endpoint { return *b.eps.Load() }

// proxy runs every listener of an environment: the service gateways and
// each replica's per-dependency egress listeners.
type proxy struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	interceptor atomic.Pointer[interceptorBox]

	mu        sync.Mutex
	conns     map[*proxiedConn]struct{}
	listeners map[*listener]struct{}
}

type interceptorBox struct{ i Interceptor }

func newProxy() *proxy {
	ctx, cancel := context.WithCancel(context.Background())
	p := &proxy{ctx: ctx, cancel: cancel, conns: map[*proxiedConn]struct{}{}, listeners: map[*listener]struct{}{}}
	p.interceptor.Store(&interceptorBox{})
	return p
}

// listener is one listening socket of the proxy.
type listener struct {
	p             *proxy
	ln            *net.TCPListener
	bal           *balancer
	kind          HopKind
	source        string
	sourceService string
	// dialFrom, when set, is the local address of the connections this
	// listener opens to replicas: the source replica's host-side veth
	// address, so that the destination's network namespace sees whose
	// call it carries (network namespaces only; nil: the kernel picks).
	dialFrom net.IP
	stats    gatewayCounters
	closed   chan struct{}
}

// listen opens a listener on 127.0.0.1:port (0: any free port).
func (p *proxy) listen(port int, bal *balancer, kind HopKind, source, sourceService string) (*listener, error) {
	return p.listenOn(net.IPv4(127, 0, 0, 1), port, bal, kind, source, sourceService, false)
}

// listenOn opens a listener on ip:port; bindSource makes its upstream
// connections start from ip too (see listener.dialFrom).
func (p *proxy) listenOn(ip net.IP, port int, bal *balancer, kind HopKind, source, sourceService string, bindSource bool) (*listener, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, err
	}
	l := &listener{p: p, ln: ln, bal: bal, kind: kind, source: source, sourceService: sourceService,
		closed: make(chan struct{})}
	if bindSource {
		l.dialFrom = ip
	}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		ln.Close()
		return nil, errors.New("the proxy is closed")
	}
	p.listeners[l] = struct{}{}
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		l.serve()
	}()
	return l, nil
}

func (l *listener) addr() string { return l.ln.Addr().String() }

func (l *listener) port() int { return l.ln.Addr().(*net.TCPAddr).Port }

// close stops accepting; connections already proxied carry on, as they do
// through a Service whose endpoints change.
func (l *listener) close() {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	select {
	case <-l.closed:
		return
	default:
		close(l.closed)
	}
	delete(l.p.listeners, l)
	l.ln.Close()
}

func (l *listener) serve() {
	var delay time.Duration
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			select {
			case <-l.closed:
				return
			case <-l.p.ctx.Done():
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http
			// does instead of spinning.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay < time.Second {
				delay *= 2
			}
			select {
			case <-time.After(delay):
			case <-l.closed:
				return
			}
			continue
		}
		delay = 0
		l.stats.accepted.Add(1)
		l.p.wg.Add(1)
		go func() {
			defer l.p.wg.Done()
			l.handle(c)
		}()
	}
}

// handle proxies one accepted connection.
func (l *listener) handle(client *net.TCPConn) {
	ep, ok := l.bal.pick()
	if !ok {
		// No ready replica: fail the client at once with a reset rather
		// than let it hang, as a Service without endpoints rejects.
		l.stats.refused.Add(1)
		_ = client.SetLinger(0)
		client.Close()
		return
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	if l.dialFrom != nil {
		d.LocalAddr = &net.TCPAddr{IP: l.dialFrom}
	}
	uc, err := d.DialContext(l.p.ctx, "tcp", ep.addr)
	if err != nil {
		// Like kube-proxy in iptables mode, a connection sent to a replica
		// that just died fails instead of being retried elsewhere: that is
		// what clients of a real cluster see, and what resilience measures.
		l.stats.dialFailed.Add(1)
		_ = client.SetLinger(0)
		client.Close()
		return
	}
	upstream := uc.(*net.TCPConn)
	// Go enables TCP_NODELAY on every TCP socket; keep it explicit because
	// a proxy that batches small writes adds tens of milliseconds per hop.
	_ = client.SetNoDelay(true)
	_ = upstream.SetNoDelay(true)
	pc := &proxiedConn{client: client, upstream: upstream, hop: Hop{
		Kind: l.kind, Service: l.bal.service, Replica: ep.replica,
		Source: l.source, SourceService: l.sourceService,
		Listen: l.addr(), Upstream: ep.addr, Client: client.RemoteAddr().String(),
	}}
	pc.ctx, pc.cancel = context.WithCancel(l.p.ctx)
	l.stats.active.Add(1)
	l.p.track(pc, true)
	defer func() {
		l.p.track(pc, false)
		l.stats.active.Add(-1)
		pc.cancel()
		client.Close()
		upstream.Close()
	}()
	pc.run(l.p)
}

func (p *proxy) track(pc *proxiedConn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !add {
		delete(p.conns, pc)
		return
	}
	if p.ctx.Err() != nil {
		// The proxy closed while this connection was being set up.
		pc.client.Close()
		pc.upstream.Close()
		return
	}
	p.conns[pc] = struct{}{}
}

// setInterceptor installs i (nil removes it) and re-asks it about every live
// connection.
func (p *proxy) setInterceptor(i Interceptor) {
	p.interceptor.Store(&interceptorBox{i: i})
	p.reintercept()
}

// reintercept interrupts every live connection so that the interceptor is
// asked about it again.
func (p *proxy) reintercept() {
	p.mu.Lock()
	conns := make([]*proxiedConn, 0, len(p.conns))
	for pc := range p.conns {
		conns = append(conns, pc)
	}
	p.mu.Unlock()
	for _, pc := range conns {
		pc.interrupt()
	}
}

// hops lists the live proxied connections.
func (p *proxy) hops() []Hop {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Hop, 0, len(p.conns))
	for pc := range p.conns {
		out = append(out, pc.hop)
	}
	return out
}

// close stops every listener and connection and waits for their goroutines.
func (p *proxy) close() {
	p.mu.Lock()
	p.cancel()
	for l := range p.listeners {
		close(l.closed)
		l.ln.Close()
		delete(p.listeners, l)
	}
	for pc := range p.conns {
		pc.client.Close()
		pc.upstream.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxiedConn is one client connection and its upstream.
type proxiedConn struct {
	hop              Hop
	client, upstream *net.TCPConn
	ctx              context.Context
	cancel           context.CancelFunc

	mu sync.Mutex
	// interrupted asks the current round to stop and re-ask the
	// interceptor; pipeCancel ends an active Pipe's context.
	interrupted bool
	pipeCancel  context.CancelFunc
}

// interrupt makes the connection ask the interceptor again: a fast-path
// round is stopped by expiring both read deadlines (splice returns without
// losing bytes: a read deadline only ends the wait for readable data), a
// Pipe by cancelling its context.
func (pc *proxiedConn) interrupt() {
	pc.mu.Lock()
	pc.interrupted = true
	cancel := pc.pipeCancel
	pc.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	past := time.Unix(1, 0)
	_ = pc.client.SetReadDeadline(past)
	_ = pc.upstream.SetReadDeadline(past)
}

// resetRound clears a pending interrupt and the read deadlines it set; the
// caller is about to ask the interceptor, which satisfies the interrupt.
func (pc *proxiedConn) resetRound() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.interrupted = false
	_ = pc.client.SetReadDeadline(time.Time{})
	_ = pc.upstream.SetReadDeadline(time.Time{})
}

func (pc *proxiedConn) isInterrupted() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.interrupted
}

func (pc *proxiedConn) run(p *proxy) {
	for {
		if pc.ctx.Err() != nil {
			return
		}
		pc.resetRound()
		var pipe Pipe
		if i := p.interceptor.Load().i; i != nil {
			pipe = i.Intercept(pc.hop)
		}
		if pipe == nil {
			if !pc.fastRound() {
				return
			}
			continue
		}
		pctx, pcancel := context.WithCancel(pc.ctx)
		pc.mu.Lock()
		pc.pipeCancel = pcancel
		if pc.interrupted {
			// The rules changed between Intercept and now: let the pipe
			// see a cancelled context and hand the connection back.
			pcancel()
		}
		pc.mu.Unlock()
		err := pipe.Serve(pctx, pc.client, pc.upstream)
		pc.mu.Lock()
		pc.pipeCancel = nil
		pc.mu.Unlock()
		pcancel()
		if !errors.Is(err, ErrHandBack) {
			return
		}
	}
}

// fastRound copies both directions until the connection ends (false) or an
// interrupt asks for the interceptor again (true).
//
// Each direction is dst.ReadFrom(src) on two *net.TCPConn, which Go serves
// with splice(2): bytes move kernel-side without a user-space copy. When a
// side reaches EOF its write half is closed towards the other (half-close),
// so request/response protocols that shut down writing keep working.
func (pc *proxiedConn) fastRound() bool {
	var wg sync.WaitGroup
	var aborted atomic.Bool
	pump := func(dst, src *net.TCPConn) {
		defer wg.Done()
		_, err := dst.ReadFrom(src)
		switch {
		case err == nil:
			// EOF from src: pass the half-close on.
			_ = dst.CloseWrite()
		case errors.Is(err, os.ErrDeadlineExceeded):
			// Interrupted; the caller decides.
		default:
			// Reset, closed, or an error writing: the connection is over
			// in both directions.
			aborted.Store(true)
			pc.client.Close()
			pc.upstream.Close()
		}
	}
	wg.Add(2)
	go pump(pc.upstream, pc.client)
	pump(pc.client, pc.upstream)
	wg.Wait()
	if aborted.Load() {
		return false
	}
	return pc.isInterrupted()
}

// freePort asks the kernel for a free loopback TCP port. The port is free
// when this returns; the caller reserves it in its own bookkeeping so that
// the supervisor never hands it out twice.
func freePort() (int, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// checkPort reports why port on 127.0.0.1 cannot be used ("port 8080 is
// already in use"), or nil when it is free now.
func checkPort(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("port %d is already in use", port)
		}
		return fmt.Errorf("port %d: %w", port, err)
	}
	ln.Close()
	return nil
}

var _ io.ReaderFrom = (*net.TCPConn)(nil)
