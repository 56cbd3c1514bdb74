package kube

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// A StatefulSet's replacement pod has the killed pod's name: the UID
// precondition and the recovery measurement must tell them apart, and the
// grace period must be passed on.
func TestE2EPodKillStatefulSetWithGrace(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	n := int32(2)
	labels := map[string]string{"app": "db"}
	ss := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: cl.ns},
		Spec: appsv1.StatefulSetSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "example.invalid/db:1"}}, TerminationGracePeriodSeconds: ptr(int64(30))}}}}
	if _, err := cl.c.AppsV1().StatefulSets(cl.ns).Create(cl.ctx(30*time.Second), ss, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.eventually(90*time.Second, "statefulset db available", func(ctx context.Context) (bool, error) {
		s, err := cl.c.AppsV1().StatefulSets(cl.ns).Get(ctx, "db", metav1.GetOptions{})
		return err == nil && s.Status.AvailableReplicas == n, err
	})
	old, err := cl.c.CoreV1().Pods(cl.ns).Get(cl.ctx(10*time.Second), "db-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := cl.engine(Options{RecoveryTimeout: 60 * time.Second})
	spec := podChaos(v1alpha1.PodKill, v1alpha1.ModeAll, "", nil)
	spec.Selector.Pods = map[string][]string{cl.ns: {"db-1"}}
	spec.GracePeriod = 5
	inj, err := e.Inject(cl.ctx(90*time.Second), engine.Fault{Kind: "PodChaos", Name: "kill-db", Namespace: cl.ns, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, inj, 90*time.Second)
	var rec *engine.Fidelity
	for _, fi := range inj.Fidelity() {
		if fi.Quantity == "recovery" {
			rec = &fi
		}
	}
	if rec == nil || rec.Target != cl.ns+"/StatefulSet/db" || rec.MeasuredValue <= 0 {
		t.Fatalf("recovery = %+v; events %+v", rec, inj.Events())
	}
	t.Logf("StatefulSet db available again %.3fs after pod-kill (grace 5s) of db-1", rec.MeasuredValue)
	cur, err := cl.c.CoreV1().Pods(cl.ns).Get(cl.ctx(10*time.Second), "db-1", metav1.GetOptions{})
	if err != nil || cur.UID == old.UID {
		t.Fatalf("db-1 not replaced: %v (uid %s, old %s)", err, cur.UID, old.UID)
	}
}

// node-down evicts through the taint-eviction controller: pods that do not
// tolerate the NoExecute taint leave the node.
func TestE2ENodeDownEvicts(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	nodes := cl.nodes(2)
	if err := cl.cordon(nodes[1], true); err != nil {
		t.Fatal(err)
	}
	cl.deployment("edge", 2, nodes...)
	if err := cl.cordon(nodes[1], false); err != nil {
		t.Fatal(err)
	}
	e := cl.engine(Options{})
	inj, err := e.Inject(cl.ctx(30*time.Second), engine.Fault{Kind: "NodeChaos", Name: "down", Spec: &v1alpha1.NodeChaosSpec{
		Action: v1alpha1.NodeDown, Mode: v1alpha1.ModeAll, Selector: v1alpha1.NodeChaosSelector{Nodes: []string{nodes[0]}}}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cl.eventually(90*time.Second, "the edge pods left the downed node", func(ctx context.Context) (bool, error) {
		for _, p := range cl.pods("app=edge") {
			if p.Spec.NodeName != nodes[1] {
				return false, nil
			}
		}
		return true, nil
	})
	cl.waitAvailable("edge", 2)
	t.Logf("pods evicted by the NoExecute taint and available on %s %s after node-down", nodes[1], time.Since(start).Round(time.Millisecond))
	if err := inj.Revert(cl.ctx(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := cl.c.CoreV1().Nodes().Get(cl.ctx(10*time.Second), nodes[0], metav1.GetOptions{})
	if err != nil || n.Spec.Unschedulable || len(n.Spec.Taints) > 0 && n.Spec.Taints[0].Key == NodeDownTaint {
		t.Fatalf("node after revert: %v %+v", err, n.Spec)
	}
}

// Hundreds of pods: the journal Lease stays small (one undo step naming a
// label, no per-pod list) and every pod is restored.
func TestE2EPodFailureManyPodsJournalStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 300 pods")
	}
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	const n = 300
	cl.deployment("fleet", n)
	e := cl.engine(Options{})
	start := time.Now()
	inj, err := e.Inject(cl.ctx(3*time.Minute), engine.Fault{Kind: "PodChaos", Name: "fail-fleet", Namespace: cl.ns,
		Spec: podChaos(v1alpha1.PodFailure, v1alpha1.ModeAll, "", map[string]string{"app": "fleet"})})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	l, err := cl.c.CoordinationV1().Leases(DefaultJournalNamespace).Get(cl.ctx(10*time.Second), inj.ID(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	size := len(l.Annotations[entryAnnotation])
	var en engine.Entry
	if err := json.Unmarshal([]byte(l.Annotations[entryAnnotation]), &en); err != nil {
		t.Fatal(err)
	}
	if len(en.Undo) != 1 || len(en.Targets) != 0 || size > 2048 {
		t.Fatalf("journal entry of %d bytes, %d undo steps, %d targets", size, len(en.Undo), len(en.Targets))
	}
	failed, err := cl.c.CoreV1().Pods(cl.ns).List(cl.ctx(30*time.Second), metav1.ListOptions{LabelSelector: FailedLabel + "=" + inj.ID()})
	if err != nil || len(failed.Items) != n {
		t.Fatalf("%v: %d pods labelled failed, want %d", err, len(failed.Items), n)
	}
	t.Logf("pod-failure on %d pods in %s; journal entry %d bytes", n, took.Round(time.Millisecond), size)
	if err := inj.Revert(cl.ctx(3 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, p := range cl.pods("app=fleet") {
		if p.Spec.Containers[0].Image != "example.invalid/fleet:1" || p.Labels[FailedLabel] != "" {
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%d pods not restored", bad)
	}
}
