package local

// NetworkChaos on the local engine's packet backend: nftables and tbf on
// the veth pairs of replicas that run in network namespaces
// (Options.NetworkNamespaces; internal/packet does the kernel work).
//
// Where each fault sits. Every replica S has a namespace with eth0 (what
// S sends leaves through it) and a host-side veth (what S receives is
// sent through it). Its traffic with another replica T always crosses
// faultline's proxy: S's call to T goes S → S's <DEP>_URL listener (on
// S's host-side address) → proxy → T, and the proxy opens the second leg
// from S's host-side address, so T sees S's address on its devices. Rules
// hook the egress of the device that transmits the affected packets (see
// internal/packet):
//
//	no target, to:    S's eth0, every packet              (all S sends)
//	no target, from:  S's host veth, every packet         (all S receives)
//	target T, to:     T's host veth, source = S's host address (S's calls)
//	                  S's eth0, destination = T's host addresses (S's
//	                  answers to T's calls)
//	target T, from:   S's host veth, source = T's host addresses (T's calls)
//	                  T's eth0, destination = S's host address (T's answers)
//	both:             the union.
//
// This is Chaos Mesh's packet direction mapped on faultline's hops, the
// same mapping the proxy backend uses (faults_network.go). Bandwidth is a
// tbf on S's eth0 (to) and/or its host veth (from); a tbf shapes a whole
// device, so bandwidth with a target is refused (the proxy backend shapes
// per hop). Delay and reorder need netem: refused when the kernel lacks
// sch_netem (checked when planning), pointing to the proxy backend.
//
// Each (injection, replica) owns one nftables table per namespace it
// touches, named faultline_<environment>_<injection>_<replica>; the undo
// steps name them, and the tbf qdiscs (handle fa17:), so that `faultline
// recover` removes them after a crash, and CleanupDir removes everything
// of an environment whose supervisor died.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/packet"
)

// Undo actions of the packet backend.
const (
	// undoPacketTable deletes nftables table arg table in network
	// namespace arg netns ("" the host's).
	undoPacketTable = "packet-table"
	// undoPacketQdisc deletes faultline's root qdisc (fa17:) from device
	// arg device in namespace arg netns.
	undoPacketQdisc = "packet-qdisc"
)

// Undo argument keys of the packet backend.
const (
	undoNetns  = "netns"
	undoTable  = "table"
	undoDevice = "device"
)

// performPacketUndo carries out a packet backend undo step; ok is false for
// other actions. Both steps are idempotent: a table, qdisc or namespace
// that is gone already is success.
func performPacketUndo(u engine.Undo) (res string, ok bool, err error) {
	a := u.Args
	switch u.Action {
	case undoPacketTable:
		if err := packet.DeleteTable(a[undoNetns], a[undoTable]); err != nil {
			return "", true, err
		}
		return "nftables table " + a[undoTable] + " removed from " + nsText(a[undoNetns]), true, nil
	case undoPacketQdisc:
		if err := packet.DeleteTBF(a[undoNetns], a[undoDevice]); err != nil {
			return "", true, err
		}
		return "qdisc removed from " + a[undoDevice] + " in " + nsText(a[undoNetns]), true, nil
	}
	return "", false, nil
}

func nsText(ns string) string {
	if ns == "" {
		return "the host's network namespace"
	}
	return "network namespace " + ns
}

// packetSite is a device a tbf shapes, in a namespace.
type packetSite struct {
	netns  string // "" the host's
	device string
}

// packetAction is one selected replica's packet faults.
type packetAction struct {
	replica string
	tables  map[string][]packet.Filter // namespace → filters ("" host)
	// table is named in apply, from the injection's ID:
	// tablePrefix + <injection>_<replica>.
	tablePrefix string
	table       string
	im          *packet.Impairment
	tbf         *packet.TBF
	shape       []packetSite // devices a tbf shapes
	asked       packetAsked

	mu       sync.Mutex
	applied  bool
	final    *packet.Counters // counters read at revert
	stopRate chan struct{}
	rateDone chan struct{}
	rate     rateMeter
}

type packetAsked struct {
	loss, duplicate, corrupt float64
	partition                bool
	rate                     uint64
	dir                      v1alpha1.Direction
	peer                     string
}

// planPacketNetwork plans a NetworkChaos on the packet backend.
func (e *Engine) planPacketNetwork(f engine.Fault, spec *v1alpha1.NetworkChaosSpec, o InjectOptions) (*faultPlan, error) {
	const why = "the packet network backend acts on the veth pairs of replicas in network namespaces"
	if !e.sup.NetworkNamespaces() {
		return nil, fmt.Errorf("%s, and this environment's replicas share the host's network: start the environment with network namespaces (as root), or use the proxy backend (--network-backend proxy) for delay, bandwidth and partition", why)
	}
	if spec.RemoteCluster != "" {
		return nil, fmt.Errorf("remoteCluster %q: only the kube engine runs faults in a Chaos Mesh RemoteCluster", spec.RemoteCluster)
	}
	if d := strings.SplitN(spec.Device, "@", 2)[0]; d != "" && d != packet.PeerDevice {
		return nil, fmt.Errorf("device %q: a replica in a network namespace has one interface, %s", spec.Device, packet.PeerDevice)
	}
	if d := strings.SplitN(spec.TargetDevice, "@", 2)[0]; d != "" && d != packet.PeerDevice {
		return nil, fmt.Errorf("targetDevice %q: a replica in a network namespace has one interface, %s", spec.TargetDevice, packet.PeerDevice)
	}
	dir, err := networkDirection(spec)
	if err != nil {
		return nil, err
	}
	asked := packetAsked{dir: dir}
	var notes []string
	var im *packet.Impairment
	var tbf *packet.TBF
	switch spec.Action {
	case v1alpha1.NetworkPartition:
		im = &packet.Impairment{Partition: true}
		asked.partition = true
	case v1alpha1.NetworkBandwidth:
		if spec.Bandwidth == nil {
			return nil, errors.New("action bandwidth needs bandwidth (rate, limit, buffer)")
		}
		b := spec.Bandwidth
		rate, err := positiveRate("bandwidth.rate", b.Rate)
		if err != nil {
			return nil, err
		}
		if b.Limit == 0 || b.Buffer == 0 {
			return nil, errors.New("bandwidth.limit and bandwidth.buffer must be at least 1 byte")
		}
		tbf = &packet.TBF{Rate: uint64(rate), Limit: b.Limit, Buffer: b.Buffer}
		if (b.Peakrate == nil) != (b.Minburst == nil) {
			return nil, errors.New("bandwidth.peakrate and minburst go together")
		}
		if b.Peakrate != nil {
			if *b.Peakrate <= 0 || *b.Minburst == 0 {
				return nil, errors.New("bandwidth.peakrate and minburst must be above 0")
			}
			tbf.Peakrate, tbf.Minburst = uint64(*b.Peakrate), *b.Minburst
		}
		if spec.Target != nil || len(spec.ExternalTargets) > 0 {
			return nil, errors.New("bandwidth with a target or externalTargets: the packet backend's tbf shapes a replica's whole interface; the proxy backend shapes the hops to a target (--network-backend proxy)")
		}
		asked.rate = uint64(rate)
	case v1alpha1.NetworkNetem, v1alpha1.NetworkDelay, v1alpha1.NetworkLoss, v1alpha1.NetworkDuplicate, v1alpha1.NetworkCorrupt:
		if spec.Delay != nil || spec.Rate != nil {
			what := "delay"
			if spec.Delay == nil {
				what = "rate (netem)"
			}
			have, err := packet.HaveNetem()
			if err != nil {
				return nil, err
			}
			if !have {
				return nil, fmt.Errorf("%s on the packet backend needs the netem qdisc, and this kernel has no sch_netem; the proxy backend runs delay and rate (--network-backend proxy, or auto)", what)
			}
			return nil, fmt.Errorf("%s on the packet backend: netem is not wired into faultline's packet backend yet; the proxy backend runs delay and rate (--network-backend proxy, or auto)", what)
		}
		var x packet.Impairment
		for _, p := range []struct {
			field, val, corr string
			dst              *float64
		}{
			{"loss.loss", pctOf(spec.Loss), corrOf(spec.Loss), &x.Loss},
			{"duplicate.duplicate", pctOfDup(spec.Duplicate), corrOfDup(spec.Duplicate), &x.Duplicate},
			{"corrupt.corrupt", pctOfCorrupt(spec.Corrupt), corrOfCorrupt(spec.Corrupt), &x.Corrupt},
		} {
			v, err := percent(p.field, p.val)
			if err != nil {
				return nil, err
			}
			*p.dst = v * 100
			if c, _ := strconv.ParseFloat(strings.TrimSpace(p.corr), 64); c != 0 {
				notes = append(notes, fmt.Sprintf("%s correlation %s %% is not applied: nftables draws every packet independently (netem's correlation needs sch_netem)", strings.Split(p.field, ".")[0], p.corr))
			}
		}
		if x.Loss == 0 && x.Duplicate == 0 && x.Corrupt == 0 {
			return nil, fmt.Errorf("action %s: no loss, duplicate or corrupt percentage above 0 is set", spec.Action)
		}
		im = &x
		asked.loss, asked.duplicate, asked.corrupt = x.Loss, x.Duplicate, x.Corrupt
	default:
		return nil, fmt.Errorf("action %q: want netem, delay, loss, duplicate, corrupt, partition or bandwidth", spec.Action)
	}
	external, err := externalPeers(spec.ExternalTargets)
	if err != nil {
		return nil, err
	}
	if len(external) > 0 && spec.Target != nil {
		return nil, errors.New("target and externalTargets together: give one of them")
	}
	if len(external) > 0 && dir != v1alpha1.DirectionTo {
		return nil, errors.New("externalTargets work with direction to only, as in Chaos Mesh")
	}

	sel, err := e.selectReplicas(f.Kind, spec, o)
	if err != nil {
		return nil, err
	}
	var target []ReplicaNetwork
	if spec.Target != nil {
		ts, err := e.selectTarget(spec.Target, o)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			n, ok := e.sup.replicaNetwork(t.Name)
			if !ok {
				return nil, fmt.Errorf("target replica %s has no network namespace", t.Name)
			}
			target = append(target, n)
		}
		asked.peer = targetNames(ts)
	}
	if len(external) > 0 {
		asked.peer = strings.Join(spec.ExternalTargets, ", ")
	}
	p := &faultPlan{targets: sel, notes: notes}
	for _, t := range sel {
		s, ok := e.sup.replicaNetwork(t.Name)
		if !ok {
			return nil, fmt.Errorf("replica %s has no network namespace (it is being created or deleted)", t.Name)
		}
		a := &packetAction{replica: t.Name, im: im, tbf: tbf, asked: asked, tablePrefix: envTablePrefix(e.sup.Name())}
		if tbf != nil {
			if dir != v1alpha1.DirectionFrom {
				a.shape = append(a.shape, packetSite{netns: s.Namespace, device: packet.PeerDevice})
			}
			if dir != v1alpha1.DirectionTo {
				a.shape = append(a.shape, packetSite{device: s.HostVeth})
			}
		} else {
			a.tables = packetSites(dir, s, target, external)
			if len(a.tables) == 0 {
				continue
			}
		}
		p.actions = append(p.actions, a)
	}
	if len(p.actions) == 0 {
		return nil, fmt.Errorf("the target (%s) has no replica other than the selected ones (%s): nothing to fault between them", asked.peer, targetNames(sel))
	}
	if len(p.actions) < len(sel) {
		var kept []engine.Target
		for _, t := range sel {
			for _, a := range p.actions {
				if a.(*packetAction).replica == t.Name {
					kept = append(kept, t)
				}
			}
		}
		p.notes = append(p.notes, fmt.Sprintf("%d selected %s no peer in the target and %s left out", len(sel)-len(kept),
			plural(len(sel)-len(kept), "replica has", "replicas have"), plural(len(sel)-len(kept), "is", "are")))
		p.targets = kept
	}
	return p, nil
}

// The Chaos Mesh spec's optional sub-structs, nil-safe.
func pctOf(l *v1alpha1.LossSpec) string {
	if l == nil {
		return ""
	}
	return l.Loss
}
func corrOf(l *v1alpha1.LossSpec) string {
	if l == nil {
		return ""
	}
	return l.Correlation
}
func pctOfDup(d *v1alpha1.DuplicateSpec) string {
	if d == nil {
		return ""
	}
	return d.Duplicate
}
func corrOfDup(d *v1alpha1.DuplicateSpec) string {
	if d == nil {
		return ""
	}
	return d.Correlation
}
func pctOfCorrupt(c *v1alpha1.CorruptSpec) string {
	if c == nil {
		return ""
	}
	return c.Corrupt
}
func corrOfCorrupt(c *v1alpha1.CorruptSpec) string {
	if c == nil {
		return ""
	}
	return c.Correlation
}

// sanitizeTable keeps an injection ID usable in a table name.
func sanitizeTable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s)
	// The end of an injection ID is its random part: keep it.
	if len(s) > 60 {
		s = s[len(s)-60:]
	}
	return s
}

// externalPeers parses externalTargets: IPv4 addresses or CIDRs, each with
// an optional ":port". Host names are refused: resolving them once would
// fault whatever address they had at that moment.
func externalPeers(targets []string) ([]packet.Filter, error) {
	var out []packet.Filter
	for _, t := range targets {
		host, port := t, ""
		if h, p, err := net.SplitHostPort(t); err == nil {
			host, port = h, p
		}
		var f packet.Filter
		if pfx, err := netip.ParsePrefix(host); err == nil && pfx.Addr().Is4() {
			f.Peers = []netip.Prefix{pfx.Masked()}
		} else if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
			f.Peers = []netip.Prefix{netip.PrefixFrom(a, 32)}
		} else {
			return nil, fmt.Errorf("externalTargets %q: the packet backend takes IPv4 addresses and CIDRs (with an optional :port), not host names", t)
		}
		if port != "" {
			n, err := strconv.ParseUint(port, 10, 16)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("externalTargets %q: bad port", t)
			}
			f.PeerPort = uint16(n)
		}
		out = append(out, f)
	}
	return out, nil
}

// packetSites maps a direction, a selected replica s and its peers on the
// devices and filters of the file comment, grouped by namespace.
func packetSites(dir v1alpha1.Direction, s ReplicaNetwork, target []ReplicaNetwork, external []packet.Filter) map[string][]packet.Filter {
	out := map[string][]packet.Filter{}
	add := func(ns string, f packet.Filter) {
		for i, g := range out[ns] {
			if g.Device == f.Device && g.PeerIsSource == f.PeerIsSource && g.PeerPort == f.PeerPort {
				out[ns][i].Peers = append(out[ns][i].Peers, f.Peers...)
				return
			}
		}
		out[ns] = append(out[ns], f)
	}
	host := func(n ReplicaNetwork) netip.Prefix {
		return netip.PrefixFrom(netip.MustParseAddr(n.HostIP), 32)
	}
	to := dir == v1alpha1.DirectionTo || dir == v1alpha1.DirectionBoth
	from := dir == v1alpha1.DirectionFrom || dir == v1alpha1.DirectionBoth
	switch {
	case len(external) > 0:
		// Packets S sends to the outside leave through its eth0. One
		// device takes one filter per table, so each external peer with
		// a port of its own gets a rule on the same chain via Peers.
		for _, f := range external {
			f.Device = packet.PeerDevice
			add(s.Namespace, f)
		}
	case target == nil:
		if to {
			add(s.Namespace, packet.Filter{Device: packet.PeerDevice})
		}
		if from {
			add("", packet.Filter{Device: s.HostVeth})
		}
	default:
		var peers []netip.Prefix
		for _, t := range target {
			if t.Namespace == s.Namespace {
				continue
			}
			peers = append(peers, host(t))
			if to {
				add("", packet.Filter{Device: t.HostVeth, Peers: []netip.Prefix{host(s)}, PeerIsSource: true})
			}
			if from {
				add(t.Namespace, packet.Filter{Device: packet.PeerDevice, Peers: []netip.Prefix{host(s)}})
			}
		}
		if len(peers) == 0 {
			return nil
		}
		if to {
			add(s.Namespace, packet.Filter{Device: packet.PeerDevice, Peers: peers})
		}
		if from {
			add("", packet.Filter{Device: s.HostVeth, Peers: peers, PeerIsSource: true})
		}
	}
	return out
}

func (a *packetAction) apply(ctx context.Context, rec undoRecorder) (string, error) {
	var did []string
	a.table = a.tablePrefix + sanitizeTable(rec.inj.id) + "_" + a.replica
	if a.im != nil {
		for _, ns := range sortedKeys(a.tables) {
			// Journaled before it exists: a crash in between leaves a
			// step whose table is missing, which recover accepts.
			if _, err := rec.add(undoPacketTable, map[string]string{undoNetns: ns, undoTable: a.table, undoReplica: a.replica}); err != nil {
				return "", err
			}
			if err := packet.InstallTable(packet.TableSpec{Name: a.table, Netns: ns, Filters: a.tables[ns], Impairment: *a.im}); err != nil {
				a.cleanup()
				return "", err
			}
			for _, f := range a.tables[ns] {
				did = append(did, f.Device+siteNS(ns))
			}
		}
	}
	if a.tbf != nil {
		for _, s := range a.shape {
			if _, err := packet.TBFStats(s.netns, s.device); err == nil {
				a.cleanup()
				return "", fmt.Errorf("%s%s is already shaped by another bandwidth fault: one tbf per interface", s.device, siteNS(s.netns))
			}
			if _, err := rec.add(undoPacketQdisc, map[string]string{undoNetns: s.netns, undoDevice: s.device, undoReplica: a.replica}); err != nil {
				a.cleanup()
				return "", err
			}
			if err := packet.AddTBF(s.netns, s.device, *a.tbf); err != nil {
				a.cleanup()
				return "", err
			}
			did = append(did, s.device+siteNS(s.netns))
		}
		a.startRateMeter()
	}
	a.mu.Lock()
	a.applied = true
	a.mu.Unlock()
	return fmt.Sprintf("%s on %s (packet backend: %s)", a.askedText(), a.replica, strings.Join(did, ", ")), nil
}

func siteNS(ns string) string {
	if ns == "" {
		return " (host)"
	}
	return " in " + ns
}

func sortedKeys(m map[string][]packet.Filter) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	// "" (the host) first, then namespaces by name.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// cleanup removes whatever apply made (on its failure or on revert).
func (a *packetAction) cleanup() error {
	var errs []error
	for ns := range a.tables {
		if err := packet.DeleteTable(ns, a.table); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range a.shape {
		if err := packet.DeleteTBF(s.netns, s.device); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *packetAction) revert(context.Context) (string, error) {
	a.mu.Lock()
	applied := a.applied
	a.mu.Unlock()
	if applied && a.im != nil {
		// Read the counters for fidelity while the tables still exist.
		if k, err := a.counters(); err == nil {
			a.mu.Lock()
			a.final = &k
			a.mu.Unlock()
		}
	}
	a.stopRateMeter()
	if err := a.cleanup(); err != nil {
		return "", err
	}
	a.mu.Lock()
	a.applied = false
	a.mu.Unlock()
	return "removed " + a.askedText() + " from " + a.replica, nil
}

// counters sums the action's tables.
func (a *packetAction) counters() (packet.Counters, error) {
	var k packet.Counters
	for ns := range a.tables {
		c, err := packet.ReadCounters(ns, a.table)
		if err != nil {
			return k, err
		}
		k.Add(c)
	}
	return k, nil
}

func (a *packetAction) askedText() string {
	var parts []string
	switch {
	case a.asked.partition:
		parts = append(parts, "partition")
	case a.asked.rate > 0:
		parts = append(parts, "bandwidth "+formatRate(float64(a.asked.rate)))
	default:
		if a.asked.loss > 0 {
			parts = append(parts, fmt.Sprintf("loss %g %%", a.asked.loss))
		}
		if a.asked.duplicate > 0 {
			parts = append(parts, fmt.Sprintf("duplicate %g %%", a.asked.duplicate))
		}
		if a.asked.corrupt > 0 {
			parts = append(parts, fmt.Sprintf("corrupt %g %%", a.asked.corrupt))
		}
	}
	s := strings.Join(parts, ", ") + " " + string(a.asked.dir)
	if a.asked.peer != "" {
		s += " " + a.asked.peer
	}
	return s
}

// fidelity reports asked versus measured: the share of the matched packets
// the tables dropped, duplicated or corrupted (their counters), and the
// rate the tbf let through while it had a queue.
func (a *packetAction) fidelity() []engine.Fidelity {
	var out []engine.Fidelity
	if a.im != nil {
		a.mu.Lock()
		final, applied := a.final, a.applied
		a.mu.Unlock()
		var k packet.Counters
		switch {
		case final != nil:
			k = *final
		case applied:
			c, err := a.counters()
			if err != nil {
				return nil
			}
			k = c
		default:
			return nil
		}
		// Duplicate and corrupt are drawn among the packets that loss
		// left, as netem does: measured against those.
		add := func(q string, asked float64, part, of uint64, verb string) {
			f := engine.Fidelity{Target: a.replica, Quantity: q, Asked: fmt.Sprintf("%g %%", asked), AskedValue: asked, Unit: "%"}
			if of == 0 {
				f.Measured = "no packets matched"
			} else {
				f.MeasuredValue = 100 * float64(part) / float64(of)
				f.Measured = fmt.Sprintf("%.2f %% (%d of %d packets %s)", f.MeasuredValue, part, of, verb)
			}
			out = append(out, f)
		}
		left := k.Matched - min(k.Dropped, k.Matched)
		if a.asked.partition {
			add("partition", 100, k.Dropped, k.Matched, "dropped")
		}
		if a.asked.loss > 0 {
			add("loss", a.asked.loss, k.Dropped, k.Matched, "dropped")
		}
		if a.asked.duplicate > 0 {
			add("duplicate", a.asked.duplicate, k.Duplicated, left, "duplicated")
		}
		if a.asked.corrupt > 0 {
			add("corrupt", a.asked.corrupt, k.Corrupted, left, "corrupted")
		}
	}
	if a.tbf != nil {
		rate, bytes, busy := a.rate.result()
		f := engine.Fidelity{Target: a.replica, Quantity: "bandwidth", Asked: formatRate(float64(a.asked.rate)),
			AskedValue: float64(a.asked.rate), Unit: "B/s"}
		if busy < time.Second {
			f.Measured = fmt.Sprintf("%s passed; the link was saturated for %s, too short to measure a rate", formatBytes(int64(bytes)), busy.Round(time.Millisecond))
		} else {
			f.MeasuredValue = rate
			f.Measured = fmt.Sprintf("%s while saturated (%s, over %s)", formatRate(rate), formatBytes(int64(bytes)), busy.Round(time.Millisecond))
		}
		out = append(out, f)
	}
	return out
}

// rateMeter measures what a tbf passes while it is saturated (it has a
// queue or throttled during the window): only then is its output rate the
// asked rate, and an idle link says nothing about it.
type rateMeter struct {
	mu    sync.Mutex
	bytes uint64
	busy  time.Duration
	all   uint64
}

func (m *rateMeter) result() (rate float64, bytes uint64, busy time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy > 0 {
		rate = float64(m.bytes) / m.busy.Seconds()
	}
	return rate, m.all, m.busy
}

const rateWindow = 250 * time.Millisecond

func (a *packetAction) startRateMeter() {
	if len(a.shape) == 0 {
		return
	}
	a.stopRate, a.rateDone = make(chan struct{}), make(chan struct{})
	// The first shaped device (eth0 for to and both): both would double
	// the count of a hop shaped on both sides.
	site := a.shape[0]
	go func() {
		defer close(a.rateDone)
		prev, err := packet.TBFStats(site.netns, site.device)
		if err != nil {
			return
		}
		prevT := time.Now()
		t := time.NewTicker(rateWindow)
		defer t.Stop()
		for {
			select {
			case <-a.stopRate:
				return
			case <-t.C:
			}
			cur, err := packet.TBFStats(site.netns, site.device)
			if err != nil {
				return
			}
			now := time.Now()
			saturated := cur.Backlog > 0 && cur.Overlimits > prev.Overlimits
			a.rate.mu.Lock()
			a.rate.all += cur.Bytes - prev.Bytes
			if saturated {
				a.rate.bytes += cur.Bytes - prev.Bytes
				a.rate.busy += now.Sub(prevT)
			}
			a.rate.mu.Unlock()
			prev, prevT = cur, now
		}
	}()
}

func (a *packetAction) stopRateMeter() {
	if a.stopRate == nil {
		return
	}
	select {
	case <-a.stopRate:
	default:
		close(a.stopRate)
	}
	<-a.rateDone
}
