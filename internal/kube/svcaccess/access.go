package svcaccess

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Mode is how connections reach endpoints.
type Mode string

const (
	// ModeAuto is ModeDirect in a pod (KUBERNETES_SERVICE_HOST set), else
	// ModePortForward.
	ModeAuto Mode = "auto"
	// ModeDirect dials the endpoint address (pod IP) and port.
	ModeDirect Mode = "direct"
	// ModePortForward tunnels through the API server's pods/portforward.
	ModePortForward Mode = "port-forward"
)

// Options configure an Access.
type Options struct {
	// Mode is how endpoints are reached (default ModeAuto).
	Mode Mode
	// Namespaces are searched in order for a name without a namespace
	// (default: "default").
	Namespaces []string
	// DialTimeout bounds dialing one endpoint, including opening the
	// port-forward connection to its pod (default 5s).
	DialTimeout time.Duration
	// MaxAttempts is how many ready endpoints one accepted connection tries
	// before it is closed (default 3).
	MaxAttempts int
	// DialContext, when set, dials pod addresses in ModeDirect instead of
	// a net.Dialer: for a pod network reached through something else (a
	// test's simulated pod network, a SOCKS tunnel). It must return a
	// *net.TCPConn.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Getenv reads the environment for ModeAuto (default os.Getenv).
	Getenv func(string) string
	// Logf, when set, receives dial failures and port-forward errors.
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.Mode == "" {
		o.Mode = ModeAuto
	}
	if len(o.Namespaces) == 0 {
		o.Namespaces = []string{metav1.NamespaceDefault}
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// resolveMode turns ModeAuto into a concrete mode.
func resolveMode(m Mode, getenv func(string) string) (Mode, error) {
	switch m {
	case ModeDirect, ModePortForward:
		return m, nil
	case ModeAuto:
		if getenv("KUBERNETES_SERVICE_HOST") != "" {
			return ModeDirect, nil
		}
		return ModePortForward, nil
	default:
		return "", fmt.Errorf("svcaccess: unknown mode %q (want %q, %q or %q)", m, ModeDirect, ModePortForward, ModeAuto)
	}
}

// Stats are counters for tests and reports.
type Stats struct {
	// Connections counts accepted connections forwarded to each endpoint
	// (namespace/pod, or address:port for an endpoint without a pod).
	Connections map[string]int64
	// DialFailures counts endpoint dials that failed (a connection may
	// count several before one succeeds or it gives up).
	DialFailures int64
	// Unserved counts accepted connections closed without being forwarded:
	// no ready endpoint, or none of those tried could be dialed.
	Unserved int64
	// ForwardErrors counts port-forward streams whose pod side reported an
	// error (for example nothing listening on the port in the pod).
	ForwardErrors int64
	// PodConnections counts port-forward connections opened to pods (one
	// per pod, re-opened when it breaks); every forwarded connection is a
	// stream on one of them.
	PodConnections int64
}

// backendConn is a dialed endpoint: a TCP connection or a port-forward
// stream. CloseWrite half-closes it.
type backendConn interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	CloseWrite() error
	Close() error
}

// dialer reaches one endpoint.
type dialer interface {
	dial(ctx context.Context, ep endpoint) (backendConn, error)
	// prune forgets per-pod state of pods of ns not in keep (namespace/pod).
	prune(ns string, keep map[string]bool)
	// close releases per-pod state without blocking; wait waits for the
	// dialer's goroutines.
	close()
	wait()
}

// Access resolves Service names to local forwarding URLs. Its methods are
// safe for concurrent use.
type Access struct {
	client kubernetes.Interface
	opts   Options
	mode   Mode
	dialer dialer

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops and connection handlers

	resolveMu sync.Mutex        // one Resolve at a time (it may start things)
	resolved  map[string]string // name as asked -> URL, under resolveMu

	mu       sync.Mutex
	closed   bool
	watches  map[string]*nsWatch    // namespace -> informer
	forwards map[string]*forwarder  // namespace/service/port -> listener
	conns    map[*connPair]struct{} // in flight

	statsMu       sync.Mutex
	perEndpoint   map[string]int64
	dialFailures  atomic.Int64
	unserved      atomic.Int64
	forwardErrors atomic.Int64
	podConns      atomic.Int64
}

// New returns an Access. cfg is used for port-forward (it may be nil in
// ModeDirect); client reads Services and EndpointSlices.
func New(cfg *rest.Config, client kubernetes.Interface, opts Options) (*Access, error) {
	opts = opts.withDefaults()
	if client == nil {
		return nil, errors.New("svcaccess: nil client")
	}
	mode, err := resolveMode(opts.Mode, opts.Getenv)
	if err != nil {
		return nil, err
	}
	for _, ns := range opts.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("svcaccess: namespace %q: %s", ns, strings.Join(errs, "; "))
		}
	}
	a := &Access{
		client:      client,
		opts:        opts,
		mode:        mode,
		watches:     map[string]*nsWatch{},
		forwards:    map[string]*forwarder{},
		resolved:    map[string]string{},
		conns:       map[*connPair]struct{}{},
		perEndpoint: map[string]int64{},
	}
	switch mode {
	case ModeDirect:
		a.dialer = directDialer{dialContext: opts.DialContext}
	case ModePortForward:
		if cfg == nil {
			return nil, errors.New("svcaccess: port-forward needs a rest.Config")
		}
		d, err := newPortForwardDialer(cfg, client, opts.DialTimeout, a.forwardError, &a.podConns)
		if err != nil {
			return nil, err
		}
		a.dialer = d
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a, nil
}

// Mode returns the mode in use (never ModeAuto).
func (a *Access) Mode() Mode { return a.mode }

// ref is a parsed service name.
type ref struct {
	service, namespace, port string
}

// parseName parses "svc", "svc.ns", "svc:port" and "svc.ns:port"; a
// trailing ".svc" or ".svc.cluster.local" after the namespace is accepted.
func parseName(name string) (ref, error) {
	var r ref
	s := strings.TrimSpace(name)
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s, r.port = s[:i], s[i+1:]
		if r.port == "" {
			return r, fmt.Errorf("service name %q: empty port after ':'", name)
		}
	}
	if strings.HasSuffix(s, ".svc.cluster.local") {
		s = strings.TrimSuffix(s, ".cluster.local")
	}
	parts := strings.Split(s, ".")
	if len(parts) == 3 && parts[2] == "svc" {
		parts = parts[:2]
	}
	switch len(parts) {
	case 1:
		r.service = parts[0]
	case 2:
		r.service, r.namespace = parts[0], parts[1]
	default:
		return r, fmt.Errorf("service name %q: want service, service.namespace, optionally :port", name)
	}
	if errs := validation.IsDNS1123Label(r.service); len(errs) > 0 {
		return r, fmt.Errorf("service name %q: %s", name, strings.Join(errs, "; "))
	}
	if r.namespace != "" {
		if errs := validation.IsDNS1123Label(r.namespace); len(errs) > 0 {
			return r, fmt.Errorf("service name %q: namespace: %s", name, strings.Join(errs, "; "))
		}
	}
	return r, nil
}

// pickPort chooses the Service port: by name or number when asked, else the
// port named "http", else the first.
func pickPort(svc *corev1.Service, want string) (corev1.ServicePort, error) {
	ports := svc.Spec.Ports
	if len(ports) == 0 {
		return corev1.ServicePort{}, fmt.Errorf("service %s/%s has no ports", svc.Namespace, svc.Name)
	}
	if want == "" {
		for _, p := range ports {
			if p.Name == "http" {
				return p, nil
			}
		}
		return ports[0], nil
	}
	num, numErr := strconv.Atoi(want)
	for _, p := range ports {
		if p.Name == want || (numErr == nil && int(p.Port) == num) {
			return p, nil
		}
	}
	have := make([]string, 0, len(ports))
	for _, p := range ports {
		if p.Name != "" {
			have = append(have, fmt.Sprintf("%s(%d)", p.Name, p.Port))
		} else {
			have = append(have, strconv.Itoa(int(p.Port)))
		}
	}
	return corev1.ServicePort{}, fmt.Errorf("service %s/%s has no port %q (ports: %s)", svc.Namespace, svc.Name, want, strings.Join(have, ", "))
}

// Resolve returns the base URL (http://127.0.0.1:PORT) of a local listener
// forwarding to the ready endpoints of the named Service port, starting it
// on first use. name is "svc", "svc.namespace", optionally followed by
// ":port" (a port name or number); without a port the port named "http" is
// used, else the first. A name without a namespace is looked up in
// Options.Namespaces in order.
func (a *Access) Resolve(ctx context.Context, name string) (string, error) {
	r, err := parseName(name)
	if err != nil {
		return "", err
	}
	a.resolveMu.Lock()
	defer a.resolveMu.Unlock()
	if a.isClosed() {
		return "", errors.New("svcaccess: closed")
	}
	// A name keeps its forwarder for the life of the Access: asked again
	// (a cmd probe resolves every service on each check), it costs no
	// API call.
	if u, ok := a.resolved[name]; ok {
		return u, nil
	}
	svc, err := a.findService(ctx, r)
	if err != nil {
		return "", err
	}
	sp, err := pickPort(svc, r.port)
	if err != nil {
		return "", err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return "", fmt.Errorf("service %s/%s is of type ExternalName (%s): nothing to forward to", svc.Namespace, svc.Name, svc.Spec.ExternalName)
	}
	key := fmt.Sprintf("%s/%s/%s/%d", svc.Namespace, svc.Name, sp.Name, sp.Port)
	a.mu.Lock()
	f := a.forwards[key]
	a.mu.Unlock()
	if f != nil {
		a.resolved[name] = f.url
		return f.url, nil
	}
	w, err := a.watch(svc.Namespace)
	if err != nil {
		return "", err
	}
	if !w.waitSynced(ctx) {
		return "", fmt.Errorf("endpointslices of namespace %s not synced: %w", svc.Namespace, context.Cause(ctx))
	}
	f, err = a.startForwarder(w, svc.Namespace, svc.Name, sp)
	if err != nil {
		return "", err
	}
	a.resolved[name] = f.url
	return f.url, nil
}

// findService gets the Service from its namespace or the first of
// Options.Namespaces that has it.
func (a *Access) findService(ctx context.Context, r ref) (*corev1.Service, error) {
	namespaces := a.opts.Namespaces
	if r.namespace != "" {
		namespaces = []string{r.namespace}
	}
	for _, ns := range namespaces {
		svc, err := a.client.CoreV1().Services(ns).Get(ctx, r.service, metav1.GetOptions{})
		if err == nil {
			return svc, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("get service %s/%s: %w", ns, r.service, err)
		}
	}
	var have []string
	for _, ns := range namespaces {
		list, err := a.client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("service %q not found in namespace(s) %s (listing services: %w)", r.service, strings.Join(namespaces, ", "), err)
		}
		for _, s := range list.Items {
			have = append(have, s.Namespace+"/"+s.Name)
		}
	}
	slices.Sort(have)
	existing := "none"
	if len(have) > 0 {
		existing = strings.Join(have, ", ")
	}
	return nil, fmt.Errorf("service %q not found in namespace(s) %s; services there: %s", r.service, strings.Join(namespaces, ", "), existing)
}

// watch returns the namespace's EndpointSlice informer, starting it once.
func (a *Access) watch(ns string) (*nsWatch, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, errors.New("svcaccess: closed")
	}
	if w := a.watches[ns]; w != nil {
		return w, nil
	}
	var w *nsWatch
	w, err := newNSWatch(a.client, ns, func() { a.prune(ns) })
	if err != nil {
		return nil, err
	}
	a.watches[ns] = w
	return w, nil
}

// prune lets the dialer drop per-pod state of pods no slice names any more.
func (a *Access) prune(ns string) {
	a.mu.Lock()
	w := a.watches[ns]
	a.mu.Unlock()
	if w != nil {
		a.dialer.prune(ns, w.pods())
	}
}

func (a *Access) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// Stats returns a snapshot of the counters.
func (a *Access) Stats() Stats {
	a.statsMu.Lock()
	per := make(map[string]int64, len(a.perEndpoint))
	for k, v := range a.perEndpoint {
		per[k] = v
	}
	a.statsMu.Unlock()
	return Stats{
		Connections:    per,
		DialFailures:   a.dialFailures.Load(),
		Unserved:       a.unserved.Load(),
		ForwardErrors:  a.forwardErrors.Load(),
		PodConnections: a.podConns.Load(),
	}
}

func (a *Access) countConnection(ep endpoint) {
	a.statsMu.Lock()
	a.perEndpoint[ep.key()]++
	a.statsMu.Unlock()
}

func (a *Access) forwardError(ep endpoint, msg string) {
	a.forwardErrors.Add(1)
	a.opts.Logf("svcaccess: port-forward to %s port %d: %s", ep.key(), ep.port, msg)
}

// Close stops the listeners, closes every connection in flight and the
// port-forward connections, stops the informers, and waits for all of its
// goroutines, at most until ctx ends.
func (a *Access) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	fwds := make([]*forwarder, 0, len(a.forwards))
	for _, f := range a.forwards {
		fwds = append(fwds, f)
	}
	watches := make([]*nsWatch, 0, len(a.watches))
	for _, w := range a.watches {
		watches = append(watches, w)
	}
	pairs := make([]*connPair, 0, len(a.conns))
	for p := range a.conns {
		pairs = append(pairs, p)
	}
	a.mu.Unlock()

	a.cancel()
	var errs []error
	for _, f := range fwds {
		if err := f.ln.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close listener %s: %w", f.url, err))
		}
	}
	a.dialer.close()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, p := range pairs {
			wg.Go(p.closeBoth)
		}
		wg.Wait()
		a.wg.Wait()
		a.dialer.wait()
		for _, w := range watches {
			w.shutdown()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("svcaccess: close: goroutines still running: %w", context.Cause(ctx)))
	}
	return errors.Join(errs...)
}
