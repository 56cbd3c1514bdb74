package manifest

import (
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func flNodeChaos() *v1alpha1.NodeChaosSpec {
	return &v1alpha1.NodeChaosSpec{
		Action:   v1alpha1.NodeDown,
		Selector: v1alpha1.NodeChaosSelector{LabelSelectors: map[string]string{"zone": "a"}},
		Mode:     v1alpha1.ModeOne,
		Duration: flPtr("30s"),
	}
}

func TestNodeChaosRules(t *testing.T) {
	type S = v1alpha1.NodeChaosSpec
	sel := Path("spec.selector")
	flRun(t, flNodeChaos, validateNodeChaosSpec, []flCase[S]{
		{name: "valid"},
		{name: "zero value", mutate: func(s *S) { *s = S{} }, path: "spec.action", msg: "required", more: true},
		{name: "action required", mutate: func(s *S) { s.Action = "" }, path: "spec.action", msg: "required"},
		{name: "action unknown", mutate: func(s *S) { s.Action = "node-dwn" }, path: "spec.action", msg: `unknown value "node-dwn"`, hint: `did you mean "node-down"`},
		{name: "drain ok", mutate: func(s *S) { s.Action = v1alpha1.NodeDrain }},
		{name: "selector empty", mutate: func(s *S) { s.Selector = v1alpha1.NodeChaosSelector{} }, path: sel, msg: "required"},
		{name: "selector by names", mutate: func(s *S) { s.Selector = v1alpha1.NodeChaosSelector{Nodes: []string{"node-1", "node-2"}} }},
		{name: "node name invalid", mutate: func(s *S) { s.Selector.Nodes = []string{"Node 1"} }, path: sel.Child("nodes").Index(0), msg: "not a valid name"},
		{name: "node listed twice", mutate: func(s *S) { s.Selector.Nodes = []string{"n", "n"} }, path: sel.Child("nodes").Index(1), msg: "listed twice"},
		{name: "label selector key", mutate: func(s *S) { s.Selector.LabelSelectors = map[string]string{"/zone": "a"} },
			path: sel.Child("labelSelectors").Key("/zone"), msg: "invalid prefix"},
		{name: "expression ok", mutate: func(s *S) {
			s.Selector.ExpressionSelectors = []v1alpha1.LabelSelectorRequirement{{Key: "zone", Operator: v1alpha1.LabelOpIn, Values: []string{"a", "b"}}}
		}},
		{name: "expression In without values", mutate: func(s *S) {
			s.Selector.ExpressionSelectors = []v1alpha1.LabelSelectorRequirement{{Key: "zone", Operator: v1alpha1.LabelOpIn}}
		}, path: sel.Child("expressionSelectors").Index(0).Child("values"), msg: "required"},
		{name: "expression Exists with values", mutate: func(s *S) {
			s.Selector.ExpressionSelectors = []v1alpha1.LabelSelectorRequirement{{Key: "zone", Operator: v1alpha1.LabelOpExists, Values: []string{"a"}}}
		}, path: sel.Child("expressionSelectors").Index(0).Child("values"), msg: "takes no values"},
		{name: "expression operator", mutate: func(s *S) {
			s.Selector.ExpressionSelectors = []v1alpha1.LabelSelectorRequirement{{Key: "zone", Operator: "in", Values: []string{"a"}}}
		}, path: sel.Child("expressionSelectors").Index(0).Child("operator"), msg: `unknown value "in"`},
		{name: "expression key", mutate: func(s *S) {
			s.Selector.ExpressionSelectors = []v1alpha1.LabelSelectorRequirement{{Operator: v1alpha1.LabelOpExists}}
		}, path: sel.Child("expressionSelectors").Index(0).Child("key"), msg: "required"},
		{name: "mode required", mutate: func(s *S) { s.Mode = "" }, path: "spec.mode", msg: "required"},
		{name: "mode unknown", mutate: func(s *S) { s.Mode = "fixed-percentage" }, path: "spec.mode", msg: `unknown value "fixed-percentage"`},
		{name: "fixed needs a value", mutate: func(s *S) { s.Mode = v1alpha1.ModeFixed }, path: "spec.value", msg: "required"},
		{name: "fixed count", mutate: func(s *S) { s.Mode, s.Value = v1alpha1.ModeFixed, "0" }, path: "spec.value", msg: "not a node count"},
		{name: "fixed 2 ok", mutate: func(s *S) { s.Mode, s.Value = v1alpha1.ModeFixed, "2" }},
		{name: "percent out of range", mutate: func(s *S) { s.Mode, s.Value = v1alpha1.ModeFixedPercent, "150" }, path: "spec.value", msg: "not a percentage"},
		{name: "percent 50 ok", mutate: func(s *S) { s.Mode, s.Value = v1alpha1.ModeRandomMaxPercent, "50" }},
		{name: "duration", mutate: func(s *S) { s.Duration = flPtr("30") }, path: "spec.duration", msg: "not a duration"},
		{name: "duration omitted ok", mutate: func(s *S) { s.Duration = nil }},
	})
}

func TestNodeChaosModeValueWarning(t *testing.T) {
	s := flNodeChaos()
	s.Value = "1"
	var ps Problems
	validateNodeChaosSpec("spec", s, &ps)
	if w := flWarnings(ps.List); len(w) != 1 || w[0].Path != "spec.value" || len(flErrors(ps.List)) > 0 {
		t.Fatalf("want one warning at spec.value, got:\n%s", flFormat(ps.List))
	}
}

func flScaleChaos() *v1alpha1.ScaleChaosSpec {
	return &v1alpha1.ScaleChaosSpec{Service: "model", Replicas: flPtr(int32(1)), Duration: flPtr("45s")}
}

func TestScaleChaosRules(t *testing.T) {
	type S = v1alpha1.ScaleChaosSpec
	wl := Path("spec.workload")
	flRun(t, flScaleChaos, validateScaleChaosSpec, []flCase[S]{
		{name: "valid"},
		{name: "zero value", mutate: func(s *S) { *s = S{} }, path: "spec.service", msg: "required", more: true},
		{name: "target required", mutate: func(s *S) { s.Service = "" }, path: "spec.service", msg: "required"},
		{name: "service invalid", mutate: func(s *S) { s.Service = "Model" }, path: "spec.service", msg: "not a valid name"},
		{name: "service and workload", mutate: func(s *S) {
			s.Workload = &v1alpha1.ScaleWorkload{Kind: v1alpha1.WorkloadDeployment, Name: "model"}
		}, path: wl, msg: "service and workload exclude each other"},
		{name: "workload ok", mutate: func(s *S) {
			s.Service, s.Workload = "", &v1alpha1.ScaleWorkload{Kind: v1alpha1.WorkloadStatefulSet, Name: "model", Namespace: "recsys"}
		}},
		{name: "workload kind", mutate: func(s *S) {
			s.Service, s.Workload = "", &v1alpha1.ScaleWorkload{Kind: "Deploy", Name: "model"}
		}, path: wl.Child("kind"), msg: `unknown value "Deploy"`},
		{name: "workload kind required", mutate: func(s *S) {
			s.Service, s.Workload = "", &v1alpha1.ScaleWorkload{Name: "model"}
		}, path: wl.Child("kind"), msg: "required"},
		{name: "workload name required", mutate: func(s *S) {
			s.Service, s.Workload = "", &v1alpha1.ScaleWorkload{Kind: v1alpha1.WorkloadReplicaSet}
		}, path: wl.Child("name"), msg: "required"},
		{name: "workload namespace", mutate: func(s *S) {
			s.Service, s.Workload = "", &v1alpha1.ScaleWorkload{Kind: v1alpha1.WorkloadDeployment, Name: "m", Namespace: "a.b"}
		}, path: wl.Child("namespace"), msg: "not a valid name"},
		{name: "replicas required", mutate: func(s *S) { s.Replicas = nil }, path: "spec.replicas", msg: "required"},
		{name: "replicas negative", mutate: func(s *S) { s.Replicas = flPtr(int32(-1)) }, path: "spec.replicas", msg: "must not be negative"},
		{name: "replicas zero ok", mutate: func(s *S) { s.Replicas = flPtr(int32(0)) }},
		{name: "duration", mutate: func(s *S) { s.Duration = flPtr("0s") }, path: "spec.duration", msg: "greater than zero"},
	})
}

func flModelChaos() *v1alpha1.ModelChaosSpec {
	return &v1alpha1.ModelChaosSpec{
		PodSelector: v1alpha1.PodSelector{
			Selector: v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"app": "model"}},
			Mode:     v1alpha1.ModeOne,
		},
		Action:   v1alpha1.ModelStaleVersion,
		Version:  "1",
		Duration: flPtr("60s"),
	}
}

func TestModelChaosRules(t *testing.T) {
	type S = v1alpha1.ModelChaosSpec
	corrupt := func(s *S) { s.Action, s.Version, s.Path = v1alpha1.ModelCorruptFile, "", "models/m.bin" }
	slow := func(s *S) { s.Action, s.Version, s.Path, s.Delay = v1alpha1.ModelSlowLoad, "", "models/m.bin", "20s" }
	flRun(t, flModelChaos, validateModelChaosSpec, []flCase[S]{
		{name: "valid"},
		{name: "zero value", mutate: func(s *S) { *s = S{} }, path: "spec.action", msg: "required", more: true},
		{name: "action required", mutate: func(s *S) { s.Action = "" }, path: "spec.action", msg: "required"},
		{name: "action unknown", mutate: func(s *S) { s.Action = "stale" }, path: "spec.action", msg: `unknown value "stale"`},
		{name: "selector is validated", mutate: func(s *S) { s.Mode = "" }, path: "spec.mode", msg: "required"},
		{name: "stale version needs a version", mutate: func(s *S) { s.Version = "" }, path: "spec.version", msg: "required"},
		{name: "stale version env", mutate: func(s *S) { s.VersionEnv = "model-version" }, path: "spec.versionEnv", msg: "not a valid environment variable name"},
		{name: "stale version env ok", mutate: func(s *S) { s.VersionEnv = "RECSYS_VERSION" }},
		{name: "stale version takes no path", mutate: func(s *S) { s.Path = "m.bin" }, path: "spec.path", msg: "not used by action stale-version"},
		{name: "corrupt file ok", mutate: corrupt},
		{name: "corrupt file truncate ok", mutate: func(s *S) { corrupt(s); s.Corruption = v1alpha1.CorruptionTruncate }},
		{name: "corrupt file needs a path", mutate: func(s *S) { corrupt(s); s.Path = "" }, path: "spec.path", msg: "required"},
		{name: "corrupt file corruption", mutate: func(s *S) { corrupt(s); s.Corruption = "shred" }, path: "spec.corruption", msg: `unknown value "shred"`},
		{name: "corrupt file takes no delay", mutate: func(s *S) { corrupt(s); s.Delay = "1s" }, path: "spec.delay", msg: "not used by action corrupt-file"},
		{name: "corrupt file takes no version", mutate: func(s *S) { corrupt(s); s.Version = "1" }, path: "spec.version", msg: "not used by action corrupt-file"},
		{name: "slow load ok", mutate: slow},
		{name: "slow load needs a delay", mutate: func(s *S) { slow(s); s.Delay = "" }, path: "spec.delay", msg: "required"},
		{name: "slow load delay zero", mutate: func(s *S) { slow(s); s.Delay = "0s" }, path: "spec.delay", msg: "greater than zero"},
		{name: "slow load needs a path", mutate: func(s *S) { slow(s); s.Path = "" }, path: "spec.path", msg: "required"},
		{name: "slow load takes no corruption", mutate: func(s *S) { slow(s); s.Corruption = "flip" }, path: "spec.corruption", msg: "not used by action slow-load"},
		{name: "duration", mutate: func(s *S) { s.Duration = flPtr("1 minute") }, path: "spec.duration", msg: "not a duration"},
	})
}

func TestChaosNilNeverPanics(t *testing.T) {
	var ps Problems
	validateNodeChaosSpec("spec", nil, &ps)
	validateScaleChaosSpec("spec", nil, &ps)
	validateModelChaosSpec("spec", nil, &ps)
	validateScaleChaosSpec("spec", &v1alpha1.ScaleChaosSpec{Workload: &v1alpha1.ScaleWorkload{}}, &ps)
	validateNodeChaosSpec("spec", &v1alpha1.NodeChaosSpec{Selector: v1alpha1.NodeChaosSelector{ExpressionSelectors: make([]v1alpha1.LabelSelectorRequirement, 1)}}, &ps)
	for _, a := range []v1alpha1.ModelChaosAction{"stale-version", "corrupt-file", "slow-load"} {
		validateModelChaosSpec("spec", &v1alpha1.ModelChaosSpec{Action: a}, &ps)
	}
}
