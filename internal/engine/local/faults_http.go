package local

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/httpfault"
	"github.com/faultline-dev/faultline/internal/netfault"
)

// httpHopFault is implemented by active HTTP faults: rules for hop h, ok=false when it does not touch h.
type httpHopFault interface {
	httpRules(h Hop) (*httpfault.Rule, bool)
}

// planHTTP plans an HTTPChaos. As in Chaos Mesh, the fault acts on the HTTP
// traffic INTO the selected pods on port: here every hop whose upstream is
// a selected replica serving port, ingress (client → gateway → replica)
// and egress (another replica → its dependency's gateway → the replica)
// alike. A replica serves the port if it listens on it, or if port is its
// service's port as the environment writes it (replica n listens on that
// port + n) or the service's gateway port: what a Chaos Mesh user writes
// for a Service's pods. Each replica gets its own compiled rule, so the
// fidelity report counts per replica.
func (e *Engine) planHTTP(f engine.Fault, spec *v1alpha1.HTTPChaosSpec, o InjectOptions) (*faultPlan, error) {
	if spec.RemoteCluster != "" {
		return nil, fmt.Errorf("remoteCluster %q: only the kube engine runs faults in a Chaos Mesh RemoteCluster", spec.RemoteCluster)
	}
	if spec.Port < 1 || spec.Port > 65535 {
		return nil, fmt.Errorf("port %d: write the port the selected replicas serve HTTP on, 1 to 65535", spec.Port)
	}
	// Compile once up front so a bad spec fails before anything is
	// selected (and names the field).
	if _, err := httpfault.Compile(spec); err != nil {
		return nil, err
	}
	sel, err := e.selectReplicas(f.Kind, spec, o)
	if err != nil {
		return nil, err
	}
	p := &faultPlan{}
	var ports []string
	for _, t := range sel {
		rs, ok := e.sup.Replica(t.Name)
		if !ok {
			return nil, fmt.Errorf("replica %s is gone", t.Name)
		}
		known := e.sup.servicePorts(rs.Service)
		ports = append(ports, fmt.Sprintf("%s: %d", t.Name, rs.Port))
		if rs.Port != int(spec.Port) && !slices.Contains(known, int(spec.Port)) {
			continue
		}
		// In Chaos Mesh every pod of a service shares its port; here
		// replica n listens on the service's port + n. The rule is
		// compiled for the port this replica really listens on.
		own := *spec
		own.Port = int32(rs.Port)
		rule, err := httpfault.Compile(&own)
		if err != nil {
			return nil, err
		}
		p.targets = append(p.targets, t)
		p.actions = append(p.actions, &httpAction{e: e, replica: t.Name, port: rs.Port, rule: rule, spec: spec})
	}
	if len(p.actions) == 0 {
		return nil, fmt.Errorf("port %d: no selected replica serves it (%s); write the service's port as the environment gives it, its gateway port, or one replica's own port",
			spec.Port, strings.Join(ports, ", "))
	}
	if n := len(sel) - len(p.actions); n > 0 {
		p.notes = append(p.notes, fmt.Sprintf("%d selected %s not serve port %d and %s left out", n,
			plural(n, "replica does", "replicas do"), spec.Port, plural(n, "is", "are")))
	}
	p.notes = append(p.notes, "HTTP faults act at request boundaries: a keep-alive connection picks the fault up at its next request; an HTTP/2 connection open when the fault starts is drained (GOAWAY) once it ends")
	return p, nil
}

// httpAction holds one replica's HTTP rule on the hops into it.
type httpAction struct {
	e       *Engine
	replica string
	port    int
	rule    *httpfault.Rule
	spec    *v1alpha1.HTTPChaosSpec
}

var (
	_ httpHopFault = (*httpAction)(nil)
	_ hopFault     = (*httpAction)(nil)
)

// httpRules implements httpHopFault: the rule applies to hops whose
// upstream is this replica on the fault's port.
func (a *httpAction) httpRules(h Hop) (*httpfault.Rule, bool) {
	if h.Replica != a.replica {
		return nil, false
	}
	_, port, err := net.SplitHostPort(h.Upstream)
	if err != nil {
		return nil, false
	}
	if p, err := strconv.Atoi(port); err != nil || p != a.port {
		return nil, false
	}
	return a.rule, true
}

// streamFaults implements hopFault so the router can hold the action; an
// HTTP fault has no stream faults: the router serves its hops through
// httpfault.Serve with the rules httpRules returns.
func (a *httpAction) streamFaults(Hop) (up, down []netfault.Fault, ok bool) { return nil, nil, false }

func (a *httpAction) apply(_ context.Context, rec undoRecorder) (string, error) {
	// Journaled for the record: the rules live in this process, so a crash
	// ends them; recover has nothing to undo but the entry.
	if _, err := rec.add(undoHopFaults, map[string]string{undoReplica: a.replica}); err != nil {
		return "", err
	}
	a.e.addHopFault(a)
	return fmt.Sprintf("HTTP %s on the hops into %s port %d", a.askedText(), a.replica, a.port), nil
}

func (a *httpAction) revert(context.Context) (string, error) {
	a.e.removeHopFault(a)
	st := a.rule.Stats()
	msg := fmt.Sprintf("removed from the hops into %s: %d %s matched", a.replica, st.Matched, plural(int(st.Matched), "message", "messages"))
	var done []string
	for _, c := range []struct {
		n    int64
		what string
	}{{st.Aborted, "aborted"}, {st.Delayed, "delayed"}, {st.Replaced, "replaced"}, {st.Patched, "patched"}, {st.Failed, "failed (aborted instead)"}} {
		if c.n > 0 {
			done = append(done, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(done) > 0 {
		msg += " (" + strings.Join(done, ", ") + ")"
	}
	if st.Delayed > 0 {
		msg += fmt.Sprintf("; delay asked %s, measured mean %s", st.DelayAsked, st.DelayMean().Round(time.Microsecond))
	}
	return msg, nil
}

// askedText says what the fault does, in Chaos Mesh's action order.
func (a *httpAction) askedText() string {
	s := a.spec
	var acts []string
	if s.Abort != nil && *s.Abort {
		acts = append(acts, "abort")
	}
	if s.Delay != nil {
		acts = append(acts, "delay "+*s.Delay)
	}
	if s.Replace != nil {
		acts = append(acts, "replace")
	}
	if s.Patch != nil {
		acts = append(acts, "patch")
	}
	what := strings.ToLower(string(s.Target))
	var match []string
	if s.Method != nil {
		match = append(match, *s.Method)
	}
	if s.Path != nil {
		match = append(match, *s.Path)
	}
	if s.Code != nil && s.Target == v1alpha1.HTTPTargetResponse {
		match = append(match, fmt.Sprintf("code %d", *s.Code))
	}
	out := strings.Join(acts, ", ") + " of " + what + "s"
	if len(match) > 0 {
		out += " matching " + strings.Join(match, " ")
	}
	return out
}

// fidelity reports what the rule did: messages matched and, per action,
// how many it acted on; for a delay, the asked delay against the mean the
// proxy measured around its waits.
func (a *httpAction) fidelity() []engine.Fidelity {
	st := a.rule.Stats()
	out := []engine.Fidelity{{Target: a.replica, Quantity: "http " + strings.ToLower(string(a.spec.Target)) + "s matched",
		Asked: "every matching message", Measured: strconv.FormatInt(st.Matched, 10),
		AskedValue: float64(st.Matched), MeasuredValue: float64(st.Matched), Unit: "messages"}}
	acted := func(q string, asked bool, n int64) {
		if !asked {
			return
		}
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "http " + q,
			Asked: fmt.Sprintf("%d of %d matched", st.Matched, st.Matched), Measured: fmt.Sprintf("%d of %d matched", n, st.Matched),
			AskedValue: float64(st.Matched), MeasuredValue: float64(n), Unit: "messages"})
	}
	s := a.spec
	acted("aborted", s.Abort != nil && *s.Abort, st.Aborted)
	if s.Abort == nil || !*s.Abort {
		acted("replaced", s.Replace != nil, st.Replaced)
		acted("patched", s.Patch != nil, st.Patched)
	}
	if st.DelayAsked > 0 && (s.Abort == nil || !*s.Abort) {
		mean := st.DelayMean()
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "http delay",
			Asked: st.DelayAsked.String(), Measured: fmt.Sprintf("mean %s, max %s over %d", mean.Round(time.Microsecond), st.DelayMax.Round(time.Microsecond), st.Delayed),
			AskedValue: st.DelayAsked.Seconds(), MeasuredValue: mean.Seconds(), Unit: "s"})
	}
	return out
}

// httpRulesFor collects the HTTP rules of every active fault on h, in
// injection order: what the router's pipe keeps in its httpfault.Set.
func httpRulesFor(faults []hopFault, h Hop) []*httpfault.Rule {
	var out []*httpfault.Rule
	for _, f := range faults {
		hf, ok := f.(httpHopFault)
		if !ok {
			continue
		}
		if r, ok := hf.httpRules(h); ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// servicePorts lists the ports that name a service as a whole: the
// replica port its spec fixes (replica n listens on it + n) and its
// gateway's port.
func (s *Supervisor) servicePorts(service string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.serviceLocked(service)
	if err != nil {
		return nil
	}
	var out []int
	if svc.plan.replicaPort > 0 {
		out = append(out, svc.plan.replicaPort)
	}
	if svc.gw != nil {
		if _, p, err := net.SplitHostPort(svc.gw.addr()); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
