package kube

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

func (e *Engine) planScale(ctx context.Context, f engine.Fault, spec *v1alpha1.ScaleChaosSpec) (*faultPlan, error) {
	if spec.Workload == nil {
		if spec.Service != "" {
			return nil, fmt.Errorf("spec.service %q names a local service; on a kube environment name the workload with spec.workload (kind, name, namespace)", spec.Service)
		}
		return nil, errors.New("no workload given; set spec.workload (kind Deployment, StatefulSet or ReplicaSet, and name)")
	}
	if spec.Replicas == nil {
		return nil, errors.New("no replica count given; set spec.replicas")
	}
	if *spec.Replicas < 0 {
		return nil, fmt.Errorf("replicas %d is negative", *spec.Replicas)
	}
	w := spec.Workload
	ns := w.Namespace
	if ns == "" {
		ns = f.Namespace
	}
	if ns == "" && len(e.opts.Namespaces) == 1 {
		ns = e.opts.Namespaces[0]
	}
	if ns == "" {
		return nil, fmt.Errorf("workload %s %s has no namespace; set spec.workload.namespace", w.Kind, w.Name)
	}
	if err := e.checkNamespace(ctx, ns); err != nil {
		return nil, err
	}
	a := &scaleWorkload{e: e, kind: string(w.Kind), ns: ns, name: w.Name, replicas: *spec.Replicas}
	cur, err := a.get(ctx)
	if err != nil {
		return nil, err
	}
	// A scale-down removes pods: the caps apply to them as to killed pods.
	if removed := int(cur.Spec.Replicas - *spec.Replicas); removed > 0 {
		if e.opts.MaxPods > 0 && removed > e.opts.MaxPods {
			return nil, fmt.Errorf("blast radius: scaling %s/%s %s from %d to %d removes %d pods, more than the cap of %d",
				ns, w.Name, w.Kind, cur.Spec.Replicas, *spec.Replicas, removed, e.opts.MaxPods)
		}
		if pct := 100 * float64(removed) / float64(cur.Spec.Replicas); e.opts.MaxPercent > 0 && pct > e.opts.MaxPercent+1e-9 {
			return nil, fmt.Errorf("blast radius: scaling %s/%s %s from %d to %d removes %.0f%% of its pods, more than the cap of %g%%",
				ns, w.Name, w.Kind, cur.Spec.Replicas, *spec.Replicas, pct, e.opts.MaxPercent)
		}
	}
	t := engine.Target{Name: w.Name, Namespace: ns, Owner: string(w.Kind) + "/" + w.Name, Phase: "Running", Ready: true}
	return &faultPlan{targets: []engine.Target{t}, actions: []action{a}}, nil
}

// scaleWorkload sets a workload's replicas through its scale subresource
// and sets the previous count back on revert.
type scaleWorkload struct {
	e        *Engine
	kind     string
	ns, name string
	replicas int32
	previous int32
}

func (a *scaleWorkload) get(ctx context.Context) (*autoscalingv1.Scale, error) {
	return getScale(ctx, a.e, a.kind, a.ns, a.name)
}

func getScale(ctx context.Context, e *Engine, kind, ns, name string) (*autoscalingv1.Scale, error) {
	apps := e.client.AppsV1()
	var (
		s   *autoscalingv1.Scale
		err error
	)
	switch v1alpha1.WorkloadKind(kind) {
	case v1alpha1.WorkloadDeployment:
		s, err = apps.Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	case v1alpha1.WorkloadStatefulSet:
		s, err = apps.StatefulSets(ns).GetScale(ctx, name, metav1.GetOptions{})
	case v1alpha1.WorkloadReplicaSet:
		s, err = apps.ReplicaSets(ns).GetScale(ctx, name, metav1.GetOptions{})
	default:
		return nil, fmt.Errorf("cannot scale a %q; ScaleChaos scales a Deployment, StatefulSet or ReplicaSet", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("scale of %s %s/%s: %w", kind, ns, name, err)
	}
	return s, nil
}

// setScale sets a workload's replicas and returns the count it replaced.
func setScale(ctx context.Context, e *Engine, kind, ns, name string, replicas int32) (int32, error) {
	var prev int32
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := getScale(ctx, e, kind, ns, name)
		if err != nil {
			return err
		}
		prev = s.Spec.Replicas
		s.Spec.Replicas = replicas
		apps := e.client.AppsV1()
		switch v1alpha1.WorkloadKind(kind) {
		case v1alpha1.WorkloadDeployment:
			_, err = apps.Deployments(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
		case v1alpha1.WorkloadStatefulSet:
			_, err = apps.StatefulSets(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
		default:
			_, err = apps.ReplicaSets(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("scale %s %s/%s to %d: %w", kind, ns, name, replicas, err)
	}
	return prev, nil
}

func (a *scaleWorkload) apply(ctx context.Context, rec *recorder) (string, error) {
	cur, err := a.get(ctx)
	if err != nil {
		return "", err
	}
	args := map[string]string{"kind": a.kind, "namespace": a.ns, "name": a.name, "replicas": strconv.Itoa(int(cur.Spec.Replicas))}
	i, err := rec.add(undoScale, args)
	if err != nil {
		return "", err
	}
	prev, err := setScale(ctx, a.e, a.kind, a.ns, a.name, a.replicas)
	if err != nil {
		return "", errors.Join(err, rec.drop(i))
	}
	if prev != cur.Spec.Replicas {
		// Someone scaled in between: the journal must name what we replaced.
		if err := rec.set(i, "replicas", strconv.Itoa(int(prev))); err != nil {
			return "", err
		}
	}
	a.previous = prev
	return fmt.Sprintf("scaled from %d to %d replicas", prev, a.replicas), nil
}

func (a *scaleWorkload) revert(ctx context.Context) (string, error) {
	if _, err := setScale(ctx, a.e, a.kind, a.ns, a.name, a.previous); err != nil {
		return "", err
	}
	return fmt.Sprintf("scaled back to %d replicas", a.previous), nil
}
