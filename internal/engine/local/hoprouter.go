package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/faultline-dev/faultline/internal/httpfault"
	"github.com/faultline-dev/faultline/internal/netfault"
)

// hopFault is an active network or HTTP fault's hold on the hops it selects.
type hopFault interface {
	// streamFaults returns the netfault faults this fault puts on hop h per
	// direction (client→server = netfault.Upstream), or ok=false when it
	// does not touch h. It is called for every new connection and every
	// live one each time the routing changes: it must be fast, safe for
	// concurrent use, and return the same Fault values for the same hop
	// (they hold the fault's state: token bucket, measurements).
	streamFaults(h Hop) (up, down []netfault.Fault, ok bool)
}

// hopRouter is the one Interceptor an Engine installs on its Supervisor:
// it routes each proxied connection to the active hop faults that select
// it. With no fault touching a hop it returns nil, so the connection stays
// on the gateway's splice fast path: an idle router costs one atomic load
// per connection.
//
// A faulted connection is served by a hopPipe, which follows changes of
// the routing itself: faults added to or removed from its hop are swapped
// into its netfault.Set live (a chunk held by a partition or waiting in a
// delay is re-run through the new faults, never released early); only
// when no fault is left on the hop does it hand the connection back to the
// gateway. Interrupts the gateway sends for other hops' changes
// (Reintercept interrupts every live connection) are ignored.
type hopRouter struct {
	mu sync.Mutex // serialises writers
	// cur is the routing readers see: replaced, never modified.
	cur atomic.Pointer[routing]
}

// routing is one immutable state of the router.
type routing struct {
	faults []hopFault
	// changed is closed when this routing is replaced.
	changed chan struct{}
}

func newHopRouter() *hopRouter {
	r := &hopRouter{}
	r.cur.Store(&routing{changed: make(chan struct{})})
	return r
}

// update replaces the fault list with fn's result and wakes every pipe.
func (r *hopRouter) update(fn func([]hopFault) []hopFault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	r.cur.Store(&routing{faults: fn(slices.Clone(old.faults)), changed: make(chan struct{})})
	close(old.changed)
}

func (r *hopRouter) add(f hopFault) {
	r.update(func(fs []hopFault) []hopFault {
		if slices.Contains(fs, f) {
			return fs
		}
		return append(fs, f)
	})
}

func (r *hopRouter) remove(f hopFault) {
	r.update(func(fs []hopFault) []hopFault {
		return slices.DeleteFunc(fs, func(x hopFault) bool { return x == f })
	})
}

// clear drops every fault (the engine is closing): live pipes hand their
// connections back.
func (r *hopRouter) clear() {
	r.update(func([]hopFault) []hopFault { return nil })
}

// stream collects the stream faults of every active fault on h, in the
// order the faults were injected.
func (rt *routing) stream(h Hop) (up, down []netfault.Fault, any bool) {
	for _, f := range rt.faults {
		u, d, ok := f.streamFaults(h)
		if !ok {
			continue
		}
		up = append(up, u...)
		down = append(down, d...)
	}
	return up, down, len(up) > 0 || len(down) > 0
}

// hopShape says which layers a faulted connection needs: the stream
// faults (netfault) and the HTTP proxy (httpfault). A pipe serves one
// shape; when the routing changes a hop's shape the pipe hands the
// connection back and the gateway asks again.
type hopShape struct{ stream, http bool }

func (rt *routing) shape(h Hop) hopShape {
	_, _, st := rt.stream(h)
	return hopShape{stream: st, http: len(httpRulesFor(rt.faults, h)) > 0}
}

func (s hopShape) none() bool { return !s.stream && !s.http }

// Intercept implements Interceptor.
func (r *hopRouter) Intercept(h Hop) Pipe {
	rt := r.cur.Load()
	if len(rt.faults) == 0 {
		return nil
	}
	if rt.shape(h).none() {
		return nil
	}
	return &hopPipe{r: r, hop: h}
}

// hopPipe serves one faulted connection through netfault, httpfault, or
// both layered (client → stream faults → HTTP rules → replica).
type hopPipe struct {
	r   *hopRouter
	hop Hop
}

// Serve implements Pipe. The gateway's ctx is not used to stop: the
// gateway cancels it whenever any hop's faults change, and the routing
// change that matters to this hop is seen directly. The connection ends
// when a side closes it (the proxy closing closes both sides).
func (p *hopPipe) Serve(_ context.Context, client, upstream *net.TCPConn) error {
	rt := p.r.cur.Load()
	shape := rt.shape(p.hop)
	if shape.none() {
		return ErrHandBack
	}
	up, down, _ := rt.stream(p.hop)
	rules := httpRulesFor(rt.faults, p.hop)
	set := netfault.NewSet()
	set.Replace(netfault.Upstream, up...)
	set.Replace(netfault.Downstream, down...)
	hset := httpfault.NewSet(rules...)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-served:
				return
			case <-rt.changed:
			}
			rt = p.r.cur.Load()
			// A layered pipe keeps its connection to the end (its layers
			// cannot hand a half-parsed stream back); with its faults gone
			// its sets are empty and it only relays.
			if now := rt.shape(p.hop); now != shape && !(shape.stream && shape.http) {
				stop() // back to the gateway, which asks again
				return
			}
			nu, nd, _ := rt.stream(p.hop)
			if !slices.Equal(nu, up) {
				up = nu
				set.Replace(netfault.Upstream, up...)
			}
			if !slices.Equal(nd, down) {
				down = nd
				set.Replace(netfault.Downstream, down...)
			}
			if nr := httpRulesFor(rt.faults, p.hop); !slices.Equal(nr, rules) {
				rules = nr
				hset.Replace(rules...)
			}
		}
	})
	var err error
	switch {
	case shape.stream && shape.http:
		err = serveLayered(ctx, client, upstream, set, hset)
	case shape.http:
		err = httpfault.Serve(ctx, client, upstream, hset)
		if errors.Is(err, httpfault.ErrStopped) {
			err = ErrHandBack
		}
	default:
		err = netfault.Serve(ctx, client, upstream, set)
		if errors.Is(err, netfault.ErrStopped) {
			err = ErrHandBack
		}
	}
	close(served)
	wg.Wait()
	return err
}

// serveLayered runs the stream faults and the HTTP rules on one
// connection: client → netfault → a loopback socket pair → httpfault →
// upstream. The pair is a real TCP connection on 127.0.0.1, made for this
// connection only; it ends with it.
func serveLayered(ctx context.Context, client, upstream *net.TCPConn, set *netfault.Set, hset *httpfault.Set) error {
	near, far, err := loopbackPair()
	if err != nil {
		return err
	}
	defer near.Close()
	defer far.Close()
	errc := make(chan error, 2)
	go func() {
		err := netfault.Serve(context.WithoutCancel(ctx), client, near, set)
		near.Close()
		errc <- err
	}()
	go func() {
		err := httpfault.Serve(context.WithoutCancel(ctx), far, upstream, hset)
		far.Close()
		upstream.Close()
		errc <- err
	}()
	first := <-errc
	// One layer ended: the connection is over; closing the client ends
	// the other.
	client.Close()
	upstream.Close()
	<-errc
	if errors.Is(first, netfault.ErrReset) || errors.Is(first, netfault.ErrRefused) {
		return first
	}
	return nil
}

// loopbackPair returns the two ends of a fresh TCP connection on 127.0.0.1.
func loopbackPair() (*net.TCPConn, *net.TCPConn, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, fmt.Errorf("layer a faulted hop: %w", err)
	}
	defer ln.Close()
	type accepted struct {
		c   *net.TCPConn
		err error
	}
	ac := make(chan accepted, 1)
	go func() {
		c, err := ln.AcceptTCP()
		ac <- accepted{c, err}
	}()
	near, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		ln.Close()
		<-ac
		return nil, nil, fmt.Errorf("layer a faulted hop: %w", err)
	}
	a := <-ac
	if a.err != nil {
		near.Close()
		return nil, nil, fmt.Errorf("layer a faulted hop: %w", a.err)
	}
	_ = near.SetNoDelay(true)
	_ = a.c.SetNoDelay(true)
	return near, a.c, nil
}

// installHopRouter makes the engine's router the supervisor's interceptor.
// Installing again is harmless (and re-asks every live connection), which
// covers an engine created before its supervisor started its proxy.
func (e *Engine) installHopRouter() {
	e.sup.SetInterceptor(e.hops)
}

// addHopFault starts routing the hops f selects through its faults, on new
// and live connections alike.
func (e *Engine) addHopFault(f hopFault) {
	e.hops.add(f)
	// Connections on the fast path learn about the fault only when the
	// gateway asks the interceptor again.
	e.installHopRouter()
}

// removeHopFault stops routing through f; connections it faulted go back
// to the fast path when no other fault holds their hop. Stream pipes see
// the change themselves; the Reintercept is for pipes that only stop when
// the gateway interrupts them (HTTP, at a request boundary).
func (e *Engine) removeHopFault(f hopFault) {
	e.hops.remove(f)
	e.sup.Reintercept()
}

// closeHopRouter drops every hop fault and uninstalls the router.
func (e *Engine) closeHopRouter() {
	e.hops.clear()
	e.sup.SetInterceptor(nil)
}
