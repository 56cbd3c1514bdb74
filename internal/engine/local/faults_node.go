package local

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/selector"
)

// planNode plans a NodeChaos: node-down or node-drain of the selected
// nodes for the duration. Its targets are the nodes, reported as targets
// named after them.
func (e *Engine) planNode(f engine.Fault, spec *v1alpha1.NodeChaosSpec, o InjectOptions) (*faultPlan, error) {
	if err := engine.CheckNodeChaos(spec); err != nil {
		return nil, err
	}
	var nodes []engine.Node
	err := e.withRand(o, func(rng *mrand.Rand) error {
		var err error
		nodes, err = selector.SelectNodes(e.sup.Nodes(), &spec.Selector, spec.Mode, spec.Value, rng)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("in environment %s: %w", e.sup.Name(), err)
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
	return p, nil
}

func nodePhase(n engine.Node) string {
	if n.Ready {
		return "Ready"
	}
	return "NotReady"
}

// nodeDown is node-down: every replica on the node dies, the node is
// NotReady, and its replicas are rescheduled after the eviction delay.
type nodeDown struct {
	e    *Engine
	node string
}

func (a *nodeDown) apply(_ context.Context, rec undoRecorder) (string, error) {
	i, err := rec.add(undoNodeUp, map[string]string{undoNode: a.node})
	if err != nil {
		return "", err
	}
	if err := a.e.sup.NodeDown(a.node); err != nil {
		// NodeDown changes nothing when it fails (e.g. the node is already
		// down, held by another fault, which alone may bring it back).
		return "", errors.Join(err, rec.drop(i))
	}
	return fmt.Sprintf("node NotReady, its replicas killed; rescheduled after %s", a.e.sup.EvictionDelay()), nil
}

func (a *nodeDown) revert(context.Context) (string, error) {
	if a.e.stopping() {
		return "the environment is shutting down", nil
	}
	if err := a.e.sup.NodeUp(a.node); err != nil && !a.e.stopping() {
		return "", err
	}
	return "node Ready again", nil
}

func (a *nodeDown) fidelity() []engine.Fidelity { return nil }

// nodeDrain is node-drain: the node is cordoned and its replicas evicted
// gracefully onto other nodes; it is uncordoned when the fault ends.
type nodeDrain struct {
	e    *Engine
	node string
}

func (a *nodeDrain) apply(ctx context.Context, rec undoRecorder) (string, error) {
	for _, n := range a.e.sup.Nodes() {
		if n.Name == a.node && !n.Schedulable {
			// Its revert would uncordon a node someone else cordoned.
			return "", fmt.Errorf("node %s is already cordoned (by another fault, or in the environment's spec)", a.node)
		}
	}
	if _, err := rec.add(undoUncordonNode, map[string]string{undoNode: a.node}); err != nil {
		return "", err
	}
	if err := a.e.sup.Drain(ctx, a.node); err != nil {
		if ctx.Err() != nil {
			// Reverted while draining: the node is cordoned, so the
			// revert's uncordon is still owed.
			return "cordoned; the drain was cut short by the revert", nil
		}
		// Cordoned but not drained: take the cordon back, as nothing
		// will revert a target that failed.
		if uerr := a.e.sup.Uncordon(a.node); uerr != nil {
			return "", errors.Join(err, fmt.Errorf("uncordon after the failed drain: %w", uerr))
		}
		return "", err
	}
	return "cordoned and drained; its replicas were moved to other nodes", nil
}

func (a *nodeDrain) revert(context.Context) (string, error) {
	if a.e.stopping() {
		return "the environment is shutting down", nil
	}
	if err := a.e.sup.Uncordon(a.node); err != nil && !a.e.stopping() {
		return "", err
	}
	return "node uncordoned (schedulable again)", nil
}

func (a *nodeDrain) fidelity() []engine.Fidelity { return nil }
