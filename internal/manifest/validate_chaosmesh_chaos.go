package manifest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// This file holds the rules of the seven Chaos Mesh fault kinds. They follow
// Chaos Mesh's admission webhook and CRD schema, and add the checks that
// catch a fault that could never act (e.g. an IO path outside the volume).

// --- PodChaos ---------------------------------------------------------------

var podChaosActions = enumValues(v1alpha1.PodKill, v1alpha1.PodFailure, v1alpha1.ContainerKill)

func validatePodChaosSpec(p Path, s *v1alpha1.PodChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelector(p, &s.PodSelector, ps)
	validateContainerNames(p.Child("containerNames"), s.ContainerNames, ps)
	requireEnum(p.Child("action"), string(s.Action), podChaosActions, ps)
	if s.Action == v1alpha1.ContainerKill && len(s.ContainerNames) == 0 {
		ps.Add(p.Child("containerNames"), "action container-kill needs the names of the containers to kill",
			"write containerNames: [<container>], e.g. containerNames: [app]")
	}
	validateDuration(p.Child("duration"), s.Duration, false, false, ps)
	switch {
	case s.GracePeriod < 0:
		ps.Add(p.Child("gracePeriod"), fmt.Sprintf("gracePeriod %d is negative", s.GracePeriod),
			"write a number of seconds, 0 or more; 0 kills at once")
	case s.GracePeriod > 0 && s.Action != "" && s.Action != v1alpha1.PodKill:
		ps.Warn(p.Child("gracePeriod"), fmt.Sprintf("gracePeriod is only used by pod-kill, not %s", s.Action),
			"remove gracePeriod")
	}
}

// --- NetworkChaos -----------------------------------------------------------

var (
	networkChaosActions = enumValues(v1alpha1.NetworkNetem, v1alpha1.NetworkDelay, v1alpha1.NetworkLoss,
		v1alpha1.NetworkDuplicate, v1alpha1.NetworkCorrupt, v1alpha1.NetworkPartition, v1alpha1.NetworkBandwidth)
	directions = enumValues(v1alpha1.DirectionTo, v1alpha1.DirectionFrom, v1alpha1.DirectionBoth)
	// The CRD pins latency and jitter to one number and one unit, stricter
	// than Go durations ("1m30s" is refused by the API server).
	netemDurationRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$`)
	deviceRe        = regexp.MustCompile(`^[^/\s:]{1,15}$`)
)

func validateNetworkChaosSpec(p Path, s *v1alpha1.NetworkChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelector(p, &s.PodSelector, ps)
	requireEnum(p.Child("action"), string(s.Action), networkChaosActions, ps)
	validateDuration(p.Child("duration"), s.Duration, false, false, ps)
	checkDevice(p.Child("device"), s.Device, ps)
	checkDevice(p.Child("targetDevice"), s.TargetDevice, ps)
	validateEnum(p.Child("direction"), string(s.Direction), directions, ps)
	if s.Target != nil {
		validatePodSelector(p.Child("target"), s.Target, ps)
	} else if s.TargetDevice != "" {
		ps.Warn(p.Child("targetDevice"), "targetDevice is only used with a target", "add target, or remove targetDevice")
	}
	for i, t := range s.ExternalTargets {
		checkExternalTarget(p.Child("externalTargets").Index(i), t, ps)
	}

	validateDelaySpec(p.Child("delay"), s.Delay, ps)
	if s.Loss != nil {
		validatePercentString(p.Child("loss").Child("loss"), s.Loss.Loss, true, ps)
		validatePercentString(p.Child("loss").Child("correlation"), s.Loss.Correlation, false, ps)
	}
	if s.Duplicate != nil {
		validatePercentString(p.Child("duplicate").Child("duplicate"), s.Duplicate.Duplicate, true, ps)
		validatePercentString(p.Child("duplicate").Child("correlation"), s.Duplicate.Correlation, false, ps)
	}
	if s.Corrupt != nil {
		validatePercentString(p.Child("corrupt").Child("corrupt"), s.Corrupt.Corrupt, true, ps)
		validatePercentString(p.Child("corrupt").Child("correlation"), s.Corrupt.Correlation, false, ps)
	}
	validateBandwidthSpec(p.Child("bandwidth"), s.Bandwidth, ps)
	if s.Rate != nil {
		checkRate(p.Child("rate").Child("rate"), s.Rate.Rate, ps)
	}
	checkNetworkActionParams(p, s, ps)

	// Chaos Mesh's webhook: from/both need the peers on the other side and
	// cannot filter by external targets, except for partition.
	if s.Action != v1alpha1.NetworkPartition && (s.Direction == v1alpha1.DirectionFrom || s.Direction == v1alpha1.DirectionBoth) {
		if len(s.ExternalTargets) > 0 {
			ps.Add(p.Child("direction"), fmt.Sprintf("direction %s cannot be used with externalTargets", s.Direction),
				"use direction: to with externalTargets")
		}
		if s.Target == nil {
			ps.Add(p.Child("direction"), fmt.Sprintf("direction %s needs a target: the pods on the other side", s.Direction),
				"add target: {mode: all, selector: {labelSelectors: {app: <peer>}}}, or use direction: to")
		}
	}
}

// checkNetworkActionParams checks that the action has its parameters, and
// flags parameters the action ignores or applies on top. Chaos Mesh applies
// every netem parameter that is set for any netem-family action, so "delay"
// with loss also drops packets.
func checkNetworkActionParams(p Path, s *v1alpha1.NetworkChaosSpec, ps *Problems) {
	type param struct {
		name string
		set  bool
	}
	netem := []param{{"delay", s.Delay != nil}, {"loss", s.Loss != nil}, {"duplicate", s.Duplicate != nil},
		{"corrupt", s.Corrupt != nil}, {"rate", s.Rate != nil}}
	examples := map[string]string{
		"delay":     `write delay: {latency: "100ms"}`,
		"loss":      `write loss: {loss: "25"}`,
		"duplicate": `write duplicate: {duplicate: "25"}`,
		"corrupt":   `write corrupt: {corrupt: "25"}`,
		"bandwidth": `write bandwidth: {rate: "1mbps", limit: 20971520, buffer: 10000}`,
	}
	switch a := string(s.Action); s.Action {
	case v1alpha1.NetworkDelay, v1alpha1.NetworkLoss, v1alpha1.NetworkDuplicate, v1alpha1.NetworkCorrupt:
		for _, n := range netem {
			if n.name == a && !n.set {
				ps.Add(p.Child(a), fmt.Sprintf("action %s needs %s", a, a), examples[a])
			}
			if n.name != a && n.set {
				ps.Warn(p.Child(n.name), fmt.Sprintf("action %s also applies %s, as Chaos Mesh does", a, n.name),
					"use action: netem to combine them, or remove "+n.name)
			}
		}
		if s.Bandwidth != nil {
			ps.Warn(p.Child("bandwidth"), fmt.Sprintf("action %s ignores bandwidth", a), "use action: bandwidth, or remove bandwidth")
		}
	case v1alpha1.NetworkNetem:
		anySet := false
		for _, n := range netem {
			anySet = anySet || n.set
		}
		if !anySet {
			ps.Add(p.Child("action"), "action netem needs at least one of delay, loss, duplicate, corrupt and rate",
				`add e.g. delay: {latency: "100ms"} and loss: {loss: "10"}`)
		}
		if s.Bandwidth != nil {
			ps.Warn(p.Child("bandwidth"), "action netem ignores bandwidth", "use rate: {rate: ...} inside netem, or action: bandwidth")
		}
	case v1alpha1.NetworkBandwidth:
		if s.Bandwidth == nil {
			ps.Add(p.Child("bandwidth"), "action bandwidth needs bandwidth", examples["bandwidth"])
		}
		for _, n := range netem {
			if n.set {
				ps.Warn(p.Child(n.name), "action bandwidth ignores "+n.name, "use action: netem for "+n.name+", or remove it")
			}
		}
	case v1alpha1.NetworkPartition:
		for _, n := range append(netem, param{"bandwidth", s.Bandwidth != nil}) {
			if n.set {
				ps.Warn(p.Child(n.name), "action partition ignores "+n.name, "remove "+n.name)
			}
		}
	}
}

func validateDelaySpec(p Path, d *v1alpha1.DelaySpec, ps *Problems) {
	if d == nil {
		return
	}
	lat, latOK := checkNetemDuration(p.Child("latency"), d.Latency, true, ps)
	checkNetemDuration(p.Child("jitter"), d.Jitter, false, ps)
	zeroLatency := latOK && lat == 0
	if zeroLatency {
		ps.Warn(p.Child("latency"), "latency 0 adds no delay", `write a positive latency such as "100ms"`)
	}
	validatePercentString(p.Child("correlation"), d.Correlation, false, ps)
	if r := d.Reorder; r != nil {
		rp := p.Child("reorder")
		validatePercentString(rp.Child("reorder"), r.Reorder, true, ps)
		validatePercentString(rp.Child("correlation"), r.Correlation, false, ps)
		if r.Gap < 0 {
			ps.Add(rp.Child("gap"), fmt.Sprintf("gap %d is negative", r.Gap), "write gap: 0 or more; 5 reorders every 5th packet")
		}
		if zeroLatency {
			ps.Add(rp, "reorder needs a non-zero latency: only delayed packets can be overtaken",
				`set latency, e.g. latency: "10ms"`)
		}
	}
}

// checkNetemDuration checks a latency or jitter and returns its value and
// whether it is present and valid.
func checkNetemDuration(p Path, s string, required bool, ps *Problems) (int64, bool) {
	if s == "" {
		if required {
			ps.Required(p, `write a duration with one unit, e.g. "90ms"`)
		}
		return 0, false
	}
	if !netemDurationRe.MatchString(s) {
		ps.Add(p, fmt.Sprintf("%q is not a duration with a single unit", s),
			`write a number and one unit (ns, us, ms, s, m, h), e.g. "90ms" or "1.5s"`)
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		ps.Add(p, err.Error(), `write a number and one unit, e.g. "90ms"`)
		return 0, false
	}
	return int64(d), true
}

func validateBandwidthSpec(p Path, b *v1alpha1.BandwidthSpec, ps *Problems) {
	if b == nil {
		return
	}
	rate, rateOK := checkRate(p.Child("rate"), b.Rate, ps)
	if b.Limit == 0 {
		ps.Add(p.Child("limit"), "limit is required and must be at least 1",
			"write the queue size in bytes, e.g. limit: 20971520")
	}
	if b.Buffer == 0 {
		ps.Add(p.Child("buffer"), "buffer is required and must be at least 1",
			"write the bucket size in bytes, e.g. buffer: 10000")
	}
	if b.Peakrate != nil {
		switch {
		case *b.Peakrate < 0:
			ps.Add(p.Child("peakrate"), fmt.Sprintf("peakrate %d is negative", *b.Peakrate),
				"write a rate in bytes per second, greater than rate, or remove peakrate")
		case *b.Peakrate > 0 && rateOK && uint64(*b.Peakrate) <= rate:
			// The kernel's tbf refuses a peak rate at or below the rate.
			ps.Add(p.Child("peakrate"), fmt.Sprintf("peakrate %d bytes/s is not above rate %s (%d bytes/s)", *b.Peakrate, b.Rate, rate),
				"make peakrate greater than rate, or remove it")
		}
	}
}

// checkRate checks a Chaos Mesh rate ("1mbps", "100kbit") and returns it in
// bytes per second.
func checkRate(p Path, s string, ps *Problems) (uint64, bool) {
	if s == "" {
		ps.Required(p, `write a rate such as "1mbps" or "100kbps"`)
		return 0, false
	}
	r, err := v1alpha1.ParseRate(s)
	if err != nil {
		ps.Add(p, err.Error(), `write an integer and a unit: bps, kbps, mbps, gbps, tbps (bytes/s) or bit, kbit, mbit, gbit, tbit (bits/s), e.g. "10mbps"`)
		return 0, false
	}
	if r == 0 {
		ps.Add(p, fmt.Sprintf("rate %q is zero", s), `write a positive rate such as "1mbps"; to cut traffic use action: partition`)
		return 0, false
	}
	return r, true
}

func checkDevice(p Path, dev string, ps *Problems) {
	if dev == "" {
		return
	}
	// Chaos Mesh drops an "@peer" suffix (as `ip link` prints eth0@if12).
	name, _, _ := strings.Cut(dev, "@")
	if !deviceRe.MatchString(name) {
		ps.Add(p, fmt.Sprintf("%q is not a network interface name", dev),
			"write an interface name of 1 to 15 characters without '/', ':' or spaces, e.g. eth0")
	}
}

// checkExternalTarget accepts what Chaos Mesh resolves: an IP, a CIDR or a
// host name, each optionally followed by :port.
func checkExternalTarget(p Path, t string, ps *Problems) {
	const hint = `write an IP ("8.8.8.8"), a CIDR ("10.0.0.0/8"), a host name ("example.com"), optionally with :port ("1.1.1.1:80")`
	host := strings.TrimSpace(t)
	if host == "" {
		ps.Add(p, "empty external target", hint)
		return
	}
	if h, port, err := net.SplitHostPort(host); err == nil {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 {
			ps.Add(p, fmt.Sprintf("%q has an invalid port %q", t, port), "a port is from 1 to 65535; "+hint)
			return
		}
		host = h
	}
	if net.ParseIP(host) != nil {
		return
	}
	if _, _, err := net.ParseCIDR(host); err == nil {
		return
	}
	if !isHostname(host) {
		ps.Add(p, fmt.Sprintf("%q is not an IP, CIDR or host name", t), hint)
	}
}

var hostLabelRe = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$`)

func isHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !hostLabelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// --- StressChaos ------------------------------------------------------------

// stress-ng refuses more workers than this.
const maxStressWorkers = 8192

func validateStressChaosSpec(p Path, s *v1alpha1.StressChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelector(p, &s.PodSelector, ps)
	validateContainerNames(p.Child("containerNames"), s.ContainerNames, ps)
	validateDuration(p.Child("duration"), s.Duration, false, false, ps)
	sp := p.Child("stressors")
	const stressorHint = `write stressors: {cpu: {workers: 1, load: 50}} or stressors: {memory: {workers: 1, size: "256MB"}}`
	switch {
	case s.Stressors == nil && strings.TrimSpace(s.StressngStressors) == "":
		ps.Add(sp, "StressChaos needs at least one stressor", stressorHint)
	case s.Stressors != nil && s.Stressors.CPU == nil && s.Stressors.Memory == nil:
		ps.Add(sp, "stressors names neither cpu nor memory", stressorHint)
	case s.Stressors != nil && strings.TrimSpace(s.StressngStressors) != "":
		ps.Warn(sp, "stressngStressors is set, so stressors is ignored, as Chaos Mesh does",
			"remove stressors or stressngStressors")
	}
	if s.Stressors == nil {
		return
	}
	if c := s.Stressors.CPU; c != nil {
		cp := sp.Child("cpu")
		checkWorkers(cp.Child("workers"), c.Workers, ps)
		if c.Load != nil && (*c.Load < 0 || *c.Load > 100) {
			ps.Add(cp.Child("load"), fmt.Sprintf("load %d is out of range", *c.Load),
				"write a percentage of one core per worker from 0 to 100, e.g. load: 80")
		}
		checkStressOptions(cp.Child("options"), c.Options, ps)
	}
	if m := s.Stressors.Memory; m != nil {
		mp := sp.Child("memory")
		checkWorkers(mp.Child("workers"), m.Workers, ps)
		if m.Size != "" {
			if _, _, err := v1alpha1.ParseMemorySize(m.Size); err != nil {
				ps.Add(mp.Child("size"), err.Error(),
					`write bytes with a unit ("256MB", "1GiB") or a percentage of available memory ("50%")`)
			}
		}
		if m.OOMScoreAdj < -1000 || m.OOMScoreAdj > 1000 {
			ps.Add(mp.Child("oomScoreAdj"), fmt.Sprintf("oomScoreAdj %d is out of range", m.OOMScoreAdj),
				"write a number from -1000 (never OOM-killed) to 1000 (killed first)")
		}
		checkStressOptions(mp.Child("options"), m.Options, ps)
	}
}

func checkWorkers(p Path, n int, ps *Problems) {
	switch {
	case n == 0:
		ps.Add(p, "workers is required and must be at least 1", "write workers: 1")
	case n < 0 || n > maxStressWorkers:
		ps.Add(p, fmt.Sprintf("workers %d is out of range", n), fmt.Sprintf("write a number from 1 to %d", maxStressWorkers))
	}
}

func checkStressOptions(p Path, opts []string, ps *Problems) {
	for i, o := range opts {
		if !strings.HasPrefix(strings.TrimSpace(o), "-") {
			ps.Warn(p.Index(i), fmt.Sprintf("%q does not look like a stress-ng option", o),
				`write options as stress-ng flags, e.g. "--timeout 600"`)
		}
	}
}

// --- HTTPChaos --------------------------------------------------------------

var (
	httpTargets = enumValues(v1alpha1.HTTPTargetRequest, v1alpha1.HTTPTargetResponse)
	httpMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch,
		http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodConnect}
	headerNameRe = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
)

func validateHTTPChaosSpec(p Path, s *v1alpha1.HTTPChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelector(p, &s.PodSelector, ps)
	requireEnum(p.Child("target"), string(s.Target), httpTargets, ps)
	switch {
	case s.Port == 0:
		ps.Required(p.Child("port"), "write the port the pods serve HTTP on, e.g. port: 80")
	case s.Port < 0 || s.Port > 65535:
		ps.Add(p.Child("port"), fmt.Sprintf("port %d is out of range", s.Port), "write a port from 1 to 65535")
	}
	validateDuration(p.Child("duration"), s.Duration, false, false, ps)
	req, resp := s.Target == v1alpha1.HTTPTargetRequest, s.Target == v1alpha1.HTTPTargetResponse

	// Matchers.
	if s.Path != nil && *s.Path != "" && !strings.HasPrefix(*s.Path, "/") && !strings.HasPrefix(*s.Path, "*") {
		ps.Warn(p.Child("path"), fmt.Sprintf("path %q does not start with / and matches no request", *s.Path),
			`write a URI path such as "/api/*", or "*" for every path`)
	}
	if s.Method != nil && *s.Method != "" {
		validateEnum(p.Child("method"), *s.Method, httpMethods, ps)
	}
	if s.Code != nil {
		checkStatusCode(p.Child("code"), *s.Code, ps)
		if req {
			ps.Warn(p.Child("code"), "code matches response status codes; it has no effect with target Request",
				"use target: Response, or remove code")
		}
	}
	checkHeaderMap(p.Child("request_headers"), s.RequestHeaders, ps)
	checkHeaderMap(p.Child("response_headers"), s.ResponseHeaders, ps)
	if req && len(s.ResponseHeaders) > 0 {
		ps.Warn(p.Child("response_headers"), "response_headers has no effect with target Request",
			"use target: Response, or remove response_headers")
	}

	// Actions.
	if (s.Abort == nil || !*s.Abort) && s.Delay == nil && s.Replace == nil && s.Patch == nil {
		ps.Add(p, "HTTPChaos needs at least one action: abort, delay, replace or patch",
			`add e.g. abort: true, or delay: "1s"`)
	}
	validateDuration(p.Child("delay"), s.Delay, false, false, ps)
	if r := s.Replace; r != nil {
		rp := p.Child("replace")
		if r.Path != nil && !strings.HasPrefix(*r.Path, "/") {
			ps.Add(rp.Child("path"), fmt.Sprintf("replacement path %q does not start with /", *r.Path), `write a URI path such as "/api/v2/"`)
		}
		if r.Method != nil {
			validateEnum(rp.Child("method"), *r.Method, httpMethods, ps)
		}
		if r.Code != nil {
			checkStatusCode(rp.Child("code"), *r.Code, ps)
		}
		if r.Body != "" {
			if _, err := base64.StdEncoding.DecodeString(r.Body); err != nil {
				ps.Add(rp.Child("body"), "body is not base64",
					`encode the body in base64 as Kubernetes does for bytes, e.g. body: "eyJvayI6ZmFsc2V9" for {"ok":false}`)
			}
		}
		checkHeaderMap(rp.Child("headers"), r.Headers, ps)
		for _, f := range []struct {
			name    string
			set     bool
			reqOnly bool
		}{{"path", r.Path != nil, true}, {"method", r.Method != nil, true}, {"queries", len(r.Queries) > 0, true}, {"code", r.Code != nil, false}} {
			if f.set && f.reqOnly && resp {
				ps.Warn(rp.Child(f.name), fmt.Sprintf("replace.%s changes requests; it has no effect with target Response", f.name),
					"use target: Request, or remove it")
			}
			if f.set && !f.reqOnly && req {
				ps.Warn(rp.Child(f.name), fmt.Sprintf("replace.%s changes responses; it has no effect with target Request", f.name),
					"use target: Response, or remove it")
			}
		}
	}
	if pt := s.Patch; pt != nil {
		pp := p.Child("patch")
		if b := pt.Body; b != nil {
			bp := pp.Child("body")
			requireEnum(bp.Child("type"), b.Type, []string{"JSON"}, ps)
			if b.Value == "" {
				ps.Required(bp.Child("value"), `write a JSON merge patch, e.g. value: '{"status": "failed"}'`)
			} else if b.Type == "JSON" {
				var v map[string]any
				if err := json.Unmarshal([]byte(b.Value), &v); err != nil {
					ps.Add(bp.Child("value"), "value is not a JSON object: "+err.Error(),
						`write a JSON merge patch object, e.g. '{"status": "failed"}'`)
				}
			}
		}
		checkPairs(pp.Child("queries"), pt.Queries, false, ps)
		checkPairs(pp.Child("headers"), pt.Headers, true, ps)
		if resp && len(pt.Queries) > 0 {
			ps.Warn(pp.Child("queries"), "patch.queries changes requests; it has no effect with target Response",
				"use target: Request, or remove queries")
		}
	}
	if t := s.TLS; t != nil {
		tp := p.Child("tls")
		for _, f := range []struct{ name, val, example string }{
			{"secretName", t.SecretName, "my-tls"}, {"secretNamespace", t.SecretNamespace, "default"},
			{"certName", t.CertName, "tls.crt"}, {"keyName", t.KeyName, "tls.key"}} {
			if f.val == "" {
				ps.Required(tp.Child(f.name), fmt.Sprintf("write %s: %s", f.name, f.example))
			}
		}
		if t.SecretNamespace != "" {
			checkNamespace(tp.Child("secretNamespace"), t.SecretNamespace, ps)
		}
	}
}

func checkStatusCode(p Path, c int32, ps *Problems) {
	if c < 100 || c > 599 {
		ps.Add(p, fmt.Sprintf("%d is not an HTTP status code", c), "write a code from 100 to 599, e.g. 503")
	}
}

func checkHeaderMap(p Path, m map[string]string, ps *Problems) {
	for _, k := range sortedKeys(m) {
		checkHeaderName(p.Key(k), k, ps)
	}
}

func checkHeaderName(p Path, name string, ps *Problems) {
	if !headerNameRe.MatchString(name) {
		ps.Add(p, fmt.Sprintf("%q is not a valid HTTP header name", name),
			"use letters, digits and !#$%&'*+-.^_`|~ only, e.g. X-Request-Id")
	}
}

// checkPairs checks [name, value] lists of patch.queries and patch.headers.
func checkPairs(p Path, pairs [][]string, headers bool, ps *Problems) {
	for i, pair := range pairs {
		ip := p.Index(i)
		if len(pair) != 2 {
			ps.Add(ip, fmt.Sprintf("expected a [name, value] pair, got %d items", len(pair)), `write e.g. ["X-Chaos", "1"]`)
			continue
		}
		if headers {
			checkHeaderName(ip.Index(0), pair[0], ps)
		} else if pair[0] == "" {
			ps.Add(ip.Index(0), "empty query parameter name", `write e.g. ["foo", "bar"]`)
		}
	}
}

// --- IOChaos ----------------------------------------------------------------

var (
	ioChaosActions  = enumValues(v1alpha1.IOLatency, v1alpha1.IOFault, v1alpha1.IOAttrOverride, v1alpha1.IOMistake)
	mistakeFillings = enumValues(v1alpha1.FillingZero, v1alpha1.FillingRandom)
	fileTypes       = enumValues(v1alpha1.FileTypeNamedPipe, v1alpha1.FileTypeCharDevice, v1alpha1.FileTypeBlockDevice,
		v1alpha1.FileTypeDirectory, v1alpha1.FileTypeRegularFile, v1alpha1.FileTypeSymlink, v1alpha1.FileTypeSocket)
)

// Linux error numbers are below 4096 (MAX_ERRNO).
const maxErrno = 4095

func validateIOChaosSpec(p Path, s *v1alpha1.IOChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelector(p, &s.PodSelector, ps)
	validateContainerNames(p.Child("containerNames"), s.ContainerNames, ps)
	requireEnum(p.Child("action"), string(s.Action), ioChaosActions, ps)
	validateDuration(p.Child("duration"), s.Duration, false, false, ps)

	switch {
	case s.VolumePath == "":
		ps.Required(p.Child("volumePath"), "write the mount path of the volume to inject into, e.g. volumePath: /var/lib/data")
	case !strings.HasPrefix(s.VolumePath, "/"):
		ps.Add(p.Child("volumePath"), fmt.Sprintf("volumePath %q is not an absolute path", s.VolumePath),
			"write the volume's mount path inside the container, e.g. /var/lib/data")
	case s.Path != "" && !globMayMatchUnder(s.Path, s.VolumePath):
		ps.Add(p.Child("path"), fmt.Sprintf("path %q is outside volumePath %q, so no file matches", s.Path, s.VolumePath),
			fmt.Sprintf("write a glob under the volume, e.g. %s/**/*", strings.TrimSuffix(s.VolumePath, "/")))
	}

	ignored := func(field, action string) {
		ps.Warn(p.Child(field), fmt.Sprintf("%s is only used by action %s", field, action), "remove "+field)
	}
	if s.Action == v1alpha1.IOLatency {
		validateDuration(p.Child("delay"), &s.Delay, true, false, ps)
	} else if s.Delay != "" && s.Action != "" {
		ignored("delay", "latency")
	}
	switch {
	case s.Action == v1alpha1.IOFault && s.Errno == 0:
		ps.Add(p.Child("errno"), "action fault needs errno, a non-zero error number", "write e.g. errno: 5 (EIO) or errno: 28 (ENOSPC)")
	case s.Errno > maxErrno:
		ps.Add(p.Child("errno"), fmt.Sprintf("errno %d is not a Linux error number", s.Errno), "write a number from 1 to 4095, e.g. 5 (EIO)")
	case s.Errno != 0 && s.Action != "" && s.Action != v1alpha1.IOFault:
		ignored("errno", "fault")
	}
	if s.Action == v1alpha1.IOAttrOverride && s.Attr == nil {
		ps.Add(p.Child("attr"), "action attrOverride needs attr", "write e.g. attr: {perm: 72}")
	} else if s.Attr != nil && s.Action != "" && s.Action != v1alpha1.IOAttrOverride {
		ignored("attr", "attrOverride")
	}
	validateAttrOverride(p.Child("attr"), s.Attr, ps)
	if s.Action == v1alpha1.IOMistake && s.Mistake == nil {
		ps.Add(p.Child("mistake"), "action mistake needs mistake", "write e.g. mistake: {filling: zero, maxOccurrences: 1, maxLength: 10}")
	} else if s.Mistake != nil && s.Action != "" && s.Action != v1alpha1.IOMistake {
		ignored("mistake", "mistake")
	}
	if m := s.Mistake; m != nil {
		mp := p.Child("mistake")
		requireEnum(mp.Child("filling"), string(m.Filling), mistakeFillings, ps)
		if m.MaxOccurrences < 1 {
			ps.Add(mp.Child("maxOccurrences"), "maxOccurrences is required and must be at least 1", "write e.g. maxOccurrences: 1")
		}
		if m.MaxLength < 1 {
			ps.Add(mp.Child("maxLength"), "maxLength is required and must be at least 1", "write a length in bytes, e.g. maxLength: 10")
		}
	}

	methods := v1alpha1.IOMethods()
	for i, m := range s.Methods {
		// Upstream examples write READ and WRITE; the FUSE names are lower case.
		validateEnum(p.Child("methods").Index(i), strings.ToLower(m), methods, ps)
	}
	if s.Percent != nil {
		switch pc := *s.Percent; {
		case pc < 0 || pc > 100:
			ps.Add(p.Child("percent"), fmt.Sprintf("percent %d is out of range", pc), "write a percentage from 1 to 100; default 100")
		case pc == 0:
			ps.Warn(p.Child("percent"), "percent 0 hits no operation", "write a percentage from 1 to 100, or remove percent for 100")
		}
	}
}

// globMayMatchUnder reports whether a path glob can match a file under dir:
// its literal prefix (up to the first wildcard) and dir must be on one branch
// of the tree. A relative glob is taken relative to dir.
func globMayMatchUnder(glob, dir string) bool {
	if !strings.HasPrefix(glob, "/") {
		return true
	}
	lit := glob
	if i := strings.IndexAny(glob, "*?[{"); i >= 0 {
		lit = glob[:i]
	}
	d := strings.TrimSuffix(dir, "/") + "/"
	return strings.HasPrefix(lit, d) || strings.HasPrefix(d, lit) || strings.TrimSuffix(dir, "/") == strings.TrimSuffix(lit, "/")
}

func validateAttrOverride(p Path, a *v1alpha1.AttrOverrideSpec, ps *Problems) {
	if a == nil {
		return
	}
	if *a == (v1alpha1.AttrOverrideSpec{}) {
		ps.Add(p, "attr overrides no attribute", "set at least one attribute, e.g. perm: 72 or size: 0")
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"ino", a.Ino}, {"size", a.Size}, {"blocks", a.Blocks}} {
		if f.v != nil && *f.v < 0 {
			ps.Add(p.Child(f.name), fmt.Sprintf("%s %d is negative", f.name, *f.v), "write 0 or more")
		}
	}
	if a.Perm != nil && (*a.Perm < 0 || *a.Perm > 0o7777) {
		ps.Add(p.Child("perm"), fmt.Sprintf("perm %d is out of range", *a.Perm),
			"write permission bits as a decimal number from 0 to 4095 (octal 07777), e.g. 420 for 0644")
	}
	validateEnum(p.Child("kind"), string(a.Kind), fileTypes, ps)
	for _, t := range []struct {
		name string
		v    *v1alpha1.Timespec
	}{{"atime", a.Atime}, {"mtime", a.Mtime}, {"ctime", a.Ctime}} {
		if t.v != nil && (t.v.Nsec < 0 || t.v.Nsec > 999999999) {
			ps.Add(p.Child(t.name).Child("nsec"), fmt.Sprintf("nsec %d is out of range", t.v.Nsec), "write nanoseconds from 0 to 999999999")
		}
	}
}

// --- DNSChaos ---------------------------------------------------------------

var (
	dnsChaosActions = enumValues(v1alpha1.DNSError, v1alpha1.DNSRandom)
	dnsPatternRe    = regexp.MustCompile(`^[A-Za-z0-9_?.-]*\*?$`)
)

func validateDNSChaosSpec(p Path, s *v1alpha1.DNSChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelector(p, &s.PodSelector, ps)
	validateContainerNames(p.Child("containerNames"), s.ContainerNames, ps)
	requireEnum(p.Child("action"), string(s.Action), dnsChaosActions, ps)
	validateDuration(p.Child("duration"), s.Duration, false, false, ps)
	for i, pat := range s.Patterns {
		ip := p.Child("patterns").Index(i)
		switch {
		case pat == "":
			ps.Add(ip, "empty pattern", `write a domain name such as "example.com", or remove the entry`)
		case strings.Contains(strings.TrimSuffix(pat, "*"), "*"):
			ps.Add(ip, fmt.Sprintf("pattern %q has * before the end", pat),
				`* may only be the last character ("chaos-mesh.*"); use ? for one character ("github.?om")`)
		case !dnsPatternRe.MatchString(pat):
			ps.Add(ip, fmt.Sprintf("pattern %q has characters a domain name cannot have", pat),
				"use letters, digits, '-', '_' and '.', with ? for one character and * at the end")
		}
	}
}

// --- TimeChaos --------------------------------------------------------------

var clockIDs = enumValues(v1alpha1.ClockRealtime, v1alpha1.ClockMonotonic, v1alpha1.ClockProcessCPUTimeID,
	v1alpha1.ClockThreadCPUTimeID, v1alpha1.ClockMonotonicRaw, v1alpha1.ClockRealtimeCoarse,
	v1alpha1.ClockMonotonicCoarse, v1alpha1.ClockBoottime, v1alpha1.ClockRealtimeAlarm, v1alpha1.ClockBoottimeAlarm)

func validateTimeChaosSpec(p Path, s *v1alpha1.TimeChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelector(p, &s.PodSelector, ps)
	validateContainerNames(p.Child("containerNames"), s.ContainerNames, ps)
	validateDuration(p.Child("duration"), s.Duration, false, false, ps)
	op := p.Child("timeOffset")
	if s.TimeOffset == "" {
		ps.Required(op, `write a signed duration, e.g. timeOffset: "-10m" or "1h"`)
	} else if d, err := parseDuration(s.TimeOffset); err != nil {
		ps.Add(op, err.Error(), `write a signed duration with units, e.g. "-10m", "1h30m" or "-10m100ns"`)
	} else if d == 0 {
		ps.Warn(op, "timeOffset 0 does not move the clocks", `write a non-zero offset, e.g. "-10m"`)
	}
	seen := map[v1alpha1.ClockID]bool{}
	for i, c := range s.ClockIDs {
		ip := p.Child("clockIds").Index(i)
		if c == "" {
			ps.Add(ip, "empty clock id", "valid values: "+strings.Join(clockIDs, ", "))
			continue
		}
		validateEnum(ip, string(c), clockIDs, ps)
		if seen[c] {
			ps.Warn(ip, fmt.Sprintf("clock %s is listed twice", c), "remove the duplicate")
		}
		seen[c] = true
	}
}

// requireEnum reports a missing value as required and a wrong one with a
// did-you-mean; it returns whether the value is one of allowed.
func requireEnum(p Path, v string, allowed []string, ps *Problems) bool {
	if v == "" {
		ps.Required(p, "valid values: "+strings.Join(allowed, ", "))
		return false
	}
	return validateEnum(p, v, allowed, ps)
}
