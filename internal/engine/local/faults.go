package local

import (
	"context"
	"fmt"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// faultAction is one fault acting on one target: the local engine's
// extension point, kept small on purpose (toxiproxy's toxic is the model).
// Each kind of fault is one short file (faults_pod.go, faults_node.go,
// faults_scale.go, faults_stress.go) that plans its actions; the injection
// runs them, records their events and reverts them.
type faultAction interface {
	// apply acts on the target and says what it did. Before each step
	// that needs undoing it records the undo step with rec, so that a
	// crash right after the step leaves it in the journal for `faultline
	// recover`. ctx ends when the injection is reverted (or the engine
	// closes): a long apply (a drain) stops then.
	apply(ctx context.Context, rec undoRecorder) (string, error)
	// revert undoes apply and says what it did; it is called once, only
	// after apply succeeded. An instantaneous action never reverts.
	revert(ctx context.Context) (string, error)
	// fidelity reports asked versus measured beyond the duration, which
	// the injection measures itself; nil when there is nothing more.
	fidelity() []engine.Fidelity
}

// faultPlan is a fault resolved against the environment: its targets and
// one action per target.
type faultPlan struct {
	targets []engine.Target
	actions []faultAction
	// instant faults (pod-kill, container-kill) are complete once applied:
	// nothing is held and nothing is reverted.
	instant bool
	// notes are said once, as Info events, when the injection starts.
	notes []string
}

// Undo actions a local injection journals; `faultline recover` (Recover)
// performs them for an injection whose holder died.
const (
	// undoUnfailReplica thaws a replica frozen by pod-failure: through the
	// supervisor when it is alive, else by thawing the replica's cgroup
	// (arg cgroup) or SIGCONTing its processes (arg pids, pid:starttime).
	undoUnfailReplica = "unfail-replica"
	// undoKillStressors kills the stress-ng processes of a StressChaos
	// (arg pids, and whatever of ours still runs in arg cgroup).
	undoKillStressors = "kill-stressors"
	// undoNodeUp brings a node taken down by node-down back (arg node).
	undoNodeUp = "node-up"
	// undoUncordonNode makes a drained node schedulable again (arg node).
	undoUncordonNode = "uncordon-node"
	// undoScale sets a service back to its replica count (args service,
	// replicas).
	undoScale = "scale"
	// undoHopFaults records network faults put on the proxy's hops (arg
	// replica). They live in the supervisor's process and end with it, so
	// recovery has nothing to undo once it is gone.
	undoHopFaults = "hop-faults"
	// undoNone is a step that turned out not to be needed (the action it
	// guarded failed without changing anything).
	undoNone = "none"
)

// Undo step argument keys.
const (
	undoEnvironment = "environment"
	undoReplica     = "replica"
	undoCgroup      = "cgroup"
	undoPIDs        = "pids"
	undoNode        = "node"
	undoService     = "service"
	undoReplicas    = "replicas"
)

// plan checks that this engine can honour f and resolves its targets,
// without acting. A fault it cannot run is an error naming what can.
func (e *Engine) plan(f engine.Fault, o InjectOptions) (*faultPlan, error) {
	if o.Namespace == "" {
		o.Namespace = f.Namespace
	}
	if f.Duration < 0 {
		return nil, fmt.Errorf("%s %s: duration %s is negative", f.Kind, f.Name, f.Duration)
	}
	var (
		p   *faultPlan
		err error
	)
	switch spec := f.Spec.(type) {
	case *v1alpha1.PodChaosSpec:
		p, err = e.planPod(f, spec, o)
	case *v1alpha1.NodeChaosSpec:
		p, err = e.planNode(f, spec, o)
	case *v1alpha1.ScaleChaosSpec:
		p, err = e.planScale(f, spec, o)
	case *v1alpha1.StressChaosSpec:
		p, err = e.planStress(f, spec, o)
	case *v1alpha1.NetworkChaosSpec:
		p, err = e.planNetwork(f, spec, o)
	case *v1alpha1.HTTPChaosSpec:
		p, err = e.planHTTP(f, spec, o)
	case *v1alpha1.ModelChaosSpec:
		p, err = e.planModel(f, spec, o)
	default:
		return nil, unsupported(f)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", f.Kind, f.Name, err)
	}
	return p, nil
}

// unsupported says why the local engine refuses a kind and what can run
// it: a fault that cannot be honoured is never a silent no-op.
func unsupported(f engine.Fault) error {
	kind := f.Kind
	if kind == "" {
		kind = fmt.Sprintf("a fault with spec %T", f.Spec)
	}
	switch f.Spec.(type) {
	case *v1alpha1.IOChaosSpec, *v1alpha1.DNSChaosSpec, *v1alpha1.TimeChaosSpec:
		return fmt.Errorf("%s %s: %s is not supported by the local engine yet; the kube engine with Chaos Mesh installed can run it", kind, f.Name, kind)
	}
	return fmt.Errorf("%s %s: the local engine cannot run %s (spec %T); it runs PodChaos, NetworkChaos, HTTPChaos, NodeChaos, ScaleChaos, StressChaos and ModelChaos", kind, f.Name, kind, f.Spec)
}
