package engine

import (
	"context"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// Target is a pod-like unit a fault can hit: a local replica or a
// Kubernetes pod. Field names follow what Chaos Mesh selectors match on.
type Target struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Node the target runs on, and that node's labels (for nodeSelectors).
	Node       string            `json:"node,omitempty"`
	NodeLabels map[string]string `json:"nodeLabels,omitempty"`
	// Phase is Pending, Running, Succeeded, Failed or Unknown.
	Phase string `json:"phase"`
	Ready bool   `json:"ready"`
	// Containers are the target's container names; the first is the main one.
	Containers []string `json:"containers,omitempty"`
	// Service (local) or owning workload (kube) the target belongs to.
	Owner string `json:"owner,omitempty"`
	// Fields holds extra values fieldSelectors can match ("spec.nodeName",
	// "status.phase", "metadata.name" are always derived from the above).
	Fields map[string]string `json:"fields,omitempty"`
}

// Node is a node of the environment.
type Node struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Ready  bool              `json:"ready"`
	// Schedulable is false while cordoned (drained).
	Schedulable bool `json:"schedulable"`
}

// Fault is one fault to inject: a chaos object's kind and spec, its name for
// events, and how long to hold it (0: until reverted; instantaneous actions
// such as pod-kill ignore it).
type Fault struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Namespace is the chaos object's metadata.namespace: the default
	// namespace of its selector, as in Chaos Mesh ("" = the environment's).
	Namespace string        `json:"namespace,omitempty"`
	Spec      any           `json:"spec"` // *v1alpha1.PodChaosSpec, *v1alpha1.NodeChaosSpec, …
	Duration  time.Duration `json:"duration"`
}

// FaultFromObject builds a Fault from a decoded chaos object.
func FaultFromObject(obj v1alpha1.Object) (Fault, bool) {
	tm, meta := obj.GetTypeMeta(), obj.GetObjectMeta()
	co, ok := obj.(v1alpha1.ChaosObject)
	if !ok {
		return Fault{}, false
	}
	return FaultFromSpec(tm.Kind, meta.Name, meta.Namespace, co.Chaos()), true
}

// FaultFromSpec builds a Fault from a fault kind's spec, e.g. one embedded
// in an Experiment or a Workflow template; the duration comes from the spec.
func FaultFromSpec(kind, name, namespace string, spec v1alpha1.ChaosSpec) Fault {
	f := Fault{Kind: kind, Name: name, Namespace: namespace, Spec: spec}
	if d := spec.GetDuration(); d != nil && *d != "" {
		if v, err := time.ParseDuration(*d); err == nil {
			f.Duration = v
		}
	}
	return f
}

// EventType is what happened to a target, in Chaos Mesh's words.
type EventType string

// Event types.
const (
	EventInjected  EventType = "Injected"
	EventRecovered EventType = "Recovered"
	EventFailed    EventType = "Failed"
	EventInfo      EventType = "Info"
)

// Event is one per-target record of an injection's life.
type Event struct {
	Time    time.Time `json:"time"`
	Fault   string    `json:"fault"`
	Target  string    `json:"target,omitempty"`
	Type    EventType `json:"type"`
	Message string    `json:"message,omitempty"`
}

// Fidelity is one asked-versus-measured figure of an injection, e.g.
// {Quantity: "cpu", Asked: "1 worker at 80%", Measured: "0.79 cores"}.
type Fidelity struct {
	Target   string `json:"target,omitempty"`
	Quantity string `json:"quantity"`
	Asked    string `json:"asked"`
	Measured string `json:"measured"`
	// AskedValue and MeasuredValue carry the numbers behind the strings, in
	// Unit, so reports can compute the ratio.
	AskedValue    float64 `json:"askedValue"`
	MeasuredValue float64 `json:"measuredValue"`
	Unit          string  `json:"unit,omitempty"`
}

// Injection is an active fault. Revert is idempotent and safe to call from
// any goroutine; after it returns the fault is gone from every target.
type Injection interface {
	ID() string
	Fault() Fault
	Targets() []Target
	// Done is closed when the injection has reverted (its duration ran out,
	// Revert was called, or it was instantaneous).
	Done() <-chan struct{}
	Revert(ctx context.Context) error
	Events() []Event
	Fidelity() []Fidelity
}

// Engine is a place faults run: it lists targets and injects faults.
type Engine interface {
	// Name is "local" or "kube"; errors naming a backend use it.
	Name() string
	Targets(ctx context.Context) ([]Target, error)
	Nodes(ctx context.Context) ([]Node, error)
	// Inject selects the fault's targets, journals the injection, applies it
	// and, when it has a duration, reverts it on its own when the duration
	// ends. A fault this engine cannot honour is an error naming the engine
	// or backend that can, never a silent no-op.
	Inject(ctx context.Context, f Fault) (Injection, error)
	// Select resolves the fault's selector without injecting (--dry-run).
	Select(ctx context.Context, f Fault) ([]Target, error)
}
