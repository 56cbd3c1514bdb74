package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The recovery tally: killed pods must all leave, and as many Ready,
// live pods of the same workload (not killed ones) must be there.
func TestPodTally(t *testing.T) {
	rs := metav1.OwnerReference{Kind: "ReplicaSet", Name: "web-abc", Controller: ptr(true)}
	pod := func(uid string, ready bool, mods ...func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Name: uid,
			Labels: map[string]string{"pod-template-hash": "abc"}, OwnerReferences: []metav1.OwnerReference{rs}}}
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
		for _, m := range mods {
			m(p)
		}
		return p
	}
	terminating := func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }
	otherOwner := func(p *corev1.Pod) { p.Labels = nil }
	tests := []struct {
		name string
		pods []*corev1.Pod
		want bool
	}{
		{"killed pods still there", []*corev1.Pod{pod("k1", true), pod("n1", true), pod("n2", true)}, false},
		{"replaced and ready", []*corev1.Pod{pod("n1", true), pod("n2", true)}, true},
		{"one replacement not ready", []*corev1.Pod{pod("n1", true), pod("n2", false)}, false},
		{"terminating replacement does not count", []*corev1.Pod{pod("n1", true), pod("n2", true, terminating)}, false},
		{"another workload's pod does not count", []*corev1.Pod{pod("n1", true), pod("n2", true, otherOwner)}, false},
		{"a killed pod, terminating, is not gone", []*corev1.Pod{pod("k2", false, terminating), pod("n1", true), pod("n2", true)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tally := newPodTally("Deployment/web", []*podKill{{uid: "k1"}, {uid: "k2"}})
			present, ready := map[types.UID]bool{}, map[types.UID]bool{}
			for _, p := range tt.pods {
				tally.classify(p, present, ready)
			}
			tally.present, tally.ready = present, ready
			if got := tally.recovered(2); got != tt.want {
				t.Fatalf("recovered = %v, want %v (present %v, ready %v)", got, tt.want, present, ready)
			}
		})
	}
}
