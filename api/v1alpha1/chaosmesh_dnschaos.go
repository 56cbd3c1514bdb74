package v1alpha1

// DNSChaos makes DNS lookups of pods fail or return random addresses
// (chaos-mesh.org/v1alpha1).
type DNSChaos struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says which lookups are hit and how.
	Spec DNSChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// DNSChaosAction is what happens to a matched DNS lookup.
type DNSChaosAction string

// DNSChaos actions.
const (
	// DNSError answers matched lookups with an error.
	DNSError DNSChaosAction = "error"
	// DNSRandom answers matched lookups with a random IP address.
	DNSRandom DNSChaosAction = "random"
)

// DNSChaosSpec is the fault of a DNSChaos.
type DNSChaosSpec struct {
	// Action is error or random. Required.
	Action DNSChaosAction `json:"action"`
	// ContainerSelector chooses the pods whose lookups are hit.
	ContainerSelector `json:",inline"`
	// Duration the fault lasts, e.g. "50s". Default: until the experiment
	// ends. In a Workflow use the template's deadline instead.
	Duration *string `json:"duration,omitempty"`
	// Patterns are the domain names hit: exact names ("google.com"), `?` for
	// one character ("github.?om"), and `*` only as the last character
	// ("chaos-mesh.*"). Default: every domain name.
	Patterns []string `json:"patterns,omitempty"`
	// RemoteCluster names the Chaos Mesh RemoteCluster to run in; only the
	// Kubernetes engine uses it.
	RemoteCluster string `json:"remoteCluster,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *DNSChaosSpec) GetDuration() *string { return s.Duration }
