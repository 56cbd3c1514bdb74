package kube

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/selector"
)

// podFieldSelectors are the pod fields the API server can filter on; a
// fieldSelectors key outside them is refused, as the API server would.
var podFieldSelectors = []string{
	"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
	"spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
	"status.nominatedNodeName",
}

// podQuery is the part of a selector pushed to the API server for one
// namespace.
type podQuery struct {
	labelSelector string
	fieldSelector string
}

// buildPodQuery translates what the API server can filter of s for the
// pods of namespace ns: labelSelectors and expressionSelectors as a label
// selector; fieldSelectors, and a single node, phase or pod name, as a
// field selector. Everything else (annotations, node labels, several
// nodes, phases or names) is left to selector.Match on the listed pods,
// which re-checks every criterion anyway.
func buildPodQuery(s *v1alpha1.PodSelectorSpec, ns string) (podQuery, error) {
	if s == nil {
		return podQuery{}, nil
	}
	sel := labels.SelectorFromSet(labels.Set(s.LabelSelectors))
	for _, r := range s.ExpressionSelectors {
		var op selection.Operator
		switch r.Operator {
		case v1alpha1.LabelOpIn:
			op = selection.In
		case v1alpha1.LabelOpNotIn:
			op = selection.NotIn
		case v1alpha1.LabelOpExists:
			op = selection.Exists
		case v1alpha1.LabelOpDoesNotExist:
			op = selection.DoesNotExist
		default:
			return podQuery{}, fmt.Errorf("expressionSelectors: unknown operator %q (In, NotIn, Exists, DoesNotExist)", r.Operator)
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil {
			return podQuery{}, fmt.Errorf("expressionSelectors: %w", err)
		}
		sel = sel.Add(*req)
	}
	if _, err := labels.Parse(sel.String()); err != nil {
		return podQuery{}, fmt.Errorf("labelSelectors: %w", err)
	}
	keys := make([]string, 0, len(s.FieldSelectors))
	for k := range s.FieldSelectors {
		if !slices.Contains(podFieldSelectors, k) {
			return podQuery{}, fmt.Errorf("fieldSelectors: %q is not a field the API server selects pods on (it takes %s)", k, strings.Join(podFieldSelectors, ", "))
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var terms []fields.Selector
	for _, k := range keys {
		terms = append(terms, fields.OneTermEqualSelector(k, s.FieldSelectors[k]))
	}
	if len(s.Nodes) == 1 {
		terms = append(terms, fields.OneTermEqualSelector("spec.nodeName", s.Nodes[0]))
	}
	if len(s.PodPhaseSelectors) == 1 {
		terms = append(terms, fields.OneTermEqualSelector("status.phase", string(s.PodPhaseSelectors[0])))
	}
	if names := s.Pods[ns]; len(s.Pods) > 0 && len(names) == 1 {
		terms = append(terms, fields.OneTermEqualSelector("metadata.name", names[0]))
	}
	q := podQuery{labelSelector: sel.String()}
	if len(terms) > 0 {
		q.fieldSelector = fields.AndSelectors(terms...).String()
	}
	return q, nil
}

// selectorNamespaces are the namespaces a pod selector looks in: its
// namespaces, else those its pods name, else the chaos object's, else
// every namespace the engine may touch ("" in the result).
func selectorNamespaces(s *v1alpha1.PodSelectorSpec, defaultNS string) []string {
	switch {
	case s != nil && len(s.Namespaces) > 0:
		return uniqueSorted(s.Namespaces)
	case s != nil && len(s.Pods) > 0:
		var out []string
		for ns := range s.Pods {
			out = append(out, ns)
		}
		return uniqueSorted(out)
	case defaultNS != "":
		return []string{defaultNS}
	}
	return nil
}

func uniqueSorted(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}

// optedIn reports whether a namespace's annotations carry the opt-in.
func (e *Engine) optedIn(ann map[string]string) bool {
	v, ok := ann[e.optKey]
	return ok && (e.optAny || v == e.optVal)
}

// checkNamespace refuses a namespace outside the environment or without
// the opt-in annotation, saying how to opt it in.
func (e *Engine) checkNamespace(ctx context.Context, ns string) error {
	if len(e.opts.Namespaces) > 0 && !slices.Contains(e.opts.Namespaces, ns) {
		return fmt.Errorf("namespace %s is not one of the environment's namespaces (%s)", ns, strings.Join(e.opts.Namespaces, ", "))
	}
	obj, err := e.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	if !e.optedIn(obj.Annotations) {
		return fmt.Errorf("namespace %s has not opted in to chaos: faultline only touches namespaces annotated %s (kubectl annotate namespace %s %s)",
			ns, e.opts.OptInAnnotation, ns, e.annotateArg())
	}
	return nil
}

func (e *Engine) annotateArg() string {
	if e.optAny {
		return e.optKey + "=true"
	}
	return e.optKey + "=" + e.optVal
}

// allowedNamespaces are the namespaces the engine may touch: the
// environment's (each checked), else every opted-in namespace.
func (e *Engine) allowedNamespaces(ctx context.Context) ([]string, error) {
	if len(e.opts.Namespaces) > 0 {
		for _, ns := range e.opts.Namespaces {
			if err := e.checkNamespace(ctx, ns); err != nil {
				return nil, err
			}
		}
		return uniqueSorted(e.opts.Namespaces), nil
	}
	list, err := e.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []string
	for _, ns := range list.Items {
		if e.optedIn(ns.Annotations) {
			out = append(out, ns.Name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no namespace has opted in to chaos: annotate one with %s", e.opts.OptInAnnotation)
	}
	return out, nil
}

// nodeLabels maps node names to their labels (for nodeSelectors and the
// targets' NodeLabels). Nodes are few next to pods: one LIST is cheap.
func (e *Engine) nodeLabels(ctx context.Context) (map[string]map[string]string, error) {
	list, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := make(map[string]map[string]string, len(list.Items))
	for _, n := range list.Items {
		out[n.Name] = n.Labels
	}
	return out, nil
}

// listPage is the page size of pod lists: a 10,000-pod namespace is read
// in pages instead of one huge response.
const listPage = 500

// listPods lists the live (not terminating) pods of ns matching q.
func (e *Engine) listPods(ctx context.Context, ns string, q podQuery, nodes map[string]map[string]string) ([]engine.Target, error) {
	var out []engine.Target
	opts := metav1.ListOptions{LabelSelector: q.labelSelector, FieldSelector: q.fieldSelector, Limit: listPage}
	for {
		list, err := e.client.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list pods in %s: %w", ns, err)
		}
		for i := range list.Items {
			p := &list.Items[i]
			if p.DeletionTimestamp != nil {
				// Already going: killing or failing it would succeed
				// without doing anything.
				continue
			}
			out = append(out, podTarget(p, nodes))
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// podTarget describes a pod as a target.
func podTarget(p *corev1.Pod, nodes map[string]map[string]string) engine.Target {
	t := engine.Target{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, Annotations: p.Annotations,
		Node: p.Spec.NodeName, NodeLabels: nodes[p.Spec.NodeName], Phase: string(p.Status.Phase), Owner: podOwner(p),
		Fields: map[string]string{
			"spec.restartPolicy":       string(p.Spec.RestartPolicy),
			"spec.schedulerName":       p.Spec.SchedulerName,
			"spec.serviceAccountName":  p.Spec.ServiceAccountName,
			"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
			"status.podIP":             p.Status.PodIP,
			"status.nominatedNodeName": p.Status.NominatedNodeName,
			"metadata.uid":             string(p.UID),
		}}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			t.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, c := range p.Spec.Containers {
		t.Containers = append(t.Containers, c.Name)
	}
	return t
}

// podOwner names a pod's workload as Kind/name. A ReplicaSet made by a
// Deployment is named after the Deployment: the deployment controller names
// it <deployment>-<pod-template-hash>, which saves a GET per ReplicaSet.
func podOwner(p *corev1.Pod) string {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return ""
	}
	if ref.Kind == "ReplicaSet" {
		if h := p.Labels["pod-template-hash"]; h != "" && strings.HasSuffix(ref.Name, "-"+h) {
			return "Deployment/" + strings.TrimSuffix(ref.Name, "-"+h)
		}
	}
	return ref.Kind + "/" + ref.Name
}

func targetKey(t engine.Target) string {
	if t.Namespace == "" {
		return t.Name
	}
	return t.Namespace + "/" + t.Name
}

// selectPods resolves a Chaos Mesh pod selector with its mode against the
// cluster, after the namespace checks; the blast radius is checked by the
// caller on the result.
func (e *Engine) selectPods(ctx context.Context, sel *v1alpha1.PodSelector, defaultNS string) ([]engine.Target, error) {
	if sel == nil {
		return nil, errors.New("no selector given")
	}
	nss := selectorNamespaces(&sel.Selector, defaultNS)
	if len(nss) == 0 {
		var err error
		if nss, err = e.allowedNamespaces(ctx); err != nil {
			return nil, err
		}
	} else {
		for _, ns := range nss {
			if err := e.checkNamespace(ctx, ns); err != nil {
				return nil, err
			}
		}
	}
	nodes, err := e.nodeLabels(ctx)
	if err != nil {
		return nil, err
	}
	var all []engine.Target
	for _, ns := range nss {
		q, err := buildPodQuery(&sel.Selector, ns)
		if err != nil {
			return nil, err
		}
		ts, err := e.listPods(ctx, ns, q, nodes)
		if err != nil {
			return nil, err
		}
		all = append(all, ts...)
	}
	var out []engine.Target
	err = e.withRand(func(rng *rand.Rand) error {
		var err error
		out, err = selector.Select(all, sel, defaultNS, rng)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("in namespaces %s: %w", strings.Join(nss, ", "), err)
	}
	return out, nil
}

// workloadSizes counts the live pods of each workload (namespace/Kind/name)
// the targets belong to, for the percent cap. Bare pods are a workload of
// one. Only read when a percent cap is set.
func (e *Engine) workloadSizes(ctx context.Context, targets []engine.Target) (map[string]int, error) {
	nss := map[string]bool{}
	for _, t := range targets {
		nss[t.Namespace] = true
	}
	sizes := map[string]int{}
	for ns := range nss {
		ts, err := e.listPods(ctx, ns, podQuery{}, nil)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			sizes[workloadKey(t)]++
		}
	}
	return sizes, nil
}

func workloadKey(t engine.Target) string {
	if t.Owner == "" {
		return t.Namespace + "/Pod/" + t.Name
	}
	return t.Namespace + "/" + t.Owner
}

// checkBlastRadius refuses a fault hitting more than maxPods pods, or more
// than maxPercent of one workload's pods (sizes from workloadSizes). Zero
// caps are off.
func checkBlastRadius(hit []engine.Target, sizes map[string]int, maxPods int, maxPercent float64) error {
	if maxPods > 0 && len(hit) > maxPods {
		return fmt.Errorf("blast radius: the fault would hit %d pods, more than the cap of %d (raise the environment's spec.kube.maxPods, or narrow the selector or mode)", len(hit), maxPods)
	}
	if maxPercent <= 0 {
		return nil
	}
	per := map[string]int{}
	for _, t := range hit {
		per[workloadKey(t)]++
	}
	keys := make([]string, 0, len(per))
	for k := range per {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		size := max(sizes[k], per[k])
		if pct := 100 * float64(per[k]) / float64(size); pct > maxPercent+1e-9 {
			return fmt.Errorf("blast radius: the fault would hit %d of the %d pods of %s (%.0f%%), more than the cap of %g%% (raise the environment's spec.kube.maxPercent, or narrow the selector or mode)",
				per[k], size, k, pct, maxPercent)
		}
	}
	return nil
}

// checkRadius applies the engine's caps to pods a fault would hit.
func (e *Engine) checkRadius(ctx context.Context, hit []engine.Target) error {
	var sizes map[string]int
	if e.opts.MaxPercent > 0 {
		var err error
		if sizes, err = e.workloadSizes(ctx, hit); err != nil {
			return err
		}
	}
	return checkBlastRadius(hit, sizes, e.opts.MaxPods, e.opts.MaxPercent)
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
