package selector

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// MatchNodes returns the nodes every criterion of sel accepts (names, labels
// and label expressions, ANDed), sorted by name. An empty selector matches
// every node; validation refuses one before it gets here, so an engine never
// takes every node down by accident.
func MatchNodes(nodes []engine.Node, sel *v1alpha1.NodeChaosSelector) []engine.Node {
	var out []engine.Node
	for _, n := range nodes {
		if matchesNode(n, sel) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func matchesNode(n engine.Node, s *v1alpha1.NodeChaosSelector) bool {
	if s == nil {
		return true
	}
	if len(s.Nodes) > 0 && !slices.Contains(s.Nodes, n.Name) {
		return false
	}
	if !subset(s.LabelSelectors, n.Labels) {
		return false
	}
	for _, r := range s.ExpressionSelectors {
		if !expression(r, n.Labels) {
			return false
		}
	}
	return true
}

// SelectNodes resolves a NodeChaos selector with its mode, like Select does
// for pods: the matching nodes, then a random choice of as many as the mode
// asks (Count), drawn from rng so a seeded run picks the same nodes again.
// Nothing matching is an error wrapping ErrNoMatch; a mode asking for more
// nodes than match is an error too.
func SelectNodes(nodes []engine.Node, sel *v1alpha1.NodeChaosSelector, mode v1alpha1.SelectorMode, value string, rng *rand.Rand) ([]engine.Node, error) {
	cands := MatchNodes(nodes, sel)
	if len(cands) == 0 {
		names := make([]string, 0, len(nodes))
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		have := "none"
		if len(names) > 0 {
			have = strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("%w: %s (the environment's nodes: %s)", ErrNoMatch, DescribeNodes(sel), have)
	}
	return pick(cands, mode, value, rng)
}

// DescribeNodes says in words what a node selector matches.
func DescribeNodes(s *v1alpha1.NodeChaosSelector) string {
	if s.IsEmpty() {
		return "all nodes"
	}
	var parts []string
	if len(s.Nodes) > 0 {
		parts = append(parts, "named "+strings.Join(s.Nodes, " or "))
	}
	if len(s.LabelSelectors) > 0 {
		parts = append(parts, "with labels "+kv(s.LabelSelectors))
	}
	parts = append(parts, describeExpressions(s.ExpressionSelectors)...)
	return "nodes " + strings.Join(parts, ", ")
}
