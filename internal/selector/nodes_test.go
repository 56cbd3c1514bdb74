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

func nodeFleet() []engine.Node {
	return []engine.Node{
		{Name: "node-3", Labels: map[string]string{"zone": "b", "gpu": "a100"}, Ready: true, Schedulable: true},
		{Name: "node-1", Labels: map[string]string{"zone": "a"}, Ready: true, Schedulable: true},
		{Name: "node-2", Labels: map[string]string{"zone": "a", "gpu": "t4"}, Ready: true, Schedulable: true},
	}
}

func nodeNames(ns []engine.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

func TestMatchNodes(t *testing.T) {
	tests := []struct {
		name string
		sel  *v1alpha1.NodeChaosSelector
		want []string
	}{
		{"names", &v1alpha1.NodeChaosSelector{Nodes: []string{"node-2", "node-3"}}, []string{"node-2", "node-3"}},
		{"labels", &v1alpha1.NodeChaosSelector{LabelSelectors: map[string]string{"zone": "a"}}, []string{"node-1", "node-2"}},
		{"expression Exists", &v1alpha1.NodeChaosSelector{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "gpu", Operator: "Exists"}}}, []string{"node-2", "node-3"}},
		{"expression NotIn", &v1alpha1.NodeChaosSelector{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "gpu", Operator: "NotIn", Values: []string{"a100"}}}}, []string{"node-1", "node-2"}},
		{"criteria are ANDed", &v1alpha1.NodeChaosSelector{Nodes: []string{"node-1", "node-2"}, LabelSelectors: map[string]string{"gpu": "t4"}}, []string{"node-2"}},
		{"nothing", &v1alpha1.NodeChaosSelector{Nodes: []string{"node-9"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodeNames(MatchNodes(nodeFleet(), tc.sel)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSelectNodes(t *testing.T) {
	zoneA := &v1alpha1.NodeChaosSelector{LabelSelectors: map[string]string{"zone": "a"}}
	all, err := SelectNodes(nodeFleet(), zoneA, v1alpha1.ModeAll, "", rand.New(rand.NewPCG(1, 1)))
	if err != nil || !reflect.DeepEqual(nodeNames(all), []string{"node-1", "node-2"}) {
		t.Fatalf("all: %v, %v", nodeNames(all), err)
	}
	one, err := SelectNodes(nodeFleet(), zoneA, v1alpha1.ModeOne, "", rand.New(rand.NewPCG(1, 1)))
	if err != nil || len(one) != 1 {
		t.Fatalf("one: %v, %v", nodeNames(one), err)
	}
	// The same seed picks the same node.
	for range 5 {
		again, _ := SelectNodes(nodeFleet(), zoneA, v1alpha1.ModeOne, "", rand.New(rand.NewPCG(1, 1)))
		if again[0].Name != one[0].Name {
			t.Fatalf("seeded selection not reproducible: %s then %s", one[0].Name, again[0].Name)
		}
	}
	// Different seeds reach both candidates eventually.
	seen := map[string]bool{}
	for seed := range uint64(40) {
		got, _ := SelectNodes(nodeFleet(), zoneA, v1alpha1.ModeOne, "", rand.New(rand.NewPCG(seed, seed)))
		seen[got[0].Name] = true
	}
	if !seen["node-1"] || !seen["node-2"] || len(seen) != 2 {
		t.Fatalf("mode one over 40 seeds chose %v", seen)
	}
	half, err := SelectNodes(nodeFleet(), &v1alpha1.NodeChaosSelector{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "zone", Operator: "Exists"}}},
		v1alpha1.ModeFixedPercent, "50", rand.New(rand.NewPCG(2, 2)))
	if err != nil || len(half) != 1 {
		t.Fatalf("fixed-percent 50 of 3: %v, %v", nodeNames(half), err)
	}

	_, err = SelectNodes(nodeFleet(), &v1alpha1.NodeChaosSelector{Nodes: []string{"node-9"}}, v1alpha1.ModeOne, "", rand.New(rand.NewPCG(1, 1)))
	if !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), "node-9") || !strings.Contains(err.Error(), "node-1, ") {
		t.Fatalf("no match: %v", err)
	}
	_, err = SelectNodes(nodeFleet(), zoneA, v1alpha1.ModeFixed, "3", rand.New(rand.NewPCG(1, 1)))
	if err == nil || !strings.Contains(err.Error(), "asks for 3") {
		t.Fatalf("too many: %v", err)
	}
}

func TestDescribeNodes(t *testing.T) {
	got := DescribeNodes(&v1alpha1.NodeChaosSelector{Nodes: []string{"node-1"}, LabelSelectors: map[string]string{"zone": "a"},
		ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "gpu", Operator: "DoesNotExist"}}})
	if got != "nodes named node-1, with labels zone=a, without label gpu" {
		t.Fatalf("%q", got)
	}
	if DescribeNodes(nil) != "all nodes" {
		t.Fatal(DescribeNodes(nil))
	}
}
