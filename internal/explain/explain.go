// Package explain turns a manifest into a plain-language plan: what it
// would select (described from the selector, before anything is resolved),
// what happens when and for how long, and a Workflow as a tree. It reads
// only the typed object; nothing is contacted.
package explain

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/selector"
)

// Object explains one manifest. The result is a list of lines; indented
// lines belong to the line above.
func Object(obj v1alpha1.Object) []string {
	var e explainer
	e.object(obj)
	return e.lines
}

type explainer struct {
	lines []string
}

func (e *explainer) add(indent int, format string, a ...any) {
	e.lines = append(e.lines, strings.Repeat("  ", indent)+fmt.Sprintf(format, a...))
}

func (e *explainer) object(obj v1alpha1.Object) {
	tm, meta := obj.GetTypeMeta(), obj.GetObjectMeta()
	ns := meta.Namespace
	title := fmt.Sprintf("%s %q (%s)", tm.Kind, meta.Name, tm.APIVersion)
	if ns != "" {
		title += " in namespace " + ns
	}
	e.add(0, "%s", title)
	switch o := obj.(type) {
	case *v1alpha1.Workflow:
		e.workflow(&o.Spec, ns)
	case *v1alpha1.Schedule:
		e.schedule(1, &o.Spec, ns)
	case *v1alpha1.StatusCheck:
		e.add(1, "%s", statusCheck(&o.Spec))
	case *v1alpha1.Environment:
		e.environment(&o.Spec)
	case *v1alpha1.Experiment:
		e.experiment(&o.Spec, ns)
	default:
		kind, spec := tm.Kind, specOf(obj)
		e.chaos(1, kind, spec, ns)
	}
}

func specOf(obj v1alpha1.Object) any {
	if co, ok := obj.(v1alpha1.ChaosObject); ok {
		return co.Chaos()
	}
	return nil
}

// chaos explains one fault: what, on which targets, for how long.
func (e *explainer) chaos(indent int, kind string, spec any, ns string) {
	what, sel, dur, instant := describeChaos(kind, spec, ns)
	e.add(indent, "What:    %s", what)
	if sel != "" {
		e.add(indent, "Targets: %s", sel)
	}
	switch {
	case instant:
		e.add(indent, "When:    at once; the action is instantaneous")
	case dur != "":
		e.add(indent, "When:    at once; held for %s, then reverted", dur)
	default:
		e.add(indent, "When:    at once; held until stopped (no duration), then reverted")
	}
}

func targets(s *v1alpha1.PodSelector, ns string) string {
	if s == nil {
		return ""
	}
	return fmt.Sprintf("%s of the %s", selector.DescribeMode(s.Mode, s.Value), selector.Describe(&s.Selector, ns))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// describeChaos returns what a chaos spec does, its targets, its duration
// and whether it is instantaneous.
func describeChaos(kind string, spec any, ns string) (what, sel, dur string, instant bool) {
	switch s := spec.(type) {
	case *v1alpha1.PodChaosSpec:
		sel, dur = targets(&s.PodSelector, ns), deref(s.Duration)
		switch s.Action {
		case v1alpha1.PodKill:
			what, instant = "kill the pods (SIGKILL"+grace(s.GracePeriod)+"); their controller or supervisor restarts them", true
		case v1alpha1.PodFailure:
			what = "make the pods unavailable (not ready, not serving), then restore them"
		case v1alpha1.ContainerKill:
			what, instant = fmt.Sprintf("kill container %s in each pod; it is restarted per its restart policy", strings.Join(s.ContainerNames, ", ")), true
		default:
			what = string(s.Action)
		}
	case *v1alpha1.NetworkChaosSpec:
		sel, dur = targets(&s.PodSelector, ns), deref(s.Duration)
		what = network(s)
	case *v1alpha1.StressChaosSpec:
		sel, dur = targets(&s.PodSelector, ns), deref(s.Duration)
		var parts []string
		if s.Stressors != nil && s.Stressors.CPU != nil {
			load := "full"
			if s.Stressors.CPU.Load != nil {
				load = fmt.Sprintf("%d%%", *s.Stressors.CPU.Load)
			}
			parts = append(parts, fmt.Sprintf("%d CPU worker(s) at %s load", s.Stressors.CPU.Workers, load))
		}
		if s.Stressors != nil && s.Stressors.Memory != nil {
			size := s.Stressors.Memory.Size
			if size == "" {
				size = "memory"
			}
			parts = append(parts, fmt.Sprintf("%d memory worker(s) holding %s", s.Stressors.Memory.Workers, size))
		}
		if s.StressngStressors != "" {
			parts = append(parts, "stress-ng "+s.StressngStressors)
		}
		what = "run " + strings.Join(parts, " and ") + " inside each pod, competing for its CPU and memory limits"
	case *v1alpha1.HTTPChaosSpec:
		sel, dur = targets(&s.PodSelector, ns), deref(s.Duration)
		what = httpChaos(s)
	case *v1alpha1.IOChaosSpec:
		sel, dur = targets(&s.PodSelector, ns), deref(s.Duration)
		what = ioChaos(s)
	case *v1alpha1.DNSChaosSpec:
		sel, dur = targets(&s.PodSelector, ns), deref(s.Duration)
		pat := "every name"
		if len(s.Patterns) > 0 {
			pat = strings.Join(s.Patterns, ", ")
		}
		if s.Action == v1alpha1.DNSRandom {
			what = "answer DNS queries for " + pat + " with random addresses"
		} else {
			what = "fail DNS queries for " + pat + " with an error"
		}
	case *v1alpha1.TimeChaosSpec:
		sel, dur = targets(&s.PodSelector, ns), deref(s.Duration)
		clocks := "CLOCK_REALTIME"
		if len(s.ClockIDs) > 0 {
			var cs []string
			for _, c := range s.ClockIDs {
				cs = append(cs, string(c))
			}
			clocks = strings.Join(cs, ", ")
		}
		what = fmt.Sprintf("shift the pods' clocks (%s) by %s", clocks, s.TimeOffset)
	case *v1alpha1.NodeChaosSpec:
		dur = deref(s.Duration)
		nodes := "nodes"
		if len(s.Selector.Nodes) > 0 {
			nodes = "nodes named " + strings.Join(s.Selector.Nodes, ", ")
		}
		if len(s.Selector.LabelSelectors) > 0 {
			nodes += " labelled " + kv(s.Selector.LabelSelectors)
		}
		sel = fmt.Sprintf("%s of the %s", selector.DescribeMode(s.Mode, s.Value), nodes)
		if s.Action == v1alpha1.NodeDrain {
			what = "drain the nodes: cordon them and evict their pods, which are rescheduled elsewhere; uncordon afterwards"
		} else {
			what = "take the nodes down: every pod on them dies, the nodes turn NotReady and their pods are rescheduled after the eviction delay; the nodes return afterwards"
		}
	case *v1alpha1.ScaleChaosSpec:
		dur = deref(s.Duration)
		target := "service " + s.Service
		if s.Workload != nil {
			target = fmt.Sprintf("%s %s", s.Workload.Kind, s.Workload.Name)
		}
		what = fmt.Sprintf("scale %s to %d replica(s), then back to its previous count", target, deref(s.Replicas))
	case *v1alpha1.ModelChaosSpec:
		sel, dur = targets(&s.PodSelector, ns), deref(s.Duration)
		switch s.Action {
		case v1alpha1.ModelStaleVersion:
			what = fmt.Sprintf("serve the stale model version %q on the pods", s.Version)
		case v1alpha1.ModelCorruptFile:
			what = "corrupt the model file the pods load (they must fail readiness, not serve garbage)"
		case v1alpha1.ModelSlowLoad:
			what = fmt.Sprintf("slow model loading by %s on the pods", s.Delay)
		default:
			what = string(s.Action)
		}
	default:
		what = kind + " (not explained)"
	}
	return what, sel, dur, instant
}

func grace(g int64) string {
	if g > 0 {
		return fmt.Sprintf(" after a %ds grace period", g)
	}
	return ""
}

func network(s *v1alpha1.NetworkChaosSpec) string {
	var effects []string
	if d := s.Delay; d != nil {
		x := "delay packets by " + d.Latency
		if d.Jitter != "" {
			x += " ± " + d.Jitter
		}
		if d.Correlation != "" {
			x += " (correlation " + d.Correlation + "%)"
		}
		if d.Reorder != nil {
			x += fmt.Sprintf(", reorder %s%% (gap %d)", d.Reorder.Reorder, d.Reorder.Gap)
		}
		effects = append(effects, x)
	}
	if l := s.Loss; l != nil {
		effects = append(effects, "drop "+l.Loss+"% of packets")
	}
	if d := s.Duplicate; d != nil {
		effects = append(effects, "duplicate "+d.Duplicate+"% of packets")
	}
	if c := s.Corrupt; c != nil {
		effects = append(effects, "corrupt "+c.Corrupt+"% of packets")
	}
	if b := s.Bandwidth; b != nil {
		effects = append(effects, fmt.Sprintf("limit bandwidth to %s (queue %d bytes, burst %d bytes)", b.Rate, b.Limit, b.Buffer))
	}
	if r := s.Rate; r != nil {
		effects = append(effects, "limit rate to "+r.Rate)
	}
	if s.Action == v1alpha1.NetworkPartition {
		effects = []string{"cut the network (partition)"}
	}
	if len(effects) == 0 {
		effects = []string{string(s.Action)}
	}
	peer := ""
	if s.Target != nil {
		peer = targets(s.Target, "")
	}
	if len(s.ExternalTargets) > 0 {
		if peer != "" {
			peer += " and "
		}
		peer += strings.Join(s.ExternalTargets, ", ")
	}
	dir := ""
	switch {
	case peer == "":
		dir = " on all their traffic"
	case s.Direction == v1alpha1.DirectionFrom:
		dir = " on traffic from " + peer + " to the pods"
	case s.Direction == v1alpha1.DirectionBoth:
		dir = " on traffic between the pods and " + peer + ", both ways"
	default:
		dir = " on traffic from the pods to " + peer
	}
	return strings.Join(effects, "; ") + dir
}

func httpChaos(s *v1alpha1.HTTPChaosSpec) string {
	match := fmt.Sprintf("%ss on port %d", strings.ToLower(string(s.Target)), s.Port)
	if p := deref(s.Path); p != "" {
		match += " path " + p
	}
	if m := deref(s.Method); m != "" {
		match += " method " + m
	}
	if s.Code != nil {
		match += fmt.Sprintf(" with status %d", *s.Code)
	}
	var acts []string
	if deref(s.Abort) {
		acts = append(acts, "abort the connection")
	}
	if d := deref(s.Delay); d != "" {
		acts = append(acts, "delay by "+d)
	}
	if r := s.Replace; r != nil {
		var parts []string
		if r.Code != nil {
			parts = append(parts, fmt.Sprintf("status %d", *r.Code))
		}
		if r.Path != nil {
			parts = append(parts, "path "+*r.Path)
		}
		if r.Method != nil {
			parts = append(parts, "method "+*r.Method)
		}
		if r.Body != "" {
			parts = append(parts, "body")
		}
		if len(r.Headers) > 0 {
			parts = append(parts, "headers")
		}
		if len(r.Queries) > 0 {
			parts = append(parts, "query")
		}
		acts = append(acts, "replace "+strings.Join(parts, ", "))
	}
	if p := s.Patch; p != nil {
		var parts []string
		if p.Body != nil {
			parts = append(parts, p.Body.Type+" body")
		}
		if len(p.Headers) > 0 {
			parts = append(parts, "headers")
		}
		if len(p.Queries) > 0 {
			parts = append(parts, "query")
		}
		acts = append(acts, "patch "+strings.Join(parts, ", "))
	}
	return strings.Join(acts, ", ") + " for " + match
}

func ioChaos(s *v1alpha1.IOChaosSpec) string {
	files := "files under " + s.VolumePath
	if s.Path != "" {
		files += " matching " + s.Path
	}
	if len(s.Methods) > 0 {
		files += " (" + strings.Join(s.Methods, ", ") + ")"
	}
	pct := "every"
	if s.Percent != nil {
		pct = fmt.Sprintf("%d%% of", *s.Percent)
	}
	switch s.Action {
	case v1alpha1.IOLatency:
		return fmt.Sprintf("delay %s operations on %s by %s", pct, files, s.Delay)
	case v1alpha1.IOFault:
		return fmt.Sprintf("fail %s operations on %s with errno %d", pct, files, s.Errno)
	case v1alpha1.IOAttrOverride:
		return fmt.Sprintf("report false attributes for %s", files)
	case v1alpha1.IOMistake:
		return fmt.Sprintf("corrupt data read or written by %s operations on %s", pct, files)
	}
	return string(s.Action)
}

func statusCheck(s *v1alpha1.StatusCheckSpec) string {
	if s.HTTP == nil {
		return "status check of type " + string(s.Type)
	}
	method := string(s.HTTP.Method)
	if method == "" {
		method = "GET"
	}
	every := "every 1s"
	if s.IntervalSeconds != nil {
		every = fmt.Sprintf("every %ds", *s.IntervalSeconds)
	}
	failAfter := 3
	if s.FailureThreshold != nil {
		failAfter = *s.FailureThreshold
	}
	mode := "Synchronous"
	if s.Mode != "" {
		mode = string(s.Mode)
	}
	out := fmt.Sprintf("%s status check: %s %s %s, expects status %s; fails after %d failure(s) in a row", mode, method, s.HTTP.URL, every, s.HTTP.Criteria.StatusCode, failAfter)
	if d := deref(s.Duration); d != "" {
		out += "; runs for " + d
	}
	return out
}

func (e *explainer) schedule(indent int, s *v1alpha1.ScheduleSpec, ns string) {
	policy := "Forbid"
	if s.ConcurrencyPolicy != "" {
		policy = string(s.ConcurrencyPolicy)
	}
	e.add(indent, "Schedule: %s; concurrency %s (%s)", cronText(s.Schedule), policy, concurrencyText(policy))
	if s.HistoryLimit != nil {
		e.add(indent, "History:  keeps the last %d run(s)", *s.HistoryLimit)
	}
	if s.StartingDeadlineSeconds != nil {
		e.add(indent, "Deadline: a run that cannot start within %ds of its time is skipped", *s.StartingDeadlineSeconds)
	}
	if s.Workflow != nil {
		e.add(indent, "Each run: Workflow with entry %s", s.Workflow.Entry)
		e.workflowTree(indent+1, s.Workflow, ns)
		return
	}
	kind, spec := s.EmbedChaos.Chaos()
	e.add(indent, "Each run: %s", kind)
	e.chaos(indent+1, kind, spec, ns)
}

func concurrencyText(p string) string {
	if p == "Allow" {
		return "runs may overlap"
	}
	return "a run is skipped while the previous one is still active"
}

func cronText(c string) string {
	c = strings.TrimSpace(c)
	if rest, ok := strings.CutPrefix(c, "@every "); ok {
		return "every " + strings.TrimSpace(rest)
	}
	switch c {
	case "@hourly":
		return "every hour (@hourly)"
	case "@daily", "@midnight":
		return "every day at midnight (" + c + ")"
	case "@weekly":
		return "every week (@weekly)"
	case "@monthly":
		return "every month (@monthly)"
	case "@yearly", "@annually":
		return "every year (" + c + ")"
	}
	return "on cron " + c
}

func (e *explainer) workflow(s *v1alpha1.WorkflowSpec, ns string) {
	e.add(1, "Entry: %s", s.Entry)
	e.workflowTree(1, s, ns)
}

func (e *explainer) workflowTree(indent int, s *v1alpha1.WorkflowSpec, ns string) {
	byName := map[string]*v1alpha1.Template{}
	for i := range s.Templates {
		byName[s.Templates[i].Name] = &s.Templates[i]
	}
	var walk func(name, prefix, branch string, onPath map[string]bool)
	walk = func(name, prefix, branch string, onPath map[string]bool) {
		t, ok := byName[name]
		if !ok {
			e.add(indent, "%s%s%s: (no such template)", prefix, branch, name)
			return
		}
		if onPath[name] {
			e.add(indent, "%s%s%s: (cycle)", prefix, branch, name)
			return
		}
		onPath[name] = true
		defer delete(onPath, name)
		head := fmt.Sprintf("%s%s%s: %s", prefix, branch, t.Name, t.Type)
		if d := deref(t.Deadline); d != "" {
			head += ", deadline " + d
		}
		head += " — " + templateText(t, ns)
		e.add(indent, "%s", head)
		childPrefix := prefix
		switch branch {
		case "├─ ":
			childPrefix += "│  "
		case "└─ ":
			childPrefix += "   "
		}
		children := t.Children
		var labels []string
		if t.Type == v1alpha1.TemplateTypeTask {
			children, labels = nil, nil
			for _, b := range t.ConditionalBranches {
				children = append(children, b.Target)
				expr := b.Expression
				if expr == "" {
					expr = "always"
				}
				labels = append(labels, "if "+expr+" → ")
			}
		}
		for i, c := range children {
			br := "├─ "
			if i == len(children)-1 {
				br = "└─ "
			}
			if labels != nil {
				br += labels[i]
			}
			walk(c, childPrefix, br, onPath)
		}
	}
	walk(s.Entry, "", "└─ ", map[string]bool{})
}

func templateText(t *v1alpha1.Template, ns string) string {
	switch t.Type {
	case v1alpha1.TemplateTypeSerial:
		return "runs its children one after another"
	case v1alpha1.TemplateTypeParallel:
		return "runs its children at the same time"
	case v1alpha1.TemplateTypeSuspend:
		return "waits " + deref(t.Deadline)
	case v1alpha1.TemplateTypeTask:
		if t.Task != nil && t.Task.Container != nil {
			return fmt.Sprintf("runs container %s (%s), then takes the first branch whose expression holds", t.Task.Container.Name, strings.Join(append(t.Task.Container.Command, t.Task.Container.Args...), " "))
		}
		return "runs a task"
	case v1alpha1.TemplateTypeStatusCheck:
		if t.StatusCheck != nil {
			s := statusCheck(t.StatusCheck)
			if t.AbortWithStatusCheck {
				s += "; a failure aborts the workflow"
			}
			return s
		}
	case v1alpha1.TemplateTypeSchedule:
		if t.Schedule != nil {
			kind, spec := t.Schedule.EmbedChaos.Chaos()
			what, sel, _, _ := describeChaos(kind, spec, ns)
			return fmt.Sprintf("%s: %s %s on %s", cronText(t.Schedule.Schedule), kind, what, sel)
		}
	}
	kind, spec := t.EmbedChaos.Chaos()
	if spec == nil {
		return string(t.Type)
	}
	what, sel, dur, _ := describeChaos(kind, spec, ns)
	out := what
	if sel != "" {
		out += " on " + sel
	}
	if dur != "" {
		out += ", for " + dur
	}
	return out
}

func (e *explainer) environment(s *v1alpha1.EnvironmentSpec) {
	if k := s.Kube; k != nil {
		orDefault := func(v, def string) string {
			if v == "" {
				return def
			}
			return v
		}
		e.add(1, "Kubernetes cluster: context %s, kubeconfig %s", orDefault(k.Context, "(current)"),
			orDefault(k.Kubeconfig, "($KUBECONFIG, ~/.kube/config, or in-cluster)"))
		e.add(1, "namespaces %s, each opted in with %s", strings.Join(k.Namespaces, ", "), orDefault(k.OptInAnnotation, "faultline.dev/chaos=enabled"))
		access := string(k.Access)
		if access == "" || k.Access == v1alpha1.KubeAccessAuto {
			access = "port-forward from outside the cluster, directly from inside (auto)"
		}
		e.add(1, "services reached by %s", access)
		caps := "no blast-radius cap"
		switch {
		case k.MaxPods > 0 && k.MaxPercent > 0:
			caps = fmt.Sprintf("faults refused above %d pods or %d%% of a workload", k.MaxPods, k.MaxPercent)
		case k.MaxPods > 0:
			caps = fmt.Sprintf("faults refused above %d pods", k.MaxPods)
		case k.MaxPercent > 0:
			caps = fmt.Sprintf("faults refused above %d%% of a workload", k.MaxPercent)
		}
		e.add(1, "%s", caps)
		return
	}
	ns := s.Namespace
	if ns == "" {
		ns = "default"
	}
	var nodes []string
	for _, n := range s.Nodes {
		nodes = append(nodes, n.Name)
	}
	if len(nodes) == 0 {
		nodes = []string{"one implicit node"}
	}
	e.add(1, "Local environment on this machine, namespace %s, nodes: %s", ns, strings.Join(nodes, ", "))
	evict := s.EvictionDelay
	if evict == "" {
		evict = "the default delay"
	}
	e.add(1, "When a node goes down its replicas are rescheduled after %s.", evict)
	for _, svc := range s.Services {
		reps := int32(1)
		if svc.Replicas != nil {
			reps = *svc.Replicas
		}
		line := fmt.Sprintf("Service %s: %d replica(s) of `%s`", svc.Name, reps, strings.Join(append(append([]string{}, svc.Command...), svc.Args...), " "))
		if len(svc.DependsOn) > 0 {
			line += ", depends on " + strings.Join(svc.DependsOn, ", ")
		}
		e.add(1, "%s", line)
		if svc.RestartPolicy != "" {
			e.add(2, "restart policy %s", svc.RestartPolicy)
		}
		if len(svc.Sidecars) > 0 {
			var names []string
			for _, c := range svc.Sidecars {
				names = append(names, c.Name)
			}
			e.add(2, "sidecar containers: %s", strings.Join(names, ", "))
		}
	}
}

func (e *explainer) experiment(s *v1alpha1.ExperimentSpec, ns string) {
	if env := s.Environment; env != nil {
		switch {
		case env.Attach:
			name := env.Name
			if name == "" {
				name = env.File
			}
			e.add(1, "Environment: attach to the running environment %s", name)
		case env.File != "":
			e.add(1, "Environment: %s, started for the run and stopped after it", env.File)
		default:
			e.add(1, "Environment: inline, started for the run and stopped after it")
		}
	}
	base := durOr(s.Phases.Baseline, v1alpha1.DefaultBaselinePhase)
	fault := durOr(s.Phases.Fault, "0s")
	rec := durOr(s.Phases.Recovery, v1alpha1.DefaultRecoveryPhase)
	total := base + fault + rec
	e.add(1, "Timeline (%s in all):", total)
	e.add(2, "%-16s baseline: steady state, no faults", span(0, base))
	e.add(2, "%-16s fault:", span(base, base+fault))
	type item struct {
		at   time.Duration
		text string
	}
	var items []item
	for _, f := range s.Faults {
		at := durOr(f.At, "0s")
		kind, spec := f.EmbedChaos.Chaos()
		text := ""
		if f.File != "" {
			text = "the fault in " + f.File
		} else {
			what, sel, dur, _ := describeChaos(kind, spec, ns)
			text = kind + ": " + what
			if sel != "" {
				text += " on " + sel
			}
			if dur != "" {
				text += ", for " + dur
			}
		}
		name := f.Name
		if name == "" {
			name = kind
		}
		items = append(items, item{at, fmt.Sprintf("at +%s (t=%s) %s — %s", at, base+at, name, text)})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at < items[j].at })
	for _, it := range items {
		e.add(3, "%s", it.text)
	}
	if w := s.Workflow; w != nil {
		if w.File != "" {
			e.add(3, "the workflow in %s, from the start of the phase", w.File)
		} else {
			e.add(3, "Workflow, entry %s:", w.Entry)
			e.workflowTree(4, &w.WorkflowSpec, ns)
		}
	}
	for _, sc := range s.Schedules {
		if sc.File != "" {
			e.add(3, "schedule %s from %s", sc.Name, sc.File)
			continue
		}
		e.add(3, "schedule %s:", sc.Name)
		e.schedule(4, &sc.ScheduleSpec, ns)
	}
	e.add(3, "every fault still active when the phase ends is reverted then")
	e.add(2, "%-16s recovery: no faults; recovery time is measured from each revert", span(base+fault, total))
	if l := s.Load; l != nil {
		rate := ""
		switch {
		case l.Ramp != nil:
			rate = fmt.Sprintf("ramping from %g to %g requests/s", l.Ramp.From, l.Ramp.To)
			if l.Ramp.Over != "" {
				rate += " over " + l.Ramp.Over
			}
		case l.Rate != nil:
			rate = fmt.Sprintf("%g requests/s", *l.Rate)
		}
		method := l.Method
		if method == "" {
			method = "GET"
			if l.Inference != nil || l.Body != "" || l.BodyFile != "" || len(l.Bodies) > 0 {
				method = "POST"
			}
		}
		what := method + " " + l.Target + l.Path
		if l.Inference != nil {
			what = fmt.Sprintf("inference requests (Open Inference Protocol) for model %s at %s", l.Inference.Model, l.Target)
		}
		e.add(1, "Load: open loop, %s, %s; latency is measured from each request's scheduled send time", rate, what)
	}
	for _, p := range s.Probes {
		mode := string(p.Mode)
		if mode == "" {
			mode = "Continuous"
		}
		line := fmt.Sprintf("Probe %s: %s, %s", p.Name, p.Type, modeText(mode))
		if p.StopOnFailure {
			line += "; a failure aborts the run and reverts every fault (exit 3)"
		}
		e.add(1, "%s", line)
	}
	for _, slo := range s.SLOs {
		e.add(1, "SLO %s: %s", slo.Name, sloText(slo))
	}
	if s.Repeat != nil && *s.Repeat > 1 {
		e.add(1, "Repeated %d times; the report gives mean and spread.", *s.Repeat)
	}
}

func modeText(mode string) string {
	switch mode {
	case "SOT":
		return "checked once at the start of the run"
	case "EOT":
		return "checked once at the end of the run"
	case "Edge":
		return "checked at the start and at the end"
	case "OnChaos":
		return "checked repeatedly while faults are active"
	}
	return "checked repeatedly through the whole run"
}

func sloText(s v1alpha1.SLO) string {
	phase := string(s.Phase)
	switch phase {
	case "":
		phase = "every phase"
	case "all":
		phase = "the whole run"
	default:
		phase = "the " + phase + " phase"
	}
	metric := string(s.Metric)
	if s.Percentile != "" {
		metric = s.Percentile + " " + metric
	}
	var bounds []string
	if s.Min != nil {
		bounds = append(bounds, fmt.Sprintf("≥ %g", *s.Min))
	}
	if s.Max != nil {
		bounds = append(bounds, fmt.Sprintf("≤ %g", *s.Max))
	}
	if s.MinDuration != "" {
		bounds = append(bounds, "≥ "+s.MinDuration)
	}
	if s.MaxDuration != "" {
		bounds = append(bounds, "≤ "+s.MaxDuration)
	}
	out := fmt.Sprintf("%s %s in %s", metric, strings.Join(bounds, " and "), phase)
	if s.Probe != "" {
		out += " (from probe " + s.Probe + ")"
	}
	return out
}

func durOr(s, def string) time.Duration {
	if s == "" {
		s = def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}

func span(from, to time.Duration) string {
	return fmt.Sprintf("%s – %s", from, to)
}

func kv(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}
