package local

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

func httpChaos(name, service string, edit func(*v1alpha1.HTTPChaosSpec)) engine.Fault {
	spec := &v1alpha1.HTTPChaosSpec{Target: v1alpha1.HTTPTargetResponse}
	spec.Selector = v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"tier": service}}
	spec.Mode = v1alpha1.ModeAll
	edit(spec)
	return engine.Fault{Kind: "HTTPChaos", Name: name, Spec: spec, Duration: time.Minute}
}

func TestHTTPChaosPlanAndHops(t *testing.T) {
	t.Parallel()
	s := startEnv(t, testEnvironment("httpchaos"), testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	b0, b1 := replicaOf(t, s, "backend-0"), replicaOf(t, s, "backend-1")

	// A port no selected replica listens on is refused, naming the ports.
	f := httpChaos("bad-port", "backend", func(sp *v1alpha1.HTTPChaosSpec) {
		sp.Port = 1
		sp.Abort = ptr(true)
	})
	_, err := e.planHTTP(f, f.Spec.(*v1alpha1.HTTPChaosSpec), InjectOptions{})
	if err == nil || !strings.Contains(err.Error(), "backend-0: ") || !strings.Contains(err.Error(), "backend-1: ") {
		t.Errorf("bad port: %v", err)
	}
	// TLS cannot be honoured on plaintext hops.
	f = httpChaos("tls", "backend", func(sp *v1alpha1.HTTPChaosSpec) {
		sp.Port = int32(b0.Port)
		sp.Abort = ptr(true)
		sp.TLS = &v1alpha1.HTTPChaosTLS{SecretName: "s"}
	})
	if _, err := e.planHTTP(f, f.Spec.(*v1alpha1.HTTPChaosSpec), InjectOptions{}); err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Errorf("tls: %v", err)
	}

	// Responses of backend-0 become 418; backend-1's pass.
	f = httpChaos("teapot", "backend", func(sp *v1alpha1.HTTPChaosSpec) {
		sp.Port = int32(b0.Port)
		sp.Path = ptr("/")
		sp.Replace = &v1alpha1.HTTPChaosReplace{Code: ptr(int32(418))}
	})
	p, err := e.planHTTP(f, f.Spec.(*v1alpha1.HTTPChaosSpec), InjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.actions) != 1 || len(p.targets) != 1 || p.targets[0].Name != "backend-0" {
		t.Fatalf("plan: %d actions, targets %v: want backend-0 only", len(p.actions), p.targets)
	}
	a := p.actions[0].(*httpAction)
	if _, ok := a.httpRules(Hop{Replica: "backend-1", Upstream: net.JoinHostPort("127.0.0.1", strconv.Itoa(b1.Port))}); ok {
		t.Error("rule applies to backend-1")
	}
	_ = a

	// Injected for real: the engine's hop router serves backend-0's hops.
	// Named by the service's gateway port, as a Chaos Mesh user names a
	// Service's port: only backend-0 is selected, so only it is hit.
	gw := gatewayURL(t, s, "backend")
	_, gwPort, _ := net.SplitHostPort(strings.TrimPrefix(gw, "http://"))
	port, _ := strconv.Atoi(gwPort)
	f = httpChaos("teapot", "backend", func(sp *v1alpha1.HTTPChaosSpec) {
		sp.Selector = pods("backend-0")
		sp.Port = int32(port)
		sp.Path = ptr("/")
		sp.Replace = &v1alpha1.HTTPChaosReplace{Code: ptr(int32(418))}
	})
	inj, err := e.Inject(testContext(t), f)
	if err != nil {
		t.Fatal(err)
	}
	// A keep-alive client and one connection per request: the gateway
	// balances connections.
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := gw + "/"
	ask := func(n int) map[string]int {
		codes := map[string]int{}
		for range n {
			resp, err := cl.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			codes[strings.TrimSpace(string(b))+" "+strconv.Itoa(resp.StatusCode)]++
		}
		return codes
	}
	codes := ask(40)
	if len(codes) != 2 || codes["backend-0 418"] == 0 || codes["backend-1 200"] == 0 {
		t.Fatalf("answers during the fault %v: want backend-0 418 and backend-1 200 only", codes)
	}
	var matched float64
	for _, fd := range inj.Fidelity() {
		if fd.Quantity == "http replaced" {
			matched = fd.MeasuredValue
		}
	}
	if matched != float64(codes["backend-0 418"]) {
		t.Errorf("fidelity %+v: replaced %v, client saw %d", inj.Fidelity(), matched, codes["backend-0 418"])
	}
	t.Logf("fidelity: %+v", inj.Fidelity())

	// Stream faults and HTTP rules layered on one hop: backend-0 is both
	// delayed and rewritten.
	delay := networkChaos("slow-b0", "backend", time.Minute, func(sp *v1alpha1.NetworkChaosSpec) {
		sp.Selector = pods("backend-0")
		sp.Action = v1alpha1.NetworkDelay
		sp.Delay = &v1alpha1.DelaySpec{Latency: "80ms"}
	})
	dinj, err := e.Inject(testContext(t), delay)
	if err != nil {
		t.Fatal(err)
	}
	slowest := map[string]time.Duration{}
	layered := map[string]int{}
	for range 30 {
		start := time.Now()
		resp, err := cl.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		who := strings.TrimSpace(string(b))
		layered[who+" "+strconv.Itoa(resp.StatusCode)]++
		if d := time.Since(start); d < slowest[who] || slowest[who] == 0 {
			slowest[who] = d
		}
	}
	if len(layered) != 2 || layered["backend-0 418"] == 0 || layered["backend-1 200"] == 0 {
		t.Fatalf("answers with both faults %v", layered)
	}
	if slowest["backend-0"] < 80*time.Millisecond {
		t.Errorf("fastest backend-0 answer took %s with an 80ms delay on its hop", slowest["backend-0"])
	}
	if err := dinj.Revert(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if err := inj.Revert(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if after := ask(20); len(after) != 2 || after["backend-0 200"] == 0 || after["backend-1 200"] == 0 {
		t.Fatalf("answers after revert %v: want 200 from both", after)
	}
}
