package v1alpha1

// API groups and versions understood by faultline.
const (
	ChaosMeshGroup      = "chaos-mesh.org"
	FaultlineGroup      = "faultline.dev"
	Version             = "v1alpha1"
	ChaosMeshAPIVersion = ChaosMeshGroup + "/" + Version
	FaultlineAPIVersion = FaultlineGroup + "/" + Version
)

// TypeMeta names the kind of a manifest, as in every Kubernetes object.
type TypeMeta struct {
	// APIVersion is the group and version of the kind: chaos-mesh.org/v1alpha1
	// or faultline.dev/v1alpha1.
	APIVersion string `json:"apiVersion"`
	// Kind is the manifest kind, e.g. PodChaos or Experiment.
	Kind string `json:"kind"`
}

// GetTypeMeta returns the object's TypeMeta; it makes every kind an Object.
func (t *TypeMeta) GetTypeMeta() *TypeMeta { return t }

// ObjectMeta is the subset of Kubernetes object metadata a manifest may carry.
// Fields a cluster fills in (uid, resourceVersion, ...) are accepted so that
// `kubectl get -o yaml` output decodes, and ignored.
type ObjectMeta struct {
	// Name of the object. Required, a DNS-1123 subdomain
	// (lower-case letters, digits, '-' and '.', at most 253 characters).
	Name string `json:"name,omitempty"`
	// GenerateName is a prefix for a generated name, used when name is empty.
	GenerateName string `json:"generateName,omitempty"`
	// Namespace the object lives in. For chaos kinds it is also the default
	// namespace of the selector when selector.namespaces is empty.
	Namespace string `json:"namespace,omitempty"`
	// Labels are free-form key/value pairs.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are free-form key/value pairs; faultline reads
	// experiment.faultline.dev/* annotations where documented.
	Annotations map[string]string `json:"annotations,omitempty"`
	// UID is set by a cluster; ignored.
	UID string `json:"uid,omitempty"`
	// ResourceVersion is set by a cluster; ignored.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Generation is set by a cluster; ignored.
	Generation int64 `json:"generation,omitempty"`
	// CreationTimestamp is set by a cluster; ignored.
	CreationTimestamp string `json:"creationTimestamp,omitempty"`
	// DeletionTimestamp is set by a cluster; ignored.
	DeletionTimestamp string `json:"deletionTimestamp,omitempty"`
	// DeletionGracePeriodSeconds is set by a cluster; ignored.
	DeletionGracePeriodSeconds *int64 `json:"deletionGracePeriodSeconds,omitempty"`
	// Finalizers is set by a cluster; ignored.
	Finalizers []string `json:"finalizers,omitempty"`
	// OwnerReferences is set by a cluster; ignored.
	OwnerReferences []OwnerReference `json:"ownerReferences,omitempty"`
	// ManagedFields is set by a cluster; ignored.
	ManagedFields []Raw `json:"managedFields,omitempty"`
}

// OwnerReference identifies an owning object (set by a cluster; ignored).
type OwnerReference struct {
	// APIVersion of the owner.
	APIVersion string `json:"apiVersion"`
	// Kind of the owner.
	Kind string `json:"kind"`
	// Name of the owner.
	Name string `json:"name"`
	// UID of the owner.
	UID string `json:"uid"`
	// Controller is true when the owner is the managing controller.
	Controller *bool `json:"controller,omitempty"`
	// BlockOwnerDeletion, as in Kubernetes.
	BlockOwnerDeletion *bool `json:"blockOwnerDeletion,omitempty"`
}

// Raw holds any YAML/JSON value unchecked: objects, lists or scalars.
// It is used for status blocks and cluster-managed fields faultline ignores.
type Raw = any

// Object is implemented by every top-level manifest kind.
type Object interface {
	GetTypeMeta() *TypeMeta
	GetObjectMeta() *ObjectMeta
}

// GetObjectMeta returns the object's metadata; it makes every kind an Object.
func (m *ObjectMeta) GetObjectMeta() *ObjectMeta { return m }

// KindInfo describes one manifest kind known to faultline.
type KindInfo struct {
	APIVersion string
	Kind       string
	// New returns a pointer to a zero value of the kind.
	New func() Object
	// Short is a one-line description for `faultline schema` and the docs.
	Short string
}

// Kinds lists every manifest kind faultline reads, in documentation order.
// It is a function, not a variable, so that no package-level state exists.
func Kinds() []KindInfo {
	return append(chaosMeshKinds(), faultlineKinds()...)
}

// LookupKind returns the kind with the given apiVersion and kind.
func LookupKind(apiVersion, kind string) (KindInfo, bool) {
	for _, k := range Kinds() {
		if k.APIVersion == apiVersion && k.Kind == kind {
			return k, true
		}
	}
	return KindInfo{}, false
}
