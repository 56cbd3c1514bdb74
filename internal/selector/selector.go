package selector

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// ErrNoMatch is wrapped by the error returned when a selector matches no target.
var ErrNoMatch = errors.New("selector matches no target")

// Match returns the targets every criterion of spec accepts, sorted by
// namespace and name. defaultNamespace applies when spec.namespaces is
// empty (the chaos object's namespace, as in Chaos Mesh); "" means any.
func Match(targets []engine.Target, spec *v1alpha1.PodSelectorSpec, defaultNamespace string) []engine.Target {
	var out []engine.Target
	for _, t := range targets {
		if matches(t, spec, defaultNamespace) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func matches(t engine.Target, s *v1alpha1.PodSelectorSpec, defaultNamespace string) bool {
	if s == nil {
		return defaultNamespace == "" || t.Namespace == defaultNamespace
	}
	switch {
	case len(s.Namespaces) > 0:
		if !slices.Contains(s.Namespaces, t.Namespace) {
			return false
		}
	case len(s.Pods) > 0:
		// pods names its own namespaces.
	case defaultNamespace != "" && t.Namespace != defaultNamespace:
		return false
	}
	if len(s.Pods) > 0 && !slices.Contains(s.Pods[t.Namespace], t.Name) {
		return false
	}
	if len(s.Nodes) > 0 && !slices.Contains(s.Nodes, t.Node) {
		return false
	}
	if !subset(s.LabelSelectors, t.Labels) || !subset(s.AnnotationSelectors, t.Annotations) ||
		!subset(s.NodeSelectors, t.NodeLabels) {
		return false
	}
	for k, v := range s.FieldSelectors {
		if fieldValue(t, k) != v {
			return false
		}
	}
	for _, r := range s.ExpressionSelectors {
		if !expression(r, t.Labels) {
			return false
		}
	}
	if len(s.PodPhaseSelectors) > 0 && !slices.Contains(s.PodPhaseSelectors, v1alpha1.PodPhase(t.Phase)) {
		return false
	}
	return true
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// fieldValue answers the field selectors Kubernetes supports for pods.
func fieldValue(t engine.Target, field string) string {
	switch field {
	case "metadata.name":
		return t.Name
	case "metadata.namespace":
		return t.Namespace
	case "spec.nodeName":
		return t.Node
	case "status.phase":
		return t.Phase
	}
	return t.Fields[field]
}

func expression(r v1alpha1.LabelSelectorRequirement, labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Operator {
	case v1alpha1.LabelOpIn:
		return ok && slices.Contains(r.Values, v)
	case v1alpha1.LabelOpNotIn:
		return !ok || !slices.Contains(r.Values, v)
	case v1alpha1.LabelOpExists:
		return ok
	case v1alpha1.LabelOpDoesNotExist:
		return !ok
	}
	return false
}

// Count returns how many of n candidates the mode hits. For
// random-max-percent the count is drawn from rng.
func Count(mode v1alpha1.SelectorMode, value string, n int, rng *rand.Rand) (int, error) {
	switch mode {
	case v1alpha1.ModeOne:
		return min(1, n), nil
	case v1alpha1.ModeAll, "":
		return n, nil
	case v1alpha1.ModeFixed:
		c, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || c < 1 {
			return 0, fmt.Errorf("mode fixed needs a positive count in value, got %q", value)
		}
		if c > n {
			return 0, fmt.Errorf("mode fixed asks for %d targets but the selector matches only %d", c, n)
		}
		return c, nil
	case v1alpha1.ModeFixedPercent, v1alpha1.ModeRandomMaxPercent:
		p, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || p < 0 || p > 100 {
			return 0, fmt.Errorf("mode %s needs a percentage from 0 to 100 in value, got %q", mode, value)
		}
		maxCount := int(math.Floor(float64(n) * p / 100))
		if p > 0 && maxCount == 0 && n > 0 {
			// A non-zero share of a small set still hits one target, rather
			// than silently injecting nothing.
			maxCount = 1
		}
		if mode == v1alpha1.ModeFixedPercent {
			return maxCount, nil
		}
		if maxCount == 0 {
			return 0, nil
		}
		return 1 + rng.IntN(maxCount), nil
	}
	return 0, fmt.Errorf("unknown mode %q", mode)
}

// Select resolves a selector with its mode: the matching targets, then a
// random choice of as many as the mode asks. It is an error (wrapping
// ErrNoMatch) when nothing matches, and when the mode asks for more
// targets than exist.
func Select(targets []engine.Target, sel *v1alpha1.PodSelector, defaultNamespace string, rng *rand.Rand) ([]engine.Target, error) {
	if sel == nil {
		return nil, fmt.Errorf("no selector given")
	}
	cands := Match(targets, &sel.Selector, defaultNamespace)
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: %s (of %d targets in the environment%s)", ErrNoMatch, Describe(&sel.Selector, defaultNamespace), len(targets), namespacesOf(targets))
	}
	return pick(cands, sel.Mode, sel.Value, rng)
}

// pick chooses as many of the candidates as the mode asks, at random,
// keeping their order.
func pick[T any](cands []T, mode v1alpha1.SelectorMode, value string, rng *rand.Rand) ([]T, error) {
	n, err := Count(mode, value, len(cands), rng)
	if err != nil {
		return nil, err
	}
	if n == len(cands) {
		return cands, nil
	}
	idx := rng.Perm(len(cands))[:n]
	sort.Ints(idx)
	out := make([]T, n)
	for i, j := range idx {
		out[i] = cands[j]
	}
	return out, nil
}

func namespacesOf(targets []engine.Target) string {
	seen := map[string]bool{}
	var ns []string
	for _, t := range targets {
		if !seen[t.Namespace] {
			seen[t.Namespace] = true
			ns = append(ns, t.Namespace)
		}
	}
	if len(ns) == 0 {
		return ""
	}
	sort.Strings(ns)
	return ", namespaces " + strings.Join(ns, ", ")
}

// Describe says in words what a selector matches, for errors, --dry-run and
// `faultline explain`.
func Describe(s *v1alpha1.PodSelectorSpec, defaultNamespace string) string {
	var parts []string
	switch {
	case s != nil && len(s.Namespaces) > 0:
		parts = append(parts, "in namespace "+strings.Join(s.Namespaces, " or "))
	case s != nil && len(s.Pods) > 0:
	case defaultNamespace != "":
		parts = append(parts, "in namespace "+defaultNamespace)
	}
	if s == nil {
		return "pods " + strings.Join(parts, " ")
	}
	if len(s.Pods) > 0 {
		var names []string
		for ns, ps := range s.Pods {
			for _, p := range ps {
				names = append(names, ns+"/"+p)
			}
		}
		sort.Strings(names)
		parts = append(parts, "named "+strings.Join(names, ", "))
	}
	if len(s.LabelSelectors) > 0 {
		parts = append(parts, "with labels "+kv(s.LabelSelectors))
	}
	parts = append(parts, describeExpressions(s.ExpressionSelectors)...)
	if len(s.AnnotationSelectors) > 0 {
		parts = append(parts, "with annotations "+kv(s.AnnotationSelectors))
	}
	if len(s.FieldSelectors) > 0 {
		parts = append(parts, "with fields "+kv(s.FieldSelectors))
	}
	if len(s.Nodes) > 0 {
		parts = append(parts, "on node "+strings.Join(s.Nodes, " or "))
	}
	if len(s.NodeSelectors) > 0 {
		parts = append(parts, "on nodes labelled "+kv(s.NodeSelectors))
	}
	if len(s.PodPhaseSelectors) > 0 {
		var ph []string
		for _, p := range s.PodPhaseSelectors {
			ph = append(ph, string(p))
		}
		parts = append(parts, "in phase "+strings.Join(ph, " or "))
	}
	if len(parts) == 0 {
		return "all pods"
	}
	return "pods " + strings.Join(parts, ", ")
}

// DescribeMode says how many candidates a mode hits.
func DescribeMode(mode v1alpha1.SelectorMode, value string) string {
	switch mode {
	case v1alpha1.ModeOne:
		return "one, chosen at random,"
	case v1alpha1.ModeAll:
		return "all"
	case v1alpha1.ModeFixed:
		return value + ", chosen at random,"
	case v1alpha1.ModeFixedPercent:
		return value + "%, chosen at random,"
	case v1alpha1.ModeRandomMaxPercent:
		return "a random share up to " + value + "%"
	}
	return string(mode)
}

func kv(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// describeExpressions says in words what label expressions require.
func describeExpressions(rs []v1alpha1.LabelSelectorRequirement) []string {
	var parts []string
	for _, r := range rs {
		switch r.Operator {
		case v1alpha1.LabelOpExists:
			parts = append(parts, "with label "+r.Key)
		case v1alpha1.LabelOpDoesNotExist:
			parts = append(parts, "without label "+r.Key)
		default:
			parts = append(parts, fmt.Sprintf("where %s %s (%s)", r.Key, r.Operator, strings.Join(r.Values, ", ")))
		}
	}
	return parts
}
