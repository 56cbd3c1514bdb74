package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// Undo actions a kube injection journals; Recover performs them.
const (
	// undoRestoreImages puts back the images of every pod labelled
	// failedLabel=<injection> (arg injection).
	undoRestoreImages = "restore-pod-images"
	// undoUncordon makes a node schedulable again (arg node).
	undoUncordon = "uncordon-node"
	// undoNodeUp removes the node-down taint and uncordons (arg node).
	undoNodeUp = "node-up"
	// undoScale sets a workload's replicas back (args kind, namespace,
	// name, replicas).
	undoScale = "scale"
	undoNone  = "none"
)

// Pod-failure bookkeeping on the pod itself, so recovery finds every
// failed pod with one label selector however many there are.
const (
	// FailedLabel marks a pod failed by pod-failure; its value is the
	// injection id.
	FailedLabel = "faultline.dev/pod-failure"
	// originalImagesAnnotation holds {container: image} of a failed pod.
	originalImagesAnnotation = "faultline.dev/original-images"
)

func (e *Engine) planPod(ctx context.Context, f engine.Fault, spec *v1alpha1.PodChaosSpec) (*faultPlan, error) {
	if spec.GracePeriod < 0 {
		return nil, fmt.Errorf("gracePeriod %d is negative", spec.GracePeriod)
	}
	switch spec.Action {
	case v1alpha1.PodKill, v1alpha1.PodFailure:
	case v1alpha1.ContainerKill:
		if len(spec.ContainerNames) == 0 {
			return nil, errors.New("container-kill needs containerNames")
		}
		if has, err := e.hasChaosMesh(ctx); err != nil || !has {
			return nil, fmt.Errorf("container-kill cannot be done through the Kubernetes API (it has no call that kills one container of a pod); the kube engine delegates it to Chaos Mesh, which is not installed in this cluster (%v); pod-kill kills the whole pod", err)
		}
		return e.planChaosMesh(ctx, f, "podchaos")
	case "":
		return nil, errors.New("no action given; PodChaos takes pod-kill, pod-failure or container-kill")
	default:
		return nil, fmt.Errorf("unknown action %q; PodChaos takes pod-kill, pod-failure or container-kill", spec.Action)
	}
	targets, err := e.selectPods(ctx, &spec.PodSelector, f.Namespace)
	if err != nil {
		return nil, err
	}
	if err := e.checkRadius(ctx, targets); err != nil {
		return nil, err
	}
	p := &faultPlan{targets: targets, instant: spec.Action == v1alpha1.PodKill}
	kills := make([]*podKill, 0, len(targets))
	for _, t := range targets {
		uid := types.UID(t.Fields["metadata.uid"])
		if spec.Action == v1alpha1.PodKill {
			k := &podKill{e: e, ns: t.Namespace, name: t.Name, uid: uid, labels: t.Labels, grace: spec.GracePeriod}
			kills = append(kills, k)
			p.actions = append(p.actions, k)
		} else {
			p.actions = append(p.actions, &podFailure{e: e, ns: t.Namespace, name: t.Name, uid: uid})
		}
	}
	if spec.Action == v1alpha1.PodKill && e.opts.RecoveryTimeout > 0 {
		p.settle = func(ctx context.Context, inj *injection, ok []bool) {
			e.measureRecovery(ctx, inj, kills, ok)
		}
	}
	if spec.Action == v1alpha1.PodFailure {
		p.notes = append(p.notes, fmt.Sprintf("pod-failure replaces each container's image with %s: the pod stays scheduled, its application does not run (a container whose spec sets command cannot start in that image and restarts until the revert); a readiness probe makes it unready", e.opts.PauseImage))
	}
	return p, nil
}

// podKill deletes one pod with the asked grace period; the UID
// precondition spares a same-named replacement (a StatefulSet's).
type podKill struct {
	e      *Engine
	ns     string
	name   string
	uid    types.UID
	labels map[string]string // at selection, to tell whether the workload's selector still sees it
	grace  int64

	killedAt time.Time
}

func (a *podKill) apply(ctx context.Context, _ *recorder) (string, error) {
	grace := a.grace
	opts := metav1.DeleteOptions{GracePeriodSeconds: &grace}
	if a.uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &a.uid}
	}
	a.killedAt = time.Now()
	if err := a.e.client.CoreV1().Pods(a.ns).Delete(ctx, a.name, opts); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return "", fmt.Errorf("the pod is already gone: %w", err)
		}
		return "", fmt.Errorf("delete pod: %w", err)
	}
	if grace == 0 {
		return "deleted at once (grace period 0)", nil
	}
	return fmt.Sprintf("deleted with a grace period of %ds", grace), nil
}

func (a *podKill) revert(context.Context) (string, error) { return "", nil }

// workloadRef is a workload as podOwner names it, in a namespace.
type workloadRef struct{ ns, kind, name string }

// measureRecovery waits until every killed pod is gone (or replaced under
// its name) and each of their workloads reports all its replicas
// available, and records the time from the kill as a "recovery" fidelity
// per workload. Bounded by RecoveryTimeout; a Revert ends it early.
func (e *Engine) measureRecovery(ctx context.Context, inj *injection, kills []*podKill, ok []bool) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.RecoveryTimeout)
	defer cancel()
	byWorkload := map[workloadRef][]*podKill{}
	for i, k := range kills {
		if !ok[i] {
			continue
		}
		kind, name, _ := strings.Cut(inj.plan.targets[i].Owner, "/")
		byWorkload[workloadRef{k.ns, kind, name}] = append(byWorkload[workloadRef{k.ns, kind, name}], k)
	}
	refs := make([]workloadRef, 0, len(byWorkload))
	for r := range byWorkload {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool {
		return refs[i].ns+refs[i].kind+refs[i].name < refs[j].ns+refs[j].kind+refs[j].name
	})
	var wg sync.WaitGroup
	for _, r := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.measureWorkload(ctx, inj, r, byWorkload[r])
		}()
	}
	wg.Wait()
}

// recoveryTick is how often a workload's recovery is re-checked when no
// pod event arrived (a changed replica count, a pod outside the watch).
const recoveryTick = 100 * time.Millisecond

// measureWorkload follows the workload's pods with one LIST and a WATCH
// on its label selector and keeps a running tally, so the
// cost does not grow with the number of killed pods: the old per-pod GET
// every tick made 10,000 killed pods 10,000 requests per check. Killed
// pods the selector did not match at selection are looked up one by one,
// which for a workload's own pods does not happen.
func (e *Engine) measureWorkload(ctx context.Context, inj *injection, r workloadRef, kills []*podKill) {
	label := r.ns + "/" + r.kind + "/" + r.name
	if r.kind == "" {
		inj.event(engine.EventInfo, label, "a bare pod: no controller replaces it, no recovery to measure")
		return
	}
	start := kills[0].killedAt
	for _, k := range kills {
		if k.killedAt.Before(start) {
			start = k.killedAt
		}
	}
	var (
		desired int32
		sel     labels.Selector
		err     error
	)
	spec := func() error {
		var s string
		if desired, s, err = e.workloadSpec(ctx, r); err != nil {
			return err
		}
		if sel, err = labels.Parse(s); err != nil {
			err = fmt.Errorf("%s %s/%s selector: %w", r.kind, r.ns, r.name, err)
		}
		return err
	}
	tick := time.NewTicker(recoveryTick)
	defer tick.Stop()
	fail := func() {
		why := "the recovery timeout passed"
		if inj.ctx.Err() != nil {
			why = "the injection was reverted"
		}
		msg := fmt.Sprintf("not available again after %s (%s)", time.Since(start).Round(time.Millisecond), why)
		if err != nil {
			msg += ": " + err.Error()
		}
		inj.event(engine.EventInfo, label, msg)
	}
	for {
		if spec() == nil {
			break
		}
		select {
		case <-ctx.Done():
			fail()
			return
		case <-tick.C:
		}
	}
	tally := newPodTally(r.kind+"/"+r.name, kills)
	var outside []*podKill // killed pods the watch cannot see
	for _, k := range kills {
		if !sel.Matches(labels.Set(k.labels)) {
			outside = append(outside, k)
		}
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	synced := e.watchWorkloadPods(wctx, &wg, r.ns, sel.String(), tally)
	lastSpec := time.Now()
	for {
		at := time.Now()
		if synced() && tally.recovered(desired) {
			var gone bool
			if gone, err = e.podsGone(ctx, outside); err == nil && gone {
				// The count is confirmed against the workload's current
				// replicas (it may have been scaled meanwhile).
				var want int32
				if want, _, err = e.workloadSpec(ctx, r); err == nil {
					if desired = want; tally.recovered(desired) {
						d := at.Sub(start)
						inj.addFidelity(engine.Fidelity{Target: label, Quantity: "recovery", Asked: "available again",
							Measured: d.Round(time.Millisecond).String(), MeasuredValue: d.Seconds(), Unit: "s"})
						inj.event(engine.EventRecovered, label, fmt.Sprintf("all replicas available again %s after the kill", d.Round(time.Millisecond)))
						return
					}
				}
			}
		} else if time.Since(lastSpec) > 5*time.Second {
			// Scaled down meanwhile: the old count would never be reached.
			if want, _, serr := e.workloadSpec(ctx, r); serr == nil {
				desired = want
			}
			lastSpec = time.Now()
		}
		select {
		case <-ctx.Done():
			fail()
			return
		case <-tally.changed:
		case <-tick.C:
		}
	}
}

// watchWorkloadPods feeds tally from the pods of ns matching sel until ctx
// ends (wg tracks it): a paged LIST, then a WATCH from its resource
// version, listing again when the watch breaks or its version expired. It
// returns whether the first LIST is in.
func (e *Engine) watchWorkloadPods(ctx context.Context, wg *sync.WaitGroup, ns, sel string, tally *podTally) func() bool {
	pods := e.client.CoreV1().Pods(ns)
	var synced atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			rv, err := tally.list(ctx, pods, sel)
			if err == nil {
				synced.Store(true)
				err = tally.follow(ctx, pods, sel, rv)
			}
			if err != nil && ctx.Err() == nil {
				// A failing API: retried at the tick, bounded by ctx.
				select {
				case <-ctx.Done():
				case <-time.After(recoveryTick * 5):
				}
			}
		}
	}()
	return synced.Load
}

// list replaces the tally with a paged LIST and returns its resource
// version.
func (t *podTally) list(ctx context.Context, pods typedcorev1.PodInterface, sel string) (string, error) {
	present, ready := map[types.UID]bool{}, map[types.UID]bool{}
	opts := metav1.ListOptions{LabelSelector: sel, Limit: listPage}
	for {
		list, err := pods.List(ctx, opts)
		if err != nil {
			return "", fmt.Errorf("list pods: %w", err)
		}
		for i := range list.Items {
			t.classify(&list.Items[i], present, ready)
		}
		if list.Continue == "" {
			t.mu.Lock()
			t.present, t.ready = present, ready
			t.mu.Unlock()
			t.wake()
			return list.ResourceVersion, nil
		}
		opts.Continue = list.Continue
	}
}

// follow applies a WATCH from rv to the tally until it ends; a nil error
// means it closed normally (list and watch again).
func (t *podTally) follow(ctx context.Context, pods typedcorev1.PodInterface, sel, rv string) error {
	w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv, AllowWatchBookmarks: true})
	if err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			p, isPod := ev.Object.(*corev1.Pod)
			switch {
			case ev.Type == watch.Error:
				// Usually "too old resource version": list again.
				return nil
			case !isPod:
			case ev.Type == watch.Added || ev.Type == watch.Modified:
				t.mu.Lock()
				delete(t.present, p.UID)
				delete(t.ready, p.UID)
				t.classify(p, t.present, t.ready)
				t.mu.Unlock()
				t.wake()
			case ev.Type == watch.Deleted:
				t.mu.Lock()
				delete(t.present, p.UID)
				delete(t.ready, p.UID)
				t.mu.Unlock()
				t.wake()
			}
		}
	}
}

// podTally counts, from a workload's pods, the killed pods still in the
// API and the workload's other Ready pods that are not terminating.
type podTally struct {
	owner   string // Kind/name as podOwner says
	killed  map[types.UID]bool
	changed chan struct{} // one pending wake-up

	mu      sync.Mutex
	present map[types.UID]bool // killed pods still in the API
	ready   map[types.UID]bool // replacements (and spared pods) Ready
}

func newPodTally(owner string, kills []*podKill) *podTally {
	t := &podTally{owner: owner, killed: make(map[types.UID]bool, len(kills)), changed: make(chan struct{}, 1),
		present: map[types.UID]bool{}, ready: map[types.UID]bool{}}
	for _, k := range kills {
		t.killed[k.uid] = true
	}
	return t
}

// classify puts p into present or ready, or neither.
func (t *podTally) classify(p *corev1.Pod, present, ready map[types.UID]bool) {
	switch {
	case t.killed[p.UID]:
		present[p.UID] = true
	case p.DeletionTimestamp == nil && podOwner(p) == t.owner && podIsReady(p):
		ready[p.UID] = true
	}
}

func (t *podTally) wake() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// recovered: no killed pod left, and at least desired Ready pods.
func (t *podTally) recovered(desired int32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.present) == 0 && len(t.ready) >= int(desired)
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podsGone reports whether every given killed pod has left the API (a pod
// of the same name with another UID is a replacement).
func (e *Engine) podsGone(ctx context.Context, kills []*podKill) (bool, error) {
	for _, k := range kills {
		p, err := e.client.CoreV1().Pods(k.ns).Get(ctx, k.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, err
		}
		if p.UID == k.uid {
			return false, nil
		}
	}
	return true, nil
}

// workloadSpec returns how many pods a workload wants and its pod selector.
func (e *Engine) workloadSpec(ctx context.Context, r workloadRef) (int32, string, error) {
	apps := e.client.AppsV1()
	var (
		desired int32
		sel     *metav1.LabelSelector
	)
	switch r.kind {
	case "Deployment":
		d, err := apps.Deployments(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			return 0, "", err
		}
		desired, sel = replicasOf(d.Spec.Replicas), d.Spec.Selector
	case "ReplicaSet":
		rs, err := apps.ReplicaSets(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			return 0, "", err
		}
		desired, sel = replicasOf(rs.Spec.Replicas), rs.Spec.Selector
	case "StatefulSet":
		s, err := apps.StatefulSets(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			return 0, "", err
		}
		desired, sel = replicasOf(s.Spec.Replicas), s.Spec.Selector
	case "DaemonSet":
		d, err := apps.DaemonSets(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			return 0, "", err
		}
		desired, sel = d.Status.DesiredNumberScheduled, d.Spec.Selector
	default:
		return 0, "", fmt.Errorf("cannot tell when a %s is available", r.kind)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s/%s: %w", r.kind, r.ns, r.name, err)
	}
	return desired, s.String(), nil
}

// replicasOf is a workload's spec.replicas, 1 when unset (the API default).
func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// podFailure replaces a pod's container images with the pause image
// (mutable on a running pod: the kubelet restarts each container with it)
// and puts the originals back on revert. The originals are kept in an
// annotation on the pod and the pod is labelled with the injection, so
// Recover finds every failed pod with one LIST.
type podFailure struct {
	e    *Engine
	ns   string
	name string
	uid  types.UID
}

func (a *podFailure) apply(ctx context.Context, rec *recorder) (string, error) {
	pods := a.e.client.CoreV1().Pods(a.ns)
	p, err := pods.Get(ctx, a.name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get pod: %w", err)
	}
	if a.uid != "" && p.UID != a.uid {
		return "", errors.New("the pod was replaced since it was selected")
	}
	if by := p.Labels[FailedLabel]; by != "" {
		return "", fmt.Errorf("the pod is already failed by injection %s", by)
	}
	orig := map[string]string{}
	var containers []map[string]string
	for _, c := range p.Spec.Containers {
		orig[c.Name] = c.Image
		containers = append(containers, map[string]string{"name": c.Name, "image": a.e.opts.PauseImage})
	}
	origJSON, err := json.Marshal(orig)
	if err != nil {
		return "", err
	}
	if _, err := rec.add(undoRestoreImages, map[string]string{"injection": rec.inj.id}); err != nil {
		return "", err
	}
	patch, err := json.Marshal(map[string]any{
		// The uid makes the patch fail on a replacement of the same name;
		// no resourceVersion, as status updates would make it conflict.
		"metadata": map[string]any{"uid": p.UID,
			"labels":      map[string]string{FailedLabel: rec.inj.id},
			"annotations": map[string]string{originalImagesAnnotation: string(origJSON)}},
		"spec": map[string]any{"containers": containers},
	})
	if err != nil {
		return "", err
	}
	if _, err := pods.Patch(ctx, a.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return "", fmt.Errorf("replace images: %w", err)
	}
	return fmt.Sprintf("%d container image(s) replaced with %s", len(containers), a.e.opts.PauseImage), nil
}

func (a *podFailure) revert(ctx context.Context) (string, error) {
	return restorePod(ctx, a.e, a.ns, a.name, a.uid)
}

// restorePod puts back a failed pod's images and drops faultline's label
// and annotation. A pod that is gone (or replaced) needs nothing.
func restorePod(ctx context.Context, e *Engine, ns, name string, uid types.UID) (string, error) {
	pods := e.client.CoreV1().Pods(ns)
	p, err := pods.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err == nil && uid != "" && p.UID != uid {
		return "the pod is gone; nothing to restore", nil
	}
	if err != nil {
		return "", fmt.Errorf("get pod: %w", err)
	}
	raw, ok := p.Annotations[originalImagesAnnotation]
	if !ok {
		return "nothing to restore (no original images recorded on the pod)", nil
	}
	var orig map[string]string
	if err := json.Unmarshal([]byte(raw), &orig); err != nil {
		return "", fmt.Errorf("annotation %s is corrupt: %w", originalImagesAnnotation, err)
	}
	var containers []map[string]string
	for _, c := range p.Spec.Containers {
		if img, ok := orig[c.Name]; ok {
			containers = append(containers, map[string]string{"name": c.Name, "image": img})
		}
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": p.UID, "labels": map[string]any{FailedLabel: nil},
			"annotations": map[string]any{originalImagesAnnotation: nil}},
		"spec": map[string]any{"containers": containers},
	})
	if err != nil {
		return "", err
	}
	if _, err := pods.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return "the pod is gone; nothing to restore", nil
		}
		return "", fmt.Errorf("restore images: %w", err)
	}
	return fmt.Sprintf("%d container image(s) restored", len(containers)), nil
}

// restoreFailedPods restores every pod an injection failed, found by label
// in every namespace (the injection's namespaces may have changed).
func restoreFailedPods(ctx context.Context, e *Engine, id string) (string, error) {
	list, err := e.client.CoreV1().Pods(corev1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: FailedLabel + "=" + id})
	if err != nil {
		return "", fmt.Errorf("list pods failed by %s: %w", id, err)
	}
	var errs []error
	for _, p := range list.Items {
		if _, err := restorePod(ctx, e, p.Namespace, p.Name, p.UID); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return fmt.Sprintf("images restored on %d pod(s)", len(list.Items)), nil
}
