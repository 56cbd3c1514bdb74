package manifest

import (
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestChaosSelectorRules(t *testing.T) {
	base := func() *v1alpha1.PodSelector { s := cmSelector(); return &s }
	cmRunCases(t, base, validatePodSelector, []cmCase[v1alpha1.PodSelector]{
		{name: "valid", mod: nil},
		{name: "mode required", mod: func(s *v1alpha1.PodSelector) { s.Mode = "" },
			want: []string{"spec.mode: required field is missing | one, all, fixed"}},
		{name: "mode typo", mod: func(s *v1alpha1.PodSelector) { s.Mode = "fixed-precent" },
			want: []string{`spec.mode: unknown value "fixed-precent" | did you mean "fixed-percent"`}},
		{name: "one ignores value", mod: func(s *v1alpha1.PodSelector) { s.Value = "2" },
			want: []string{"warning: spec.value: mode one ignores value"}},
		{name: "all ignores value", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeAll, "2" },
			want: []string{"warning: spec.value: mode all ignores value"}},
		{name: "fixed needs value", mod: func(s *v1alpha1.PodSelector) { s.Mode = v1alpha1.ModeFixed },
			want: []string{`spec.value: mode fixed needs a value | value: "1"`}},
		{name: "fixed not a number", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeFixed, "two" },
			want: []string{`spec.value: whole number of pods, not "two"`}},
		{name: "fixed zero", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeFixed, "0" },
			want: []string{"spec.value: at least 1 pod"}},
		{name: "fixed with spaces, as Chaos Mesh refuses", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeFixed, " 3" },
			want: []string{`spec.value: whole number of pods, not " 3"`}},
		{name: "fixed ok", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeFixed, "3" }},
		{name: "fixed-percent needs value", mod: func(s *v1alpha1.PodSelector) { s.Mode = v1alpha1.ModeFixedPercent },
			want: []string{"spec.value: mode fixed-percent needs a value from 1 to 100"}},
		{name: "fixed-percent zero", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeFixedPercent, "0" },
			want: []string{"spec.value: value from 1 to 100, not 0"}},
		{name: "fixed-percent over 100", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeFixedPercent, "101" },
			want: []string{"spec.value: value from 1 to 100, not 101"}},
		{name: "fixed-percent with percent sign", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeFixedPercent, "50%" },
			want: []string{`spec.value: whole percentage, not "50%" | without %`}},
		{name: "fixed-percent ok", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeFixedPercent, "50" }},
		{name: "random-max-percent fraction", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeRandomMaxPercent, "12.5" },
			want: []string{`spec.value: mode random-max-percent needs a whole percentage`}},
		{name: "random-max-percent ok", mod: func(s *v1alpha1.PodSelector) { s.Mode, s.Value = v1alpha1.ModeRandomMaxPercent, "100" }},
		{name: "empty selector", mod: func(s *v1alpha1.PodSelector) { s.Selector = v1alpha1.PodSelectorSpec{} },
			want: []string{"warning: spec.selector: the selector is empty | labelSelectors"}},
		{name: "namespaces", mod: func(s *v1alpha1.PodSelector) { s.Selector.Namespaces = []string{"prod", "Bad_NS", "prod"} },
			want: []string{`spec.selector.namespaces[1]: "Bad_NS" is not a valid namespace`,
				`warning: spec.selector.namespaces[2]: namespace "prod" is listed twice`}},
		{name: "label key and value", mod: func(s *v1alpha1.PodSelector) {
			s.Selector.LabelSelectors = map[string]string{"app.kubernetes.io/name": "web", "bad key": "x", "tier": "a b"}
		}, want: []string{`spec.selector.labelSelectors["bad key"]: "bad key" is not a valid label key`,
			`spec.selector.labelSelectors.tier: "a b" is not a valid label value`}},
		{name: "label key with bad prefix", mod: func(s *v1alpha1.PodSelector) {
			s.Selector.LabelSelectors = map[string]string{"Example.COM/app": "web"}
		}, want: []string{`spec.selector.labelSelectors["Example.COM/app"]: not a valid label key`}},
		{name: "annotation values are free text", mod: func(s *v1alpha1.PodSelector) {
			s.Selector.AnnotationSelectors = map[string]string{"owner": "the SRE team", "bad/key/x": "v"}
		}, want: []string{`spec.selector.annotationSelectors["bad/key/x"]: not a valid label key`}},
		{name: "node selectors", mod: func(s *v1alpha1.PodSelector) {
			s.Selector.NodeSelectors = map[string]string{"zone": "eu west"}
		}, want: []string{`spec.selector.nodeSelectors.zone: "eu west" is not a valid label value`}},
		{name: "field selectors", mod: func(s *v1alpha1.PodSelector) {
			s.Selector.FieldSelectors = map[string]string{"metadata.name": "web-0", "spec.nodeNam": "n1"}
		}, want: []string{`spec.selector.fieldSelectors["spec.nodeNam"]: unknown value | did you mean "spec.nodeName"`}},
		{name: "expression selectors", mod: func(s *v1alpha1.PodSelector) {
			s.Selector.ExpressionSelectors = []v1alpha1.LabelSelectorRequirement{
				{Key: "tier", Operator: v1alpha1.LabelOpIn, Values: []string{"a", "b"}},
				{Key: "tier", Operator: v1alpha1.LabelOpIn},
				{Key: "tier", Operator: v1alpha1.LabelOpExists, Values: []string{"a"}},
				{Operator: "in", Values: []string{"a"}},
				{Key: "tier"},
			}
		}, want: []string{
			"spec.selector.expressionSelectors[1].values: operator In needs at least one value",
			"spec.selector.expressionSelectors[2].values: operator Exists takes no values",
			"spec.selector.expressionSelectors[3].key: required field is missing",
			`spec.selector.expressionSelectors[3].operator: unknown value "in" | did you mean "In"`,
			"spec.selector.expressionSelectors[4].operator: required field is missing",
		}},
		{name: "pod phases", mod: func(s *v1alpha1.PodSelector) {
			s.Selector.PodPhaseSelectors = []v1alpha1.PodPhase{"Running", "runing", ""}
		}, want: []string{`spec.selector.podPhaseSelectors[1]: unknown value "runing" | did you mean "Running"`,
			"spec.selector.podPhaseSelectors[2]: empty pod phase"}},
		{name: "pods by namespace", mod: func(s *v1alpha1.PodSelector) {
			s.Selector.Pods = map[string][]string{"default": {"web-0", "Web_1"}, "empty": {}}
		}, want: []string{`spec.selector.pods.default[1]: "Web_1" is not a valid name`,
			`spec.selector.pods.empty: no pod names listed for namespace "empty"`}},
		{name: "nodes", mod: func(s *v1alpha1.PodSelector) { s.Selector.Nodes = []string{"node-1", ""} },
			want: []string{"spec.selector.nodes[1]: empty node name"}},
	})
}

func TestChaosContainerNames(t *testing.T) {
	var ps Problems
	validateContainerNames("spec.containerNames", []string{"app", "", "Bad_Name", "app"}, &ps)
	cmCheck(t, ps.List, []string{
		"spec.containerNames[1]: empty container name",
		`spec.containerNames[2]: "Bad_Name" is not a valid name`,
		`warning: spec.containerNames[3]: container "app" is listed twice`,
	})
}
