package selector

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

func fleet() []engine.Target {
	mk := func(name, ns, node, phase string, labels map[string]string) engine.Target {
		return engine.Target{Name: name, Namespace: ns, Node: node, Phase: phase, Labels: labels,
			NodeLabels:  map[string]string{"zone": map[string]string{"n1": "a", "n2": "a", "n3": "b"}[node]},
			Annotations: map[string]string{"team": "ml"}}
	}
	return []engine.Target{
		mk("model-0", "default", "n1", "Running", map[string]string{"app": "model", "tier": "serving"}),
		mk("model-1", "default", "n2", "Running", map[string]string{"app": "model", "tier": "serving"}),
		mk("model-2", "default", "n3", "Pending", map[string]string{"app": "model", "tier": "serving"}),
		mk("features-0", "default", "n1", "Running", map[string]string{"app": "features"}),
		mk("trainer-0", "ml", "n3", "Running", map[string]string{"app": "trainer"}),
	}
}

func names(ts []engine.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		spec v1alpha1.PodSelectorSpec
		ns   string
		want []string
	}{
		{"labels", v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"app": "model"}}, "", []string{"model-0", "model-1", "model-2"}},
		{"default namespace applies", v1alpha1.PodSelectorSpec{}, "ml", []string{"trainer-0"}},
		{"namespaces override default", v1alpha1.PodSelectorSpec{Namespaces: []string{"default"}, LabelSelectors: map[string]string{"app": "features"}}, "ml", []string{"features-0"}},
		{"pods by name", v1alpha1.PodSelectorSpec{Pods: map[string][]string{"default": {"model-1"}, "ml": {"trainer-0"}}}, "default", []string{"model-1", "trainer-0"}},
		{"nodes", v1alpha1.PodSelectorSpec{Nodes: []string{"n1"}}, "", []string{"features-0", "model-0"}},
		{"node labels", v1alpha1.PodSelectorSpec{NodeSelectors: map[string]string{"zone": "b"}}, "", []string{"model-2", "trainer-0"}},
		{"field selector", v1alpha1.PodSelectorSpec{FieldSelectors: map[string]string{"spec.nodeName": "n2"}}, "", []string{"model-1"}},
		{"phase", v1alpha1.PodSelectorSpec{PodPhaseSelectors: []v1alpha1.PodPhase{"Pending"}}, "", []string{"model-2"}},
		{"expression In", v1alpha1.PodSelectorSpec{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "app", Operator: "In", Values: []string{"features", "trainer"}}}}, "", []string{"features-0", "trainer-0"}},
		{"expression NotIn", v1alpha1.PodSelectorSpec{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "app", Operator: "NotIn", Values: []string{"model"}}}}, "", []string{"features-0", "trainer-0"}},
		{"expression Exists", v1alpha1.PodSelectorSpec{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "tier", Operator: "Exists"}}}, "", []string{"model-0", "model-1", "model-2"}},
		{"expression DoesNotExist", v1alpha1.PodSelectorSpec{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "tier", Operator: "DoesNotExist"}}}, "default", []string{"features-0"}},
		{"annotations", v1alpha1.PodSelectorSpec{AnnotationSelectors: map[string]string{"team": "other"}}, "", nil},
		{"criteria are ANDed", v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"app": "model"}, Nodes: []string{"n1", "n3"}, PodPhaseSelectors: []v1alpha1.PodPhase{"Running"}}, "", []string{"model-0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := names(Match(fleet(), &tc.spec, tc.ns))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		mode    v1alpha1.SelectorMode
		value   string
		n       int
		want    int
		wantErr string
	}{
		{"one", "", 5, 1, ""},
		{"all", "", 5, 5, ""},
		{"fixed", "2", 5, 2, ""},
		{"fixed", "6", 5, 0, "asks for 6 targets but the selector matches only 5"},
		{"fixed", "x", 5, 0, "positive count"},
		{"fixed-percent", "50", 5, 2, ""},
		{"fixed-percent", "10", 3, 1, ""}, // a non-zero share hits at least one
		{"fixed-percent", "0", 3, 0, ""},
		{"fixed-percent", "101", 3, 0, "0 to 100"},
		{"bogus", "", 3, 0, "unknown mode"},
	}
	for _, tc := range tests {
		got, err := Count(tc.mode, tc.value, tc.n, rng)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Count(%s,%q,%d) error = %v, want %q", tc.mode, tc.value, tc.n, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Count(%s,%q,%d) = %d, %v; want %d", tc.mode, tc.value, tc.n, got, err, tc.want)
		}
	}
	// random-max-percent stays within [1, floor(n*p/100)] and reaches both ends.
	seen := map[int]bool{}
	for i := 0; i < 500; i++ {
		c, err := Count("random-max-percent", "60", 10, rng)
		if err != nil || c < 1 || c > 6 {
			t.Fatalf("random-max-percent gave %d, %v", c, err)
		}
		seen[c] = true
	}
	if !seen[1] || !seen[6] {
		t.Fatalf("random-max-percent never reached its bounds: %v", seen)
	}
}

func TestSelectIsSeededAndErrorsClearly(t *testing.T) {
	sel := &v1alpha1.PodSelector{Selector: v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"app": "model"}}, Mode: "fixed", Value: "2"}
	a, err := Select(fleet(), sel, "default", rand.New(rand.NewPCG(7, 7)))
	if err != nil || len(a) != 2 {
		t.Fatalf("Select = %v, %v", names(a), err)
	}
	b, _ := Select(fleet(), sel, "default", rand.New(rand.NewPCG(7, 7)))
	if !reflect.DeepEqual(names(a), names(b)) {
		t.Fatalf("same seed, different choice: %v vs %v", names(a), names(b))
	}
	_, err = Select(fleet(), &v1alpha1.PodSelector{Selector: v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"app": "nope"}}, Mode: "one"}, "default", rand.New(rand.NewPCG(1, 1)))
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "with labels app=nope") || !strings.Contains(err.Error(), "namespaces default, ml") {
		t.Fatalf("no-match error unclear: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	s := &v1alpha1.PodSelectorSpec{Namespaces: []string{"prod"}, LabelSelectors: map[string]string{"app": "model", "tier": "a"}, Nodes: []string{"n1"}}
	want := "pods in namespace prod, with labels app=model,tier=a, on node n1"
	if got := Describe(s, ""); got != want {
		t.Fatalf("Describe = %q, want %q", got, want)
	}
}
