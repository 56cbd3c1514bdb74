package local

import (
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// Pod phases, as in Kubernetes.
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
	PhaseUnknown   = "Unknown"
)

// Container states and the reasons the STATUS column shows, as kubelet and
// kubectl name them.
const (
	StateWaiting    = "Waiting"
	StateRunning    = "Running"
	StateTerminated = "Terminated"

	ReasonContainerCreating = "ContainerCreating"
	ReasonCrashLoopBackOff  = "CrashLoopBackOff"
	ReasonError             = "Error"
	ReasonCompleted         = "Completed"
	ReasonStartError        = "StartError"
	ReasonKilled            = "Killed"
	ReasonTerminating       = "Terminating"
	ReasonNodeLost          = "NodeLost"
	ReasonUnschedulable     = "Unschedulable"
	ReasonWaitingForDeps    = "WaitingForDependencies"
	// ReasonFrozen is the status of a replica held by SetReplicaFailed
	// (pod-failure): its processes exist but are frozen.
	ReasonFrozen = "Frozen"
)

// ContainerStatus is one container (process) of a replica.
type ContainerStatus struct {
	Name string `json:"name"`
	// Main is true for the service's own process; false for sidecars.
	Main bool `json:"main"`
	// State is Waiting, Running or Terminated; Reason says why it waits or
	// how it ended (CrashLoopBackOff, ContainerCreating, Error, Completed…).
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Ready  bool   `json:"ready"`
	// RestartCount is how often the container was started again in this
	// replica's life.
	RestartCount int `json:"restartCount"`
	// PID of the running process (its process group has the same id), and
	// its start time in clock ticks since boot (with the PID it names the
	// process uniquely).
	PID       int       `json:"pid,omitempty"`
	StartTime uint64    `json:"startTime,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	// LastExitCode and LastSignal describe how the previous run ended.
	LastExitCode *int      `json:"lastExitCode,omitempty"`
	LastSignal   string    `json:"lastSignal,omitempty"`
	LastFinished time.Time `json:"lastFinished,omitzero"`
	// BackOff is the delay before the next start while in CrashLoopBackOff.
	BackOff time.Duration `json:"backOff,omitempty"`
}

// ReplicaStatus is one replica ("pod") of a service.
type ReplicaStatus struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Service     string            `json:"service"`
	Ordinal     int               `json:"ordinal"`
	UID         string            `json:"uid"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Node        string            `json:"node,omitempty"`
	// Phase is the pod phase; Status the kubectl STATUS column (the reason
	// of the first container not running, Terminating, NodeLost, Frozen…).
	Phase  string `json:"phase"`
	Status string `json:"status"`
	Ready  bool   `json:"ready"`
	// ReadyContainers of TotalContainers are ready (kubectl's READY 1/2).
	ReadyContainers int `json:"readyContainers"`
	TotalContainers int `json:"totalContainers"`
	// Restarts sums the containers' restart counts.
	Restarts int `json:"restarts"`
	// Created is when this incarnation of the replica was created (AGE);
	// a rescheduled replica is a new incarnation.
	Created time.Time `json:"created"`
	IP      string    `json:"ip"`
	Port    int       `json:"port"`
	// Frozen is true while SetReplicaFailed holds the replica.
	Frozen bool `json:"frozen,omitempty"`
	// Cgroup is the replica's cgroup path, "" when running without cgroups.
	Cgroup     string            `json:"cgroup,omitempty"`
	Containers []ContainerStatus `json:"containers"`
}

// Target converts the status to the engine's target.
func (r ReplicaStatus) Target(nodeLabels map[string]string) engine.Target {
	t := engine.Target{
		Name: r.Name, Namespace: r.Namespace, Labels: r.Labels, Annotations: r.Annotations,
		Node: r.Node, NodeLabels: nodeLabels, Phase: r.Phase, Ready: r.Ready, Owner: r.Service,
		Fields: map[string]string{
			"metadata.name": r.Name, "metadata.namespace": r.Namespace,
			"spec.nodeName": r.Node, "status.phase": r.Phase,
		},
	}
	for _, c := range r.Containers {
		t.Containers = append(t.Containers, c.Name)
	}
	return t
}

// ServiceStatus is one service and its gateway.
type ServiceStatus struct {
	Name string `json:"name"`
	// Gateway is the address (127.0.0.1:port) that balances over the ready
	// replicas; URL is http://Gateway.
	Gateway string `json:"gateway"`
	URL     string `json:"url"`
	// Replicas is the desired count, Ready how many are ready now.
	Replicas  int      `json:"replicas"`
	Ready     int      `json:"ready"`
	DependsOn []string `json:"dependsOn,omitempty"`
	// Stats counts the gateway's connections (ingress only).
	Stats GatewayStats `json:"stats"`
}

// Status is the whole environment, as `faultline env status` shows it.
type Status struct {
	Name      string          `json:"name"`
	Namespace string          `json:"namespace"`
	Owner     engine.Owner    `json:"owner"`
	Started   time.Time       `json:"started"`
	Socket    string          `json:"socket"`
	StateDir  string          `json:"stateDir"`
	Cgroups   string          `json:"cgroups"`
	Ready     bool            `json:"ready"`
	Replicas  []ReplicaStatus `json:"replicas"`
	Services  []ServiceStatus `json:"services"`
	Nodes     []engine.Node   `json:"nodes"`
	// EvictionDelay is how long replicas of a NotReady node wait before
	// they are rescheduled.
	EvictionDelay time.Duration `json:"evictionDelay"`
}

// EventKind is what an Event is about.
type EventKind string

// Event kinds.
const (
	EventReplica     EventKind = "Replica"
	EventNode        EventKind = "Node"
	EventService     EventKind = "Service"
	EventEnvironment EventKind = "Environment"
)

// Event is one state change of the environment, with the time it happened.
// Reasons follow Kubernetes events: Scheduled, Started, Ready, NotReady,
// Killing, Exited, BackOff, Unhealthy, Evicted, NodeNotReady, NodeReady,
// Cordoned, Uncordoned, Scaled, Frozen, Thawed, Deleted, Stopped.
type Event struct {
	Time time.Time `json:"time"`
	Kind EventKind `json:"kind"`
	// Name of the replica, node, service or environment.
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	Message   string `json:"message,omitempty"`
	Container string `json:"container,omitempty"`
	// Replica is the replica's state after the change (replica events).
	Replica *ReplicaStatus `json:"replica,omitempty"`
	// Node is the node's state after the change (node events).
	Node *engine.Node `json:"node,omitempty"`
}
