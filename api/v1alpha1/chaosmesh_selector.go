package v1alpha1

// SelectorMode says how many of the pods matched by a selector are hit.
type SelectorMode string

// Selector modes, as in Chaos Mesh. Modes other than all pick their pods at
// random each time the fault is injected.
const (
	// ModeOne hits one randomly chosen pod.
	ModeOne SelectorMode = "one"
	// ModeAll hits every matched pod.
	ModeAll SelectorMode = "all"
	// ModeFixed hits `value` randomly chosen pods (an integer count).
	ModeFixed SelectorMode = "fixed"
	// ModeFixedPercent hits `value` percent of the matched pods (1 to 100).
	ModeFixedPercent SelectorMode = "fixed-percent"
	// ModeRandomMaxPercent hits a random share between 0 and `value` percent
	// of the matched pods (1 to 100).
	ModeRandomMaxPercent SelectorMode = "random-max-percent"
)

// LabelSelectorOperator relates a label key to a set of values.
type LabelSelectorOperator string

// Operators of expressionSelectors, as in Kubernetes label selectors.
const (
	// LabelOpIn matches when the label's value is one of values.
	LabelOpIn LabelSelectorOperator = "In"
	// LabelOpNotIn matches when the label is absent or its value is none of values.
	LabelOpNotIn LabelSelectorOperator = "NotIn"
	// LabelOpExists matches when the label is present, whatever its value.
	LabelOpExists LabelSelectorOperator = "Exists"
	// LabelOpDoesNotExist matches when the label is absent.
	LabelOpDoesNotExist LabelSelectorOperator = "DoesNotExist"
)

// PodPhase is the lifecycle phase of a pod (or of a local replica, which
// faultline maps onto the same phases).
type PodPhase string

// Pod phases usable in podPhaseSelectors.
const (
	PodPending   PodPhase = "Pending"
	PodRunning   PodPhase = "Running"
	PodSucceeded PodPhase = "Succeeded"
	PodFailed    PodPhase = "Failed"
	PodUnknown   PodPhase = "Unknown"
)

// LabelSelectorRequirement is one set-based label expression, e.g.
// `{key: tier, operator: In, values: [frontend, backend]}`.
type LabelSelectorRequirement struct {
	// Key is the label key the expression tests, e.g. `app.kubernetes.io/name`.
	Key string `json:"key"`
	// Operator is In, NotIn, Exists or DoesNotExist.
	Operator LabelSelectorOperator `json:"operator"`
	// Values to compare with. Required (non-empty) for In and NotIn; must be
	// empty for Exists and DoesNotExist.
	Values []string `json:"values,omitempty"`
}

// PodSelectorSpec chooses the candidate pods (or local replicas) of a fault.
// All given criteria must match (they are ANDed). When namespaces is empty the
// object's own namespace is used, as Chaos Mesh does.
type PodSelectorSpec struct {
	// Namespaces the pods must be in. Default: the namespace of the object.
	Namespaces []string `json:"namespaces,omitempty"`
	// Nodes the pods must run on, by node name.
	Nodes []string `json:"nodes,omitempty"`
	// Pods lists pods by name, keyed by namespace:
	// `{default: [web-0, web-1]}`. When set, only these pods are candidates.
	Pods map[string][]string `json:"pods,omitempty"`
	// NodeSelectors are labels the pods' nodes must carry.
	NodeSelectors map[string]string `json:"nodeSelectors,omitempty"`
	// FieldSelectors are Kubernetes field selectors, e.g.
	// `{metadata.name: web-0}` or `{spec.nodeName: node-1}`.
	FieldSelectors map[string]string `json:"fieldSelectors,omitempty"`
	// LabelSelectors are labels the pods must carry (all of them).
	LabelSelectors map[string]string `json:"labelSelectors,omitempty"`
	// AnnotationSelectors are annotations the pods must carry (all of them).
	AnnotationSelectors map[string]string `json:"annotationSelectors,omitempty"`
	// ExpressionSelectors are set-based label expressions (all must match).
	ExpressionSelectors []LabelSelectorRequirement `json:"expressionSelectors,omitempty"`
	// PodPhaseSelectors keeps pods in one of these phases:
	// Pending, Running, Succeeded, Failed or Unknown. Default: any phase.
	PodPhaseSelectors []PodPhase `json:"podPhaseSelectors,omitempty"`
}

// IsEmpty reports whether no criterion is set, i.e. every pod of the
// object's namespace is a candidate.
func (s *PodSelectorSpec) IsEmpty() bool {
	return s == nil || len(s.Namespaces) == 0 && len(s.Nodes) == 0 && len(s.Pods) == 0 &&
		len(s.NodeSelectors) == 0 && len(s.FieldSelectors) == 0 && len(s.LabelSelectors) == 0 &&
		len(s.AnnotationSelectors) == 0 && len(s.ExpressionSelectors) == 0 && len(s.PodPhaseSelectors) == 0
}

// PodSelector is a selector with its mode: which pods match, and how many of
// them are hit. Chaos specs inline it, so `selector`, `mode` and `value` sit
// directly under `spec`.
type PodSelector struct {
	// Selector chooses the candidate pods.
	Selector PodSelectorSpec `json:"selector"`
	// Mode says how many candidates are hit: one, all, fixed, fixed-percent or
	// random-max-percent. Required.
	Mode SelectorMode `json:"mode"`
	// Value completes the mode, as a string: a pod count for fixed ("2"), a
	// percentage from "1" to "100" for fixed-percent and random-max-percent.
	// Not used by one and all.
	Value string `json:"value,omitempty"`
}

// GetSelector returns the selector and mode; every chaos spec that inlines a
// PodSelector gets it, so engines can select targets without a type switch.
func (s *PodSelector) GetSelector() *PodSelector { return s }

// ContainerSelector is a PodSelector that also names containers inside the
// chosen pods, for faults that act on one container (kill, stress, IO, time).
type ContainerSelector struct {
	// PodSelector chooses the pods.
	PodSelector `json:",inline"`
	// ContainerNames are the containers affected in each selected pod.
	// Default: the pod's first container. Required by PodChaos container-kill.
	ContainerNames []string `json:"containerNames,omitempty"`
}

// GetContainerSelector returns the selector with its container names.
func (s *ContainerSelector) GetContainerSelector() *ContainerSelector { return s }

// Selectable is implemented by every chaos spec that selects pods.
type Selectable interface {
	GetSelector() *PodSelector
}
