package local

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/selector"
)

// networkChaos builds a NetworkChaos on the replicas of service sel.
func networkChaos(name, service string, d time.Duration, edit func(*v1alpha1.NetworkChaosSpec)) engine.Fault {
	spec := &v1alpha1.NetworkChaosSpec{}
	spec.Selector = v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"tier": service}}
	spec.Mode = v1alpha1.ModeAll
	edit(spec)
	return engine.Fault{Kind: "NetworkChaos", Name: name, Spec: spec, Duration: d}
}

func tierTarget(service string) *v1alpha1.PodSelector {
	return &v1alpha1.PodSelector{Selector: v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"tier": service}}, Mode: v1alpha1.ModeAll}
}

// networkActions returns the proxy actions of an injection.
func networkActions(t testing.TB, inj engine.Injection) []*networkAction {
	t.Helper()
	var out []*networkAction
	for _, a := range inj.(*injection).plan.actions {
		na, ok := a.(*networkAction)
		if !ok {
			t.Fatalf("action %T is not a proxy network action", a)
		}
		out = append(out, na)
	}
	return out
}

func delayedChunks(as []*networkAction) int64 {
	var n int64
	for _, a := range as {
		n += a.stats.latency.Stats().Chunks
	}
	return n
}

// latencies sends workers×each GETs to url on keep-alive connections and
// returns their durations.
func latencies(t testing.TB, url string, workers, each int) []time.Duration {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var mu sync.Mutex
	var out []time.Duration
	var errs []error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				start := time.Now()
				resp, err := cl.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", url, resp.Status)
					}
				}
				d := time.Since(start)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					out = append(out, d)
				}
				mu.Unlock()
			}
		})
	}
	waitClosed(t, "the requests are done", waitGroupDone(&wg))
	if len(errs) > 0 {
		t.Fatalf("%d of %d requests failed, first: %v", len(errs), workers*each, errs[0])
	}
	return out
}

func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func withinFrac(got, want, frac float64) bool {
	return got >= want*(1-frac) && got <= want*(1+frac)
}

func TestNetworkDelayFidelityAndKeepAlive(t *testing.T) {
	t.Parallel()
	s := startEnv(t, testEnvironment("netdelay"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	ctx := testContext(t)
	url := gatewayURL(t, s, "backend")

	// A keep-alive connection opened before the fault.
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func() time.Duration {
		t.Helper()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: backend\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	get()

	// Few concurrent requests, so that queueing on a busy machine (not the
	// fault) does not move the baseline: a delayed request waits on a
	// timer, a queued one on the CPU, and the two do not add up.
	base := p50(latencies(t, url, 2, 100))
	const delay, jitter = 100 * time.Millisecond, 10 * time.Millisecond
	f := networkChaos("delay-backend", "backend", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action = v1alpha1.NetworkDelay
		sp.Delay = &v1alpha1.DelaySpec{Latency: "100ms", Jitter: "10ms", Correlation: "25"}
	})
	inj, err := e.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	acts := networkActions(t, inj)
	if len(acts) != 2 {
		t.Fatalf("%d actions, want one per backend replica", len(acts))
	}

	// The live keep-alive connection gets the fault.
	before := delayedChunks(acts)
	if d := get(); d < delay-jitter {
		t.Errorf("keep-alive request during the fault took %v, want ≥ %v", d, delay-jitter)
	}
	if delayedChunks(acts) <= before {
		t.Errorf("the keep-alive connection opened before the fault was not delayed")
	}

	// Asked 100 ms ± 10 ms: the added delay seen by a real client (request
	// latency minus the baseline's median) has its median within ±5 %.
	during := latencies(t, url, 6, 50)
	added := p50(during) - base
	t.Logf("baseline p50 %v, during p50 %v, added %v over %d requests", base, p50(during), added, len(during))
	if !withinFrac(float64(added), float64(delay), 0.05) {
		t.Errorf("measured added delay p50 %v, want %v ± 5%%", added, delay)
	}
	var fid *engine.Fidelity
	for _, fd := range inj.Fidelity() {
		if fd.Quantity == "delay" && fd.MeasuredValue > 0 {
			fid = &fd
			t.Logf("fidelity %s: asked %s, measured %s", fd.Target, fd.Asked, fd.Measured)
			if !withinFrac(fd.MeasuredValue, 100, 0.05) {
				t.Errorf("fidelity of %s: measured p50 %.2f ms, want 100 ms ± 5%%", fd.Target, fd.MeasuredValue)
			}
		}
	}
	if fid == nil {
		t.Fatalf("no measured delay in the fidelity: %+v", inj.Fidelity())
	}

	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	// After the revert the same connection, and new ones, are not delayed.
	after := delayedChunks(acts)
	get()
	latencies(t, url, 4, 10)
	if n := delayedChunks(acts); n != after {
		t.Errorf("%d chunks delayed after the revert", n-after)
	}
	if n := len(s.Hops()); n == 0 {
		t.Log("no live hop left to check")
	}
	if rt := e.hops.cur.Load(); len(rt.faults) != 0 {
		t.Errorf("%d hop faults still routed after the revert", len(rt.faults))
	}
}

func TestNetworkBandwidthFidelity(t *testing.T) {
	t.Parallel()
	s := startEnv(t, testEnvironment("netbw"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	ctx := testContext(t)
	f := networkChaos("shape-backend", "backend", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action = v1alpha1.NetworkBandwidth
		sp.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "1mbps", Limit: 20971520, Buffer: 10000}
	})
	inj, err := e.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = inj.Revert(ctx) }()

	const rate = 1 << 20 // Chaos Mesh's 1mbps is 1 MiB/s
	const size = 5 * rate / 2
	cl := &http.Client{Timeout: 30 * time.Second}
	resp, err := cl.Get(fmt.Sprintf("%s/bulk?n=%d", gatewayURL(t, s, "backend"), size))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Rate from the first byte to the last, the first read left out: it
	// passed at the start of the span (the bucket's burst).
	buf := make([]byte, 64<<10)
	first, err := resp.Body.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rest, err := io.CopyBuffer(io.Discard, resp.Body, buf)
	elapsed := time.Since(start)
	if err != nil || int64(first)+rest != size {
		t.Fatalf("read %d bytes, %v; want %d", int64(first)+rest, err, size)
	}
	got := float64(rest) / elapsed.Seconds()
	t.Logf("client measured %.0f B/s over %d bytes in %v", got, size, elapsed)
	if !withinFrac(got, rate, 0.10) {
		t.Errorf("client measured %.0f B/s, want %d ± 10%%", got, rate)
	}
	measured := false
	for _, fd := range inj.Fidelity() {
		if fd.Quantity == "bandwidth" && fd.MeasuredValue > 0 {
			measured = true
			t.Logf("fidelity %s: asked %s, measured %s", fd.Target, fd.Asked, fd.Measured)
			if !withinFrac(fd.MeasuredValue, rate, 0.10) {
				t.Errorf("fidelity of %s: %.0f B/s, want %d ± 10%%", fd.Target, fd.MeasuredValue, rate)
			}
		}
	}
	if !measured {
		t.Errorf("no measured bandwidth in the fidelity: %+v", inj.Fidelity())
	}
}

func TestNetworkPartitionAndRevert(t *testing.T) {
	t.Parallel()
	s := startEnv(t, testEnvironment("netpart"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	ctx := testContext(t)
	addr := strings.TrimPrefix(gatewayURL(t, s, "backend"), "http://")

	live, err := net.Dial("tcp", addr) // opened before the fault
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	f := networkChaos("cut-backend", "backend", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action = v1alpha1.NetworkPartition
		sp.Direction = v1alpha1.DirectionBoth
	})
	inj, err := e.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := net.Dial("tcp", addr) // opened during the fault
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, c := range []net.Conn{live, fresh} {
		if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: backend\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 512)
	for name, c := range map[string]net.Conn{"live": live, "new": fresh} {
		_ = c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		if n, err := c.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s connection through the partition: read %q, %v; want nothing", name, buf[:n], err)
		}
	}
	var held float64
	for _, fd := range inj.Fidelity() {
		if fd.Quantity == "partition" {
			held += fd.MeasuredValue
			t.Logf("fidelity %s: asked %s, measured %s", fd.Target, fd.Asked, fd.Measured)
		}
	}
	if held == 0 {
		t.Errorf("the partition held no bytes: %+v", inj.Fidelity())
	}

	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	// The held requests go through once the partition lifts, as TCP
	// retransmits them, and new traffic flows.
	for name, c := range map[string]net.Conn{"live": live, "new": fresh} {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s connection after the revert: %v", name, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "backend-") {
			t.Errorf("%s connection after the revert: %q", name, body)
		}
	}
	if _, err := httpGet(gatewayURL(t, s, "backend")); err != nil {
		t.Errorf("a new request after the revert: %v", err)
	}
}

// threeServices is the test environment with api depending on backend and
// cache.
func threeServices(name string) *v1alpha1.Environment {
	env := testEnvironment(name)
	cache := env.Spec.Services[0]
	cache.Name, cache.Labels = "cache", map[string]string{"tier": "cache"}
	env.Spec.Services = append(env.Spec.Services, cache)
	env.Spec.Services[1].DependsOn = []string{"backend", "cache"}
	return env
}

func TestNetworkDirectionAndTarget(t *testing.T) {
	t.Parallel()
	s := startEnv(t, threeServices("netdir"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	ctx := testContext(t)
	api := gatewayURL(t, s, "api")
	baseB := p50(latencies(t, api+"/dep?name=BACKEND", 4, 10))
	baseC := p50(latencies(t, api+"/dep?name=CACHE", 4, 10))

	f := networkChaos("api-to-backend", "api", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action = v1alpha1.NetworkDelay
		sp.Delay = &v1alpha1.DelaySpec{Latency: "200ms"}
		sp.Direction = v1alpha1.DirectionTo
		sp.Target = tierTarget("backend")
	})
	inj, err := e.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = inj.Revert(ctx) }()
	acts := networkActions(t, inj)

	n0 := delayedChunks(acts)
	toCache := latencies(t, api+"/dep?name=CACHE", 4, 10)
	if n := delayedChunks(acts); n != n0 {
		t.Errorf("api → cache: %d chunks delayed, want none", n-n0)
	}
	toBackend := latencies(t, api+"/dep?name=BACKEND", 4, 10)
	if n := delayedChunks(acts); n-n0 < int64(len(toBackend)) {
		t.Errorf("api → backend: %d chunks delayed for %d requests", n-n0, len(toBackend))
	}
	addedB, addedC := p50(toBackend)-baseB, p50(toCache)-baseC
	t.Logf("added p50: api → backend %v, api → cache %v", addedB, addedC)
	if !withinFrac(float64(addedB), float64(200*time.Millisecond), 0.05) {
		t.Errorf("api → backend added %v, want 200ms ± 5%%", addedB)
	}
	// Requests from outside to the api itself are not api → backend.
	n1 := delayedChunks(acts)
	if _, err := httpGet(api); err != nil {
		t.Fatal(err)
	}
	if n := delayedChunks(acts); n != n1 {
		t.Errorf("client → api: %d chunks delayed, want none", n-n1)
	}
}

// The direction mapping, hop by hop (see faults_network.go).
func TestHopMatchDirections(t *testing.T) {
	t.Parallel()
	in := Hop{Kind: HopIngress, Service: "a", Replica: "a-0"}
	aToB := Hop{Kind: HopEgress, Service: "b", Replica: "b-0", Source: "a-0", SourceService: "a"}
	aToC := Hop{Kind: HopEgress, Service: "c", Replica: "c-0", Source: "a-0", SourceService: "a"}
	bToA := Hop{Kind: HopEgress, Service: "a", Replica: "a-0", Source: "b-0", SourceService: "b"}
	otherA := Hop{Kind: HopEgress, Service: "b", Replica: "b-0", Source: "a-1", SourceService: "a"}
	b := map[string]bool{"b-0": true}
	type ud struct{ up, down bool }
	tests := []struct {
		name   string
		dir    v1alpha1.Direction
		target map[string]bool
		hop    Hop
		want   ud
	}{
		{"to, any peer: ingress responses", v1alpha1.DirectionTo, nil, in, ud{false, true}},
		{"to, any peer: egress requests", v1alpha1.DirectionTo, nil, aToB, ud{true, false}},
		{"to, any peer: responses to a peer's calls", v1alpha1.DirectionTo, nil, bToA, ud{false, true}},
		{"to b: a → b requests", v1alpha1.DirectionTo, b, aToB, ud{true, false}},
		{"to b: a → c untouched", v1alpha1.DirectionTo, b, aToC, ud{false, false}},
		{"to b: outside clients untouched", v1alpha1.DirectionTo, b, in, ud{false, false}},
		{"to b: b's calls get a's responses faulted", v1alpha1.DirectionTo, b, bToA, ud{false, true}},
		{"to b: another replica of a untouched", v1alpha1.DirectionTo, b, otherA, ud{false, false}},
		{"from b: b's responses to a", v1alpha1.DirectionFrom, b, aToB, ud{false, true}},
		{"from b: b's requests to a", v1alpha1.DirectionFrom, b, bToA, ud{true, false}},
		{"from b: a → c untouched", v1alpha1.DirectionFrom, b, aToC, ud{false, false}},
		{"from, any peer: ingress requests", v1alpha1.DirectionFrom, nil, in, ud{true, false}},
		{"both b: a → b both ways", v1alpha1.DirectionBoth, b, aToB, ud{true, true}},
		{"both, any peer: ingress both ways", v1alpha1.DirectionBoth, nil, in, ud{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, down := hopMatch{dir: tt.dir, replica: "a-0", target: tt.target}.dirs(tt.hop)
			if (ud{up, down}) != tt.want {
				t.Errorf("got up=%v down=%v, want %+v", up, down, tt.want)
			}
		})
	}
}

func TestNetworkBadInput(t *testing.T) {
	t.Parallel()
	s := startEnv(t, testEnvironment("netbad"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	ctx := testContext(t)
	tests := []struct {
		name    string
		backend string
		edit    func(*v1alpha1.NetworkChaosSpec)
		want    []string
		is      error
	}{
		{"loss forced on the proxy backend", "proxy", func(sp *v1alpha1.NetworkChaosSpec) {
			sp.Action, sp.Loss = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "30"}
		}, []string{"proxy network backend cannot honour loss", "--network-backend packet"}, nil},
		{"delay with duplicate forced on the proxy backend", "proxy", func(sp *v1alpha1.NetworkChaosSpec) {
			sp.Action = v1alpha1.NetworkDelay
			sp.Delay, sp.Duplicate = &v1alpha1.DelaySpec{Latency: "10ms"}, &v1alpha1.DuplicateSpec{Duplicate: "5"}
		}, []string{"cannot honour duplicate", "packet"}, nil},
		{"externalTargets", "", func(sp *v1alpha1.NetworkChaosSpec) {
			sp.Action, sp.Delay = v1alpha1.NetworkDelay, &v1alpha1.DelaySpec{Latency: "10ms"}
			sp.ExternalTargets = []string{"example.com:443"}
		}, []string{"externalTargets example.com:443", "no traffic leaves a local environment"}, nil},
		{"partition whose target selects nothing", "", func(sp *v1alpha1.NetworkChaosSpec) {
			sp.Action, sp.Target = v1alpha1.NetworkPartition, tierTarget("nosuch")
		}, []string{"target selects no replica"}, selector.ErrNoMatch},
		{"reorder", "", func(sp *v1alpha1.NetworkChaosSpec) {
			sp.Action = v1alpha1.NetworkDelay
			sp.Delay = &v1alpha1.DelaySpec{Latency: "10ms", Reorder: &v1alpha1.ReorderSpec{Reorder: "25"}}
		}, []string{"reorder", "packet backend", "netem"}, nil},
		{"peakrate", "", func(sp *v1alpha1.NetworkChaosSpec) {
			sp.Action = v1alpha1.NetworkBandwidth
			sp.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "1mbps", Limit: 1000, Buffer: 1000, Peakrate: ptr(int64(2 << 20))}
		}, []string{"peakrate", "--network-backend packet"}, nil},
		{"from without a target", "", func(sp *v1alpha1.NetworkChaosSpec) {
			sp.Action, sp.Delay = v1alpha1.NetworkDelay, &v1alpha1.DelaySpec{Latency: "10ms"}
			sp.Direction = v1alpha1.DirectionFrom
		}, []string{"direction from needs a target"}, nil},
		{"no hop between selected and target", "", func(sp *v1alpha1.NetworkChaosSpec) {
			// backend depends on nothing and nobody is api's client but
			// the outside: backend → api carries nothing.
			sp.Action, sp.Delay = v1alpha1.NetworkDelay, &v1alpha1.DelaySpec{Latency: "10ms"}
			sp.Target = tierTarget("backend")
			sp.Selector = v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"tier": "backend"}}
		}, []string{"no hop connects"}, nil},
		{"unknown backend", "tc", func(sp *v1alpha1.NetworkChaosSpec) {
			sp.Action, sp.Delay = v1alpha1.NetworkDelay, &v1alpha1.DelaySpec{Latency: "10ms"}
		}, []string{`network backend "tc"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := networkChaos("bad", "api", 0, tt.edit)
			_, err := e.InjectWith(ctx, f, InjectOptions{NetworkBackend: tt.backend})
			if err == nil {
				t.Fatal("injected; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
	if n := len(e.Injections()); n != 0 {
		t.Errorf("%d injections active after refusals", n)
	}
	if rt := e.hops.cur.Load(); len(rt.faults) != 0 {
		t.Errorf("%d hop faults routed after refusals", len(rt.faults))
	}
}

// The backend choice travels through the control socket.
func TestNetworkBackendThroughControlSocket(t *testing.T) {
	t.Parallel()
	s := startEnv(t, testEnvironment("netremote"), testOptions(t))
	waitReady(t, s)
	newTestEngine(t, s)
	c, err := Dial(s.opts.StateDir, s.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testContext(t)
	loss := networkChaos("loss", "backend", time.Second, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action, sp.Loss = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "30"}
	})
	_, err = NewRemoteEngine(c).WithNetworkBackend("proxy").SelectWith(ctx, loss, InjectOptions{})
	if err == nil || !strings.Contains(err.Error(), "proxy network backend cannot honour loss") {
		t.Fatalf("loss on the proxy backend through the socket: %v", err)
	}
	delay := networkChaos("delay", "backend", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action, sp.Delay = v1alpha1.NetworkDelay, &v1alpha1.DelaySpec{Latency: "50ms"}
	})
	inj, err := NewRemoteEngine(c).InjectWith(ctx, delay, InjectOptions{NetworkBackend: "proxy"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := httpGet(gatewayURL(t, s, "backend")); err != nil {
		t.Fatal(err)
	}
	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, fd := range inj.Fidelity() {
		found = found || fd.Quantity == "delay" && fd.MeasuredValue >= 50
	}
	if !found {
		t.Errorf("remote fidelity has no measured delay: %+v", inj.Fidelity())
	}
}

// closeHopRouter on Close leaves no interceptor: connections go back to
// the fast path.
func TestEngineCloseRemovesHopRouter(t *testing.T) {
	t.Parallel()
	s := startEnv(t, testEnvironment("netclose"), testOptions(t))
	waitReady(t, s)
	if _, err := NewEngine(s, EngineOptions{NetworkBackend: "tc"}); err == nil || !strings.Contains(err.Error(), `network backend "tc"`) {
		t.Fatalf("NewEngine with backend tc: %v", err)
	}
	// The engine's default backend applies to injections that choose none.
	e, err := NewEngine(s, EngineOptions{NetworkBackend: "proxy"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	loss := networkChaos("loss", "backend", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action, sp.Loss = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "30"}
	})
	if _, err := e.Select(ctx, loss); err == nil || !strings.Contains(err.Error(), "proxy network backend cannot honour loss") {
		t.Fatalf("loss with the engine's default backend proxy: %v", err)
	}
	f := networkChaos("delay", "backend", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action, sp.Delay = v1alpha1.NetworkDelay, &v1alpha1.DelaySpec{Latency: "20ms"}
	})
	if _, err := e.Inject(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if i := s.proxy().interceptor.Load().i; i != nil {
		t.Errorf("interceptor %T still installed after Close", i)
	}
	if _, err := httpGet(gatewayURL(t, s, "backend")); err != nil {
		t.Fatal(err)
	}
}

const crashPartition = `apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: cut-backend}
spec:
  action: partition
  mode: all
  selector: {labelSelectors: {tier: backend}}
  direction: both
  duration: 10m
`

// answers reports whether a request to the gateway at addr gets any byte
// back within wait (false: it is held, or refused).
func answers(addr string, wait time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	n, _ := c.Read(make([]byte, 1))
	return n > 0
}

// Proxy faults live in the supervisor: a dead inject client's lease
// reverts them, and a SIGKILLed supervisor takes them along, leaving only
// a journal entry that recover clears.
func TestNetworkCrashSafety(t *testing.T) {
	if faultlineErr != nil {
		t.Fatal(faultlineErr)
	}
	stateDir := testOptions(t).StateDir
	const name = "netcrash"
	startHelperSupervisor(t, stateDir, testEnvironment(name))
	file := filepath.Join(t.TempDir(), "partition.yaml")
	if err := os.WriteFile(file, []byte(crashPartition), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Dial(stateDir, name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testContext(t)
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gw string
	for _, svc := range st.Services {
		if svc.Name == "backend" {
			gw = svc.Gateway
		}
	}
	if !answers(gw, 10*time.Second) {
		t.Fatal("backend does not answer before the fault")
	}
	inject := func() (*exec.Cmd, chan struct{}) {
		cmd, _, exited := runInjectClient(t, stateDir, file, name, "--network-backend", "proxy")
		waitUntil(t, "the partition is active", func() bool {
			list, err := c.Injections(ctx)
			return err == nil && len(list) == 1 && len(list[0].Events) > 0
		})
		return cmd, exited
	}

	// 1. The inject client dies: the supervisor reverts; traffic flows.
	client, exited := inject()
	if answers(gw, 500*time.Millisecond) {
		t.Fatal("a request got an answer through the partition")
	}
	if err := client.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, "faultline inject exited after SIGKILL", exited)
	waitUntil(t, "the supervisor reverted after its client died", func() bool {
		list, err := c.Injections(ctx)
		return err == nil && len(list) == 0
	})
	if !answers(gw, 10*time.Second) {
		t.Fatal("backend does not answer after the client died and the fault was reverted")
	}

	// 2. The supervisor dies mid-fault: its proxy and faults die with it;
	// recover clears the journal.
	inject()
	sst, err := ReadState(stateDir, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(sst.Owner.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the supervisor is gone", func() bool { return !sst.Owner.Alive() })
	rec := exec.CommandContext(ctx, faultlineBin, "recover")
	rec.Env = append(os.Environ(), "FAULTLINE_STATE_DIR="+stateDir)
	out, err := rec.CombinedOutput()
	if err != nil {
		t.Fatalf("faultline recover: %v\n%s", err, out)
	}
	t.Logf("faultline recover:\n%s", out)
	if !strings.Contains(string(out), "reverted") {
		t.Errorf("recover output:\n%s", out)
	}
	if entries, _ := journalIn(t, stateDir).List(); len(entries) != 0 {
		t.Errorf("journal after recover: %+v", entries)
	}
	// No proxy is left holding the hop: the gateway's port is closed.
	if conn, err := net.DialTimeout("tcp", gw, 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("gateway %s still accepts connections after the supervisor died", gw)
	}
}

// A second fault on a partitioned hop swaps in place: the held request is
// not released, and goes through once the partition alone is reverted.
func TestNetworkPartitionSurvivesSecondFault(t *testing.T) {
	t.Parallel()
	s := startEnv(t, testEnvironment("netswap"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	ctx := testContext(t)
	addr := strings.TrimPrefix(gatewayURL(t, s, "backend"), "http://")
	part, err := e.Inject(ctx, networkChaos("cut", "backend", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action, sp.Direction = v1alpha1.NetworkPartition, v1alpha1.DirectionBoth
	}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: backend\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the request is held", func() bool {
		var held float64
		for _, fd := range part.Fidelity() {
			if fd.Quantity == "partition" {
				held += fd.MeasuredValue
			}
		}
		return held > 0
	})
	slow, err := e.Inject(ctx, networkChaos("slow", "backend", 0, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Action, sp.Delay = v1alpha1.NetworkDelay, &v1alpha1.DelaySpec{Latency: "30ms"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Revert(ctx) }()
	buf := make([]byte, 256)
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, err := c.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a second fault released %q (%v) through the partition", buf[:n], err)
	}
	if err := part.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("after the partition was reverted: %v", err)
	}
	resp.Body.Close()
	if n := delayedChunks(networkActions(t, slow)); n == 0 {
		t.Errorf("the response did not go through the remaining delay")
	}
}
