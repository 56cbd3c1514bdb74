package svcaccess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// forwarder is the local listener of one Service port.
type forwarder struct {
	a         *Access
	w         *nsWatch
	namespace string
	service   string
	portName  string
	ln        net.Listener
	url       string
	next      atomic.Uint64 // round-robin position
}

// startForwarder listens on 127.0.0.1:0 for the Service port and starts its
// accept loop.
func (a *Access) startForwarder(w *nsWatch, ns, svc string, sp corev1.ServicePort) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for service %s/%s port %d: %w", ns, svc, sp.Port, err)
	}
	f := &forwarder{
		a: a, w: w, namespace: ns, service: svc, portName: sp.Name, ln: ln,
		url: "http://" + ln.Addr().String(),
	}
	key := fmt.Sprintf("%s/%s/%s/%d", ns, svc, sp.Name, sp.Port)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		_ = ln.Close()
		return nil, errors.New("svcaccess: closed")
	}
	a.forwards[key] = f
	a.wg.Add(1)
	a.mu.Unlock()
	go f.acceptLoop()
	return f, nil
}

func (f *forwarder) acceptLoop() {
	defer f.a.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || f.a.ctx.Err() != nil {
				return
			}
			// Out of file descriptors and the like: back off a little
			// instead of spinning, until Close.
			f.a.opts.Logf("svcaccess: accept on %s: %v", f.url, err)
			select {
			case <-f.a.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		f.a.mu.Lock()
		if f.a.closed {
			f.a.mu.Unlock()
			_ = c.Close()
			return
		}
		f.a.wg.Add(1)
		f.a.mu.Unlock()
		go f.handle(c)
	}
}

// handle forwards one accepted connection to a ready endpoint, trying up to
// MaxAttempts of them, or closes it.
func (f *forwarder) handle(c net.Conn) {
	defer f.a.wg.Done()
	a := f.a
	eps := readyEndpoints(f.w.slices(f.service), f.portName)
	if len(eps) == 0 {
		a.unserved.Add(1)
		_ = c.Close()
		return
	}
	start := int(f.next.Add(1) - 1)
	attempts := min(a.opts.MaxAttempts, len(eps))
	for i := range attempts {
		ep := eps[(start+i)%len(eps)]
		ctx, cancel := context.WithTimeout(a.ctx, a.opts.DialTimeout)
		b, err := a.dialer.dial(ctx, ep)
		cancel()
		if err != nil {
			a.dialFailures.Add(1)
			a.opts.Logf("svcaccess: %s/%s: dial %s (%s): %v", f.namespace, f.service, ep.key(), ep.hostPort(), err)
			if a.ctx.Err() != nil {
				break
			}
			continue
		}
		a.countConnection(ep)
		a.pipe(c, b)
		return
	}
	a.unserved.Add(1)
	_ = c.Close()
}

// connPair is a client connection and its backend, closed together.
type connPair struct {
	client  net.Conn
	backend backendConn
	once    sync.Once
}

func (p *connPair) closeBoth() {
	p.once.Do(func() {
		_ = p.client.Close()
		_ = p.backend.Close()
	})
}

// pipe copies both ways until both directions are done. A clean end of one
// direction half-closes the other side; an error closes both.
func (a *Access) pipe(client net.Conn, backend backendConn) {
	p := &connPair{client: client, backend: backend}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		p.closeBoth()
		return
	}
	a.conns[p] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.conns, p)
		a.mu.Unlock()
		p.closeBoth()
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := io.Copy(backend, client)
		if err != nil {
			p.closeBoth()
			return
		}
		_ = backend.CloseWrite()
	}()
	_, err := io.Copy(client, backend)
	if err != nil {
		p.closeBoth()
	} else if cw, ok := client.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	<-done
}

// directDialer dials the endpoint address.
// directDialer dials the endpoint's address; dialContext, when set,
// replaces net.Dialer (Options.DialContext).
type directDialer struct {
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d directDialer) dial(ctx context.Context, ep endpoint) (backendConn, error) {
	dial := d.dialContext
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	c, err := dial(ctx, "tcp", ep.hostPort())
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("dial %s: not a TCP connection (%T)", ep.hostPort(), c)
	}
	return tc, nil
}

func (directDialer) prune(string, map[string]bool) {}
func (directDialer) close()                        {}
func (directDialer) wait()                         {}
