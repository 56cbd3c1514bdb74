package manifest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

var flRestartPolicies = []string{string(v1alpha1.RestartAlways), string(v1alpha1.RestartOnFailure), string(v1alpha1.RestartNever)}

// validateEnvironmentSpec checks an Environment's spec (also used for an
// environment written inline in an Experiment, with p at that place).
func validateEnvironmentSpec(p Path, s *v1alpha1.EnvironmentSpec, ps *Problems) {
	if s == nil {
		return
	}
	if s.Kube != nil {
		for _, f := range []flField{
			{"namespace", s.Namespace != ""},
			{"nodes", s.Nodes != nil},
			{"evictionDelay", s.EvictionDelay != ""},
			{"services", s.Services != nil},
		} {
			if f.set {
				ps.Add(p.Child(f.name), fmt.Sprintf("a kube environment takes no %s", f.name),
					fmt.Sprintf("write either a local environment (services, nodes, …) or kube, not both; remove %s or kube", f.name))
			}
		}
		validateKubeEnvironment(p.Child("kube"), s.Kube, ps)
		return
	}
	if s.Namespace != "" {
		checkDNSLabel(p.Child("namespace"), s.Namespace, ps)
	}
	flDuration(p.Child("evictionDelay"), s.EvictionDelay, false, true, ps)

	nodes := p.Child("nodes")
	flNames(nodes, len(s.Nodes), func(i int) string { return s.Nodes[i].Name }, true, "node", ps)
	for i := range s.Nodes {
		flLabels(nodes.Index(i).Child("labels"), s.Nodes[i].Labels, true, ps)
	}
	if s.Nodes != nil && len(s.Nodes) == 0 {
		ps.Add(nodes, "an environment needs at least one node",
			fmt.Sprintf("list nodes such as - name: node-1, or remove nodes for a single node named %q", v1alpha1.DefaultEnvironmentNode))
	}

	svcs := p.Child("services")
	if len(s.Services) == 0 {
		ps.Required(svcs, "write at least one service with a name and a command, or kube: for a Kubernetes environment")
		return
	}
	known := flNames(svcs, len(s.Services), func(i int) string { return s.Services[i].Name }, true, "service", ps)
	for i := range s.Services {
		validateEnvService(svcs.Index(i), &s.Services[i], s.Nodes, known, ps)
	}
	checkEnvPorts(svcs, s.Services, ps)
	checkEnvDependencyCycles(svcs, s.Services, ps)
}

func validateKubeEnvironment(p Path, k *v1alpha1.KubeEnvironment, ps *Problems) {
	ns := p.Child("namespaces")
	if len(k.Namespaces) == 0 {
		ps.Required(ns, "list the namespaces faultline may touch, e.g. [recsys]")
	}
	seen := map[string]bool{}
	for i, n := range k.Namespaces {
		switch {
		case n == "" || len(n) > 63 || !dns1123Label.MatchString(n):
			checkDNSLabel(ns.Index(i), n, ps)
		case seen[n]:
			ps.Add(ns.Index(i), fmt.Sprintf("namespace %q is listed twice", n), "list each namespace once")
		}
		seen[n] = true
	}
	if k.Access != "" {
		validateEnum(p.Child("access"), string(k.Access), []string{string(v1alpha1.KubeAccessAuto), string(v1alpha1.KubeAccessDirect), string(v1alpha1.KubeAccessPortForward)}, ps)
	}
	names := make([]string, 0, len(k.ServiceURLs))
	for n := range k.ServiceURLs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		flHTTPURL(p.Child("serviceURLs").Child(n), k.ServiceURLs[n], ps)
	}
	if k.OptInAnnotation != "" {
		key, _, _ := strings.Cut(k.OptInAnnotation, "=")
		if strings.TrimSpace(key) == "" || strings.ContainsAny(key, " \t") {
			ps.Add(p.Child("optInAnnotation"), fmt.Sprintf("%q has no annotation key", k.OptInAnnotation),
				"write key=value (e.g. faultline.dev/chaos=enabled) or a key alone for any value")
		}
	}
	if k.MaxPods < 0 {
		ps.Add(p.Child("maxPods"), fmt.Sprintf("maxPods must not be negative, got %d", k.MaxPods), "write a number of pods, or 0 for no cap")
	}
	if k.MaxPercent < 0 || k.MaxPercent > 100 {
		ps.Add(p.Child("maxPercent"), fmt.Sprintf("maxPercent must be from 0 to 100, got %d", k.MaxPercent), "write a percentage of a workload's pods, or 0 for no cap")
	}
	if k.PauseImage != "" && strings.ContainsAny(k.PauseImage, " \t\n") {
		ps.Add(p.Child("pauseImage"), fmt.Sprintf("%q is not an image reference", k.PauseImage), "write an image such as registry.k8s.io/pause:3.10")
	}
	if k.JournalNamespace != "" {
		checkDNSLabel(p.Child("journalNamespace"), k.JournalNamespace, ps)
	}
	if k.QPS < 0 {
		ps.Add(p.Child("qps"), fmt.Sprintf("qps must not be negative, got %d", k.QPS), "write requests per second, or 0 for the default 50")
	}
	if k.Burst < 0 {
		ps.Add(p.Child("burst"), fmt.Sprintf("burst must not be negative, got %d", k.Burst), "write a burst size, or 0 for the default 100")
	}
}

func validateEnvService(p Path, s *v1alpha1.EnvironmentService, nodes []v1alpha1.EnvironmentNode, known map[string]bool, ps *Problems) {
	flLabels(p.Child("labels"), s.Labels, true, ps)
	flLabels(p.Child("annotations"), s.Annotations, false, ps)
	if s.Replicas != nil && *s.Replicas < 0 {
		ps.Add(p.Child("replicas"), fmt.Sprintf("replicas must not be negative, got %d", *s.Replicas), "write 0 or more; the default is 1")
	}
	flCommand(p.Child("command"), s.Command, "write the program to run and its fixed arguments, e.g. [./bin/server, --verbose]", ps)
	validateServiceEnvVars(p.Child("env"), s.Env, ps)
	flPort(p.Child("port"), s.Port, "a free port per replica", ps)
	if s.PortEnv != "" {
		flEnvVarName(p.Child("portEnv"), s.PortEnv, ps)
	}
	flPort(p.Child("gatewayPort"), s.GatewayPort, "a free port", ps)

	deps := map[string]bool{}
	for i, d := range s.DependsOn {
		dp := p.Child("dependsOn").Index(i)
		switch {
		case d == s.Name && d != "":
			ps.Add(dp, fmt.Sprintf("service %q depends on itself", d), "remove it from dependsOn")
		case deps[d]:
			ps.Add(dp, fmt.Sprintf("dependency %q is listed twice", d), "list each dependency once")
		case d == "":
			ps.Add(dp, "empty dependency name", "write the name of another service")
		default:
			flReference(dp, d, "service", known, ps)
		}
		deps[d] = true
	}
	for _, k := range flSortedKeys(flKeySet(s.DependencyEnv)) {
		kp := p.Child("dependencyEnv").Key(k)
		if !deps[k] {
			ps.List = append(ps.List, Problem{Path: kp, AtKey: true, Message: fmt.Sprintf("%q is not in dependsOn", k),
				Hint: "dependencyEnv renames the URL variable of a dependency; add the service to dependsOn or remove this entry"})
			continue
		}
		flEnvVarName(kp, s.DependencyEnv[k], ps)
	}

	flLabels(p.Child("nodeSelector"), s.NodeSelector, true, ps)
	if len(s.NodeSelector) > 0 && !flAnyNodeMatches(nodes, s.NodeSelector) {
		ps.Add(p.Child("nodeSelector"), "no node carries all these labels, so no replica could be placed",
			"add the labels to a node under spec.nodes, or change nodeSelector")
	}

	if s.ReadinessProbe != nil {
		validateHealthProbe(p.Child("readinessProbe"), s.ReadinessProbe, false, ps)
	}
	if s.LivenessProbe != nil {
		validateHealthProbe(p.Child("livenessProbe"), s.LivenessProbe, true, ps)
	}
	if s.RestartPolicy != "" {
		validateEnum(p.Child("restartPolicy"), string(s.RestartPolicy), flRestartPolicies, ps)
	}
	if b := s.RestartBackOff; b != nil {
		bp := p.Child("restartBackOff")
		initial, iok := flDuration(bp.Child("initial"), b.Initial, false, false, ps)
		maxD, mok := flDuration(bp.Child("max"), b.Max, false, false, ps)
		flDuration(bp.Child("resetAfter"), b.ResetAfter, false, false, ps)
		if iok && mok && maxD < initial {
			ps.Add(bp.Child("max"), fmt.Sprintf("max %s is shorter than initial %s", b.Max, b.Initial),
				"the back-off doubles from initial up to max; write a max of at least "+b.Initial)
		}
	}
	if g := s.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		ps.Add(p.Child("terminationGracePeriodSeconds"), fmt.Sprintf("must not be negative, got %d", *g),
			"write the seconds between SIGTERM and SIGKILL, 0 or more; the default is 30")
	}

	sc := p.Child("sidecars")
	flNames(sc, len(s.Sidecars), func(i int) string { return s.Sidecars[i].Name }, true, "container", ps)
	for i := range s.Sidecars {
		c := &s.Sidecars[i]
		cp := sc.Index(i)
		if c.Name != "" && c.Name == s.Name {
			ps.Add(cp.Child("name"), fmt.Sprintf("sidecar %q has the service's name, which is the main container's", c.Name),
				"give the sidecar another name, e.g. "+s.Name+"-agent")
		}
		flCommand(cp.Child("command"), c.Command, "write the sidecar's program and its fixed arguments", ps)
		validateServiceEnvVars(cp.Child("env"), c.Env, ps)
	}

	if r := s.Resources; r != nil {
		rp := p.Child("resources")
		if r.CPU != nil && !(*r.CPU > 0 && flFinite(*r.CPU)) {
			ps.Add(rp.Child("cpu"), fmt.Sprintf("cpu limit must be greater than 0, got %v", *r.CPU),
				"write cores as a number, e.g. 0.5 (Kubernetes' 500m) or 2; omit it for no limit")
		}
		if r.Memory != "" {
			if b, ok := flParseMemory(r.Memory); !ok {
				ps.Add(rp.Child("memory"), fmt.Sprintf("%q is not a memory quantity", r.Memory),
					`write a number with a unit: Ki, Mi, Gi (powers of 1024) or k, M, G (powers of 1000), e.g. "512Mi"`)
			} else if b < 1<<20 {
				ps.Add(rp.Child("memory"), fmt.Sprintf("memory limit %q is below 1Mi; no process starts in that", r.Memory),
					`write a realistic limit such as "256Mi"`)
			}
		}
	}
}

func flKeySet(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func flAnyNodeMatches(nodes []v1alpha1.EnvironmentNode, sel map[string]string) bool {
	if len(nodes) == 0 {
		nodes = []v1alpha1.EnvironmentNode{{Name: v1alpha1.DefaultEnvironmentNode}}
	}
	for _, n := range nodes {
		ok := true
		for k, v := range sel {
			if got, has := n.Labels[k]; !has || got != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// flParseMemory parses a Kubernetes memory quantity into bytes.
func flParseMemory(s string) (float64, bool) {
	m := flMemoryRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
		"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}[m[3]]
	return f * mult, true
}

func validateServiceEnvVars(p Path, env []v1alpha1.ServiceEnvVar, ps *Problems) {
	for i, e := range env {
		np := p.Index(i).Child("name")
		if e.Name == "" {
			ps.Required(np, "write the variable's name, e.g. LOG_LEVEL")
			continue
		}
		flEnvVarName(np, e.Name, ps)
	}
}

func validateHealthProbe(p Path, h *v1alpha1.HealthProbe, liveness bool, ps *Problems) {
	handler := flExclusive(p, true, "a probe has exactly one of httpGet, tcpSocket and exec", ps,
		flField{"httpGet", h.HTTPGet != nil}, flField{"tcpSocket", h.TCPSocket != nil}, flField{"exec", h.Exec != nil})
	switch handler {
	case "httpGet":
		g := h.HTTPGet
		gp := p.Child("httpGet")
		flPath(gp.Child("path"), g.Path, ps)
		flPort(gp.Child("port"), g.Port, "the replica's port", ps)
		if g.Scheme != "" {
			validateEnum(gp.Child("scheme"), g.Scheme, []string{"HTTP", "HTTPS"}, ps)
		}
		for i, hd := range g.HTTPHeaders {
			np := gp.Child("httpHeaders").Index(i).Child("name")
			if hd.Name == "" {
				ps.Required(np, "write the header's name, e.g. Authorization")
			} else if !flHTTPTokenRE.MatchString(hd.Name) {
				ps.Add(np, fmt.Sprintf("%q is not a valid HTTP header name", hd.Name), "use letters, digits and '-', e.g. X-Probe")
			}
		}
	case "tcpSocket":
		flPort(p.Child("tcpSocket").Child("port"), h.TCPSocket.Port, "the replica's port", ps)
	case "exec":
		flCommand(p.Child("exec").Child("command"), h.Exec.Command, "write the command to run, e.g. [cat, /tmp/ready]", ps)
	}
	if h.InitialDelaySeconds < 0 {
		ps.Add(p.Child("initialDelaySeconds"), fmt.Sprintf("must not be negative, got %d", h.InitialDelaySeconds), "write 0 or more seconds")
	}
	atLeastOne := func(name string, v *int32, def int) {
		if v != nil && *v < 1 {
			ps.Add(p.Child(name), fmt.Sprintf("%s must be at least 1, got %d", name, *v),
				fmt.Sprintf("write 1 or more; omit it for the default %d", def))
		}
	}
	atLeastOne("periodSeconds", h.PeriodSeconds, 10)
	atLeastOne("timeoutSeconds", h.TimeoutSeconds, 1)
	atLeastOne("successThreshold", h.SuccessThreshold, 1)
	atLeastOne("failureThreshold", h.FailureThreshold, 3)
	if liveness && h.SuccessThreshold != nil && *h.SuccessThreshold > 1 {
		ps.Add(p.Child("successThreshold"), fmt.Sprintf("a liveness probe's successThreshold must be 1, got %d", *h.SuccessThreshold),
			"write 1 or omit it, as Kubernetes requires")
	}
}

// flPortUse is one fixed port, or range of ports, taken by a service.
type flPortUse struct {
	lo, hi int
	path   Path
}

// checkEnvPorts reports fixed ports used twice: replica port ranges
// (port .. port+replicas-1) and gateway ports of every service.
func checkEnvPorts(svcs Path, services []v1alpha1.EnvironmentService, ps *Problems) {
	var uses []flPortUse
	for i := range services {
		s := &services[i]
		sp := svcs.Index(i)
		if n := int(s.ReplicaCount()); s.Port > 0 && s.Port <= 65535 && n > 0 {
			hi := int(s.Port) + n - 1
			if hi > 65535 {
				ps.Add(sp.Child("port"), fmt.Sprintf("%d replicas from port %d need ports up to %d, beyond 65535", n, s.Port, hi),
					"write a lower port, or 0 to pick free ports")
			} else {
				uses = append(uses, flPortUse{int(s.Port), hi, sp.Child("port")})
			}
		}
		if s.GatewayPort > 0 && s.GatewayPort <= 65535 {
			uses = append(uses, flPortUse{int(s.GatewayPort), int(s.GatewayPort), sp.Child("gatewayPort")})
		}
	}
	// Sweep the ranges in port order, keeping the one reaching highest so
	// far: O(n log n) even for documents with thousands of services. Each
	// clash is reported at the field written later, naming the earlier one.
	order := make([]int, len(uses))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return uses[order[a]].lo < uses[order[b]].lo })
	reach := -1
	for _, j := range order {
		if reach >= 0 && uses[j].lo <= uses[reach].hi {
			a, b := reach, j
			if a > b {
				a, b = b, a
			}
			ps.Add(uses[b].path, fmt.Sprintf("port %d is also used by %s%s", max(uses[a].lo, uses[b].lo), uses[a].path, flRangeNote(uses[a])),
				"give each replica and gateway its own port (replica n listens on port+n), or write 0 to pick free ports")
		}
		if reach < 0 || uses[j].hi > uses[reach].hi {
			reach = j
		}
	}
}

func flRangeNote(u flPortUse) string {
	if u.hi > u.lo {
		return fmt.Sprintf(" (ports %d-%d)", u.lo, u.hi)
	}
	return ""
}

// checkEnvDependencyCycles reports each dependency cycle once.
func checkEnvDependencyCycles(svcs Path, services []v1alpha1.EnvironmentService, ps *Problems) {
	index := map[string]int{}
	for i, s := range services {
		if _, dup := index[s.Name]; !dup && s.Name != "" {
			index[s.Name] = i
		}
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := make([]int, len(services))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = onStack
		stack = append(stack, i)
		for k, d := range services[i].DependsOn {
			j, ok := index[d]
			if !ok || j == i {
				continue // unknown names and self-dependencies are reported elsewhere
			}
			switch state[j] {
			case onStack:
				var names []string
				start := 0
				for n, s := range stack {
					if s == j {
						start = n
					}
				}
				for _, s := range stack[start:] {
					names = append(names, services[s].Name)
				}
				names = append(names, d)
				ps.Add(svcs.Index(i).Child("dependsOn").Index(k), "dependency cycle: "+strings.Join(names, " → "),
					"services start after their dependencies, so dependencies cannot form a cycle; remove one of these")
			case unvisited:
				visit(j)
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range services {
		if state[i] == unvisited {
			visit(i)
		}
	}
}
