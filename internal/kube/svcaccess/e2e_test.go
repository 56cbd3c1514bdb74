package svcaccess

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/faultline-dev/faultline/internal/kube/testenv"
)

// No kwok node is needed for the direct tests: Services without a selector
// and EndpointSlices written by the tests stand in for pods.
var kube = testenv.NewShared(testenv.Options{Nodes: -1})

func TestMain(m *testing.M) {
	code := m.Run()
	if err := kube.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "kube testenv stop:", err)
	}
	os.Exit(code)
}

// endpointIP returns an address of this machine that the API server accepts
// in an EndpointSlice: it refuses loopback (127/8, ::1) and link-local
// addresses there, so backends listen on a global address of an interface.
func endpointIP(t *testing.T) (string, discoveryv1.AddressType) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("interface addresses: %v", err)
	}
	var v6 string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || !ipn.IP.IsGlobalUnicast() {
			continue
		}
		if ip4 := ipn.IP.To4(); ip4 != nil {
			return ip4.String(), discoveryv1.AddressTypeIPv4
		}
		if v6 == "" {
			v6 = ipn.IP.String()
		}
	}
	if v6 != "" {
		return v6, discoveryv1.AddressTypeIPv6
	}
	t.Skip("no global unicast address on any interface: EndpointSlices refuse loopback addresses")
	return "", ""
}

// backend is a real HTTP server that answers with its name.
type backend struct {
	name string
	port int32
}

func startBackend(t *testing.T, ip, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen %s: %v", ip, err)
	}
	b := &backend{name: name, port: int32(ln.Addr().(*net.TCPAddr).Port)}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				// Hold the request until the client or the server goes.
				select {
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
				return
			}
			_, _ = io.WriteString(w, name)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func randSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// namespace creates a namespace deleted at cleanup.
func namespace(t *testing.T, env *testenv.Env, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + randSuffix()}}
	if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = env.Clientset.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// service creates a Service without a selector (its EndpointSlices are the
// test's to write).
func service(t *testing.T, env *testenv.Env, ns, name string, ports ...corev1.ServicePort) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: ports},
	}
	if _, err := env.Clientset.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service %s/%s: %v", ns, name, err)
	}
}

func svcPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP}
}

// slice writes (creates or updates) an EndpointSlice of one endpoint, pod
// pod at ip:port under the Service port portName.
func slice(t *testing.T, env *testenv.Env, ns, svc, name string, typ discoveryv1.AddressType, ip, pod, portName string, port int32, ready bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "svcaccess-test"},
		},
		AddressType: typ,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port}},
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod},
		}},
	}
	api := env.Clientset.DiscoveryV1().EndpointSlices(ns)
	old, err := api.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		s.ResourceVersion = old.ResourceVersion
		_, err = api.Update(ctx, s, metav1.UpdateOptions{})
	} else {
		_, err = api.Create(ctx, s, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("write endpointslice %s/%s: %v", ns, name, err)
	}
}

// waitReady waits until the Access's informer sees n ready endpoints for
// the Service port.
func waitReady(t *testing.T, a *Access, ns, svc, portName string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		a.mu.Lock()
		w := a.watches[ns]
		a.mu.Unlock()
		if w != nil && len(readyEndpoints(w.slices(svc), portName)) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s/%s: never saw %d ready endpoints", ns, svc, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func newClient() *http.Client {
	// One connection per request, so that every request is a new
	// connection through the forwarder (a new endpoint pick).
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(b), nil
}

// hits sends n requests and counts the answers per backend name.
func hits(t *testing.T, c *http.Client, url string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		body, err := get(c, url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		got[body]++
	}
	return got
}

func newAccess(t *testing.T, env *testenv.Env, opts Options) *Access {
	t.Helper()
	return newAccessWith(t, env.Config, env.Clientset, opts)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newAccessWith(t *testing.T, cfg *rest.Config, client kubernetes.Interface, opts Options) *Access {
	t.Helper()
	if opts.Mode == "" {
		opts.Mode = ModeDirect
	}
	opts.Logf = t.Logf
	a, err := New(cfg, client, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a
}

func TestResolve(t *testing.T) {
	env := kube.Env(t)
	ip, typ := endpointIP(t)
	ns := namespace(t, env, "resolve")
	other := namespace(t, env, "resolve-other")
	web := startBackend(t, ip, "web")
	metrics := startBackend(t, ip, "metrics")
	service(t, env, ns, "web", svcPort("metrics", 9090), svcPort("http", 80))
	slice(t, env, ns, "web", "web-http", typ, ip, "web-0", "http", web.port, true)
	slice(t, env, ns, "web", "web-metrics", typ, ip, "web-0", "metrics", metrics.port, true)
	service(t, env, other, "lonely", svcPort("", 80))

	// other comes first: "web" is found in the second namespace searched.
	a := newAccess(t, env, Options{Namespaces: []string{other, ns}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newClient()

	urls := map[string]string{} // answer -> URL
	for _, tc := range []struct {
		name, answer string
	}{
		{"web", "web"},
		{"web." + ns, "web"},
		{"web:http", "web"},
		{"web." + ns + ":80", "web"},
		{"web:metrics", "metrics"},
		{"web." + ns + ":9090", "metrics"},
		{"web." + ns + ".svc.cluster.local:metrics", "metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, err := a.Resolve(ctx, tc.name)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.name, err)
			}
			if !strings.HasPrefix(url, "http://127.0.0.1:") {
				t.Fatalf("Resolve(%q) = %q, want http://127.0.0.1:PORT", tc.name, url)
			}
			if prev, ok := urls[tc.answer]; ok && prev != url {
				t.Fatalf("Resolve(%q) = %q, but the same port resolved to %q before", tc.name, url, prev)
			}
			urls[tc.answer] = url
			body, err := get(c, url)
			if err != nil || body != tc.answer {
				t.Fatalf("GET through %q = %q, %v; want %q", tc.name, body, err, tc.answer)
			}
		})
	}
	if urls["web"] == urls["metrics"] {
		t.Fatalf("two Service ports share one URL %s", urls["web"])
	}

	// A name asked again (a cmd probe resolves every service on each
	// check) answers from what Resolve found, with no Service lookup.
	var lookups atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.Contains(r.URL.Path, "/services") {
				lookups.Add(1)
			}
			return rt.RoundTrip(r)
		})
	}
	counted, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := newAccessWith(t, cfg, counted, Options{Namespaces: []string{ns}})
	first, err := b.Resolve(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	after := lookups.Load()
	for range 5 {
		if again, err := b.Resolve(ctx, "web"); err != nil || again != first {
			t.Fatalf("Resolve(web) again = %q, %v; first %q", again, err, first)
		}
	}
	if after == 0 || lookups.Load() != after {
		t.Fatalf("Service lookups: %d for the first Resolve, %d after five more; want some, then none", after, lookups.Load())
	}

	for _, tc := range []struct {
		name    string
		wantErr []string
	}{
		{"nope", []string{`service "nope" not found`, other + ", " + ns, ns + "/web", other + "/lonely"}},
		{"web." + other, []string{`service "web" not found in namespace(s) ` + other + ";", other + "/lonely"}},
		{"web:grpc", []string{`no port "grpc"`, "metrics(9090)", "http(80)"}},
		{"web.Bad", []string{"namespace"}},
	} {
		t.Run("error/"+tc.name, func(t *testing.T) {
			_, err := a.Resolve(ctx, tc.name)
			if err == nil {
				t.Fatalf("Resolve(%q) succeeded", tc.name)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Resolve(%q) error %q does not contain %q", tc.name, err, w)
				}
			}
		})
	}
}

func TestForwardingFollowsReadiness(t *testing.T) {
	env := kube.Env(t)
	ip, typ := endpointIP(t)
	ns := namespace(t, env, "ready")
	ba := startBackend(t, ip, "a")
	bb := startBackend(t, ip, "b")
	service(t, env, ns, "gateway", svcPort("http", 80))
	slice(t, env, ns, "gateway", "gateway-a", typ, ip, "pod-a", "http", ba.port, true)
	slice(t, env, ns, "gateway", "gateway-b", typ, ip, "pod-b", "http", bb.port, true)

	a := newAccess(t, env, Options{Namespaces: []string{ns}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := a.Resolve(ctx, "gateway")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	c := newClient()
	const n = 20

	steps := []struct {
		name         string
		readyA       bool
		readyB       bool
		wantAnswers  []string // backends that must all be reached; nil: requests must fail
		wantUnserved bool
	}{
		{name: "both ready", readyA: true, readyB: true, wantAnswers: []string{"a", "b"}},
		{name: "b not ready", readyA: true, readyB: false, wantAnswers: []string{"a"}},
		{name: "none ready", readyA: false, readyB: false},
		{name: "b back", readyA: false, readyB: true, wantAnswers: []string{"b"}},
		{name: "both back", readyA: true, readyB: true, wantAnswers: []string{"a", "b"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			slice(t, env, ns, "gateway", "gateway-a", typ, ip, "pod-a", "http", ba.port, st.readyA)
			slice(t, env, ns, "gateway", "gateway-b", typ, ip, "pod-b", "http", bb.port, st.readyB)
			ready := 0
			for _, r := range []bool{st.readyA, st.readyB} {
				if r {
					ready++
				}
			}
			waitReady(t, a, ns, "gateway", "http", ready)
			before := a.Stats()
			if st.wantAnswers == nil {
				for range 5 {
					_, err := get(c, url)
					if err == nil {
						t.Fatal("request succeeded with no ready endpoint")
					}
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatalf("request with no ready endpoint timed out instead of failing at once: %v", err)
					}
				}
				if d := a.Stats().Unserved - before.Unserved; d != 5 {
					t.Fatalf("Unserved grew by %d, want 5", d)
				}
				return
			}
			got := hits(t, c, url, n)
			total := 0
			for _, name := range st.wantAnswers {
				if got[name] == 0 {
					t.Errorf("backend %s got no request (answers %v)", name, got)
				}
				total += got[name]
			}
			if total != n {
				t.Errorf("answers %v: %d of %d requests went to a backend that is not ready", got, n-total, n)
			}
			after := a.Stats()
			for _, name := range st.wantAnswers {
				key := ns + "/pod-" + name
				if after.Connections[key] <= before.Connections[key] {
					t.Errorf("Stats.Connections[%s] did not grow: %d -> %d", key, before.Connections[key], after.Connections[key])
				}
			}
		})
	}
}

// A ready endpoint that refuses connections (its pod just died) costs a
// dial failure, and the connection goes to the next ready endpoint.
func TestDialFailureTriesNextEndpoint(t *testing.T) {
	env := kube.Env(t)
	ip, typ := endpointIP(t)
	ns := namespace(t, env, "dialfail")
	live := startBackend(t, ip, "live")
	// A port that nothing listens on any more.
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	deadPort := int32(ln.Addr().(*net.TCPAddr).Port)
	_ = ln.Close()
	service(t, env, ns, "model-server", svcPort("http", 80))
	slice(t, env, ns, "model-server", "ms-dead", typ, ip, "pod-dead", "http", deadPort, true)
	slice(t, env, ns, "model-server", "ms-live", typ, ip, "pod-live", "http", live.port, true)

	a := newAccess(t, env, Options{Namespaces: []string{ns}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := a.Resolve(ctx, "model-server:http")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	got := hits(t, newClient(), url, 10)
	if got["live"] != 10 {
		t.Fatalf("answers %v, want all 10 from live", got)
	}
	st := a.Stats()
	if st.DialFailures == 0 || st.Connections[ns+"/pod-dead"] != 0 || st.Connections[ns+"/pod-live"] != 10 {
		t.Fatalf("stats %+v: want dial failures, no connection to pod-dead, 10 to pod-live", st)
	}
}

// goroutinesOf returns the stacks of running goroutines mentioning any of
// the given function name fragments.
func goroutinesOf(fragments ...string) []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range fragments {
			if strings.Contains(g, f) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// Close ends the listeners, the informers and connections in flight, and
// leaves no goroutine of the package or of its informers running.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	env := kube.Env(t)
	ip, typ := endpointIP(t)
	ns := namespace(t, env, "close")
	b := startBackend(t, ip, "b")
	service(t, env, ns, "gateway", svcPort("http", 80))
	slice(t, env, ns, "gateway", "gateway-b", typ, ip, "pod-b", "http", b.port, true)

	a, err := New(env.Config, env.Clientset, Options{Mode: ModeDirect, Namespaces: []string{ns}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := a.Resolve(ctx, "gateway")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if _, err := get(newClient(), url); err != nil {
		t.Fatalf("GET: %v", err)
	}
	// A request in flight: its connection is held open by the backend.
	inflight := make(chan error, 1)
	go func() {
		_, err := get(newClient(), url+"/slow")
		inflight <- err
	}()
	waitFor(t, "a connection in flight", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.conns) == 1
	})

	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	if err := a.Close(cctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-inflight; err == nil {
		t.Fatal("request in flight succeeded after Close")
	}
	if _, err := get(newClient(), url); err == nil {
		t.Fatal("request after Close succeeded")
	}
	if _, err := a.Resolve(ctx, "gateway"); err == nil {
		t.Fatal("Resolve after Close succeeded")
	}
	if err := a.Close(cctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	noGoroutinesLeft(t)
}

// noGoroutinesLeft checks that no goroutine of the package or of client-go
// informers runs after Close. Close waited for all of them; one may still be
// between its last statement and its exit, hence the short bounded poll. The
// HTTP client's idle connections (the caller's clientset) may remain.
func noGoroutinesLeft(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		left := goroutinesOf("svcaccess.(", "client-go/tools/cache.", "client-go/informers.")
		if len(left) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d goroutines left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
