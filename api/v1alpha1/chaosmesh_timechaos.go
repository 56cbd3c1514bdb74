package v1alpha1

// TimeChaos shifts the clocks seen by processes in pods (chaos-mesh.org/v1alpha1).
type TimeChaos struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says whose clocks move and by how much.
	Spec TimeChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// ClockID names a Linux clock (see clock_gettime(2)).
type ClockID string

// Clocks TimeChaos can shift.
const (
	ClockRealtime         ClockID = "CLOCK_REALTIME"
	ClockMonotonic        ClockID = "CLOCK_MONOTONIC"
	ClockProcessCPUTimeID ClockID = "CLOCK_PROCESS_CPUTIME_ID"
	ClockThreadCPUTimeID  ClockID = "CLOCK_THREAD_CPUTIME_ID"
	ClockMonotonicRaw     ClockID = "CLOCK_MONOTONIC_RAW"
	ClockRealtimeCoarse   ClockID = "CLOCK_REALTIME_COARSE"
	ClockMonotonicCoarse  ClockID = "CLOCK_MONOTONIC_COARSE"
	ClockBoottime         ClockID = "CLOCK_BOOTTIME"
	ClockRealtimeAlarm    ClockID = "CLOCK_REALTIME_ALARM"
	ClockBoottimeAlarm    ClockID = "CLOCK_BOOTTIME_ALARM"
)

// TimeChaosSpec is the fault of a TimeChaos.
type TimeChaosSpec struct {
	// ContainerSelector chooses the pods and the containers whose clocks move.
	ContainerSelector `json:",inline"`
	// TimeOffset is how far the clocks move, a signed duration: "-10m",
	// "1h30m", "-10m100ns". Required, not zero.
	TimeOffset string `json:"timeOffset"`
	// ClockIDs are the clocks shifted, e.g. [CLOCK_REALTIME, CLOCK_MONOTONIC].
	// Default: [CLOCK_REALTIME].
	ClockIDs []ClockID `json:"clockIds,omitempty"`
	// Duration the shift lasts, e.g. "30s". Default: until the experiment
	// ends. In a Workflow use the template's deadline instead.
	Duration *string `json:"duration,omitempty"`
	// RemoteCluster names the Chaos Mesh RemoteCluster to run in; only the
	// Kubernetes engine uses it.
	RemoteCluster string `json:"remoteCluster,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *TimeChaosSpec) GetDuration() *string { return s.Duration }
