package v1alpha1

// NodeChaos takes nodes down or drains them (faultline.dev/v1alpha1).
//
// On a local environment a node is a group of replicas: node-down kills
// every replica on the selected nodes at once (SIGKILL), marks the nodes
// NotReady and, after the environment's evictionDelay, reschedules the
// replicas onto healthy nodes; node-drain cordons the nodes and evicts their
// replicas gracefully (SIGTERM, grace period) onto other nodes. When the
// fault ends the nodes are Ready and schedulable again; replicas that moved
// stay where they are, as in Kubernetes.
type NodeChaos struct {
	// TypeMeta holds apiVersion (faultline.dev/v1alpha1) and kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name (required), namespace,
	// labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says which nodes are hit and how.
	Spec NodeChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// NodeChaosAction is what NodeChaos does to the selected nodes.
type NodeChaosAction string

// NodeChaos actions.
const (
	// NodeDown stops the node abruptly: its replicas die and it is
	// NotReady for the fault's duration.
	NodeDown NodeChaosAction = "node-down"
	// NodeDrain cordons the node and evicts its replicas gracefully, like
	// `kubectl drain`; it is uncordoned when the fault ends.
	NodeDrain NodeChaosAction = "node-drain"
)

// NodeChaosSpec is the fault of a NodeChaos.
type NodeChaosSpec struct {
	// Action is node-down or node-drain. Required.
	Action NodeChaosAction `json:"action"`
	// Selector chooses the candidate nodes. Required: at least one of
	// nodes, labelSelectors and expressionSelectors.
	Selector NodeChaosSelector `json:"selector"`
	// Mode says how many candidate nodes are hit: one, all, fixed,
	// fixed-percent or random-max-percent, as in Chaos Mesh. Required.
	Mode SelectorMode `json:"mode"`
	// Value completes the mode, as a string: a node count for fixed ("1"),
	// a percentage from "1" to "100" for fixed-percent and
	// random-max-percent. Not used by one and all.
	Value string `json:"value,omitempty"`
	// Duration the nodes stay down or drained, e.g. "30s". Default: until
	// the experiment's fault phase ends (or `faultline stop`).
	Duration *string `json:"duration,omitempty"`
}

// NodeChaosSelector chooses nodes. All given criteria must match.
type NodeChaosSelector struct {
	// Nodes lists candidate nodes by name.
	Nodes []string `json:"nodes,omitempty"`
	// LabelSelectors are labels the nodes must carry (all of them), e.g.
	// `{zone: a}`.
	LabelSelectors map[string]string `json:"labelSelectors,omitempty"`
	// ExpressionSelectors are set-based expressions on node labels (all
	// must match).
	ExpressionSelectors []LabelSelectorRequirement `json:"expressionSelectors,omitempty"`
}

// IsEmpty reports whether no criterion is set.
func (s *NodeChaosSelector) IsEmpty() bool {
	return s == nil || len(s.Nodes) == 0 && len(s.LabelSelectors) == 0 && len(s.ExpressionSelectors) == 0
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *NodeChaosSpec) GetDuration() *string { return s.Duration }
