package kube

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/util/retry"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/selector"
)

// NodeDownTaint is the taint node-down puts on a node (effect NoExecute,
// value the injection id): the taint-eviction controller evicts every pod
// that does not tolerate it, as it would for a node that went away.
const NodeDownTaint = "faultline.dev/node-down"

// Nodes lists the cluster's nodes.
func (e *Engine) Nodes(ctx context.Context) ([]engine.Node, error) {
	list, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := make([]engine.Node, 0, len(list.Items))
	for _, n := range list.Items {
		node := engine.Node{Name: n.Name, Labels: n.Labels, Schedulable: !n.Spec.Unschedulable}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				node.Ready = c.Status == corev1.ConditionTrue
			}
		}
		out = append(out, node)
	}
	return out, nil
}

func (e *Engine) planNode(ctx context.Context, spec *v1alpha1.NodeChaosSpec) (*faultPlan, error) {
	if err := engine.CheckNodeChaos(spec); err != nil {
		return nil, err
	}
	all, err := e.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var nodes []engine.Node
	err = e.withRand(func(rng *rand.Rand) error {
		var err error
		nodes, err = selector.SelectNodes(all, &spec.Selector, spec.Mode, spec.Value, rng)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Every pod the fault would move must be in a namespace that opted in:
	// draining a node touches all of them.
	var hit []engine.Target
	bad, checked := map[string]bool{}, map[string]bool{}
	for _, n := range nodes {
		pods, err := e.evictablePods(ctx, n.Name)
		if err != nil {
			return nil, err
		}
		for i := range pods {
			if ns := pods[i].Namespace; !checked[ns] {
				checked[ns] = true
				bad[ns] = e.checkNamespace(ctx, ns) != nil
			}
			hit = append(hit, podTarget(&pods[i], nil))
		}
	}
	for ns, b := range bad {
		if !b {
			delete(bad, ns)
		}
	}
	if len(bad) > 0 {
		nss := make([]string, 0, len(bad))
		for ns := range bad {
			nss = append(nss, ns)
		}
		sort.Strings(nss)
		return nil, fmt.Errorf("node %s runs pods of namespace %s, which has not opted in to chaos (annotation %s) or is outside the environment: %s would move them too",
			nodeNames(nodes), strings.Join(nss, ", "), e.opts.OptInAnnotation, spec.Action)
	}
	if err := e.checkRadius(ctx, hit); err != nil {
		return nil, err
	}
	p := &faultPlan{}
	for _, n := range nodes {
		p.targets = append(p.targets, engine.Target{Name: n.Name, Node: n.Name, Labels: n.Labels, NodeLabels: n.Labels,
			Phase: nodePhase(n), Ready: n.Ready})
		if spec.Action == v1alpha1.NodeDown {
			p.actions = append(p.actions, &nodeDown{e: e, node: n.Name})
		} else {
			p.actions = append(p.actions, &nodeDrain{e: e, node: n.Name})
		}
	}
	if spec.Action == v1alpha1.NodeDown {
		p.notes = append(p.notes, "node-down cordons the node and taints it "+NodeDownTaint+":NoExecute; the node's Ready condition belongs to its kubelet and is left alone")
	}
	return p, nil
}

func nodeNames(nodes []engine.Node) string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.Name)
	}
	return strings.Join(s, ", ")
}

func nodePhase(n engine.Node) string {
	if n.Ready {
		return "Ready"
	}
	return "NotReady"
}

// evictablePods are the pods a drain moves off a node: live pods that are
// not DaemonSet pods (which would come straight back) nor mirror pods
// (owned by the kubelet, not the API), as kubectl drain chooses.
func (e *Engine) evictablePods(ctx context.Context, node string) ([]corev1.Pod, error) {
	var out []corev1.Pod
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(), Limit: listPage}
	for {
		list, err := e.client.CoreV1().Pods(corev1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list pods on node %s: %w", node, err)
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
				continue
			}
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "DaemonSet" {
				continue
			}
			out = append(out, p)
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// setUnschedulable cordons or uncordons a node.
func (e *Engine) setUnschedulable(ctx context.Context, node string, on bool) error {
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
	if _, err := e.client.CoreV1().Nodes().Patch(ctx, node, "application/strategic-merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		if on {
			return fmt.Errorf("cordon node %s: %w", node, err)
		}
		return fmt.Errorf("uncordon node %s: %w", node, err)
	}
	return nil
}

func (e *Engine) cordoned(ctx context.Context, node string) (*corev1.Node, error) {
	n, err := e.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get node %s: %w", node, err)
	}
	if n.Spec.Unschedulable {
		// Our revert would uncordon a node someone else cordoned.
		return nil, fmt.Errorf("node %s is already cordoned (by another fault, or an operator)", node)
	}
	return n, nil
}

// nodeDrain cordons a node and evicts its pods through the Eviction API,
// which honours PodDisruptionBudgets: an eviction refused with 429 is
// retried until DrainTimeout. The node is uncordoned on revert.
type nodeDrain struct {
	e    *Engine
	node string
}

func (a *nodeDrain) apply(ctx context.Context, rec *recorder) (string, error) {
	if _, err := a.e.cordoned(ctx, a.node); err != nil {
		return "", err
	}
	if _, err := rec.add(undoUncordon, map[string]string{"node": a.node}); err != nil {
		return "", err
	}
	if err := a.e.setUnschedulable(ctx, a.node, true); err != nil {
		return "", err
	}
	n, blocked, err := a.e.drain(ctx, a.node)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Sprintf("cordoned; the drain was cut short by the revert after %d eviction(s)", n), nil
		}
		uctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		defer cancel()
		if uerr := a.e.setUnschedulable(uctx, a.node, false); uerr != nil {
			return "", errors.Join(err, uerr)
		}
		return "", err
	}
	msg := fmt.Sprintf("cordoned and drained: %d pod(s) evicted", n)
	if blocked > 0 {
		msg += fmt.Sprintf(" (%d eviction(s) waited for a PodDisruptionBudget)", blocked)
	}
	return msg, nil
}

func (a *nodeDrain) revert(ctx context.Context) (string, error) {
	if err := a.e.setUnschedulable(ctx, a.node, false); err != nil {
		return "", err
	}
	return "node uncordoned (schedulable again)", nil
}

// drain evicts every evictable pod of node and waits for them to be gone.
// It returns how many were evicted and how many evictions a
// PodDisruptionBudget held back at least once.
func (e *Engine) drain(ctx context.Context, node string) (int, int, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.DrainTimeout)
	defer cancel()
	pods, err := e.evictablePods(ctx, node)
	if err != nil {
		return 0, 0, err
	}
	var (
		mu      sync.Mutex
		evicted int
		blocked int
		errs    []error
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, applyParallelism)
	for i := range pods {
		p := &pods[i]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			waited, err := e.evict(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if waited {
				blocked++
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", p.Namespace, p.Name, err))
				return
			}
			evicted++
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return evicted, blocked, fmt.Errorf("drain node %s: %w", node, err)
	}
	// Wait for the evicted pods to be gone, as kubectl drain does.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		left := 0
		for i := range pods {
			cur, err := e.client.CoreV1().Pods(pods[i].Namespace).Get(ctx, pods[i].Name, metav1.GetOptions{})
			if err == nil && cur.UID == pods[i].UID {
				left++
			} else if err != nil && !apierrors.IsNotFound(err) {
				return evicted, blocked, fmt.Errorf("drain node %s: %w", node, err)
			}
		}
		if left == 0 {
			return evicted, blocked, nil
		}
		select {
		case <-ctx.Done():
			return evicted, blocked, fmt.Errorf("drain node %s: %d evicted pod(s) still terminating: %w", node, left, ctx.Err())
		case <-tick.C:
		}
	}
}

// evict asks the Eviction API to evict p, retrying while a
// PodDisruptionBudget refuses (429); it reports whether it had to wait.
func (e *Engine) evict(ctx context.Context, p *corev1.Pod) (bool, error) {
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}}}
	waited := false
	for {
		err := e.client.PolicyV1().Evictions(p.Namespace).Evict(ctx, ev)
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return waited, nil
		case apierrors.IsConflict(err):
			return waited, nil // replaced under the same name: the old one is gone
		case apierrors.IsTooManyRequests(err):
			waited = true
		default:
			return waited, fmt.Errorf("evict: %w", err)
		}
		select {
		case <-ctx.Done():
			return waited, fmt.Errorf("evict: a PodDisruptionBudget still forbids it: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// nodeDown cordons a node and taints it NoExecute.
type nodeDown struct {
	e    *Engine
	node string
	id   string
}

func (a *nodeDown) apply(ctx context.Context, rec *recorder) (string, error) {
	n, err := a.e.cordoned(ctx, a.node)
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == NodeDownTaint }) {
		return "", fmt.Errorf("node %s is already down (taint %s)", a.node, NodeDownTaint)
	}
	if _, err := rec.add(undoNodeUp, map[string]string{"node": a.node}); err != nil {
		return "", err
	}
	a.id = rec.inj.id
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := a.e.client.CoreV1().Nodes().Get(ctx, a.node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		cur.Spec.Unschedulable = true
		cur.Spec.Taints = append(cur.Spec.Taints, corev1.Taint{Key: NodeDownTaint, Value: a.id, Effect: corev1.TaintEffectNoExecute, TimeAdded: &now})
		_, err = a.e.client.CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("taint node %s: %w", a.node, err)
	}
	return "cordoned and tainted " + NodeDownTaint + ":NoExecute; pods without a toleration are evicted", nil
}

func (a *nodeDown) revert(ctx context.Context) (string, error) {
	if err := a.e.nodeUp(ctx, a.node); err != nil {
		return "", err
	}
	return "taint removed and node uncordoned", nil
}

// nodeUp removes the node-down taint and uncordons the node.
func (e *Engine) nodeUp(ctx context.Context, node string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := e.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Taints = slices.DeleteFunc(cur.Spec.Taints, func(t corev1.Taint) bool { return t.Key == NodeDownTaint })
		cur.Spec.Unschedulable = false
		_, err = e.client.CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bring node %s up: %w", node, err)
	}
	return nil
}
