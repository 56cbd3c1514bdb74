package kube

import (
	"context"
	"fmt"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// plan checks that the engine can honour f, resolves its targets and
// applies the safety checks (opt-in namespaces, blast radius), without
// acting.
func (e *Engine) plan(ctx context.Context, f engine.Fault) (*faultPlan, error) {
	if f.Duration < 0 {
		return nil, fmt.Errorf("%s %s: duration %s is negative", f.Kind, f.Name, f.Duration)
	}
	var (
		p   *faultPlan
		err error
	)
	switch spec := f.Spec.(type) {
	case *v1alpha1.PodChaosSpec:
		p, err = e.planPod(ctx, f, spec)
	case *v1alpha1.NodeChaosSpec:
		p, err = e.planNode(ctx, spec)
	case *v1alpha1.ScaleChaosSpec:
		p, err = e.planScale(ctx, f, spec)
	default:
		res, ok := chaosMeshResource(f.Spec)
		if !ok {
			return nil, e.unsupported(ctx, f)
		}
		if err = e.noChaosMesh(ctx, f.Kind); err == nil {
			p, err = e.planChaosMesh(ctx, f, res)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", f.Kind, f.Name, err)
	}
	return p, nil
}
