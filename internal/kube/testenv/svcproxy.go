package testenv

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// svcProxy is a userspace stand-in for kube-proxy: every ClusterIP Service
// port (TCP) of the watched namespaces gets a listener on the loopback
// address its ClusterIP maps to (netBlock.serviceAddr), same port; each
// accepted connection goes to a random ready endpoint of the Service's
// EndpointSlices (made by the real EndpointSlice controller, which already
// resolved targetPort to the pod's port), trying another endpoint when a
// dial fails. Pod IPs of the environment are dialled at their loopback twins
// (netBlock.loopback). With no ready endpoint, serving-and-terminating endpoints are
// used, as kube-proxy does; with none at all the connection is closed.
type svcProxy struct {
	net  *netBlock
	logf func(string, ...any)

	mu       sync.Mutex
	closed   bool
	services map[nsName]*svcEntry
	slices   map[nsName]map[string]*discoveryv1.EndpointSlice // by Service, then slice name
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup // accept loops and connections
}

type nsName struct{ ns, name string }

type svcEntry struct {
	host  string  // loopback IP
	order []int32 // ports in spec order
	ports map[int32]*svcListener
}

type svcListener struct {
	portName string
	ln       net.Listener
	err      error // listening failed (logged; ServiceAddr reports it)
}

func newSvcProxy(nb *netBlock, logf func(string, ...any)) *svcProxy {
	return &svcProxy{
		net: nb, logf: logf,
		services: map[nsName]*svcEntry{},
		slices:   map[nsName]map[string]*discoveryv1.EndpointSlice{},
		conns:    map[net.Conn]struct{}{},
	}
}

func (p *svcProxy) serviceHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { p.onService(o, false) },
		UpdateFunc: func(_, o any) { p.onService(o, false) },
		DeleteFunc: func(o any) { p.onService(o, true) },
	}
}

func (p *svcProxy) sliceHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { p.onSlice(o, false) },
		UpdateFunc: func(_, o any) { p.onSlice(o, false) },
		DeleteFunc: func(o any) { p.onSlice(o, true) },
	}
}

func (p *svcProxy) onService(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = d.Obj, true
	}
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	if deleted {
		p.mu.Lock()
		e := p.services[nsName{svc.Namespace, svc.Name}]
		delete(p.services, nsName{svc.Namespace, svc.Name})
		p.mu.Unlock()
		if e != nil {
			for _, l := range e.ports {
				if l.ln != nil {
					_ = l.ln.Close()
				}
			}
		}
		return
	}
	if _, err := p.ensure(svc); err != nil {
		p.logf("service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
}

// ensure makes the listeners of the Service's ports exist (and closes those
// of ports it no longer has); it returns the loopback host, "" for a
// Service without a ClusterIP (headless, ExternalName).
func (p *svcProxy) ensure(svc *corev1.Service) (string, error) {
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", nil
	}
	addr, err := p.net.serviceAddr(svc.Spec.ClusterIP)
	if err != nil {
		return "", err
	}
	host := addr.String()
	key := nsName{svc.Namespace, svc.Name}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return host, errors.New("service proxy stopped")
	}
	e := p.services[key]
	if e == nil || e.host != host {
		e = &svcEntry{host: host, ports: map[int32]*svcListener{}}
		p.services[key] = e
	}
	e.order = e.order[:0]
	want := map[int32]bool{}
	var errs []error
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			continue
		}
		e.order = append(e.order, sp.Port)
		want[sp.Port] = true
		if l := e.ports[sp.Port]; l != nil {
			l.portName = sp.Name
			continue
		}
		l := &svcListener{portName: sp.Name}
		e.ports[sp.Port] = l
		l.ln, l.err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(int(sp.Port))))
		if l.err != nil {
			errs = append(errs, fmt.Errorf("listen for port %d: %w", sp.Port, l.err))
			continue
		}
		p.wg.Add(1)
		go p.accept(key, l)
	}
	for port, l := range e.ports {
		if !want[port] {
			if l.ln != nil {
				_ = l.ln.Close()
			}
			delete(e.ports, port)
		}
	}
	return host, errors.Join(errs...)
}

func (p *svcProxy) onSlice(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = d.Obj, true
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	svc := s.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return
	}
	key := nsName{s.Namespace, svc}
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.slices[key]
	if deleted {
		delete(m, s.Name)
		return
	}
	if m == nil {
		m = map[string]*discoveryv1.EndpointSlice{}
		p.slices[key] = m
	}
	m[s.Name] = s
}

// readyEndpoints counts the ready endpoints of a Service port (0: the first).
func (p *svcProxy) readyEndpoints(ns, name string, port int32) (int, error) {
	p.mu.Lock()
	e := p.services[nsName{ns, name}]
	var portName string
	var err error
	switch {
	case e == nil || len(e.order) == 0:
		err = fmt.Errorf("service %s/%s: not served", ns, name)
	case port == 0:
		portName = e.ports[e.order[0]].portName
	case e.ports[port] == nil:
		err = fmt.Errorf("service %s/%s has no TCP port %d", ns, name, port)
	default:
		portName = e.ports[port].portName
	}
	p.mu.Unlock()
	if err != nil {
		return 0, err
	}
	ready, _ := p.endpointSets(nsName{ns, name}, portName)
	return len(ready), nil
}

// endpoints returns the addresses (ip:port) to try for a Service port, in
// random order: the ready ones, or with none ready the serving-and-
// terminating ones.
func (p *svcProxy) endpoints(key nsName, portName string) []string {
	ready, terminating := p.endpointSets(key, portName)
	out := ready
	if len(out) == 0 {
		out = terminating
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// endpointSets returns the ready and the serving-and-terminating endpoints.
func (p *svcProxy) endpointSets(key nsName, portName string) (ready, terminating []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slices[key] {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		port := int32(-1)
		for _, sp := range s.Ports {
			name := ""
			if sp.Name != nil {
				name = *sp.Name
			}
			if sp.Port != nil && name == portName {
				port = *sp.Port
				break
			}
		}
		if port < 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 {
				continue
			}
			ip := ep.Addresses[0]
			if l, ok := p.net.loopback(ip); ok {
				ip = l // a pod IP: its process listens on the twin
			}
			a := net.JoinHostPort(ip, strconv.Itoa(int(port)))
			c := ep.Conditions
			switch {
			case c.Ready == nil || *c.Ready:
				ready = append(ready, a)
			case c.Serving != nil && *c.Serving && c.Terminating != nil && *c.Terminating:
				terminating = append(terminating, a)
			}
		}
	}
	return ready, terminating
}

func (p *svcProxy) accept(key nsName, l *svcListener) {
	defer p.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return
		}
		if !p.track(c, true) {
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		go p.forward(key, l.portName, c)
	}
}

// track adds or removes a connection; false when the proxy is closed.
func (p *svcProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !add {
		delete(p.conns, c)
		return true
	}
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *svcProxy) forward(key nsName, portName string, client net.Conn) {
	defer p.wg.Done()
	defer p.track(client, false)
	defer client.Close()
	var backend net.Conn
	for _, a := range p.endpoints(key, portName) {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err == nil {
			backend = c
			break
		}
	}
	if backend == nil {
		return // no endpoint: the client sees the connection closed
	}
	if !p.track(backend, true) {
		_ = backend.Close()
		return
	}
	defer p.track(backend, false)
	defer backend.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	<-done
	<-done
}

// addr is ServiceAddr.
func (p *svcProxy) addr(ns, name string, port int32) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.services[nsName{ns, name}]
	if e == nil || len(e.order) == 0 {
		return "", fmt.Errorf("service %s/%s: not served (unknown to the proxy yet, no ClusterIP, or no TCP port)", ns, name)
	}
	if port == 0 {
		port = e.order[0]
	}
	l := e.ports[port]
	if l == nil {
		return "", fmt.Errorf("service %s/%s has no TCP port %d", ns, name, port)
	}
	if l.err != nil {
		return "", fmt.Errorf("service %s/%s port %d: %w", ns, name, port, l.err)
	}
	return net.JoinHostPort(e.host, strconv.Itoa(int(port))), nil
}

// close closes every listener and connection; wg then drains.
func (p *svcProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, e := range p.services {
		for _, l := range e.ports {
			if l.ln != nil {
				_ = l.ln.Close()
			}
		}
	}
	for c := range p.conns {
		_ = c.Close()
	}
}
