package manifest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// validatePodSelector checks a selector with its mode and value. p is the
// object the PodSelector is inlined into (a chaos spec, or a NetworkChaos
// target), so the fields are p.selector, p.mode and p.value.
func validatePodSelector(p Path, s *v1alpha1.PodSelector, ps *Problems) {
	if s == nil {
		return
	}
	validatePodSelectorSpec(p.Child("selector"), &s.Selector, ps)
	validateSelectorMode(p, s.Mode, s.Value, ps)
}

var selectorModes = enumValues(v1alpha1.ModeOne, v1alpha1.ModeAll, v1alpha1.ModeFixed,
	v1alpha1.ModeFixedPercent, v1alpha1.ModeRandomMaxPercent)

// validateSelectorMode applies Chaos Mesh's webhook rules for mode/value:
// fixed takes a positive count, the percent modes an integer in (0, 100].
// Values are parsed as strictly as Chaos Mesh does (no spaces, no "%"), so
// that what passes here also passes its webhook. Kinds with their own
// selector (NodeChaos) call it directly.
func validateSelectorMode(p Path, mode v1alpha1.SelectorMode, value string, ps *Problems) {
	vp := p.Child("value")
	switch mode {
	case "":
		ps.Required(p.Child("mode"), "write mode: one, all, fixed, fixed-percent or random-max-percent")
	case v1alpha1.ModeOne, v1alpha1.ModeAll:
		if value != "" {
			ps.Warn(vp, fmt.Sprintf("mode %s ignores value", mode),
				"remove value, or use mode fixed (a count) or fixed-percent (a percentage)")
		}
	case v1alpha1.ModeFixed:
		if value == "" {
			ps.Add(vp, "mode fixed needs a value: how many pods to hit", `write value: "1"`)
			return
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			ps.Add(vp, fmt.Sprintf("mode fixed needs a whole number of pods, not %q", value), `write a count such as value: "2"`)
			return
		}
		if n <= 0 {
			ps.Add(vp, fmt.Sprintf("mode fixed needs at least 1 pod, not %d", n), `write a count such as value: "1"`)
		}
	case v1alpha1.ModeFixedPercent, v1alpha1.ModeRandomMaxPercent:
		if value == "" {
			ps.Add(vp, fmt.Sprintf("mode %s needs a value from 1 to 100", mode), `write value: "50"`)
			return
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			ps.Add(vp, fmt.Sprintf("mode %s needs a whole percentage, not %q", mode, value),
				`write an integer from "1" to "100" without %, e.g. value: "50"`)
			return
		}
		if n < 1 || n > 100 {
			ps.Add(vp, fmt.Sprintf("mode %s needs a value from 1 to 100, not %d", mode, n), `write value: "50"`)
		}
	default:
		validateEnum(p.Child("mode"), string(mode), selectorModes, ps)
	}
}

var (
	labelNameRe = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	// Pod field selectors the Kubernetes API server accepts; anything else is
	// refused there, so it is refused here too.
	podFieldSelectors = []string{"metadata.name", "metadata.namespace", "spec.nodeName",
		"spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
		"status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"}
	podPhases    = enumValues(v1alpha1.PodPending, v1alpha1.PodRunning, v1alpha1.PodSucceeded, v1alpha1.PodFailed, v1alpha1.PodUnknown)
	labelSelOps  = enumValues(v1alpha1.LabelOpIn, v1alpha1.LabelOpNotIn, v1alpha1.LabelOpExists, v1alpha1.LabelOpDoesNotExist)
	labelKeyHint = "a label key is an optional DNS prefix and '/' then a name of at most 63 letters, digits, '-', '_' or '.', e.g. app.kubernetes.io/name"
)

// validatePodSelectorSpec checks every criterion of a selector; p is the
// selector's own path.
func validatePodSelectorSpec(p Path, s *v1alpha1.PodSelectorSpec, ps *Problems) {
	if s == nil {
		return
	}
	if s.IsEmpty() {
		ps.Warn(p, "the selector is empty: every pod of the object's namespace is a candidate",
			"limit the blast radius with labelSelectors, e.g. selector: {labelSelectors: {app: web}}")
	}
	seen := map[string]bool{}
	for i, ns := range s.Namespaces {
		ip := p.Child("namespaces").Index(i)
		checkNamespace(ip, ns, ps)
		if seen[ns] {
			ps.Warn(ip, fmt.Sprintf("namespace %q is listed twice", ns), "remove the duplicate")
		}
		seen[ns] = true
	}
	for i, n := range s.Nodes {
		ip := p.Child("nodes").Index(i)
		if n == "" {
			ps.Add(ip, "empty node name", "write the name of a node, or remove the entry")
			continue
		}
		checkDNSSubdomain(ip, n, ps)
	}
	for _, ns := range sortedKeys(s.Pods) {
		kp := p.Child("pods").Key(ns)
		checkNamespace(kp, ns, ps)
		if len(s.Pods[ns]) == 0 {
			ps.Add(kp, fmt.Sprintf("no pod names listed for namespace %q", ns), "list pod names, e.g. pods: {default: [web-0]}")
		}
		for i, name := range s.Pods[ns] {
			checkDNSSubdomain(kp.Index(i), name, ps)
		}
	}
	checkLabelMap(p.Child("nodeSelectors"), s.NodeSelectors, true, ps)
	checkLabelMap(p.Child("labelSelectors"), s.LabelSelectors, true, ps)
	checkLabelMap(p.Child("annotationSelectors"), s.AnnotationSelectors, false, ps)
	for _, k := range sortedKeys(s.FieldSelectors) {
		validateEnum(p.Child("fieldSelectors").Key(k), k, podFieldSelectors, ps)
	}
	for i := range s.ExpressionSelectors {
		validateExpressionSelector(p.Child("expressionSelectors").Index(i), &s.ExpressionSelectors[i], ps)
	}
	for i, ph := range s.PodPhaseSelectors {
		ip := p.Child("podPhaseSelectors").Index(i)
		if ph == "" {
			ps.Add(ip, "empty pod phase", "valid values: "+strings.Join(podPhases, ", "))
			continue
		}
		validateEnum(ip, string(ph), podPhases, ps)
	}
}

func validateExpressionSelector(p Path, r *v1alpha1.LabelSelectorRequirement, ps *Problems) {
	if r.Key == "" {
		ps.Required(p.Child("key"), "write the label key to test, e.g. key: app")
	} else {
		checkLabelKey(p.Child("key"), r.Key, ps)
	}
	switch r.Operator {
	case "":
		ps.Required(p.Child("operator"), "write operator: In, NotIn, Exists or DoesNotExist")
	case v1alpha1.LabelOpIn, v1alpha1.LabelOpNotIn:
		if len(r.Values) == 0 {
			ps.Add(p.Child("values"), fmt.Sprintf("operator %s needs at least one value", r.Operator), "write values: [a, b]")
		}
	case v1alpha1.LabelOpExists, v1alpha1.LabelOpDoesNotExist:
		if len(r.Values) > 0 {
			ps.Add(p.Child("values"), fmt.Sprintf("operator %s takes no values", r.Operator),
				"remove values, or use operator In or NotIn")
		}
	default:
		validateEnum(p.Child("operator"), string(r.Operator), labelSelOps, ps)
	}
	for i, v := range r.Values {
		checkLabelValue(p.Child("values").Index(i), v, ps)
	}
}

// checkLabelMap checks label-shaped keys; values are checked as label
// values only for labels (annotation values are free text).
func checkLabelMap(p Path, m map[string]string, labelValues bool, ps *Problems) {
	for _, k := range sortedKeys(m) {
		kp := p.Key(k)
		checkLabelKey(kp, k, ps)
		if labelValues {
			checkLabelValue(kp, m[k], ps)
		}
	}
}

func checkLabelKey(p Path, k string, ps *Problems) {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		prefix, name = "", k
	}
	ok := len(name) <= 63 && labelNameRe.MatchString(name)
	if hasPrefix {
		ok = ok && prefix != "" && len(prefix) <= 253 && dns1123Subdomain.MatchString(prefix)
	}
	if !ok {
		ps.Add(p, fmt.Sprintf("%q is not a valid label key", k), labelKeyHint)
	}
}

func checkLabelValue(p Path, v string, ps *Problems) {
	if v != "" && (len(v) > 63 || !labelNameRe.MatchString(v)) {
		ps.Add(p, fmt.Sprintf("%q is not a valid label value", v),
			"a label value is empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
	}
}

func checkNamespace(p Path, ns string, ps *Problems) {
	if len(ns) > 63 || !dns1123Label.MatchString(ns) {
		ps.Add(p, fmt.Sprintf("%q is not a valid namespace", ns),
			"use lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit")
	}
}

// validateContainerNames checks containerNames; p is the list's path.
func validateContainerNames(p Path, names []string, ps *Problems) {
	seen := map[string]bool{}
	for i, n := range names {
		ip := p.Index(i)
		if n == "" {
			ps.Add(ip, "empty container name", "write the name of a container of the selected pods, or remove the entry")
			continue
		}
		checkDNSLabel(ip, n, ps)
		if seen[n] {
			ps.Warn(ip, fmt.Sprintf("container %q is listed twice", n), "remove the duplicate")
		}
		seen[n] = true
	}
}

// enumValues turns typed string constants into the list validateEnum takes.
func enumValues[T ~string](vals ...T) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
}

// sortedKeys gives map keys in a stable order so that problems are reported
// deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
