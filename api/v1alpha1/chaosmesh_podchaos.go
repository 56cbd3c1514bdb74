package v1alpha1

// PodChaos kills pods or containers, or makes pods fail (chaos-mesh.org/v1alpha1).
type PodChaos struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says which pods are hit and how.
	Spec PodChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// PodChaosAction is what PodChaos does to the selected pods.
type PodChaosAction string

// PodChaos actions.
const (
	// PodKill deletes the pod (a local replica is killed with SIGKILL); its
	// controller or supervisor starts a new one.
	PodKill PodChaosAction = "pod-kill"
	// PodFailure makes the pod unavailable for `duration` without deleting it:
	// its containers stop serving until the fault is reverted.
	PodFailure PodChaosAction = "pod-failure"
	// ContainerKill kills the containers named in containerNames.
	ContainerKill PodChaosAction = "container-kill"
)

// PodChaosSpec is the fault of a PodChaos.
type PodChaosSpec struct {
	// ContainerSelector chooses the pods (selector, mode, value) and, for
	// container-kill, the containers.
	ContainerSelector `json:",inline"`
	// Action is pod-kill, pod-failure or container-kill. Required.
	Action PodChaosAction `json:"action"`
	// Duration the fault lasts, e.g. "30s". pod-failure holds the pods failed
	// this long; pod-kill and container-kill act once. Default: until the
	// experiment ends. In a Workflow use the template's deadline instead.
	Duration *string `json:"duration,omitempty"`
	// GracePeriod for pod-kill, in seconds, before the pod is killed
	// forcibly. Default 0: kill immediately. Must not be negative.
	GracePeriod int64 `json:"gracePeriod,omitempty"`
	// RemoteCluster names the Chaos Mesh RemoteCluster to run in; only the
	// Kubernetes engine uses it.
	RemoteCluster string `json:"remoteCluster,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *PodChaosSpec) GetDuration() *string { return s.Duration }
