package kube

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWorkloadSettled(t *testing.T) {
	three := int32(3)
	dep := func(gen, observed int64, replicas, updated, available int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: &three},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas,
				UpdatedReplicas: updated, AvailableReplicas: available, ReadyReplicas: available},
		}
	}
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		want bool
	}{
		{"all updated and available", dep(2, 2, 3, 3, 3), true},
		{"spec not observed yet", dep(3, 2, 3, 3, 3), false},
		{"a replacement not available", dep(2, 2, 3, 3, 2), false},
		{"an old pod still terminating", dep(2, 2, 4, 3, 3), false},
		{"rollout halfway", dep(2, 2, 3, 1, 3), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deploymentState(tc.d); got.Settled != tc.want || got.Desired != 3 {
				t.Fatalf("settled %v (desired %d), want %v", got.Settled, got.Desired, tc.want)
			}
		})
	}
	st := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Generation: 1}, Spec: appsv1.StatefulSetSpec{Replicas: &three},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2}}
	if statefulSetState(st).Settled {
		t.Fatal("a StatefulSet with 2 of 3 ready is not settled")
	}
	rs := &appsv1.ReplicaSet{Status: appsv1.ReplicaSetStatus{Replicas: 1, AvailableReplicas: 1}}
	if got := replicaSetState(rs); !got.Settled || got.Desired != 1 {
		t.Fatalf("a ReplicaSet without replicas defaults to 1 and is settled with 1 available: %+v", got)
	}
}
