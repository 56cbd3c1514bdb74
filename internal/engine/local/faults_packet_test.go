package local

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/packet"
)

// packetEnvironment is the test environment with probes that tolerate a
// lossy link: the packet faults also hit the probes' packets (as a
// kubelet's probes cross a pod's interface), and these tests measure the
// faults, not readiness flapping.
func packetEnvironment(name string) *v1alpha1.Environment {
	env := testEnvironment(name)
	for i := range env.Spec.Services {
		for _, p := range []*v1alpha1.HealthProbe{env.Spec.Services[i].ReadinessProbe, env.Spec.Services[i].LivenessProbe} {
			p.TimeoutSeconds = ptr(int32(5))
			p.FailureThreshold = ptr(int32(10))
		}
	}
	return env
}

// packetChaos builds a NetworkChaos on the replicas of a service (tier
// label) or on named replicas.
func packetChaos(name string, sel v1alpha1.PodSelectorSpec, d time.Duration, edit func(*v1alpha1.NetworkChaosSpec)) engine.Fault {
	spec := &v1alpha1.NetworkChaosSpec{}
	spec.Selector, spec.Mode = sel, v1alpha1.ModeAll
	edit(spec)
	return engine.Fault{Kind: "NetworkChaos", Name: name, Spec: spec, Duration: d}
}

func tier(service string) v1alpha1.PodSelectorSpec {
	return v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"tier": service}}
}

func packetActions(t testing.TB, inj engine.Injection) []*packetAction {
	t.Helper()
	var out []*packetAction
	for _, a := range inj.(*injection).plan.actions {
		pa, ok := a.(*packetAction)
		if !ok {
			t.Fatalf("action %T is not a packet action", a)
		}
		out = append(out, pa)
	}
	return out
}

func matchedPackets(t testing.TB, as []*packetAction) packet.Counters {
	t.Helper()
	var k packet.Counters
	for _, a := range as {
		c, err := a.counters()
		if err != nil {
			t.Fatal(err)
		}
		k.Add(c)
	}
	return k
}

func fidelityOf(inj engine.Injection, quantity string) []engine.Fidelity {
	var out []engine.Fidelity
	for _, f := range inj.Fidelity() {
		if f.Quantity == quantity {
			out = append(out, f)
		}
	}
	return out
}

// TestPacketBackendNeedsNamespaces: without network namespaces the packet
// backend refuses, naming what to do.
func TestPacketBackendNeedsNamespaces(t *testing.T) {
	s := startEnv(t, testEnvironment("pktnons"), testOptions(t))
	e := newTestEngine(t, s)
	f := packetChaos("loss", tier("backend"), time.Second, func(s *v1alpha1.NetworkChaosSpec) {
		s.Action, s.Loss = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "30"}
	})
	_, err := e.InjectWith(testContext(t), f, InjectOptions{NetworkBackend: "packet"})
	if err == nil || !strings.Contains(err.Error(), "network namespaces") {
		t.Fatalf("packet backend without namespaces: %v", err)
	}
}

// TestPacketPlanErrors: what the packet backend refuses, and why.
func TestPacketPlanErrors(t *testing.T) {
	needNetns(t)
	s := startEnv(t, packetEnvironment("pktplan"), netnsOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	haveNetem, err := packet.HaveNetem()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*v1alpha1.NetworkChaosSpec)
		want string
	}{
		{"delay", func(s *v1alpha1.NetworkChaosSpec) {
			s.Action, s.Delay = v1alpha1.NetworkDelay, &v1alpha1.DelaySpec{Latency: "50ms"}
		}, map[bool]string{false: "this kernel has no sch_netem; the proxy backend runs delay", true: "the proxy backend runs delay"}[haveNetem]},
		{"bandwidth-target", func(s *v1alpha1.NetworkChaosSpec) {
			s.Action, s.Bandwidth = v1alpha1.NetworkBandwidth, &v1alpha1.BandwidthSpec{Rate: "1mbps", Limit: 100000, Buffer: 10000}
			s.Target = &v1alpha1.PodSelector{Selector: tier("api"), Mode: v1alpha1.ModeAll}
		}, "proxy backend shapes the hops to a target"},
		{"from-without-target", func(s *v1alpha1.NetworkChaosSpec) {
			s.Action, s.Loss, s.Direction = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "10"}, v1alpha1.DirectionFrom
		}, "needs a target"},
		{"device", func(s *v1alpha1.NetworkChaosSpec) {
			s.Action, s.Loss, s.Device = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "10"}, "eth1"
		}, "one interface, eth0"},
		{"hostname", func(s *v1alpha1.NetworkChaosSpec) {
			s.Action, s.Loss, s.ExternalTargets = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "10"}, []string{"example.com"}
		}, "not host names"},
		{"zero", func(s *v1alpha1.NetworkChaosSpec) {
			s.Action, s.Loss = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "0"}
		}, "no loss, duplicate or corrupt percentage above 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.InjectWith(testContext(t), packetChaos(tc.name, tier("backend"), time.Second, tc.edit), InjectOptions{NetworkBackend: "packet"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	if left := envLeftovers(t, "pktplan"); len(left) != 4*2 {
		// 4 namespaces and their veths; no table, no qdisc.
		t.Errorf("objects of the environment: %v, want only its 4 namespaces and veths", left)
	}
}

// load sends GETs to url from workers keep-alive clients until stop
// returns true or limit passes; it returns how many succeeded and failed.
func load(url string, workers int, limit time.Duration, stop func() bool) (ok, failed int64) {
	var okN, failN atomic.Int64
	deadline := time.Now().Add(limit)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 10 * time.Second}
			defer cl.CloseIdleConnections()
			for i := 0; time.Now().Before(deadline); i++ {
				if i%16 == 0 && stop() {
					return
				}
				resp, err := cl.Get(url)
				if err != nil {
					failN.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					okN.Add(1)
				} else {
					failN.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return okN.Load(), failN.Load()
}

// TestPacketLossThroughEngine: 30 % loss on what the backend replicas
// send, measured by the tables' counters over ≥ 10,000 packets of real
// HTTP traffic through the gateway; TCP retransmits, so requests still
// succeed.
func TestPacketLossThroughEngine(t *testing.T) {
	needNetns(t)
	const env = "pktloss"
	s := startEnv(t, packetEnvironment(env), netnsOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	f := packetChaos("loss", tier("backend"), 0, func(s *v1alpha1.NetworkChaosSpec) {
		s.Action, s.Loss = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "30"}
	})
	ctx := testContext(t)
	inj, err := e.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	as := packetActions(t, inj)
	if len(as) != 2 {
		t.Fatalf("%d actions, want one per backend replica", len(as))
	}
	waitUntil(t, "the tables are installed", func() bool {
		_, err := as[0].counters()
		return err == nil && len(as[1].table) > 0
	})
	const want = 10000
	ok, failed := load(gatewayURL(t, s, "backend")+"/", 64, 2*time.Minute, func() bool {
		k, err := as[0].counters()
		k2, err2 := as[1].counters()
		return err == nil && err2 == nil && k.Matched+k2.Matched >= want
	})
	k := matchedPackets(t, as)
	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests ok, %d failed; counters %+v (%.2f %% dropped)", ok, failed, k, k.Rate(k.Dropped))
	if k.Matched < want {
		t.Fatalf("only %d packets matched in the time allowed, want ≥ %d", k.Matched, want)
	}
	var dropped, matched float64
	for _, fd := range fidelityOf(inj, "loss") {
		t.Logf("fidelity: %+v", fd)
		if fd.AskedValue != 30 {
			t.Errorf("asked %v, want 30", fd.AskedValue)
		}
		matched++
		dropped += fd.MeasuredValue
	}
	if matched != 2 {
		t.Fatalf("loss fidelity for %v replicas, want 2", matched)
	}
	if rate := k.Rate(k.Dropped); rate < 27 || rate > 33 {
		t.Errorf("measured loss %.2f %% over %d packets, want 27–33 %%", rate, k.Matched)
	}
	if ok < failed {
		t.Errorf("%d requests failed, %d succeeded: TCP should carry most through 30 %% loss", failed, ok)
	}
	if left := envLeftovers(t, env); len(left) != 8 {
		t.Errorf("after revert: %v, want only the 4 namespaces and veths", left)
	}
}

// TestPacketDuplicateAndCorrupt: netem's duplicate and corrupt on the
// packet backend, measured by the counters on real traffic.
func TestPacketDuplicateAndCorrupt(t *testing.T) {
	needNetns(t)
	s := startEnv(t, packetEnvironment("pktdup"), netnsOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	f := packetChaos("netem", v1alpha1.PodSelectorSpec{Pods: map[string][]string{"chaos": {"backend-0"}}}, 0, func(s *v1alpha1.NetworkChaosSpec) {
		s.Action = v1alpha1.NetworkNetem
		s.Duplicate = &v1alpha1.DuplicateSpec{Duplicate: "20"}
		s.Corrupt = &v1alpha1.CorruptSpec{Corrupt: "10"}
	})
	ctx := testContext(t)
	inj, err := e.Inject(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	as := packetActions(t, inj)
	url := "http://" + replicaOf(t, s, "backend-0").IP + ":" + fmt.Sprint(replicaOf(t, s, "backend-0").Port) + "/"
	ok, failed := load(url, 32, time.Minute, func() bool {
		k, err := as[0].counters()
		return err == nil && k.Matched >= 5000
	})
	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d ok, %d failed", ok, failed)
	for _, q := range []struct {
		name  string
		asked float64
	}{{"duplicate", 20}, {"corrupt", 10}} {
		fd := fidelityOf(inj, q.name)
		if len(fd) != 1 {
			t.Fatalf("%s fidelity %+v", q.name, fd)
		}
		t.Logf("fidelity: %+v", fd[0])
		want := q.asked
		if fd[0].MeasuredValue < want*0.85 || fd[0].MeasuredValue > want*1.15 {
			t.Errorf("%s measured %.2f %%, want %.1f %% ± 15 %%", q.name, fd[0].MeasuredValue, want)
		}
	}
}

// TestPacketPartitionWithTarget: api's traffic to backend is cut, nothing
// passes, the rest of the environment is untouched, and api reaches
// backend again after the revert.
func TestPacketPartitionWithTarget(t *testing.T) {
	needNetns(t)
	const env = "pktpart"
	s := startEnv(t, packetEnvironment(env), netnsOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	if body, err := httpGet(gatewayURL(t, s, "api") + "/dep?name=BACKEND"); err != nil || !strings.HasPrefix(body, "backend-") {
		t.Fatalf("before: %q %v", body, err)
	}
	f := packetChaos("part", tier("api"), 0, func(s *v1alpha1.NetworkChaosSpec) {
		s.Action, s.Direction = v1alpha1.NetworkPartition, v1alpha1.DirectionBoth
		s.Target = &v1alpha1.PodSelector{Selector: tier("backend"), Mode: v1alpha1.ModeAll}
	})
	ctx := testContext(t)
	inj, err := e.InjectWith(ctx, f, InjectOptions{NetworkBackend: "packet"})
	if err != nil {
		t.Fatal(err)
	}
	as := packetActions(t, inj)
	waitUntil(t, "the tables are installed", func() bool { _, err := as[0].counters(); return err == nil })
	// The api replicas cannot reach backend...
	cl := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 4 {
		resp, err := cl.Get(gatewayURL(t, s, "api") + "/dep?name=BACKEND")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatalf("api reached backend through a partition: %s", body)
			}
		}
	}
	// ...while both are reachable from outside.
	for _, svc := range []string{"api", "backend"} {
		if _, err := httpGet(gatewayURL(t, s, svc) + "/"); err != nil {
			t.Errorf("%s from outside during the partition: %v", svc, err)
		}
	}
	k := matchedPackets(t, as)
	if k.Matched == 0 || k.Dropped != k.Matched {
		t.Errorf("counters %+v: want packets matched, every one dropped", k)
	}
	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	for _, fd := range fidelityOf(inj, "partition") {
		t.Logf("fidelity: %+v", fd)
		if fd.Measured != "no packets matched" && fd.MeasuredValue != 100 {
			t.Errorf("partition let packets through: %+v", fd)
		}
	}
	waitUntil(t, "api reaches backend again", func() bool {
		body, err := httpGet(gatewayURL(t, s, "api") + "/dep?name=BACKEND")
		return err == nil && strings.HasPrefix(body, "backend-")
	})
	if left := envLeftovers(t, env); len(left) != 8 {
		t.Errorf("after revert: %v, want only the 4 namespaces and veths", left)
	}
}

// TestPacketBandwidth: a tbf of 1 MiB/s ("1mbps") on what backend-0
// sends; a bulk download from it runs at that rate (±10 %), and the
// fidelity says so too.
func TestPacketBandwidth(t *testing.T) {
	needNetns(t)
	s := startEnv(t, packetEnvironment("pktbw"), netnsOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	f := packetChaos("bw", v1alpha1.PodSelectorSpec{Pods: map[string][]string{"chaos": {"backend-0"}}}, 0, func(s *v1alpha1.NetworkChaosSpec) {
		s.Action = v1alpha1.NetworkBandwidth
		s.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "1mbps", Limit: 1 << 20, Buffer: 10000}
	})
	ctx := testContext(t)
	inj, err := e.InjectWith(ctx, f, InjectOptions{NetworkBackend: "packet"})
	if err != nil {
		t.Fatal(err)
	}
	const rate = 1 << 20
	r := replicaOf(t, s, "backend-0")
	url := fmt.Sprintf("http://%s:%d/bulk?n=%d", r.IP, r.Port, 6*rate)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(dctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Skip the first second (the bucket's burst and TCP's start), then
	// measure to the end.
	buf := make([]byte, 64<<10)
	var total int64
	var start time.Time
	var counted int64
	for {
		n, err := resp.Body.Read(buf)
		total += int64(n)
		if start.IsZero() && total >= rate {
			start, counted = time.Now(), 0
		} else if !start.IsZero() {
			counted += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	measured := float64(counted) / time.Since(start).Seconds()
	if err := inj.Revert(ctx); err != nil {
		t.Fatal(err)
	}
	fd := fidelityOf(inj, "bandwidth")
	t.Logf("download %.0f B/s (%.1f %% of asked); fidelity %+v", measured, 100*measured/rate, fd)
	if measured < rate*0.9 || measured > rate*1.1 {
		t.Errorf("download at %.0f B/s, want %d ± 10 %%", measured, rate)
	}
	if len(fd) != 1 || fd[0].MeasuredValue < rate*0.9 || fd[0].MeasuredValue > rate*1.1 {
		t.Errorf("fidelity %+v, want a measured rate within 10 %% of %d", fd, rate)
	}
	if left := envLeftovers(t, "pktbw"); len(left) != 8 {
		t.Errorf("after revert: %v, want only the 4 namespaces and veths", left)
	}
}

// packetHelperEnv makes the test binary a supervisor with replicas in
// namespaces and packet faults injected (TestPacketCrashRecover's child).
const packetHelperEnv = "FAULTLINE_TEST_PACKET_SUPERVISOR"

// TestHelperPacketSupervisor is TestPacketCrashRecover's child: it starts
// the environment in namespaces, injects a loss and a bandwidth fault, says
// so, and waits to be killed.
func TestHelperPacketSupervisor(t *testing.T) {
	stateDir := os.Getenv(packetHelperEnv)
	if stateDir == "" {
		t.Skip("helper process of TestPacketCrashRecover")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "packet helper:", err)
		os.Exit(2)
	}
	var env v1alpha1.Environment
	data, err := os.ReadFile(filepath.Join(stateDir, "env.json"))
	if err != nil {
		fail(err)
	}
	if err := json.Unmarshal(data, &env); err != nil {
		fail(err)
	}
	s, err := New(&env, Options{StateDir: stateDir, ReadinessPollInterval: 50 * time.Millisecond, NetworkNamespaces: true})
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		fail(err)
	}
	if err := s.WaitReady(ctx); err != nil {
		fail(err)
	}
	e, err := AttachEngine(s, EngineOptions{Lease: 3 * time.Second})
	if err != nil {
		fail(err)
	}
	for _, f := range []engine.Fault{
		packetChaos("loss", tier("backend"), 0, func(s *v1alpha1.NetworkChaosSpec) {
			s.Action, s.Loss = v1alpha1.NetworkLoss, &v1alpha1.LossSpec{Loss: "5"}
		}),
		packetChaos("part", tier("api"), 0, func(s *v1alpha1.NetworkChaosSpec) {
			s.Action, s.Direction = v1alpha1.NetworkPartition, v1alpha1.DirectionTo
			s.Target = &v1alpha1.PodSelector{Selector: tier("backend"), Mode: v1alpha1.ModeAll}
		}),
		packetChaos("bw", tier("api"), 0, func(s *v1alpha1.NetworkChaosSpec) {
			s.Action = v1alpha1.NetworkBandwidth
			s.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "1mbps", Limit: 1 << 20, Buffer: 10000}
		}),
	} {
		inj, err := e.InjectWith(ctx, f, InjectOptions{NetworkBackend: "packet"})
		if err != nil {
			fail(err)
		}
		if err := inj.(*injection).applyError(); err != nil {
			fail(err)
		}
	}
	fmt.Println("PACKET READY")
	<-ctx.Done()
	os.Exit(3)
}

// TestPacketCrashRecover: the supervisor holding packet faults is
// SIGKILLed mid-fault; `faultline recover` leaves no table, qdisc,
// namespace or veth of the environment.
func TestPacketCrashRecover(t *testing.T) {
	needNetns(t)
	if faultlineErr != nil {
		t.Fatal(faultlineErr)
	}
	const env = "pktcrash"
	stateDir := testOptions(t).StateDir
	data, _ := json.Marshal(packetEnvironment(env))
	if err := os.WriteFile(filepath.Join(stateDir, "env.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperPacketSupervisor$")
	cmd.Env = append(os.Environ(), packetHelperEnv+"="+stateDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "PACKET READY") {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatal("the helper supervisor exited before its faults were in place")
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the helper supervisor did not get ready")
	}
	before := envLeftovers(t, env)
	var tables, qdiscs int
	for _, s := range before {
		if strings.HasPrefix(s, "table ") {
			tables++
		}
		if strings.HasPrefix(s, "qdisc ") {
			qdiscs++
		}
	}
	if tables == 0 {
		t.Fatalf("no table during the faults: %v", before)
	}
	// The bandwidth tbf sits on the api replicas' eth0, inside their
	// namespaces, which Leftovers does not list: look there.
	for _, r := range []string{"api-0", "api-1"} {
		if _, err := packet.TBFStats(netnsName(env, r), packet.PeerDevice); err != nil {
			t.Fatalf("no tbf on %s during the fault: %v", r, err)
		}
		qdiscs++
	}
	t.Logf("during the faults: %d tables, %d qdiscs, %v", tables, qdiscs, before)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, "the helper supervisor exited after SIGKILL", exited)

	rec := exec.CommandContext(ctx, faultlineBin, "recover")
	rec.Env = append(os.Environ(), "FAULTLINE_STATE_DIR="+stateDir)
	recOut, err := rec.CombinedOutput()
	t.Logf("faultline recover:\n%s", recOut)
	if err != nil {
		t.Fatalf("faultline recover: %v", err)
	}
	if left := envLeftovers(t, env); len(left) != 0 {
		t.Errorf("left after recover: %v", left)
	}
	j, err := engine.OpenJournal(filepath.Join(stateDir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := j.List(); len(entries) != 0 {
		t.Errorf("journal after recover: %+v", entries)
	}
}
