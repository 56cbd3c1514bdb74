package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

var (
	flNodeActions  = []string{string(v1alpha1.NodeDown), string(v1alpha1.NodeDrain)}
	flModes        = []string{string(v1alpha1.ModeOne), string(v1alpha1.ModeAll), string(v1alpha1.ModeFixed), string(v1alpha1.ModeFixedPercent), string(v1alpha1.ModeRandomMaxPercent)}
	flLabelOps     = []string{string(v1alpha1.LabelOpIn), string(v1alpha1.LabelOpNotIn), string(v1alpha1.LabelOpExists), string(v1alpha1.LabelOpDoesNotExist)}
	flWorkloads    = []string{string(v1alpha1.WorkloadDeployment), string(v1alpha1.WorkloadStatefulSet), string(v1alpha1.WorkloadReplicaSet)}
	flModelActions = []string{string(v1alpha1.ModelStaleVersion), string(v1alpha1.ModelCorruptFile), string(v1alpha1.ModelSlowLoad)}
	flCorruptions  = []string{string(v1alpha1.CorruptionFlip), string(v1alpha1.CorruptionTruncate)}
)

// validateNodeChaosSpec checks a NodeChaos's spec (also inline, as nodeChaos).
func validateNodeChaosSpec(p Path, s *v1alpha1.NodeChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	if s.Action == "" {
		ps.Required(p.Child("action"), "valid values: "+strings.Join(flNodeActions, ", "))
	} else {
		validateEnum(p.Child("action"), string(s.Action), flNodeActions, ps)
	}
	sp := p.Child("selector")
	if s.Selector.IsEmpty() {
		ps.Required(sp, "choose nodes with selector.nodes: [node-1] or selector.labelSelectors: {zone: a}")
	}
	seen := map[string]bool{}
	for i, n := range s.Selector.Nodes {
		np := sp.Child("nodes").Index(i)
		switch {
		case n == "" || len(n) > 63 || !dns1123Label.MatchString(n):
			checkDNSLabel(np, n, ps)
		case seen[n]:
			ps.Add(np, fmt.Sprintf("node %q is listed twice", n), "list each node once")
		}
		seen[n] = true
	}
	flLabels(sp.Child("labelSelectors"), s.Selector.LabelSelectors, true, ps)
	for i := range s.Selector.ExpressionSelectors {
		flLabelExpression(sp.Child("expressionSelectors").Index(i), &s.Selector.ExpressionSelectors[i], ps)
	}
	flModeValue(p, s.Mode, s.Value, "node", ps)
	flDuration(p.Child("duration"), flDeref(s.Duration), false, false, ps)
}

func flDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// flLabelExpression checks one set-based label expression.
func flLabelExpression(p Path, e *v1alpha1.LabelSelectorRequirement, ps *Problems) {
	if e.Key == "" {
		ps.Required(p.Child("key"), "write the label key the expression tests, e.g. zone")
	} else if msg := flLabelKeyProblem(e.Key); msg != "" {
		ps.Add(p.Child("key"), msg, "a key is an optional DNS subdomain prefix and '/', then a name, e.g. topology.kubernetes.io/zone")
	}
	if e.Operator == "" {
		ps.Required(p.Child("operator"), "valid values: "+strings.Join(flLabelOps, ", "))
		return
	}
	if !validateEnum(p.Child("operator"), string(e.Operator), flLabelOps, ps) {
		return
	}
	switch e.Operator {
	case v1alpha1.LabelOpIn, v1alpha1.LabelOpNotIn:
		if len(e.Values) == 0 {
			ps.Required(p.Child("values"), fmt.Sprintf("%s needs at least one value, e.g. values: [a, b]", e.Operator))
		}
	default:
		if len(e.Values) > 0 {
			ps.Add(p.Child("values"), fmt.Sprintf("%s takes no values", e.Operator), "remove values")
		}
	}
}

// flModeValue checks a Chaos Mesh mode and the value it needs, for a
// selector of things (nodes) that is not a pod selector.
func flModeValue(p Path, mode v1alpha1.SelectorMode, value, things string, ps *Problems) {
	mp, vp := p.Child("mode"), p.Child("value")
	if mode == "" {
		ps.Required(mp, "valid values: "+strings.Join(flModes, ", "))
		return
	}
	if !validateEnum(mp, string(mode), flModes, ps) {
		return
	}
	switch mode {
	case v1alpha1.ModeOne, v1alpha1.ModeAll:
		if value != "" {
			ps.Warn(vp, fmt.Sprintf("value is not used by mode %s", mode), "remove value")
		}
	case v1alpha1.ModeFixed:
		n, err := strconv.Atoi(strings.TrimSpace(value))
		switch {
		case value == "":
			ps.Required(vp, fmt.Sprintf(`mode fixed needs the number of %ss to hit, e.g. value: "1"`, things))
		case err != nil || n < 1:
			ps.Add(vp, fmt.Sprintf("%q is not a %s count", value, things), fmt.Sprintf(`write a whole number of %ss of at least 1 as a string, e.g. "1"`, things))
		}
	default:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		switch {
		case value == "":
			ps.Required(vp, fmt.Sprintf(`mode %s needs a percentage, e.g. value: "50"`, mode))
		case err != nil || !(f >= 1 && f <= 100):
			ps.Add(vp, fmt.Sprintf("%q is not a percentage from 1 to 100", value), `write a percentage as a string, e.g. "50"`)
		}
	}
}

// validateScaleChaosSpec checks a ScaleChaos's spec (also inline, as scaleChaos).
func validateScaleChaosSpec(p Path, s *v1alpha1.ScaleChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	switch flExclusive(p, true, "write service: NAME for a local environment, or workload: {kind, name} for Kubernetes", ps,
		flField{"service", s.Service != ""}, flField{"workload", s.Workload != nil}) {
	case "service":
		checkDNSLabel(p.Child("service"), s.Service, ps)
	case "workload":
		wp := p.Child("workload")
		w := s.Workload
		if w.Kind == "" {
			ps.Required(wp.Child("kind"), "valid values: "+strings.Join(flWorkloads, ", "))
		} else {
			validateEnum(wp.Child("kind"), string(w.Kind), flWorkloads, ps)
		}
		if w.Name == "" {
			ps.Required(wp.Child("name"), "write the workload's name, e.g. model-server")
		} else {
			checkDNSSubdomain(wp.Child("name"), w.Name, ps)
		}
		if w.Namespace != "" {
			checkDNSLabel(wp.Child("namespace"), w.Namespace, ps)
		}
	}
	switch {
	case s.Replicas == nil:
		ps.Required(p.Child("replicas"), "write the replica count during the fault, 0 or more, e.g. replicas: 1")
	case *s.Replicas < 0:
		ps.Add(p.Child("replicas"), fmt.Sprintf("replicas must not be negative, got %d", *s.Replicas), "write 0 or more; 0 scales the service away")
	}
	flDuration(p.Child("duration"), flDeref(s.Duration), false, false, ps)
}

// validateModelChaosSpec checks a ModelChaos's spec (also inline, as modelChaos).
func validateModelChaosSpec(p Path, s *v1alpha1.ModelChaosSpec, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelector(p, &s.PodSelector, ps)
	if s.Action == "" {
		ps.Required(p.Child("action"), "valid values: "+strings.Join(flModelActions, ", "))
	} else if validateEnum(p.Child("action"), string(s.Action), flModelActions, ps) {
		uses := map[v1alpha1.ModelChaosAction][]string{
			v1alpha1.ModelStaleVersion: {"version", "versionEnv"},
			v1alpha1.ModelCorruptFile:  {"path", "corruption"},
			v1alpha1.ModelSlowLoad:     {"path", "delay"},
		}[s.Action]
		for _, f := range []flField{
			{"version", s.Version != ""}, {"versionEnv", s.VersionEnv != ""}, {"path", s.Path != ""},
			{"corruption", s.Corruption != ""}, {"delay", s.Delay != ""},
		} {
			used := false
			for _, u := range uses {
				used = used || u == f.name
			}
			if f.set && !used {
				ps.Add(p.Child(f.name), fmt.Sprintf("%s is not used by action %s", f.name, s.Action),
					fmt.Sprintf("remove %s; %s uses %s", f.name, s.Action, strings.Join(uses, " and ")))
			}
		}
		switch s.Action {
		case v1alpha1.ModelStaleVersion:
			if s.Version == "" {
				ps.Required(p.Child("version"), `write the older version to serve, e.g. version: "1"`)
			}
		case v1alpha1.ModelCorruptFile, v1alpha1.ModelSlowLoad:
			if s.Path == "" {
				ps.Required(p.Child("path"), "write the model file's path, absolute or relative to the replica's working directory, e.g. models/recsys.bin")
			}
		}
		if s.Action == v1alpha1.ModelSlowLoad {
			flDuration(p.Child("delay"), s.Delay, true, false, ps)
		}
	}
	if s.VersionEnv != "" {
		flEnvVarName(p.Child("versionEnv"), s.VersionEnv, ps)
	}
	if s.Corruption != "" {
		validateEnum(p.Child("corruption"), string(s.Corruption), flCorruptions, ps)
	}
	flDuration(p.Child("duration"), flDeref(s.Duration), false, false, ps)
}
