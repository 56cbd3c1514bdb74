package v1alpha1

// ModelChaos breaks the model a serving replica uses (faultline.dev/v1alpha1):
// it serves a stale version, corrupts the model file, or slows the model's
// load. Each action restarts the selected replicas so that they load the
// model under the fault, and restarts them again when it is reverted.
type ModelChaos struct {
	// TypeMeta holds apiVersion (faultline.dev/v1alpha1) and kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name (required), namespace,
	// labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says which replicas are hit and how.
	Spec ModelChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// ModelChaosAction is what ModelChaos does to the selected replicas' model.
type ModelChaosAction string

// ModelChaos actions.
const (
	// ModelStaleVersion makes the replicas serve an older model version
	// (version): they are restarted with versionEnv set to it. The
	// consistency probe should catch the skew between replicas.
	ModelStaleVersion ModelChaosAction = "stale-version"
	// ModelCorruptFile corrupts the model file at path as the replicas see
	// it; the original bytes are restored on revert. A sound server fails
	// readiness rather than serve garbage.
	ModelCorruptFile ModelChaosAction = "corrupt-file"
	// ModelSlowLoad makes reading the model file at path take delay longer,
	// so the replicas stay unready that much longer after their restart.
	ModelSlowLoad ModelChaosAction = "slow-load"
)

// ModelCorruption is how corrupt-file damages the model file.
type ModelCorruption string

// Corruptions of corrupt-file.
const (
	// CorruptionFlip flips bytes spread over the file; its size is unchanged
	// but its checksum no longer matches.
	CorruptionFlip ModelCorruption = "flip"
	// CorruptionTruncate cuts the file to half its length, like a copy that
	// stopped half-way.
	CorruptionTruncate ModelCorruption = "truncate"
)

// DefaultModelVersionEnv is the variable stale-version sets when versionEnv
// is empty.
const DefaultModelVersionEnv = "MODEL_VERSION"

// ModelChaosSpec is the fault of a ModelChaos.
type ModelChaosSpec struct {
	// PodSelector chooses the serving replicas (selector, mode, value), as
	// in Chaos Mesh.
	PodSelector `json:",inline"`
	// Action is stale-version, corrupt-file or slow-load. Required.
	Action ModelChaosAction `json:"action"`
	// Model names the model in events and reports, e.g. "recsys".
	Model string `json:"model,omitempty"`
	// Version to serve for stale-version, e.g. "v1". Required by
	// stale-version, not used by the other actions.
	Version string `json:"version,omitempty"`
	// VersionEnv is the environment variable through which the server is
	// told its model version, for stale-version. Default "MODEL_VERSION".
	VersionEnv string `json:"versionEnv,omitempty"`
	// Path of the model file, for corrupt-file and slow-load (required by
	// both): absolute, or relative to the replica's working directory.
	Path string `json:"path,omitempty"`
	// Corruption is how corrupt-file damages the file: flip or truncate.
	// Default flip.
	Corruption ModelCorruption `json:"corruption,omitempty"`
	// Delay added to loading the model for slow-load, a duration greater
	// than zero such as "20s". Required by slow-load.
	Delay string `json:"delay,omitempty"`
	// Duration the fault lasts, e.g. "60s". Default: until the experiment's
	// fault phase ends (or `faultline stop`).
	Duration *string `json:"duration,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *ModelChaosSpec) GetDuration() *string { return s.Duration }
