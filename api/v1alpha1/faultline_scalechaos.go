package v1alpha1

// ScaleChaos scales a service or workload to a number of replicas for a
// while, then back (faultline.dev/v1alpha1).
//
// On a local environment scaling down stops the highest-numbered replicas
// gracefully and scaling up starts new ones; when the fault ends the
// service returns to the replica count it had before.
type ScaleChaos struct {
	// TypeMeta holds apiVersion (faultline.dev/v1alpha1) and kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name (required), namespace,
	// labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says what is scaled and to how many replicas.
	Spec ScaleChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// ScaleChaosSpec is the fault of a ScaleChaos. Exactly one of service and
// workload is required.
type ScaleChaosSpec struct {
	// Service is the local environment's service to scale, by name.
	Service string `json:"service,omitempty"`
	// Workload is the Kubernetes workload to scale (kube environments).
	Workload *ScaleWorkload `json:"workload,omitempty"`
	// Replicas is the replica count during the fault, 0 or more. Required.
	Replicas *int32 `json:"replicas"`
	// Duration the scale holds, e.g. "30s". Default: until the experiment's
	// fault phase ends (or `faultline stop`).
	Duration *string `json:"duration,omitempty"`
}

// WorkloadKind is a kind of Kubernetes workload that has replicas.
type WorkloadKind string

// Scalable workload kinds.
const (
	WorkloadDeployment  WorkloadKind = "Deployment"
	WorkloadStatefulSet WorkloadKind = "StatefulSet"
	WorkloadReplicaSet  WorkloadKind = "ReplicaSet"
)

// ScaleWorkload names a Kubernetes workload.
type ScaleWorkload struct {
	// Kind is Deployment, StatefulSet or ReplicaSet. Required.
	Kind WorkloadKind `json:"kind"`
	// Name of the workload. Required.
	Name string `json:"name"`
	// Namespace of the workload. Default: the chaos object's namespace.
	Namespace string `json:"namespace,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *ScaleChaosSpec) GetDuration() *string { return s.Duration }
