package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WorkloadState is one workload's rollout state, as `kubectl get` shows it.
type WorkloadState struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Desired   int32  `json:"desired"`
	Ready     int32  `json:"ready"`
	Available int32  `json:"available"`
	// Settled is true when the controller has seen the newest spec, every
	// replica is updated and available, and no old one lingers.
	Settled bool `json:"settled"`
}

func (w WorkloadState) String() string {
	return fmt.Sprintf("%s %s/%s %d/%d available", w.Kind, w.Namespace, w.Name, w.Available, w.Desired)
}

// Workloads lists the Deployments, StatefulSets and ReplicaSets (those no
// Deployment owns) of the environment's opted-in namespaces with their
// rollout state.
func (e *Engine) Workloads(ctx context.Context) ([]WorkloadState, error) {
	nss, err := e.allowedNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []WorkloadState
	for _, ns := range nss {
		deps, err := e.client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list deployments in %s: %w", ns, err)
		}
		for i := range deps.Items {
			out = append(out, deploymentState(&deps.Items[i]))
		}
		sts, err := e.client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list statefulsets in %s: %w", ns, err)
		}
		for i := range sts.Items {
			out = append(out, statefulSetState(&sts.Items[i]))
		}
		rss, err := e.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list replicasets in %s: %w", ns, err)
		}
		for i := range rss.Items {
			if metav1.GetControllerOf(&rss.Items[i]) != nil {
				continue
			}
			out = append(out, replicaSetState(&rss.Items[i]))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out, nil
}

func deploymentState(d *appsv1.Deployment) WorkloadState {
	want := replicasOf(d.Spec.Replicas)
	s := d.Status
	return WorkloadState{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name, Desired: want,
		Ready: s.ReadyReplicas, Available: s.AvailableReplicas,
		Settled: s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want &&
			s.AvailableReplicas == want && s.Replicas == want}
}

func statefulSetState(st *appsv1.StatefulSet) WorkloadState {
	want := replicasOf(st.Spec.Replicas)
	s := st.Status
	return WorkloadState{Kind: "StatefulSet", Namespace: st.Namespace, Name: st.Name, Desired: want,
		Ready: s.ReadyReplicas, Available: s.AvailableReplicas,
		Settled: s.ObservedGeneration >= st.Generation && s.ReadyReplicas == want &&
			s.AvailableReplicas == want && s.Replicas == want}
}

func replicaSetState(rs *appsv1.ReplicaSet) WorkloadState {
	want := replicasOf(rs.Spec.Replicas)
	s := rs.Status
	return WorkloadState{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name, Desired: want,
		Ready: s.ReadyReplicas, Available: s.AvailableReplicas,
		Settled: s.ObservedGeneration >= rs.Generation && s.AvailableReplicas == want && s.Replicas == want}
}

// WaitSettled polls until every workload of the environment's namespaces
// is settled (all replicas updated and available), every poll interval,
// until ctx ends; then the error names the workloads still short.
func (e *Engine) WaitSettled(ctx context.Context, poll time.Duration) error {
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	var short []string
	for {
		ws, err := e.Workloads(ctx)
		if err == nil {
			short = short[:0]
			for _, w := range ws {
				if !w.Settled {
					short = append(short, w.String())
				}
			}
			if len(short) == 0 {
				return nil
			}
		} else if ctx.Err() == nil {
			short = []string{err.Error()}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workloads not available: %s: %w", strings.Join(short, "; "), ctx.Err())
		case <-t.C:
		}
	}
}

// Namespaces returns the namespaces the engine may touch: the
// environment's, each checked for the opt-in annotation (an error says how
// to opt one in), else every opted-in namespace of the cluster.
func (e *Engine) Namespaces(ctx context.Context) ([]string, error) {
	return e.allowedNamespaces(ctx)
}
