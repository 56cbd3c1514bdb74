package local

// NetworkChaos on the local engine's proxy backend.
//
// The hop model. Every connection in an environment crosses one proxy the
// supervisor owns, so every hop has a client side and a server side:
//   - ingress: a client outside the environment → a service's gateway → a
//     replica of the service (the client side is "outside");
//   - egress: a replica → its <DEP>_URL listener → a replica of the
//     dependency (the client side is the source replica).
//
// Each hop carries two streams: upstream (client → server) and downstream
// (server → client). A NetworkChaos names the selected pods S, a target T
// (its own selector and mode; no target means any peer, the outside
// included) and a direction, which Chaos Mesh defines on packets: "to" is
// what S sends to T, "from" what T sends to S, "both" the two. On a hop
// with client c and server s that is, for each selected replica r:
//
//	to:   c = r and s ∈ T → upstream    (r's requests to T)
//	      s = r and c ∈ T → downstream  (r's responses to T's requests)
//	from: c ∈ T and s = r → upstream    (T's requests to r)
//	      s ∈ T and c = r → downstream  (T's responses to r's requests)
//	both: the union.
//
// So "to" with no target delays everything a selected replica sends: the
// requests of its egress hops and the responses of its ingress hops, as
// netem on the pod's interface does; a delay then adds once to every round
// trip through the replica, in whichever way the connection was opened.
// Every selected replica gets its own faults (its own token bucket, its
// own measurements), like a qdisc per pod; a hop between two selected
// replicas carries both of theirs.
//
// Actions on the proxy backend, per chunk (one read of the stream, up to
// 32 KiB; a packet backend would act per packet):
//   - delay: latency ± jitter, uniform, with netem's jitter correlation;
//     reorder is refused: a stream has no packets to reorder.
//   - bandwidth: a token bucket of rate bytes/s holding buffer bytes
//     (tbf's buffer is its bucket); limit (tbf's queue) has no meaning for
//     a stream, which back-pressures its sender instead of dropping once
//     512 KiB are waiting; peakrate is refused.
//   - partition: the hop holds what it reads, in the faulted direction,
//     until the partition ends, then delivers it: senders block once
//     buffers fill and new connections hang after connecting, as TCP does
//     when its packets are dropped, and a connection that outlives the
//     partition carries on, as it would after retransmitting.
//   - netem: its delay and rate (a bucket with a 10 ms burst).
//   - loss, duplicate and corrupt are packet faults: the packet backend.
//
// Faults act on new and live connections (keep-alive ones included) as
// soon as they are injected, and leave them at once on revert. They live
// in the supervisor's process: a supervisor that dies takes them along, so
// there is nothing for `faultline recover` to undo but the journal entry.

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/netfault"
	"github.com/faultline-dev/faultline/internal/selector"
)

// Network backends (InjectOptions.NetworkBackend, --network-backend).
const (
	networkBackendAuto   = ""
	networkBackendProxy  = "proxy"
	networkBackendPacket = "packet"
)

// ParseNetworkBackend normalises a --network-backend value: auto (or "")
// is "", proxy and packet are themselves; anything else is an error.
func ParseNetworkBackend(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return networkBackendAuto, nil
	case networkBackendProxy:
		return networkBackendProxy, nil
	case networkBackendPacket:
		return networkBackendPacket, nil
	}
	return "", fmt.Errorf("network backend %q: want auto, proxy or packet", s)
}

// packetOnlyParams lists the parameters of spec that the action applies
// and only the packet backend can honour (Chaos Mesh applies every netem
// parameter that is set, whichever netem action is named).
func packetOnlyParams(spec *v1alpha1.NetworkChaosSpec) []string {
	switch spec.Action {
	case v1alpha1.NetworkNetem, v1alpha1.NetworkDelay, v1alpha1.NetworkLoss, v1alpha1.NetworkDuplicate, v1alpha1.NetworkCorrupt:
	default:
		return nil
	}
	var out []string
	if spec.Loss != nil {
		out = append(out, "loss")
	}
	if spec.Duplicate != nil {
		out = append(out, "duplicate")
	}
	if spec.Corrupt != nil {
		out = append(out, "corrupt")
	}
	return out
}

// NeedsNamespaces reports whether the fault, run with backend ("", auto,
// proxy or packet), runs on the packet backend, whose replicas must run in
// network namespaces (Options.NetworkNamespaces): `faultline run` starts
// its environment that way when one of its faults does.
func NeedsNamespaces(f engine.Fault, backend string) bool {
	spec, ok := f.Spec.(*v1alpha1.NetworkChaosSpec)
	if !ok {
		return false
	}
	b, err := ParseNetworkBackend(backend)
	if err != nil {
		return false
	}
	return b == networkBackendPacket || (b == networkBackendAuto && len(packetOnlyParams(spec)) > 0)
}

// planNetwork plans a NetworkChaos on the backend the options force, or the
// one its action needs.
func (e *Engine) planNetwork(f engine.Fault, spec *v1alpha1.NetworkChaosSpec, o InjectOptions) (*faultPlan, error) {
	asked := o.NetworkBackend
	if asked == "" {
		asked = e.networkBackend
	}
	backend, err := ParseNetworkBackend(asked)
	if err != nil {
		return nil, err
	}
	packetOnly := packetOnlyParams(spec)
	switch {
	case backend == networkBackendPacket:
		return e.planPacketNetwork(f, spec, o)
	case backend == networkBackendAuto && len(packetOnly) > 0:
		return e.planPacketNetwork(f, spec, o)
	case len(packetOnly) > 0:
		return nil, fmt.Errorf("the proxy network backend cannot honour %s: it carries byte streams, and TCP never lets a stream lose, duplicate or corrupt bytes; the packet backend does it with nftables (root, replicas in network namespaces): use --network-backend packet or auto",
			strings.Join(packetOnly, ", "))
	}
	return e.planProxyNetwork(f, spec, o)
}

// planProxyNetwork plans a NetworkChaos on the proxy backend.
func (e *Engine) planProxyNetwork(f engine.Fault, spec *v1alpha1.NetworkChaosSpec, o InjectOptions) (*faultPlan, error) {
	if len(spec.ExternalTargets) > 0 {
		return nil, fmt.Errorf("externalTargets %s: no traffic leaves a local environment through faultline (its hops run between its own clients, gateways and replicas; a replica reaching an outside host does so directly), so there is no hop to fault; use target for peers inside the environment, or the kube engine with Chaos Mesh for external peers",
			strings.Join(spec.ExternalTargets, ", "))
	}
	if spec.RemoteCluster != "" {
		return nil, fmt.Errorf("remoteCluster %q: only the kube engine runs faults in a Chaos Mesh RemoteCluster", spec.RemoteCluster)
	}
	dir, err := networkDirection(spec)
	if err != nil {
		return nil, err
	}
	mk, asked, err := proxyFaults(spec)
	if err != nil {
		return nil, err
	}
	sel, err := e.selectReplicas(f.Kind, spec, o)
	if err != nil {
		return nil, err
	}
	var target map[string]bool // nil: any peer
	if spec.Target != nil {
		ts, err := e.selectTarget(spec.Target, o)
		if err != nil {
			return nil, err
		}
		target = map[string]bool{}
		for _, t := range ts {
			target[t.Name] = true
		}
	}
	p := &faultPlan{targets: sel}
	for _, t := range sel {
		m := hopMatch{dir: dir, replica: t.Name, target: target}
		if !e.anyHop(m) {
			continue
		}
		faults, stats := mk()
		p.actions = append(p.actions, &networkAction{e: e, replica: t.Name, match: m, faults: faults, stats: stats, asked: asked})
	}
	if len(p.actions) == 0 {
		return nil, fmt.Errorf("no hop connects the selected replicas (%s) and the target (%s) in direction %s: faultline proxies only a service's ingress and the calls of a replica to the services it dependsOn, so the fault would do nothing",
			targetNames(sel), describeTarget(spec.Target, target), dir)
	}
	if len(p.actions) < len(sel) {
		// Keep targets and actions parallel: only replicas with a hop.
		var kept []engine.Target
		for _, a := range p.actions {
			i := slices.IndexFunc(sel, func(t engine.Target) bool { return t.Name == a.(*networkAction).replica })
			kept = append(kept, sel[i])
		}
		p.notes = append(p.notes, fmt.Sprintf("%d selected %s no hop to the target and %s left out", len(sel)-len(kept),
			plural(len(sel)-len(kept), "replica has", "replicas have"), plural(len(sel)-len(kept), "is", "are")))
		p.targets = kept
	}
	if spec.Device != "" || spec.TargetDevice != "" {
		p.notes = append(p.notes, "device and targetDevice are ignored: the proxy backend acts on hops, not on interfaces")
	}
	return p, nil
}

// selectTarget resolves a NetworkChaos target with its own mode.
func (e *Engine) selectTarget(sel *v1alpha1.PodSelector, o InjectOptions) ([]engine.Target, error) {
	ns := o.Namespace
	if ns == "" {
		ns = e.sup.Namespace()
	}
	var out []engine.Target
	err := e.withRand(o, func(rng *mrand.Rand) error {
		var err error
		out, err = selector.Select(e.sup.Targets(), sel, ns, rng)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("target selects no replica to fault traffic with in environment %s: %w", e.sup.Name(), err)
	}
	return out, nil
}

func targetNames(ts []engine.Target) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

func describeTarget(sel *v1alpha1.PodSelector, target map[string]bool) string {
	if sel == nil {
		return "any peer"
	}
	names := make([]string, 0, len(target))
	for n := range target {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// hopMatch is the direction mapping of one selected replica.
type hopMatch struct {
	dir     v1alpha1.Direction
	replica string
	target  map[string]bool // nil: any peer, the outside included
}

// dirs says which streams of h the mapping faults (see the file comment).
func (m hopMatch) dirs(h Hop) (up, down bool) {
	client, server := h.Source, h.Replica // client "" is outside
	inT := func(n string) bool { return m.target == nil || n != "" && m.target[n] }
	if m.dir == v1alpha1.DirectionTo || m.dir == v1alpha1.DirectionBoth {
		up = up || client == m.replica && inT(server)
		down = down || server == m.replica && inT(client)
	}
	if m.dir == v1alpha1.DirectionFrom || m.dir == v1alpha1.DirectionBoth {
		up = up || server == m.replica && inT(client)
		down = down || client == m.replica && inT(server)
	}
	return up, down
}

// anyHop reports whether some hop the environment can have is faulted by
// m: an ingress into any replica, or a call from a replica to a replica of
// a service its service depends on.
func (e *Engine) anyHop(m hopMatch) bool {
	st := e.sup.Status()
	bySvc := map[string][]string{}
	for _, r := range st.Replicas {
		bySvc[r.Service] = append(bySvc[r.Service], r.Name)
	}
	for _, svc := range st.Services {
		for _, r := range bySvc[svc.Name] {
			if up, down := m.dirs(Hop{Kind: HopIngress, Service: svc.Name, Replica: r}); up || down {
				return true
			}
		}
		for _, dep := range svc.DependsOn {
			for _, src := range bySvc[svc.Name] {
				for _, dst := range bySvc[dep] {
					h := Hop{Kind: HopEgress, Service: dep, Replica: dst, Source: src, SourceService: svc.Name}
					if up, down := m.dirs(h); up || down {
						return true
					}
				}
			}
		}
	}
	return false
}

// proxyStats are the faults of one action whose measurements the fidelity
// reports.
type proxyStats struct {
	latency   *netfault.Latency
	bandwidth *netfault.Bandwidth
	partition *netfault.Partition
}

// proxyAsked is what the spec asked, for the fidelity's asked column.
type proxyAsked struct {
	delay, jitter time.Duration
	correlation   float64
	rate          int64 // bytes per second
	partition     bool
}

// proxyFaults checks what the proxy backend can honour and returns a
// constructor of one replica's faults (each replica gets its own).
func proxyFaults(spec *v1alpha1.NetworkChaosSpec) (func() ([]netfault.Fault, proxyStats), proxyAsked, error) {
	var a proxyAsked
	var burst int64
	useDelay, useRate := false, false
	switch spec.Action {
	case v1alpha1.NetworkPartition:
		a.partition = true
	case v1alpha1.NetworkBandwidth:
		b := spec.Bandwidth
		if b == nil {
			return nil, a, errors.New(`action bandwidth needs bandwidth, e.g. bandwidth: {rate: "1mbps", limit: 20971520, buffer: 10000}`)
		}
		if b.Peakrate != nil && *b.Peakrate > 0 || b.Minburst != nil && *b.Minburst > 0 {
			return nil, a, errors.New("bandwidth.peakrate and minburst: the proxy backend shapes with one token bucket; tbf's peak-rate bucket is the packet backend's (--network-backend packet)")
		}
		r, err := positiveRate("bandwidth.rate", b.Rate)
		if err != nil {
			return nil, a, err
		}
		a.rate, burst, useRate = r, int64(b.Buffer), true
	case v1alpha1.NetworkDelay, v1alpha1.NetworkNetem:
		if spec.Delay == nil && spec.Rate == nil {
			return nil, a, fmt.Errorf("action %s needs delay (or, for netem, rate), e.g. delay: {latency: \"100ms\"}", spec.Action)
		}
		if spec.Rate != nil {
			r, err := positiveRate("rate.rate", spec.Rate.Rate)
			if err != nil {
				return nil, a, err
			}
			a.rate, useRate = r, true
		}
	case v1alpha1.NetworkLoss, v1alpha1.NetworkDuplicate, v1alpha1.NetworkCorrupt:
		// Their own parameter is packet-only (planNetwork refused it);
		// only a delay or rate set beside it can be left.
		if spec.Delay == nil && spec.Rate == nil {
			return nil, a, fmt.Errorf("action %s needs its %s parameter", spec.Action, spec.Action)
		}
	default:
		return nil, a, fmt.Errorf("action %q: want netem, delay, loss, duplicate, corrupt, partition or bandwidth", spec.Action)
	}
	if d := spec.Delay; d != nil && !a.partition && spec.Action != v1alpha1.NetworkBandwidth {
		if d.Reorder != nil {
			return nil, a, errors.New("delay.reorder: the proxy backend carries byte streams, which TCP keeps in order, so there are no packets to reorder; reordering needs netem in the packet backend (--network-backend packet, on a kernel with sch_netem)")
		}
		var err error
		if a.delay, err = netemDuration("delay.latency", d.Latency, true); err != nil {
			return nil, a, err
		}
		if a.jitter, err = netemDuration("delay.jitter", d.Jitter, false); err != nil {
			return nil, a, err
		}
		if a.correlation, err = percent("delay.correlation", d.Correlation); err != nil {
			return nil, a, err
		}
		// A jitter above the latency draws some delays below zero: those
		// chunks go out at once, as netem clamps them.
		useDelay = a.delay > 0 || a.jitter > 0
	}
	mk := func() ([]netfault.Fault, proxyStats) {
		var fs []netfault.Fault
		var st proxyStats
		if a.partition {
			st.partition = &netfault.Partition{Hold: true}
			fs = append(fs, st.partition)
		}
		if useDelay {
			st.latency = &netfault.Latency{Delay: a.delay, Jitter: a.jitter, Correlation: a.correlation}
			fs = append(fs, st.latency)
		}
		if useRate {
			st.bandwidth = &netfault.Bandwidth{Rate: a.rate, Burst: burst}
			fs = append(fs, st.bandwidth)
		}
		return fs, st
	}
	return mk, a, nil
}

func positiveRate(field, s string) (int64, error) {
	r, err := v1alpha1.ParseRate(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if r == 0 || r > 1<<50 {
		return 0, fmt.Errorf("%s %q: want a rate above zero (to cut traffic use action: partition)", field, s)
	}
	return int64(r), nil
}

func netemDuration(field, s string, required bool) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		if required {
			return 0, fmt.Errorf("%s is required, e.g. \"100ms\"", field)
		}
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: want a duration such as \"100ms\"", field, s)
	}
	return d, nil
}

// percent parses a Chaos Mesh percentage string ("25", "0.5") as 0..1.
func percent(field, s string) (float64, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%s %q: want a percentage from 0 to 100", field, s)
	}
	return v / 100, nil
}

// networkAction is one selected replica's network faults on the proxy
// backend: the hops its match selects carry its faults while it is applied.
type networkAction struct {
	e       *Engine
	replica string
	match   hopMatch
	faults  []netfault.Fault
	stats   proxyStats
	asked   proxyAsked
}

var _ hopFault = (*networkAction)(nil)

func (a *networkAction) streamFaults(h Hop) (up, down []netfault.Fault, ok bool) {
	u, d := a.match.dirs(h)
	if !u && !d {
		return nil, nil, false
	}
	if u {
		up = a.faults
	}
	if d {
		down = a.faults
	}
	return up, down, true
}

func (a *networkAction) apply(_ context.Context, rec undoRecorder) (string, error) {
	// Journaled for the record: the faults live in this process, so a
	// crash ends them; recover has nothing to undo but the entry.
	if _, err := rec.add(undoHopFaults, map[string]string{undoReplica: a.replica}); err != nil {
		return "", err
	}
	a.e.addHopFault(a)
	return fmt.Sprintf("%s on the hops %s (proxy backend)", a.askedText(), a.hopsText()), nil
}

func (a *networkAction) revert(context.Context) (string, error) {
	a.e.removeHopFault(a)
	var parts []string
	for _, f := range a.fidelity() {
		parts = append(parts, f.Quantity+" "+f.Measured)
	}
	msg := "removed from its hops"
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, "; ")
	}
	return msg, nil
}

func (a *networkAction) askedText() string {
	var parts []string
	if a.asked.partition {
		parts = append(parts, "partition")
	}
	if a.stats.latency != nil {
		parts = append(parts, "delay "+a.delayAsked())
	}
	if a.stats.bandwidth != nil {
		parts = append(parts, "bandwidth "+formatRate(float64(a.asked.rate)))
	}
	return strings.Join(parts, ", ")
}

func (a *networkAction) delayAsked() string {
	s := a.asked.delay.String()
	if a.asked.jitter > 0 {
		s += " ± " + a.asked.jitter.String()
		if a.asked.correlation > 0 {
			s += fmt.Sprintf(" (correlation %g%%)", a.asked.correlation*100)
		}
	}
	return s
}

func (a *networkAction) hopsText() string {
	peer := "any peer"
	if a.match.target != nil {
		names := make([]string, 0, len(a.match.target))
		for n := range a.match.target {
			names = append(names, n)
		}
		slices.Sort(names)
		peer = strings.Join(names, ", ")
	}
	switch a.match.dir {
	case v1alpha1.DirectionFrom:
		return "from " + peer + " to " + a.replica
	case v1alpha1.DirectionBoth:
		return "between " + a.replica + " and " + peer
	}
	return "from " + a.replica + " to " + peer
}

// fidelity reports asked versus measured: the delay added to the chunks
// actually delayed, the rate actually passed, what a partition held.
func (a *networkAction) fidelity() []engine.Fidelity {
	var out []engine.Fidelity
	if l := a.stats.latency; l != nil {
		st := l.Stats()
		f := engine.Fidelity{Target: a.replica, Quantity: "delay", Asked: a.delayAsked(),
			AskedValue: ms(a.asked.delay), Unit: "ms"}
		if st.Chunks == 0 {
			f.Measured = "no traffic delayed"
		} else {
			f.Measured = fmt.Sprintf("p50 %s, p99 %s over %d chunks", st.P50.Round(10*time.Microsecond), st.P99.Round(10*time.Microsecond), st.Chunks)
			f.MeasuredValue = ms(st.P50)
		}
		out = append(out, f)
	}
	if b := a.stats.bandwidth; b != nil {
		st := b.Stats()
		f := engine.Fidelity{Target: a.replica, Quantity: "bandwidth", Asked: formatRate(float64(a.asked.rate)),
			AskedValue: float64(a.asked.rate), Unit: "B/s"}
		if st.Rate == 0 {
			f.Measured = fmt.Sprintf("%s passed, too little to measure a rate", formatBytes(st.Bytes))
		} else {
			f.Measured = fmt.Sprintf("%s over %s", formatRate(st.Rate), formatBytes(st.Bytes))
			f.MeasuredValue = st.Rate
		}
		out = append(out, f)
	}
	if p := a.stats.partition; p != nil {
		st := p.Stats()
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "partition", Asked: "no bytes pass",
			Measured:   fmt.Sprintf("0 bytes passed, %s held in %d %s", formatBytes(st.HeldBytes), st.HeldChunks, plural(int(st.HeldChunks), "chunk", "chunks")),
			AskedValue: 0, MeasuredValue: float64(st.HeldBytes), Unit: "bytes"})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// formatRate writes bytes per second with a binary unit, as Chaos Mesh's
// kbps/mbps are.
func formatRate(r float64) string {
	switch {
	case r >= 1<<30:
		return fmt.Sprintf("%.2f GiB/s", r/(1<<30))
	case r >= 1<<20:
		return fmt.Sprintf("%.3f MiB/s", r/(1<<20))
	case r >= 1<<10:
		return fmt.Sprintf("%.1f KiB/s", r/(1<<10))
	}
	return fmt.Sprintf("%.0f B/s", r)
}

// networkDirection is spec's direction, "to" when unset; from and both
// need a target (the pods on the other side), as in Chaos Mesh, except
// for a partition. Both backends read it the same way.
func networkDirection(spec *v1alpha1.NetworkChaosSpec) (v1alpha1.Direction, error) {
	dir := spec.Direction
	switch dir {
	case "":
		dir = v1alpha1.DirectionTo
	case v1alpha1.DirectionTo, v1alpha1.DirectionFrom, v1alpha1.DirectionBoth:
	default:
		return "", fmt.Errorf("direction %q: want to, from or both", spec.Direction)
	}
	if dir != v1alpha1.DirectionTo && spec.Target == nil && spec.Action != v1alpha1.NetworkPartition {
		return "", fmt.Errorf("direction %s needs a target (the pods on the other side), as in Chaos Mesh; add target, or use direction: to", dir)
	}
	return dir, nil
}
