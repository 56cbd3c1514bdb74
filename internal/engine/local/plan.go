package local

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// DefaultEvictionDelay is how long the replicas of a node that went down
// wait before they are rescheduled onto healthy nodes when the environment
// does not say. Kubernetes waits 5 minutes (the default toleration of
// node.kubernetes.io/unreachable); a local environment is for experiments
// that last minutes, so the default is 5 seconds.
const DefaultEvictionDelay = 5 * time.Second

// Restart policies.
const (
	RestartAlways    = string(v1alpha1.RestartAlways)
	RestartOnFailure = string(v1alpha1.RestartOnFailure)
	RestartNever     = string(v1alpha1.RestartNever)
)

// envPlan is an environment with every default applied, every duration
// parsed and every command resolved: what the supervisor runs. Building it
// has no side effect, so bad input is refused before anything starts.
type envPlan struct {
	name          string
	namespace     string
	nodes         []nodePlan
	evictionDelay time.Duration
	services      []*servicePlan
}

type nodePlan struct {
	name          string
	labels        map[string]string
	unschedulable bool
}

type servicePlan struct {
	name        string
	labels      map[string]string
	annotations map[string]string
	replicas    int
	// gatewayPort is the gateway's fixed port, 0 for a free one.
	gatewayPort int
	// replicaPort is the fixed port of the first replica (replica i gets
	// replicaPort+i), 0 for free ports.
	replicaPort int
	portEnv     string
	containers  []*containerPlan // [0] is the main container
	// restartPolicy is Always, OnFailure or Never.
	restartPolicy string
	grace         time.Duration
	dependsOn     []string
	// depEnv maps a dependency to the variable carrying its URL.
	depEnv       map[string]string
	nodeSelector map[string]string
	cpuCores     float64 // 0: no limit
	memoryBytes  int64   // 0: no limit
	// Back-off from the spec; zero values fall back to the options.
	backoffBase, backoffMax, backoffReset time.Duration
}

type envVar struct{ name, value string }

type containerPlan struct {
	name string
	// path is the resolved executable; argv the full argument vector
	// (command then args), with $(VAR) expanded per replica at start.
	path string
	argv []string
	env  []envVar
	dir  string

	readiness *probePlan
	liveness  *probePlan
	startup   *probePlan
}

// planEnvironment checks a local environment and resolves it. baseDir is
// the directory relative working directories and commands start from (the
// environment file's); "" is the current directory.
func planEnvironment(env *v1alpha1.Environment, nameOverride, baseDir string) (*envPlan, error) {
	tm := env.GetTypeMeta()
	if tm.Kind != "" && tm.Kind != "Environment" {
		return nil, fmt.Errorf("%s is a %s, not an Environment", env.Name, tm.Kind)
	}
	name := env.Name
	if nameOverride != "" {
		name = nameOverride
	}
	if !dnsLabel.MatchString(name) {
		return nil, fmt.Errorf("environment name %q: want a DNS-1123 label (lower-case letters, digits and '-'), e.g. shop", name)
	}
	spec := &env.Spec
	if !spec.IsLocal() {
		return nil, fmt.Errorf("environment %s is a Kubernetes environment (spec.kube); only local environments (spec.services) run here", name)
	}
	if len(spec.Services) == 0 {
		return nil, fmt.Errorf("environment %s has no services; a local environment needs spec.services", name)
	}
	// Replicas run in their own working directories, so a relative base
	// would resolve commands differently in the check and at exec time.
	abs, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("find the environment's base directory: %w", err)
	}
	baseDir = abs
	p := &envPlan{name: name, namespace: spec.Namespace, evictionDelay: DefaultEvictionDelay}
	if p.namespace == "" {
		p.namespace = v1alpha1.DefaultEnvironmentNamespace
	}
	if spec.EvictionDelay != "" {
		d, err := time.ParseDuration(spec.EvictionDelay)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("environment %s: evictionDelay %q is not a duration such as 5s", name, spec.EvictionDelay)
		}
		p.evictionDelay = d
	}
	seenNode := map[string]bool{}
	for _, n := range spec.Nodes {
		if seenNode[n.Name] {
			return nil, fmt.Errorf("environment %s: node %s is declared twice", name, n.Name)
		}
		seenNode[n.Name] = true
		p.nodes = append(p.nodes, nodePlan{name: n.Name, labels: copyMap(n.Labels)})
	}
	if len(p.nodes) == 0 {
		p.nodes = []nodePlan{{name: v1alpha1.DefaultEnvironmentNode}}
	}

	var errs []error
	byName := map[string]*servicePlan{}
	for i := range spec.Services {
		sp, err := planService(&spec.Services[i], baseDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if byName[sp.name] != nil {
			errs = append(errs, fmt.Errorf("service %s is declared twice", sp.name))
			continue
		}
		byName[sp.name] = sp
		p.services = append(p.services, sp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("environment %s: %w", name, err)
	}
	for _, sp := range p.services {
		for _, d := range sp.dependsOn {
			if byName[d] == nil {
				errs = append(errs, fmt.Errorf("service %s depends on %q, which is not a service of the environment", sp.name, d))
			}
			if d == sp.name {
				errs = append(errs, fmt.Errorf("service %s depends on itself", sp.name))
			}
		}
		if len(sp.nodeSelector) > 0 {
			ok := false
			for _, n := range p.nodes {
				ok = ok || matchLabels(sp.nodeSelector, n.labels)
			}
			if !ok {
				errs = append(errs, fmt.Errorf("service %s: nodeSelector %v matches no node", sp.name, sp.nodeSelector))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("environment %s: %w", name, err)
	}
	if cyc := dependencyCycle(p.services); cyc != "" {
		return nil, fmt.Errorf("environment %s: dependency cycle %s", name, cyc)
	}
	if err := checkFixedPorts(p.services); err != nil {
		return nil, fmt.Errorf("environment %s: %w", name, err)
	}
	return p, nil
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func planService(s *v1alpha1.EnvironmentService, baseDir string) (*servicePlan, error) {
	if !dnsLabel.MatchString(s.Name) {
		return nil, fmt.Errorf("service name %q: want a DNS-1123 label", s.Name)
	}
	sp := &servicePlan{
		name: s.Name, labels: copyMap(s.Labels), annotations: copyMap(s.Annotations),
		replicas: int(s.ReplicaCount()), gatewayPort: int(s.GatewayPort), replicaPort: int(s.Port),
		portEnv: s.PortEnv, restartPolicy: string(s.RestartPolicy), dependsOn: append([]string(nil), s.DependsOn...),
		depEnv: map[string]string{}, nodeSelector: copyMap(s.NodeSelector),
		grace: time.Duration(v1alpha1.DefaultTerminationGracePeriodSeconds) * time.Second,
	}
	if sp.replicas < 0 {
		return nil, fmt.Errorf("service %s: replicas must be 0 or more", s.Name)
	}
	if sp.portEnv == "" {
		sp.portEnv = v1alpha1.DefaultPortEnv
	}
	if sp.restartPolicy == "" {
		sp.restartPolicy = RestartAlways
	}
	switch sp.restartPolicy {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		return nil, fmt.Errorf("service %s: restartPolicy %q: want Always, OnFailure or Never", s.Name, sp.restartPolicy)
	}
	if s.TerminationGracePeriodSeconds != nil {
		if *s.TerminationGracePeriodSeconds < 0 {
			return nil, fmt.Errorf("service %s: terminationGracePeriodSeconds must be 0 or more", s.Name)
		}
		sp.grace = time.Duration(*s.TerminationGracePeriodSeconds) * time.Second
	}
	for _, d := range sp.dependsOn {
		sp.depEnv[d] = envVarName(d) + "_URL"
	}
	for d, v := range s.DependencyEnv {
		sp.depEnv[d] = v
	}
	if s.RestartBackOff != nil {
		var err error
		if sp.backoffBase, err = optDuration(s.RestartBackOff.Initial); err != nil {
			return nil, fmt.Errorf("service %s: restartBackOff.initial: %w", s.Name, err)
		}
		if sp.backoffMax, err = optDuration(s.RestartBackOff.Max); err != nil {
			return nil, fmt.Errorf("service %s: restartBackOff.max: %w", s.Name, err)
		}
		if sp.backoffReset, err = optDuration(s.RestartBackOff.ResetAfter); err != nil {
			return nil, fmt.Errorf("service %s: restartBackOff.resetAfter: %w", s.Name, err)
		}
	}
	if r := s.Resources; r != nil {
		if r.CPU != nil {
			if *r.CPU <= 0 || math.IsNaN(*r.CPU) || math.IsInf(*r.CPU, 0) {
				return nil, fmt.Errorf("service %s: resources.cpu must be greater than 0", s.Name)
			}
			sp.cpuCores = *r.CPU
		}
		if r.Memory != "" {
			b, err := parseQuantity(r.Memory)
			if err != nil {
				return nil, fmt.Errorf("service %s: resources.memory: %w", s.Name, err)
			}
			sp.memoryBytes = b
		}
	}

	dir := baseDir
	if s.WorkingDir != "" {
		dir = s.WorkingDir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(baseDir, dir)
		}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("service %s: workingDir %s is not a directory", s.Name, dir)
	}
	main, err := planContainer(s.Name, s.Name, s.Command, s.Args, s.Env, dir)
	if err != nil {
		return nil, err
	}
	if main.readiness, err = planProbe(s.ReadinessProbe); err != nil {
		return nil, fmt.Errorf("service %s: readinessProbe: %w", s.Name, err)
	}
	if main.liveness, err = planProbe(s.LivenessProbe); err != nil {
		return nil, fmt.Errorf("service %s: livenessProbe: %w", s.Name, err)
	}
	sp.containers = append(sp.containers, main)
	seen := map[string]bool{s.Name: true}
	for _, sc := range s.Sidecars {
		if seen[sc.Name] || !dnsLabel.MatchString(sc.Name) {
			return nil, fmt.Errorf("service %s: sidecar name %q: want a unique DNS-1123 label other than the service's name", s.Name, sc.Name)
		}
		seen[sc.Name] = true
		sdir := dir
		if sc.WorkingDir != "" {
			sdir = sc.WorkingDir
			if !filepath.IsAbs(sdir) {
				sdir = filepath.Join(baseDir, sdir)
			}
		}
		c, err := planContainer(s.Name, sc.Name, sc.Command, sc.Args, sc.Env, sdir)
		if err != nil {
			return nil, err
		}
		sp.containers = append(sp.containers, c)
	}
	return sp, nil
}

// planContainer resolves a container's command like a shell would, with
// one difference: a relative path with a slash is relative to the working
// directory. A command that cannot be run is an error naming the service.
func planContainer(service, name string, command, args []string, env []v1alpha1.ServiceEnvVar, dir string) (*containerPlan, error) {
	who := "service " + service
	if name != service {
		who += " sidecar " + name
	}
	if len(command) == 0 || command[0] == "" {
		return nil, fmt.Errorf("%s: command is empty; write the program and its arguments, e.g. [./bin/server, --flag]", who)
	}
	path, err := resolveCommand(command[0], dir)
	if err != nil {
		return nil, fmt.Errorf("%s: command %q: %w", who, command[0], err)
	}
	c := &containerPlan{name: name, path: path, dir: dir}
	c.argv = append(append(c.argv, command...), args...)
	for _, e := range env {
		c.env = append(c.env, envVar{name: e.Name, value: e.Value})
	}
	return c, nil
}

func resolveCommand(cmd, dir string) (string, error) {
	if !strings.Contains(cmd, "/") {
		p, err := exec.LookPath(cmd)
		if err != nil {
			return "", fmt.Errorf("not found in PATH")
		}
		return filepath.Abs(p)
	}
	p := cmd
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s does not exist", p)
		}
		return "", err
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a directory", p)
	}
	if st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not executable", p)
	}
	return p, nil
}

func planProbe(hp *v1alpha1.HealthProbe) (*probePlan, error) {
	if hp == nil {
		return nil, nil
	}
	p := &probePlan{host: "127.0.0.1", period: 10 * time.Second, timeout: time.Second, success: 1, failure: 3,
		initialDelay: time.Duration(hp.InitialDelaySeconds) * time.Second}
	n := 0
	if h := hp.HTTPGet; h != nil {
		n++
		p.kind, p.path, p.port, p.scheme = probeHTTP, h.Path, int(h.Port), strings.ToLower(h.Scheme)
		if p.path == "" {
			p.path = "/"
		}
		if p.scheme == "" {
			p.scheme = "http"
		}
		if p.scheme != "http" && p.scheme != "https" {
			return nil, fmt.Errorf("httpGet.scheme %q: want HTTP or HTTPS", h.Scheme)
		}
		if h.Host != "" {
			p.host = h.Host
		}
		p.headers = http.Header{}
		for _, hd := range h.HTTPHeaders {
			p.headers.Add(hd.Name, hd.Value)
		}
	}
	if t := hp.TCPSocket; t != nil {
		n++
		p.kind, p.port = probeTCP, int(t.Port)
		if t.Host != "" {
			p.host = t.Host
		}
	}
	if e := hp.Exec; e != nil {
		n++
		if len(e.Command) == 0 {
			return nil, errors.New("exec.command is empty")
		}
		p.kind, p.command = probeExec, append([]string(nil), e.Command...)
	}
	if n != 1 {
		return nil, errors.New("write exactly one of httpGet, tcpSocket and exec")
	}
	setSeconds := func(dst *time.Duration, v *int32, what string) error {
		if v == nil {
			return nil
		}
		if *v < 1 {
			return fmt.Errorf("%s must be at least 1", what)
		}
		*dst = time.Duration(*v) * time.Second
		return nil
	}
	if err := setSeconds(&p.period, hp.PeriodSeconds, "periodSeconds"); err != nil {
		return nil, err
	}
	if err := setSeconds(&p.timeout, hp.TimeoutSeconds, "timeoutSeconds"); err != nil {
		return nil, err
	}
	if hp.SuccessThreshold != nil {
		if *hp.SuccessThreshold < 1 {
			return nil, errors.New("successThreshold must be at least 1")
		}
		p.success = int(*hp.SuccessThreshold)
	}
	if hp.FailureThreshold != nil {
		if *hp.FailureThreshold < 1 {
			return nil, errors.New("failureThreshold must be at least 1")
		}
		p.failure = int(*hp.FailureThreshold)
	}
	return p, nil
}

func optDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 10s", s)
	}
	return d, nil
}

var quantityRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`)

// parseQuantity reads a Kubernetes memory quantity ("512Mi", "1G",
// "1048576") as bytes.
func parseQuantity(q string) (int64, error) {
	m := quantityRE.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return 0, fmt.Errorf("%q is not a quantity such as 512Mi or 1G", q)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a quantity such as 512Mi or 1G", q)
	}
	mult := map[string]float64{"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
		"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}[m[2]]
	b := math.Ceil(v * mult)
	if b <= 0 || b > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is out of range", q)
	}
	return int64(b), nil
}

// dependencyCycle returns "a → b → a" for the first cycle found, or "".
func dependencyCycle(svcs []*servicePlan) string {
	deps := map[string][]string{}
	for _, s := range svcs {
		deps[s.name] = s.dependsOn
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range deps[n] {
			switch color[d] {
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				found = strings.Join(append(append([]string(nil), stack[i:]...), d), " → ")
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, s := range svcs {
		if color[s.name] == white && visit(s.name) {
			return found
		}
	}
	return ""
}

// checkFixedPorts refuses fixed ports that two parts of the environment
// would both use.
func checkFixedPorts(svcs []*servicePlan) error {
	owner := map[int]string{}
	claim := func(port int, who string) error {
		if port == 0 {
			return nil
		}
		if port < 0 || port > 65535 {
			return fmt.Errorf("%s: port %d is out of range", who, port)
		}
		if o, ok := owner[port]; ok {
			return fmt.Errorf("%s and %s both use port %d", o, who, port)
		}
		owner[port] = who
		return nil
	}
	for _, s := range svcs {
		if err := claim(s.gatewayPort, "service "+s.name+" gateway"); err != nil {
			return err
		}
		if s.replicaPort != 0 {
			for i := 0; i < s.replicas; i++ {
				if err := claim(s.replicaPort+i, "service "+s.name+" replica "+replicaName(s.name, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
