package manifest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// This file holds the rules of Chaos Mesh's orchestration kinds: Workflow,
// Schedule, StatusCheck, and the chaos specs they embed.

// --- embedded chaos ---------------------------------------------------------

// validateEmbedChaos checks the chaos embedded in a Workflow template or a
// Schedule: the spec named by chaosType (a kind such as "PodChaos") is set
// and valid, and nothing else is set. p is the object EmbedChaos is inlined
// into. A chaosType that is not a supported chaos kind is the caller's to
// report; here only the embedded fields are checked then.
func validateEmbedChaos(p Path, e *v1alpha1.EmbedChaos, chaosType string, ps *Problems) {
	if e == nil {
		e = &v1alpha1.EmbedChaos{}
	}
	rejectUnsupportedChaos(p, e, ps)
	field, ok := v1alpha1.EmbedChaosField(chaosType)
	if !ok {
		return
	}
	found := false
	for _, c := range e.SetChaos() {
		if !c.Supported {
			continue
		}
		if c.Kind != chaosType {
			ps.Add(p.Child(c.Field), fmt.Sprintf("%s is set, but the type is %s", c.Field, chaosType),
				fmt.Sprintf("remove %s: a %s runs only %s", c.Field, chaosType, field))
			continue
		}
		found = true
		validateChaosSpec(p.Child(c.Field), c.Spec, ps)
	}
	if !found {
		ps.Add(p.Child(field), fmt.Sprintf("type %s needs its spec in %s", chaosType, field),
			fmt.Sprintf("add %s: with the %s spec (selector, mode, action, ...)", field, chaosType))
	}
}

// validateChaosSpec dispatches to the validator of a spec's kind.
func validateChaosSpec(p Path, spec any, ps *Problems) {
	switch s := spec.(type) {
	case *v1alpha1.PodChaosSpec:
		validatePodChaosSpec(p, s, ps)
	case *v1alpha1.NetworkChaosSpec:
		validateNetworkChaosSpec(p, s, ps)
	case *v1alpha1.StressChaosSpec:
		validateStressChaosSpec(p, s, ps)
	case *v1alpha1.HTTPChaosSpec:
		validateHTTPChaosSpec(p, s, ps)
	case *v1alpha1.IOChaosSpec:
		validateIOChaosSpec(p, s, ps)
	case *v1alpha1.DNSChaosSpec:
		validateDNSChaosSpec(p, s, ps)
	case *v1alpha1.TimeChaosSpec:
		validateTimeChaosSpec(p, s, ps)
	case *v1alpha1.NodeChaosSpec:
		validateNodeChaosSpec(p, s, ps)
	case *v1alpha1.ScaleChaosSpec:
		validateScaleChaosSpec(p, s, ps)
	case *v1alpha1.ModelChaosSpec:
		validateModelChaosSpec(p, s, ps)
	}
}

// rejectUnsupportedChaos reports Chaos Mesh kinds that decode but that
// faultline cannot run (AWSChaos, JVMChaos, ...).
func rejectUnsupportedChaos(p Path, e *v1alpha1.EmbedChaos, ps *Problems) {
	for _, c := range e.SetChaos() {
		if !c.Supported {
			ps.Add(p.Child(c.Field), fmt.Sprintf("%s (%s) is not supported by faultline", c.Field, c.Kind), supportedChaosHint())
		}
	}
}

func supportedChaosHint() string {
	return "faultline runs " + strings.Join(v1alpha1.SupportedEmbedKinds(), ", ") + "; remove it or use one of those"
}

// checkChaosType reports an empty type, a Chaos Mesh kind faultline does not
// support, or an unknown value; it returns whether t is one of allowed.
func checkChaosType(p Path, t string, allowed []string, ps *Problems) bool {
	if t == "" {
		ps.Required(p, "valid values: "+strings.Join(allowed, ", "))
		return false
	}
	for _, u := range v1alpha1.UnsupportedEmbedKinds() {
		if t == u {
			ps.Add(p, fmt.Sprintf("%s is a Chaos Mesh kind faultline does not support", t), supportedChaosHint())
			return false
		}
	}
	return validateEnum(p, t, allowed, ps)
}

// --- Workflow ---------------------------------------------------------------

var templateTypes = enumValues(v1alpha1.TemplateTypeSerial, v1alpha1.TemplateTypeParallel, v1alpha1.TemplateTypeSuspend,
	v1alpha1.TemplateTypeTask, v1alpha1.TemplateTypeStatusCheck, v1alpha1.TemplateTypeSchedule,
	v1alpha1.TemplateTypePodChaos, v1alpha1.TemplateTypeNetworkChaos, v1alpha1.TemplateTypeStressChaos,
	v1alpha1.TemplateTypeHTTPChaos, v1alpha1.TemplateTypeIOChaos, v1alpha1.TemplateTypeDNSChaos,
	v1alpha1.TemplateTypeTimeChaos, v1alpha1.TemplateTypeNodeChaos, v1alpha1.TemplateTypeScaleChaos,
	v1alpha1.TemplateTypeModelChaos)

func validateWorkflowSpec(p Path, s *v1alpha1.WorkflowSpec, ps *Problems) {
	if s == nil {
		return
	}
	tp := p.Child("templates")
	if len(s.Templates) == 0 {
		ps.Add(tp, "a workflow needs at least one template",
			"add templates, e.g. templates: [{name: pause, templateType: Suspend, deadline: 10s}]")
	}
	// index maps each name to its first template; later duplicates are errors.
	index := map[string]int{}
	var names []string
	for i, t := range s.Templates {
		if t.Name == "" {
			continue
		}
		if first, dup := index[t.Name]; dup {
			ps.Add(tp.Index(i).Child("name"), fmt.Sprintf("template name %q is already used by templates[%d]", t.Name, first),
				"give every template a unique name")
			continue
		}
		index[t.Name] = i
		names = append(names, t.Name)
	}
	ref := func(rp Path, name, what string) {
		if name == "" {
			ps.Add(rp, "empty template name in "+what, "write the name of a template of this workflow")
			return
		}
		if _, ok := index[name]; ok {
			return
		}
		hint := "valid names: " + strings.Join(names, ", ")
		if len(names) == 0 {
			hint = fmt.Sprintf("add a template named %q", name)
		}
		if sg := suggest(name, names); sg != "" {
			hint = fmt.Sprintf("did you mean %q? %s", sg, hint)
		}
		ps.Add(rp, fmt.Sprintf("no template is named %q", name), hint)
	}
	if s.Entry == "" {
		ps.Required(p.Child("entry"), "write the name of the template to start with, e.g. entry: "+firstOr(names, "the-entry"))
	} else {
		ref(p.Child("entry"), s.Entry, "entry")
	}
	for i := range s.Templates {
		ip := tp.Index(i)
		t := &s.Templates[i]
		validateTemplate(ip, t, ps)
		for j, c := range t.Children {
			ref(ip.Child("children").Index(j), c, "children")
		}
		for j, b := range t.ConditionalBranches {
			bp := ip.Child("conditionalBranches").Index(j)
			if b.Target == "" {
				ps.Required(bp.Child("target"), "write the name of the template this branch starts")
			} else {
				ref(bp.Child("target"), b.Target, "target")
			}
		}
	}
	checkWorkflowCycles(tp, s.Templates, index, ps)
	if _, ok := index[s.Entry]; ok {
		reach := reachable(s.Templates, index, s.Entry)
		for i, t := range s.Templates {
			if t.Name != "" && index[t.Name] == i && !reach[t.Name] {
				ps.Warn(tp.Index(i).Child("name"), fmt.Sprintf("template %q never runs: entry %q does not lead to it", t.Name, s.Entry),
					"list it in the children or conditionalBranches of a template that runs, or remove it")
			}
		}
	}
}

// templateUses says which template types use each optional field.
var templateUses = []struct {
	field string
	types []v1alpha1.TemplateType
	set   func(t *v1alpha1.Template) bool
}{
	{"children", []v1alpha1.TemplateType{v1alpha1.TemplateTypeSerial, v1alpha1.TemplateTypeParallel},
		func(t *v1alpha1.Template) bool { return len(t.Children) > 0 }},
	{"task", []v1alpha1.TemplateType{v1alpha1.TemplateTypeTask}, func(t *v1alpha1.Template) bool { return t.Task != nil }},
	{"conditionalBranches", []v1alpha1.TemplateType{v1alpha1.TemplateTypeTask},
		func(t *v1alpha1.Template) bool { return len(t.ConditionalBranches) > 0 }},
	{"schedule", []v1alpha1.TemplateType{v1alpha1.TemplateTypeSchedule}, func(t *v1alpha1.Template) bool { return t.Schedule != nil }},
	{"statusCheck", []v1alpha1.TemplateType{v1alpha1.TemplateTypeStatusCheck}, func(t *v1alpha1.Template) bool { return t.StatusCheck != nil }},
	{"abortWithStatusCheck", []v1alpha1.TemplateType{v1alpha1.TemplateTypeStatusCheck},
		func(t *v1alpha1.Template) bool { return t.AbortWithStatusCheck }},
}

// validateTemplate checks one template on its own; references to other
// templates are checked by validateWorkflowSpec.
func validateTemplate(p Path, t *v1alpha1.Template, ps *Problems) {
	if t.Name == "" {
		ps.Required(p.Child("name"), "write a unique lower-case name, e.g. name: inject-delay")
	} else {
		checkDNSSubdomain(p.Child("name"), t.Name, ps)
	}
	validateDuration(p.Child("deadline"), t.Deadline, false, false, ps)
	typ := t.Type
	if !checkChaosType(p.Child("templateType"), string(typ), templateTypes, ps) {
		rejectUnsupportedChaos(p, &t.EmbedChaos, ps)
		return
	}

	// Fields the type does not use. Upstream's webhook refuses most of
	// these; a stray field is almost always a wrong templateType.
	for _, u := range templateUses {
		if !u.set(t) || containsType(u.types, typ) {
			continue
		}
		ps.Add(p.Child(u.field), fmt.Sprintf("%s is not used by a %s template", u.field, typ),
			fmt.Sprintf("remove %s, or set templateType: %s", u.field, joinTypes(u.types)))
	}
	if !typ.IsChaos() {
		rejectUnsupportedChaos(p, &t.EmbedChaos, ps)
		for _, c := range t.EmbedChaos.SetChaos() {
			if c.Supported {
				ps.Add(p.Child(c.Field), fmt.Sprintf("%s is not used by a %s template", c.Field, typ),
					fmt.Sprintf("remove %s, or set templateType: %s", c.Field, c.Kind))
			}
		}
	}

	switch typ {
	case v1alpha1.TemplateTypeSerial, v1alpha1.TemplateTypeParallel:
		if len(t.Children) == 0 {
			ps.Add(p.Child("children"), fmt.Sprintf("a %s template needs children", typ),
				"list the templates to run, e.g. children: [inject-delay, pause]")
		}
	case v1alpha1.TemplateTypeSuspend:
		if t.Deadline == nil || *t.Deadline == "" {
			ps.Add(p.Child("deadline"), "a Suspend template needs a deadline: how long to wait", "write deadline: 30s")
		}
	case v1alpha1.TemplateTypeTask:
		validateTask(p, t, ps)
	case v1alpha1.TemplateTypeStatusCheck:
		if t.StatusCheck == nil {
			ps.Add(p.Child("statusCheck"), "a StatusCheck template needs statusCheck",
				"write statusCheck: {type: HTTP, http: {url: http://web/healthz, criteria: {statusCode: \"200\"}}}")
			break
		}
		bounded := t.Deadline != nil && *t.Deadline != ""
		validateStatusCheck(p.Child("statusCheck"), t.StatusCheck, bounded, ps)
	case v1alpha1.TemplateTypeSchedule:
		if t.Schedule == nil {
			ps.Add(p.Child("schedule"), "a Schedule template needs schedule",
				`write schedule: {schedule: "@every 30s", type: PodChaos, podChaos: {...}}`)
			break
		}
		validateChaosOnlySchedule(p.Child("schedule"), t.Schedule, false, ps)
		if t.Deadline == nil || *t.Deadline == "" {
			ps.Warn(p.Child("deadline"), "a Schedule template without deadline keeps scheduling until the workflow is stopped",
				"write deadline: 10m")
		}
	default: // a chaos kind
		validateEmbedChaos(p, &t.EmbedChaos, string(typ), ps)
		spec, ok := t.EmbedChaos.Get(string(typ))
		if !ok {
			break
		}
		field, _ := v1alpha1.EmbedChaosField(string(typ))
		if d, ok := spec.(interface{ GetDuration() *string }); ok && d.GetDuration() != nil && *d.GetDuration() != "" {
			// Chaos Mesh refuses this: the template's deadline is the one
			// bound of a chaos step.
			ps.Add(p.Child(field).Child("duration"), "a chaos template in a Workflow takes no duration",
				"remove duration and set the template's deadline, e.g. deadline: 30s")
		}
		if (t.Deadline == nil || *t.Deadline == "") && !isOneShot(spec) {
			ps.Warn(p.Child("deadline"), "this chaos template has no deadline: the fault lasts until the workflow is stopped",
				"write deadline: 30s")
		}
	}
}

// isOneShot reports chaos that acts once and has nothing to hold.
func isOneShot(spec any) bool {
	pc, ok := spec.(*v1alpha1.PodChaosSpec)
	return ok && (pc.Action == v1alpha1.PodKill || pc.Action == v1alpha1.ContainerKill)
}

func validateTask(p Path, t *v1alpha1.Template, ps *Problems) {
	if t.Task == nil || t.Task.Container == nil {
		ps.Add(p.Child("task").Child("container"), "a Task template needs task.container",
			"write task: {container: {name: check, image: busybox, command: [sh, -c, 'exit 0']}}")
	} else {
		c := t.Task.Container
		cp := p.Child("task").Child("container")
		if c.Name == "" {
			ps.Required(cp.Child("name"), "write a container name, e.g. name: check")
		} else {
			checkDNSLabel(cp.Child("name"), c.Name, ps)
		}
		if c.Image == "" && len(c.Command) == 0 {
			ps.Add(cp, "the task container has neither image nor command", "write image: busybox and command: [...]")
		}
		validateEnum(cp.Child("imagePullPolicy"), string(c.ImagePullPolicy),
			enumValues(v1alpha1.PullAlways, v1alpha1.PullNever, v1alpha1.PullIfNotPresent), ps)
		for i, e := range c.Env {
			if e.Name == "" {
				ps.Required(cp.Child("env").Index(i).Child("name"), "write the variable's name")
			}
		}
	}
	if t.Task != nil {
		checkLabelMap(p.Child("task").Child("labels"), t.Task.Labels, true, ps)
	}
	for i, b := range t.ConditionalBranches {
		ep := p.Child("conditionalBranches").Index(i).Child("expression")
		if strings.TrimSpace(b.Expression) == "" {
			ps.Warn(ep, "a branch without expression is always taken",
				`write a condition on exitCode, stdout or stderr, e.g. expression: "exitCode == 0"`)
			continue
		}
		if err := checkExpressionSyntax(b.Expression); err != nil {
			ps.Add(ep, err.Error(), `write a condition such as 'exitCode == 0 && stdout == "ok"'`)
		}
	}
}

// checkExpressionSyntax catches what breaks any expression: unbalanced
// quotes and brackets. Chaos Mesh evaluates the full language (expr) at run
// time; this catches the typos before the run.
func checkExpressionSyntax(expr string) error {
	var stack []rune
	var quote rune
	escaped := false
	for _, r := range expr {
		if quote != 0 {
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == quote:
				quote = 0
			}
			continue
		}
		switch r {
		case '"', '\'', '`':
			quote = r
		case '(', '[', '{':
			stack = append(stack, r)
		case ')', ']', '}':
			open := map[rune]rune{')': '(', ']': '[', '}': '{'}[r]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return fmt.Errorf("unbalanced %q in expression", string(r))
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != 0 {
		return fmt.Errorf("unterminated string (%c) in expression", quote)
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q in expression", string(stack[len(stack)-1]))
	}
	return nil
}

// checkWorkflowCycles reports every cycle of the template graph (children
// and conditional branches) once, at the reference that closes it.
func checkWorkflowCycles(tp Path, ts []v1alpha1.Template, index map[string]int, ps *Problems) {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(ts))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, e := range templateEdges(tp.Index(i), &ts[i]) {
			j, ok := index[e.target]
			if !ok {
				continue
			}
			switch color[j] {
			case grey:
				var names []string
				for k := len(stack) - 1; k >= 0; k-- {
					if stack[k] == j {
						for _, s := range stack[k:] {
							names = append(names, ts[s].Name)
						}
						break
					}
				}
				names = append(names, ts[j].Name)
				ps.Add(e.path, "templates form a cycle: "+strings.Join(names, " -> "),
					"a template cannot run itself, directly or through its children; remove one of these references")
			case white:
				visit(j)
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i, t := range ts {
		if t.Name != "" && index[t.Name] == i && color[i] == white {
			visit(i)
		}
	}
}

type templateEdge struct {
	target string
	path   Path
}

func templateEdges(p Path, t *v1alpha1.Template) []templateEdge {
	var es []templateEdge
	for j, c := range t.Children {
		es = append(es, templateEdge{c, p.Child("children").Index(j)})
	}
	for j, b := range t.ConditionalBranches {
		es = append(es, templateEdge{b.Target, p.Child("conditionalBranches").Index(j).Child("target")})
	}
	return es
}

func reachable(ts []v1alpha1.Template, index map[string]int, entry string) map[string]bool {
	seen := map[string]bool{entry: true}
	queue := []string{entry}
	for len(queue) > 0 {
		i, ok := index[queue[0]]
		queue = queue[1:]
		if !ok {
			continue
		}
		for _, e := range templateEdges("", &ts[i]) {
			if !seen[e.target] {
				seen[e.target] = true
				queue = append(queue, e.target)
			}
		}
	}
	return seen
}

func containsType(ts []v1alpha1.TemplateType, t v1alpha1.TemplateType) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func joinTypes(ts []v1alpha1.TemplateType) string {
	return strings.Join(enumValues(ts...), " or ")
}

func firstOr(names []string, def string) string {
	if len(names) > 0 {
		return names[0]
	}
	return def
}

// --- Schedule ---------------------------------------------------------------

var concurrencyPolicies = enumValues(v1alpha1.ConcurrencyForbid, v1alpha1.ConcurrencyAllow)

func validateScheduleSpec(p Path, s *v1alpha1.ScheduleSpec, ps *Problems) {
	if s == nil {
		return
	}
	validateChaosOnlySchedule(p, &s.ChaosOnlyScheduleSpec, true, ps)
	wp := p.Child("workflow")
	switch {
	case s.Type == v1alpha1.ScheduleTypeWorkflow && s.Workflow == nil:
		ps.Add(wp, "type Workflow needs workflow", "add workflow: {entry: ..., templates: [...]}")
	case s.Type == v1alpha1.ScheduleTypeWorkflow:
		validateWorkflowSpec(wp, s.Workflow, ps)
	case s.Workflow != nil:
		ps.Add(wp, "workflow is only used when type is Workflow", "remove workflow, or set type: Workflow")
	}
}

// validateChaosOnlySchedule checks a schedule; allowWorkflow is false inside
// a Workflow template, where Chaos Mesh cannot nest a workflow.
func validateChaosOnlySchedule(p Path, s *v1alpha1.ChaosOnlyScheduleSpec, allowWorkflow bool, ps *Problems) {
	if s == nil {
		return
	}
	checkCron(p.Child("schedule"), s.Schedule, ps)
	if s.StartingDeadlineSeconds != nil && *s.StartingDeadlineSeconds < 0 {
		ps.Add(p.Child("startingDeadlineSeconds"), fmt.Sprintf("startingDeadlineSeconds %d is negative", *s.StartingDeadlineSeconds),
			"write a number of seconds, 0 or more, or remove it for no limit")
	}
	validateEnum(p.Child("concurrencyPolicy"), string(s.ConcurrencyPolicy), concurrencyPolicies, ps)
	if s.HistoryLimit != nil && *s.HistoryLimit < 1 {
		ps.Add(p.Child("historyLimit"), fmt.Sprintf("historyLimit %d is less than 1", *s.HistoryLimit),
			"write how many finished runs to keep, at least 1, e.g. historyLimit: 5")
	}

	allowed := v1alpha1.SupportedEmbedKinds()
	if allowWorkflow {
		allowed = append(allowed, string(v1alpha1.ScheduleTypeWorkflow))
	}
	tp := p.Child("type")
	switch {
	case s.Type == v1alpha1.ScheduleTypeWorkflow && !allowWorkflow:
		ps.Add(tp, "a Schedule template inside a Workflow cannot schedule a Workflow",
			"schedule a chaos kind, e.g. type: PodChaos with podChaos: {...}")
		rejectUnsupportedChaos(p, &s.EmbedChaos, ps)
	case s.Type == v1alpha1.ScheduleTypeWorkflow:
		rejectUnsupportedChaos(p, &s.EmbedChaos, ps)
		for _, c := range s.EmbedChaos.SetChaos() {
			if c.Supported {
				ps.Add(p.Child(c.Field), fmt.Sprintf("%s is not used when type is Workflow", c.Field),
					fmt.Sprintf("remove %s, or set type: %s", c.Field, c.Kind))
			}
		}
	case checkChaosType(tp, string(s.Type), allowed, ps):
		validateEmbedChaos(p, &s.EmbedChaos, string(s.Type), ps)
	default:
		rejectUnsupportedChaos(p, &s.EmbedChaos, ps)
	}
}

// cronParser accepts what Chaos Mesh accepts: five fields, six with leading
// seconds, descriptors (@hourly) and @every.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a Schedule's cron expression exactly as validation does,
// so that the runner schedules what validation accepted.
func ParseCron(expr string) (sched cron.Schedule, err error) {
	// robfig/cron v3.0.1 panics on some malformed input (e.g. "TZ=UTC"
	// without a space); a bad manifest must never crash faultline.
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("malformed cron expression %q", expr)
		}
	}()
	e := strings.TrimSpace(expr)
	if rest, ok := strings.CutPrefix(e, "@every "); ok {
		d, derr := time.ParseDuration(strings.TrimSpace(rest))
		if derr != nil {
			return nil, fmt.Errorf("@every needs a duration, not %q", strings.TrimSpace(rest))
		}
		if d <= 0 {
			return nil, fmt.Errorf("@every needs a positive duration, not %s", rest)
		}
	}
	return cronParser.Parse(e)
}

func checkCron(p Path, expr string, ps *Problems) {
	const hint = `write five cron fields ("*/5 * * * *"), a descriptor ("@hourly", "@daily") or "@every 10m"`
	if strings.TrimSpace(expr) == "" {
		ps.Required(p, hint)
		return
	}
	if _, err := ParseCron(expr); err != nil {
		ps.Add(p, fmt.Sprintf("%q is not a cron schedule: %v", expr, err), hint)
		return
	}
	if rest, ok := strings.CutPrefix(strings.TrimSpace(expr), "@every "); ok {
		if d, _ := time.ParseDuration(strings.TrimSpace(rest)); d%time.Second != 0 {
			ps.Warn(p, fmt.Sprintf("@every %s is rounded to whole seconds", strings.TrimSpace(rest)),
				"write a whole number of seconds, e.g. @every 2s")
		}
	}
}

// --- StatusCheck ------------------------------------------------------------

var (
	statusCheckModes   = enumValues(v1alpha1.StatusCheckSynchronous, v1alpha1.StatusCheckContinuous)
	statusCheckTypes   = enumValues(v1alpha1.StatusCheckHTTP)
	statusCheckMethods = enumValues(v1alpha1.StatusCheckGet, v1alpha1.StatusCheckPost)
)

// validateStatusCheckSpec checks a StatusCheck object.
func validateStatusCheckSpec(p Path, s *v1alpha1.StatusCheckSpec, ps *Problems) {
	validateStatusCheck(p, s, false, ps)
}

// validateStatusCheck checks a status check; bounded is true when something
// outside it (a workflow deadline) ends it.
func validateStatusCheck(p Path, s *v1alpha1.StatusCheckSpec, bounded bool, ps *Problems) {
	if s == nil {
		return
	}
	validateEnum(p.Child("mode"), string(s.Mode), statusCheckModes, ps)
	validateEnum(p.Child("type"), string(s.Type), statusCheckTypes, ps)
	validateDuration(p.Child("duration"), s.Duration, false, false, ps)
	for _, f := range []struct {
		name    string
		v       *int
		max     int
		example string
	}{
		{"timeoutSeconds", s.TimeoutSeconds, 0, "timeoutSeconds: 1"},
		{"intervalSeconds", s.IntervalSeconds, 0, "intervalSeconds: 10"},
		{"failureThreshold", s.FailureThreshold, 0, "failureThreshold: 3"},
		{"successThreshold", s.SuccessThreshold, 0, "successThreshold: 1"},
		{"recordsHistoryLimit", s.RecordsHistoryLimit, 1000, "recordsHistoryLimit: 100"},
	} {
		switch {
		case f.v == nil:
		case *f.v < 1:
			ps.Add(p.Child(f.name), fmt.Sprintf("%s %d is less than 1", f.name, *f.v), "write at least 1, e.g. "+f.example)
		case f.max > 0 && *f.v > f.max:
			ps.Add(p.Child(f.name), fmt.Sprintf("%s %d is more than %d", f.name, *f.v, f.max), fmt.Sprintf("write 1 to %d, e.g. %s", f.max, f.example))
		}
	}
	continuous := s.Mode == v1alpha1.StatusCheckContinuous
	if continuous && s.SuccessThreshold != nil {
		ps.Warn(p.Child("successThreshold"), "successThreshold is only used in Synchronous mode",
			"remove successThreshold, or use mode: Synchronous")
	}
	if continuous && !bounded && (s.Duration == nil || *s.Duration == "") {
		ps.Warn(p.Child("duration"), "a Continuous status check without duration runs until it fails",
			"write duration: 5m")
	}
	if s.Type == "" || s.Type == v1alpha1.StatusCheckHTTP {
		if s.HTTP == nil {
			ps.Add(p.Child("http"), "a status check of type HTTP needs http",
				`write http: {url: "http://web:8080/healthz", criteria: {statusCode: "200"}}`)
			return
		}
		validateHTTPStatusCheck(p.Child("http"), s.HTTP, ps)
	}
}

func validateHTTPStatusCheck(p Path, h *v1alpha1.HTTPStatusCheck, ps *Problems) {
	up := p.Child("url")
	if h.URL == "" {
		ps.Required(up, "write the URL to probe, e.g. url: http://web.default.svc:8080/healthz")
	} else if u, err := url.ParseRequestURI(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add(up, fmt.Sprintf("%q is not an absolute http(s) URL", h.URL), "write e.g. http://web.default.svc:8080/healthz")
	}
	validateEnum(p.Child("method"), string(h.Method), statusCheckMethods, ps)
	for _, k := range sortedKeys(h.Headers) {
		checkHeaderName(p.Child("headers").Key(k), k, ps)
	}
	if h.Body != "" && (h.Method == "" || h.Method == v1alpha1.StatusCheckGet) {
		ps.Warn(p.Child("body"), "a GET request with a body; many servers ignore it", "use method: POST, or remove body")
	}
	checkStatusCodeCriteria(p.Child("criteria").Child("statusCode"), h.Criteria.StatusCode, ps)
}

// checkStatusCodeCriteria accepts one code ("200") or an inclusive range
// ("200-399"), as Chaos Mesh does.
func checkStatusCodeCriteria(p Path, c string, ps *Problems) {
	const hint = `write a code such as "200" or an inclusive range such as "200-399"`
	if c == "" {
		ps.Required(p, hint)
		return
	}
	code := func(s string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		return n, err == nil && n >= 100 && n <= 599
	}
	lo, hi, isRange := strings.Cut(c, "-")
	if !isRange {
		if _, ok := code(c); !ok {
			ps.Add(p, fmt.Sprintf("%q is not an HTTP status code", c), hint)
		}
		return
	}
	a, okA := code(lo)
	b, okB := code(hi)
	switch {
	case !okA || !okB:
		ps.Add(p, fmt.Sprintf("%q is not a range of HTTP status codes", c), hint)
	case a > b:
		ps.Add(p, fmt.Sprintf("range %q starts after it ends", c), fmt.Sprintf(`write "%d-%d"`, b, a))
	}
}
