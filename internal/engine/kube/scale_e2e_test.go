package kube

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// workload creates a workload of kind with n replicas, without waiting for
// its pods: ScaleChaos only reads and writes its scale subresource.
func (cl *cluster) workload(kind v1alpha1.WorkloadKind, name string, n int32) {
	cl.t.Helper()
	labels := map[string]string{"app": name}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
		Containers:                    []corev1.Container{{Name: "main", Image: "example.invalid/" + name + ":1"}},
		TerminationGracePeriodSeconds: ptr(int64(0))}}
	meta := metav1.ObjectMeta{Name: name, Namespace: cl.ns}
	ctx := cl.ctx(30 * time.Second)
	apps := cl.c.AppsV1()
	var err error
	switch kind {
	case v1alpha1.WorkloadDeployment:
		_, err = apps.Deployments(cl.ns).Create(ctx, &appsv1.Deployment{ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	case v1alpha1.WorkloadStatefulSet:
		_, err = apps.StatefulSets(cl.ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{Replicas: &n, Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	case v1alpha1.WorkloadReplicaSet:
		_, err = apps.ReplicaSets(cl.ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: meta,
			Spec: appsv1.ReplicaSetSpec{Replicas: &n, Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	default:
		cl.t.Fatalf("no workload kind %q", kind)
	}
	if err != nil {
		cl.t.Fatal(err)
	}
}

// replicas is a workload's spec.replicas, read through its scale.
func (cl *cluster) replicas(e *Engine, kind v1alpha1.WorkloadKind, name string) int32 {
	cl.t.Helper()
	s, err := getScale(cl.ctx(10*time.Second), e, string(kind), cl.ns, name)
	if err != nil {
		cl.t.Fatal(err)
	}
	return s.Spec.Replicas
}

func scaleFault(ns, name string, kind v1alpha1.WorkloadKind, workload string, n int32) engine.Fault {
	return engine.Fault{Kind: "ScaleChaos", Name: name, Namespace: ns,
		Spec: &v1alpha1.ScaleChaosSpec{Workload: &v1alpha1.ScaleWorkload{Kind: kind, Name: workload}, Replicas: ptr(n)}}
}

func recoveredMessage(inj engine.Injection) string {
	var msgs []string
	for _, ev := range inj.Events() {
		if ev.Type == engine.EventRecovered {
			msgs = append(msgs, ev.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

// Two ScaleChaos on one workload overlap and end in either order: the
// count follows the newest live one, and the last to end restores the
// original count, not the count it replaced. The holds may come from two
// engines (two faultline processes): the stack is in the journal.
func TestE2EScaleChaosStacks(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	tests := []struct {
		name       string
		kind       v1alpha1.WorkloadKind
		olderEnds  bool  // the older hold is reverted first
		twoEngines bool  // each hold from its own engine
		wantMiddle int32 // the count once one hold ended
	}{
		{"deployment, reverted in order", v1alpha1.WorkloadDeployment, true, false, 2},
		{"deployment, reverted in reverse order", v1alpha1.WorkloadDeployment, false, false, 1},
		{"deployment, two engines, in order", v1alpha1.WorkloadDeployment, true, true, 2},
		{"deployment, two engines, reverse order", v1alpha1.WorkloadDeployment, false, true, 1},
		{"statefulset, reverted in order", v1alpha1.WorkloadStatefulSet, true, false, 2},
		{"replicaset, reverted in reverse order", v1alpha1.WorkloadReplicaSet, false, false, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := &cluster{t: t, env: cl.env, c: cl.c, ns: cl.ns}
			name := "svc-" + string(rune('a'+i))
			cl.workload(tt.kind, name, 3)
			e1 := cl.engine(Options{})
			e2 := e1
			if tt.twoEngines {
				e2 = cl.engine(Options{})
			}
			older, err := e1.Inject(cl.ctx(30*time.Second), scaleFault(cl.ns, "to-1", tt.kind, name, 1))
			if err != nil {
				t.Fatal(err)
			}
			if got := cl.replicas(e1, tt.kind, name); got != 1 {
				t.Fatalf("after the first hold: %d replicas, want 1", got)
			}
			newer, err := e2.Inject(cl.ctx(30*time.Second), scaleFault(cl.ns, "to-2", tt.kind, name, 2))
			if err != nil {
				t.Fatal(err)
			}
			if got := cl.replicas(e1, tt.kind, name); got != 2 {
				t.Fatalf("after both holds: %d replicas, want 2", got)
			}
			first, second := newer, older
			if tt.olderEnds {
				first, second = older, newer
			}
			if err := first.Revert(cl.ctx(30 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if got := cl.replicas(e1, tt.kind, name); got != tt.wantMiddle {
				t.Fatalf("after the first revert (%s): %d replicas, want %d", recoveredMessage(first), got, tt.wantMiddle)
			}
			if msg := recoveredMessage(first); tt.olderEnds != strings.Contains(msg, "a later ScaleChaos") {
				t.Fatalf("first revert said %q", msg)
			}
			if err := second.Revert(cl.ctx(30 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if got := cl.replicas(e1, tt.kind, name); got != 3 {
				t.Fatalf("after both reverts (%s): %d replicas, want the original 3", recoveredMessage(second), got)
			}
			for _, inj := range []engine.Injection{older, newer} {
				if _, err := cl.c.CoordinationV1().Leases(DefaultJournalNamespace).Get(cl.ctx(10*time.Second), inj.ID(), metav1.GetOptions{}); err == nil {
					t.Fatalf("journal lease %s left after revert", inj.ID())
				}
			}
		})
	}
}

// A faultline holding two ScaleChaos on one Deployment crashes; Recover
// (forced) restores the original count whichever hold it reverts first.
// Recover goes through the journal in Lease name order, which begins with
// the fault's name: the names set the order.
func TestE2EScaleChaosCrashRecover(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	tests := []struct {
		name                   string
		olderFault, newerFault string
		olderFirst             bool
	}{
		{"older recovered first", "a-to-1", "b-to-2", true},
		{"newer recovered first", "b-to-1", "a-to-2", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := &cluster{t: t, env: cl.env, c: cl.c, ns: cl.ns}
			name := "store-" + string(rune('a'+i))
			cl.workload(v1alpha1.WorkloadDeployment, name, 3)
			// The test's own journal namespace: a forced Recover touches
			// only this test's Leases.
			opts := Options{JournalNamespace: cl.ns, Lease: time.Minute}
			crashed := cl.engine(opts)
			ctx := cl.ctx(2 * time.Minute)
			older, err := crashed.Inject(ctx, scaleFault(cl.ns, tt.olderFault, v1alpha1.WorkloadDeployment, name, 1))
			if err != nil {
				t.Fatal(err)
			}
			newer, err := crashed.Inject(ctx, scaleFault(cl.ns, tt.newerFault, v1alpha1.WorkloadDeployment, name, 2))
			if err != nil {
				t.Fatal(err)
			}
			// Each undo step names the count before it: 3, then 1.
			for inj, before := range map[engine.Injection]string{older: "3", newer: "1"} {
				l, err := cl.c.CoordinationV1().Leases(cl.ns).Get(ctx, inj.ID(), metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				en, err := decodeLease(l)
				if err != nil || len(en.Undo) != 1 || en.Undo[0].Action != undoScale || en.Undo[0].Args[scaleArgBefore] != before {
					t.Fatalf("journal of %s: %+v, %v; want one scale step with replicas %s", inj.ID(), en, err, before)
				}
			}
			if got := cl.replicas(crashed, v1alpha1.WorkloadDeployment, name); got != 2 {
				t.Fatalf("before the crash: %d replicas, want 2", got)
			}
			crashed.abandon()

			rescuer := cl.engine(opts)
			// Leased for a minute: only a forced Recover reverts them.
			rep, err := rescuer.Recover(ctx, RecoverOptions{All: true})
			if err != nil {
				t.Fatalf("recover: %v (%+v)", err, rep)
			}
			var order []string
			for _, r := range rep.Injections {
				order = append(order, r.ID)
				t.Logf("recovered %s (%s): %+v", r.ID, r.Reason, r.Steps)
			}
			want := []string{older.ID(), newer.ID()}
			if !tt.olderFirst {
				want = []string{newer.ID(), older.ID()}
			}
			if !slices.Equal(order, want) {
				t.Fatalf("recovered %v, want %v", order, want)
			}
			if got := cl.replicas(rescuer, v1alpha1.WorkloadDeployment, name); got != 3 {
				t.Fatalf("after recovery: %d replicas, want the original 3", got)
			}
			l, err := cl.c.CoordinationV1().Leases(cl.ns).List(ctx, metav1.ListOptions{LabelSelector: JournalLabel})
			if err != nil || len(l.Items) != 0 {
				t.Fatalf("journal after recovery: %d leases, %v", len(l.Items), err)
			}
		})
	}
}
