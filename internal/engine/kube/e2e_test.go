package kube

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/kube/testenv"
)

var shared = testenv.NewShared(testenv.Options{Nodes: 3})

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "kube testenv stop:", err)
	}
	os.Exit(code)
}

var seq atomic.Int64

// cluster is one test's view of the shared control plane: its own
// namespace (opted in or not) and an engine.
type cluster struct {
	t   *testing.T
	env *testenv.Env
	c   kubernetes.Interface
	ns  string
}

func newCluster(t *testing.T, optIn bool) *cluster {
	t.Helper()
	env := shared.Env(t)
	if env == nil {
		return nil
	}
	cl := &cluster{t: t, env: env, c: env.Clientset, ns: fmt.Sprintf("kube-e2e-%d-%d", os.Getpid()%10000, seq.Add(1))}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cl.ns}}
	if optIn {
		ns.Annotations = map[string]string{"faultline.dev/chaos": "enabled"}
	}
	ctx := cl.ctx(30 * time.Second)
	if _, err := cl.c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = cl.c.CoreV1().Namespaces().Delete(ctx, cl.ns, metav1.DeleteOptions{})
	})
	return cl
}

func (cl *cluster) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	cl.t.Cleanup(cancel)
	return ctx
}

func (cl *cluster) engine(opts Options) *Engine {
	cl.t.Helper()
	if opts.Lease == 0 {
		opts.Lease = 3 * time.Second
	}
	seed := uint64(1)
	opts.Seed = &seed
	e, err := New(cl.env.Config, opts)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			cl.t.Errorf("close engine: %v", err)
		}
	})
	return e
}

// deployment creates a Deployment of n replicas (pinned to nodes when
// given) and waits until all are available.
func (cl *cluster) deployment(name string, n int32, nodes ...string) *appsv1.Deployment {
	cl.t.Helper()
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.invalid/" + name + ":1"}},
		TerminationGracePeriodSeconds: ptr(int64(0))}
	if len(nodes) > 0 {
		spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: nodes}}}}}}}
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cl.ns},
		Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}}}
	d, err := cl.c.AppsV1().Deployments(cl.ns).Create(cl.ctx(30*time.Second), d, metav1.CreateOptions{})
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.waitAvailable(name, n)
	return d
}

func (cl *cluster) waitAvailable(name string, n int32) {
	cl.t.Helper()
	cl.eventually(90*time.Second, fmt.Sprintf("deployment %s has %d available replicas", name, n), func(ctx context.Context) (bool, error) {
		d, err := cl.c.AppsV1().Deployments(cl.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.AvailableReplicas == n && d.Status.Replicas == n && d.Status.ObservedGeneration >= d.Generation, nil
	})
}

func (cl *cluster) eventually(d time.Duration, what string, cond func(context.Context) (bool, error)) {
	cl.t.Helper()
	ctx := cl.ctx(d)
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			cl.t.Fatalf("timed out after %s waiting until %s (last error: %v)", d, what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (cl *cluster) pods(selector string) []corev1.Pod {
	cl.t.Helper()
	list, err := cl.c.CoreV1().Pods(cl.ns).List(cl.ctx(30*time.Second), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		cl.t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// nodes adds kwok nodes only this test uses, deleted at the end.
func (cl *cluster) nodes(n int) []string {
	cl.t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-node-%d", cl.ns, i)
	}
	if err := cl.env.AddNodes(cl.ctx(90*time.Second), names...); err != nil {
		cl.t.Fatal(err)
	}
	cl.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range names {
			_ = cl.c.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{})
		}
	})
	return names
}

func (cl *cluster) cordon(node string, on bool) error {
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
	_, err := cl.c.CoreV1().Nodes().Patch(cl.ctx(10*time.Second), node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

func ptr[T any](v T) *T { return &v }

func podChaos(action v1alpha1.PodChaosAction, mode v1alpha1.SelectorMode, value string, labels map[string]string) *v1alpha1.PodChaosSpec {
	s := &v1alpha1.PodChaosSpec{Action: action}
	s.Mode, s.Value, s.Selector.LabelSelectors = mode, value, labels
	return s
}

func waitDone(t *testing.T, inj engine.Injection, d time.Duration) {
	t.Helper()
	select {
	case <-inj.Done():
	case <-time.After(d):
		t.Fatalf("injection %s not done after %s", inj.ID(), d)
	}
}

func TestE2EPodKillDeploymentRecovers(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	cl.deployment("web", 3)
	before := cl.pods("app=web")
	e := cl.engine(Options{RecoveryTimeout: 60 * time.Second})
	f := engine.Fault{Kind: "PodChaos", Name: "kill-web", Namespace: cl.ns, Spec: podChaos(v1alpha1.PodKill, v1alpha1.ModeOne, "", map[string]string{"app": "web"})}
	inj, err := e.Inject(cl.ctx(90*time.Second), f)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, inj, 90*time.Second)
	if len(inj.Targets()) != 1 {
		t.Fatalf("targets = %v, want one pod", inj.Targets())
	}
	killed := inj.Targets()[0]
	var rec *engine.Fidelity
	for _, fi := range inj.Fidelity() {
		if fi.Quantity == "recovery" {
			rec = &fi
		}
	}
	if rec == nil {
		t.Fatalf("no recovery measured; events %+v", inj.Events())
	}
	if rec.Target != cl.ns+"/Deployment/web" || rec.MeasuredValue <= 0 || rec.MeasuredValue > 60 {
		t.Fatalf("recovery = %+v", rec)
	}
	t.Logf("Deployment web available again %.3fs after pod-kill of %s", rec.MeasuredValue, killed.Name)
	after := cl.pods("app=web")
	if len(after) != 3 {
		t.Fatalf("%d pods after recovery, want 3", len(after))
	}
	for _, p := range after {
		if p.Name == killed.Name {
			t.Fatalf("killed pod %s still there", p.Name)
		}
	}
	if slices.EqualFunc(before, after, func(a, b corev1.Pod) bool { return a.UID == b.UID }) {
		t.Fatal("no pod was replaced")
	}
	if ls, err := cl.c.CoordinationV1().Leases(DefaultJournalNamespace).Get(cl.ctx(10*time.Second), inj.ID(), metav1.GetOptions{}); err == nil {
		t.Fatalf("journal lease %s left behind: %v", inj.ID(), ls.Name)
	}
}

func TestE2ENotOptedInRefused(t *testing.T) {
	cl := newCluster(t, false)
	if cl == nil {
		return
	}
	cl.deployment("api", 2)
	e := cl.engine(Options{})
	f := engine.Fault{Kind: "PodChaos", Name: "kill-api", Namespace: cl.ns, Spec: podChaos(v1alpha1.PodKill, v1alpha1.ModeAll, "", map[string]string{"app": "api"})}
	for _, do := range []func() error{
		func() error { _, err := e.Select(cl.ctx(30*time.Second), f); return err },
		func() error { _, err := e.Inject(cl.ctx(30*time.Second), f); return err },
	} {
		err := do()
		if err == nil || !strings.Contains(err.Error(), "has not opted in") || !strings.Contains(err.Error(), "kubectl annotate namespace "+cl.ns) {
			t.Fatalf("err = %v, want the opt-in refusal", err)
		}
	}
	if n := len(cl.pods("app=api")); n != 2 {
		t.Fatalf("%d pods left, want 2 untouched", n)
	}
	// The environment's namespace list is enforced too.
	other := newCluster(t, true)
	other.deployment("api", 1)
	e2 := cl.engine(Options{Namespaces: []string{cl.ns}})
	f.Namespace = other.ns
	if _, err := e2.Select(cl.ctx(30*time.Second), f); err == nil || !strings.Contains(err.Error(), "not one of the environment's namespaces") {
		t.Fatalf("err = %v, want the environment refusal", err)
	}
}

func TestE2EDryRunListsExactPods(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	cl.deployment("front", 3)
	cl.deployment("back", 2)
	e := cl.engine(Options{})
	spec := podChaos(v1alpha1.PodKill, v1alpha1.ModeAll, "", map[string]string{"app": "front"})
	spec.Selector.PodPhaseSelectors = []v1alpha1.PodPhase{"Running"}
	targets, err := e.Select(cl.ctx(30*time.Second), engine.Fault{Kind: "PodChaos", Name: "dry", Namespace: cl.ns, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, tg := range targets {
		got = append(got, tg.Name)
		if tg.Owner != "Deployment/front" || tg.Node == "" || !tg.Ready {
			t.Errorf("target %+v", tg)
		}
	}
	for _, p := range cl.pods("app=front") {
		want = append(want, p.Name)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("dry run = %v, want %v", got, want)
	}
	// Fixed mode, seeded: 2 of the 3, the same two on a second engine.
	spec.Mode, spec.Value = v1alpha1.ModeFixed, "2"
	a, err := e.Select(cl.ctx(30*time.Second), engine.Fault{Kind: "PodChaos", Name: "dry", Namespace: cl.ns, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cl.engine(Options{}).Select(cl.ctx(30*time.Second), engine.Fault{Kind: "PodChaos", Name: "dry", Namespace: cl.ns, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || !slices.EqualFunc(a, b, func(x, y engine.Target) bool { return x.Name == y.Name }) {
		t.Fatalf("seeded fixed mode picked %v then %v", a, b)
	}
	// Nothing deleted by a dry run.
	if n := len(cl.pods("app=front")); n != 3 {
		t.Fatalf("%d pods after dry runs, want 3", n)
	}
	// Annotation selectors filter client-side; no match is an error.
	spec.Mode = v1alpha1.ModeAll
	spec.Selector.AnnotationSelectors = map[string]string{"x": "y"}
	if _, err := e.Select(cl.ctx(30*time.Second), engine.Fault{Kind: "PodChaos", Name: "dry", Namespace: cl.ns, Spec: spec}); err == nil || !strings.Contains(err.Error(), "matches no target") {
		t.Fatalf("err = %v, want no match", err)
	}
}

func TestE2EBlastRadiusRefuses(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	cl.deployment("cache", 4)
	f := engine.Fault{Kind: "PodChaos", Name: "too-many", Namespace: cl.ns, Spec: podChaos(v1alpha1.PodKill, v1alpha1.ModeAll, "", map[string]string{"app": "cache"})}
	_, err := cl.engine(Options{MaxPercent: 50}).Inject(cl.ctx(30*time.Second), f)
	if err == nil || !strings.Contains(err.Error(), "4 of the 4 pods of "+cl.ns+"/Deployment/cache (100%)") {
		t.Fatalf("err = %v, want the percent cap", err)
	}
	_, err = cl.engine(Options{MaxPods: 3}).Inject(cl.ctx(30*time.Second), f)
	if err == nil || !strings.Contains(err.Error(), "would hit 4 pods, more than the cap of 3") {
		t.Fatalf("err = %v, want the pod cap", err)
	}
	if n := len(cl.pods("app=cache")); n != 4 {
		t.Fatalf("%d pods after refusals, want 4", n)
	}
	// Half of them is within a 50% cap.
	f.Spec.(*v1alpha1.PodChaosSpec).Mode, f.Spec.(*v1alpha1.PodChaosSpec).Value = v1alpha1.ModeFixedPercent, "50"
	if _, err := cl.engine(Options{MaxPercent: 50, RecoveryTimeout: -1}).Select(cl.ctx(30*time.Second), f); err != nil {
		t.Fatal(err)
	}
}

func TestE2ENodeDrainMovesPods(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	nodes := cl.nodes(2)
	// Every pod on nodes[0]: nodes[1] is cordoned while they are placed.
	if err := cl.cordon(nodes[1], true); err != nil {
		t.Fatal(err)
	}
	cl.deployment("worker", 4, nodes...)
	if err := cl.cordon(nodes[1], false); err != nil {
		t.Fatal(err)
	}
	// A PDB that allows one disruption at a time: the drain must wait for
	// replacements instead of evicting all at once.
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: cl.ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "worker"}}}}
	if _, err := cl.c.PolicyV1().PodDisruptionBudgets(cl.ns).Create(cl.ctx(10*time.Second), pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.eventually(30*time.Second, "the PDB allows a disruption", func(ctx context.Context) (bool, error) {
		p, err := cl.c.PolicyV1().PodDisruptionBudgets(cl.ns).Get(ctx, "worker", metav1.GetOptions{})
		return err == nil && p.Status.DisruptionsAllowed == 1, err
	})
	var onDrained int
	for _, p := range cl.pods("app=worker") {
		if p.Spec.NodeName == nodes[0] {
			onDrained++
		}
	}
	if onDrained != 4 {
		t.Fatalf("%d pods on %s, want 4", onDrained, nodes[0])
	}
	e := cl.engine(Options{})
	f := engine.Fault{Kind: "NodeChaos", Name: "drain", Spec: &v1alpha1.NodeChaosSpec{Action: v1alpha1.NodeDrain, Mode: v1alpha1.ModeOne,
		Selector: v1alpha1.NodeChaosSelector{Nodes: []string{nodes[0]}}}}
	start := time.Now()
	inj, err := e.Inject(cl.ctx(3*time.Minute), f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drained %d pod(s) off %s in %s: %+v", onDrained, nodes[0], time.Since(start).Round(time.Millisecond), inj.Events())
	for _, p := range cl.pods("app=worker") {
		if p.Spec.NodeName == nodes[0] {
			t.Fatalf("pod %s still on drained node", p.Name)
		}
	}
	cl.waitAvailable("worker", 4)
	for _, p := range cl.pods("app=worker") {
		if p.Spec.NodeName != nodes[1] {
			t.Fatalf("pod %s on %q, want %s", p.Name, p.Spec.NodeName, nodes[1])
		}
	}
	n, _ := cl.c.CoreV1().Nodes().Get(cl.ctx(10*time.Second), nodes[0], metav1.GetOptions{})
	if !n.Spec.Unschedulable {
		t.Fatal("drained node is schedulable")
	}
	if err := inj.Revert(cl.ctx(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _ = cl.c.CoreV1().Nodes().Get(cl.ctx(10*time.Second), nodes[0], metav1.GetOptions{})
	if n.Spec.Unschedulable {
		t.Fatal("node still cordoned after revert")
	}
}

func TestE2EScaleAndBack(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	cl.deployment("svc", 3)
	e := cl.engine(Options{})
	f := engine.Fault{Kind: "ScaleChaos", Name: "shrink", Namespace: cl.ns, Duration: 2 * time.Second,
		Spec: &v1alpha1.ScaleChaosSpec{Workload: &v1alpha1.ScaleWorkload{Kind: v1alpha1.WorkloadDeployment, Name: "svc"}, Replicas: ptr(int32(1))}}
	inj, err := e.Inject(cl.ctx(30*time.Second), f)
	if err != nil {
		t.Fatal(err)
	}
	cl.waitAvailable("svc", 1)
	waitDone(t, inj, 30*time.Second)
	cl.waitAvailable("svc", 3)
	var held *engine.Fidelity
	for _, fi := range inj.Fidelity() {
		if fi.Quantity == "duration" {
			held = &fi
		}
	}
	if held == nil || held.MeasuredValue < 2 {
		t.Fatalf("duration fidelity = %+v", held)
	}
	// Blast radius applies to the pods a scale-down removes.
	_, err = cl.engine(Options{MaxPercent: 50}).Inject(cl.ctx(30*time.Second), f)
	if err == nil || !strings.Contains(err.Error(), "removes 67% of its pods") {
		t.Fatalf("err = %v, want the percent cap", err)
	}
}

func TestE2EPodFailureReplacesImages(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	cl.deployment("model", 2)
	e := cl.engine(Options{})
	f := engine.Fault{Kind: "PodChaos", Name: "fail", Namespace: cl.ns, Spec: podChaos(v1alpha1.PodFailure, v1alpha1.ModeAll, "", map[string]string{"app": "model"})}
	inj, err := e.Inject(cl.ctx(30*time.Second), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cl.pods("app=model") {
		if p.Spec.Containers[0].Image != DefaultPauseImage || p.Labels[FailedLabel] != inj.ID() {
			t.Fatalf("pod %s: image %s, label %q", p.Name, p.Spec.Containers[0].Image, p.Labels[FailedLabel])
		}
	}
	if err := inj.Revert(cl.ctx(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, p := range cl.pods("app=model") {
		if p.Spec.Containers[0].Image != "example.invalid/model:1" || p.Labels[FailedLabel] != "" || p.Annotations[originalImagesAnnotation] != "" {
			t.Fatalf("pod %s not restored: image %s, labels %v", p.Name, p.Spec.Containers[0].Image, p.Labels)
		}
	}
}

// abandon drops every injection without reverting it, as a crash would.
func (e *Engine) abandon() {
	for _, inj := range e.active.Abandon() {
		inj.Abandon()
	}
	e.cancel()
	e.wg.Wait()
}

func TestE2ECrashRecover(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	nodes := cl.nodes(1)
	cl.deployment("store", 3)
	cl.deployment("model", 2)
	crashed := cl.engine(Options{Lease: 2 * time.Second})
	ctx := cl.ctx(2 * time.Minute)
	down, err := crashed.Inject(ctx, engine.Fault{Kind: "NodeChaos", Name: "down", Spec: &v1alpha1.NodeChaosSpec{Action: v1alpha1.NodeDown,
		Mode: v1alpha1.ModeAll, Selector: v1alpha1.NodeChaosSelector{Nodes: nodes}}})
	if err != nil {
		t.Fatal(err)
	}
	scale, err := crashed.Inject(ctx, engine.Fault{Kind: "ScaleChaos", Name: "shrink", Namespace: cl.ns,
		Spec: &v1alpha1.ScaleChaosSpec{Workload: &v1alpha1.ScaleWorkload{Kind: v1alpha1.WorkloadDeployment, Name: "store"}, Replicas: ptr(int32(1))}})
	if err != nil {
		t.Fatal(err)
	}
	fail, err := crashed.Inject(ctx, engine.Fault{Kind: "PodChaos", Name: "fail", Namespace: cl.ns,
		Spec: podChaos(v1alpha1.PodFailure, v1alpha1.ModeAll, "", map[string]string{"app": "model"})})
	if err != nil {
		t.Fatal(err)
	}
	// The journal was written before acting: each Lease names its undo step.
	for _, tc := range []struct {
		inj  engine.Injection
		undo string
	}{{down, undoNodeUp}, {scale, undoScale}, {fail, undoRestoreImages}} {
		l, err := cl.c.CoordinationV1().Leases(DefaultJournalNamespace).Get(ctx, tc.inj.ID(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		en, err := decodeLease(l)
		if err != nil || len(en.Undo) != 1 || en.Undo[0].Action != tc.undo {
			t.Fatalf("journal of %s: %+v, %v", tc.inj.ID(), en, err)
		}
	}
	n, _ := cl.c.CoreV1().Nodes().Get(ctx, nodes[0], metav1.GetOptions{})
	if !n.Spec.Unschedulable || !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
		return t.Key == NodeDownTaint && t.Effect == corev1.TaintEffectNoExecute
	}) {
		t.Fatalf("node-down: node spec %+v", n.Spec)
	}
	crashed.abandon()

	rescuer := cl.engine(Options{})
	ids := []string{down.ID(), scale.ID(), fail.ID()}
	// Still leased: a live holder's faults are not touched.
	// Other tests' leftovers may make Recover report errors: only this
	// test's injections are checked.
	rep, err := rescuer.Recover(ctx, RecoverOptions{})
	if rep == nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !slices.Contains(rep.Held, id) {
			t.Fatalf("recover before the lease ran out: %+v, want %s held", rep, id)
		}
	}
	recovered := map[string]bool{}
	cl.eventually(30*time.Second, "the leases run out and Recover reverts", func(ctx context.Context) (bool, error) {
		rep, err := rescuer.Recover(ctx, RecoverOptions{})
		if rep != nil {
			for _, r := range rep.Injections {
				if slices.Contains(ids, r.ID) && r.Error == "" {
					recovered[r.ID] = true
					t.Logf("recovered %s (%s): %+v", r.ID, r.Reason, r.Steps)
				}
			}
		}
		return len(recovered) == len(ids), err
	})
	rep, _ = rescuer.Recover(ctx, RecoverOptions{})
	for _, r := range rep.Injections {
		if slices.Contains(ids, r.ID) {
			t.Fatalf("%s recovered twice", r.ID)
		}
	}
	n, _ = cl.c.CoreV1().Nodes().Get(ctx, nodes[0], metav1.GetOptions{})
	if n.Spec.Unschedulable || slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == NodeDownTaint }) {
		t.Fatalf("node not brought up: %+v", n.Spec)
	}
	cl.waitAvailable("store", 3)
	for _, p := range cl.pods("app=model") {
		if p.Spec.Containers[0].Image != "example.invalid/model:1" {
			t.Fatalf("pod %s image %s not restored", p.Name, p.Spec.Containers[0].Image)
		}
	}
	for _, id := range ids {
		if _, err := cl.c.CoordinationV1().Leases(DefaultJournalNamespace).Get(ctx, id, metav1.GetOptions{}); err == nil {
			t.Fatalf("journal lease %s left after recovery", id)
		}
	}
}

func TestE2EDataPlaneWithoutChaosMesh(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	e := cl.engine(Options{})
	_, err := e.Inject(cl.ctx(30*time.Second), engine.Fault{Kind: "NetworkChaos", Name: "delay", Namespace: cl.ns, Spec: &v1alpha1.NetworkChaosSpec{}})
	if err == nil || !strings.Contains(err.Error(), "Chaos Mesh, which is not installed") {
		t.Fatalf("err = %v", err)
	}
	_, err = e.Inject(cl.ctx(30*time.Second), engine.Fault{Kind: "PodChaos", Name: "ck", Namespace: cl.ns,
		Spec: &v1alpha1.PodChaosSpec{Action: v1alpha1.ContainerKill, ContainerSelector: v1alpha1.ContainerSelector{
			PodSelector: v1alpha1.PodSelector{Mode: v1alpha1.ModeAll}, ContainerNames: []string{"main"}}}})
	if err == nil || !strings.Contains(err.Error(), "container-kill cannot be done through the Kubernetes API") {
		t.Fatalf("err = %v", err)
	}
}
