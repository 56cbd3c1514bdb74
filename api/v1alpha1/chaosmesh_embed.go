package v1alpha1

// EmbedChaos holds one chaos spec inline, for Workflow templates and
// Schedules: the field named after the template's type (podChaos for
// PodChaos, ...) is set and no other. The last seven fields are Chaos Mesh
// kinds faultline cannot run; they are decoded so that upstream manifests
// parse, and validation rejects them.
type EmbedChaos struct {
	// PodChaos is the spec of a PodChaos.
	PodChaos *PodChaosSpec `json:"podChaos,omitempty"`
	// NetworkChaos is the spec of a NetworkChaos.
	NetworkChaos *NetworkChaosSpec `json:"networkChaos,omitempty"`
	// StressChaos is the spec of a StressChaos.
	StressChaos *StressChaosSpec `json:"stressChaos,omitempty"`
	// HTTPChaos is the spec of an HTTPChaos.
	HTTPChaos *HTTPChaosSpec `json:"httpChaos,omitempty"`
	// IOChaos is the spec of an IOChaos.
	IOChaos *IOChaosSpec `json:"ioChaos,omitempty"`
	// DNSChaos is the spec of a DNSChaos.
	DNSChaos *DNSChaosSpec `json:"dnsChaos,omitempty"`
	// TimeChaos is the spec of a TimeChaos.
	TimeChaos *TimeChaosSpec `json:"timeChaos,omitempty"`
	// NodeChaos is the spec of a NodeChaos (faultline extension).
	NodeChaos *NodeChaosSpec `json:"nodeChaos,omitempty"`
	// ScaleChaos is the spec of a ScaleChaos (faultline extension).
	ScaleChaos *ScaleChaosSpec `json:"scaleChaos,omitempty"`
	// ModelChaos is the spec of a ModelChaos (faultline extension).
	ModelChaos *ModelChaosSpec `json:"modelChaos,omitempty"`

	// AWSChaos (Chaos Mesh AWSChaos) is not supported by faultline.
	AWSChaos Raw `json:"awsChaos,omitempty"`
	// AzureChaos (Chaos Mesh AzureChaos) is not supported by faultline.
	AzureChaos Raw `json:"azureChaos,omitempty"`
	// BlockChaos (Chaos Mesh BlockChaos) is not supported by faultline.
	BlockChaos Raw `json:"blockChaos,omitempty"`
	// GCPChaos (Chaos Mesh GCPChaos) is not supported by faultline.
	GCPChaos Raw `json:"gcpChaos,omitempty"`
	// JVMChaos (Chaos Mesh JVMChaos) is not supported by faultline.
	JVMChaos Raw `json:"jvmChaos,omitempty"`
	// KernelChaos (Chaos Mesh KernelChaos) is not supported by faultline.
	KernelChaos Raw `json:"kernelChaos,omitempty"`
	// PhysicalMachineChaos (Chaos Mesh PhysicalMachineChaos) is not
	// supported by faultline.
	PhysicalMachineChaos Raw `json:"physicalmachineChaos,omitempty"`
}

// EmbeddedChaos is one chaos spec set in an EmbedChaos.
type EmbeddedChaos struct {
	// Kind is the chaos kind, e.g. PodChaos.
	Kind string
	// Field is the JSON field holding the spec, e.g. podChaos.
	Field string
	// Spec is the spec: *PodChaosSpec, ... for supported kinds, the raw
	// decoded value for the others.
	Spec any
	// Supported is false for Chaos Mesh kinds faultline cannot run.
	Supported bool
}

// embedEntry is one field of an EmbedChaos, set or not.
type embedEntry struct {
	// EmbeddedChaos is the field's kind, name and spec.
	EmbeddedChaos
	set bool
}

// entries lists every field of e in a fixed order, set or not; Spec is nil
// for unset fields so that callers never see a typed nil in an interface.
func (e *EmbedChaos) entries() []embedEntry {
	if e == nil {
		e = &EmbedChaos{}
	}
	mk := func(kind, field string, set, supported bool, spec any) embedEntry {
		if !set {
			spec = nil
		}
		return embedEntry{EmbeddedChaos{Kind: kind, Field: field, Spec: spec, Supported: supported}, set}
	}
	return []embedEntry{
		mk("PodChaos", "podChaos", e.PodChaos != nil, true, e.PodChaos),
		mk("NetworkChaos", "networkChaos", e.NetworkChaos != nil, true, e.NetworkChaos),
		mk("StressChaos", "stressChaos", e.StressChaos != nil, true, e.StressChaos),
		mk("HTTPChaos", "httpChaos", e.HTTPChaos != nil, true, e.HTTPChaos),
		mk("IOChaos", "ioChaos", e.IOChaos != nil, true, e.IOChaos),
		mk("DNSChaos", "dnsChaos", e.DNSChaos != nil, true, e.DNSChaos),
		mk("TimeChaos", "timeChaos", e.TimeChaos != nil, true, e.TimeChaos),
		mk("NodeChaos", "nodeChaos", e.NodeChaos != nil, true, e.NodeChaos),
		mk("ScaleChaos", "scaleChaos", e.ScaleChaos != nil, true, e.ScaleChaos),
		mk("ModelChaos", "modelChaos", e.ModelChaos != nil, true, e.ModelChaos),
		mk("AWSChaos", "awsChaos", e.AWSChaos != nil, false, e.AWSChaos),
		mk("AzureChaos", "azureChaos", e.AzureChaos != nil, false, e.AzureChaos),
		mk("BlockChaos", "blockChaos", e.BlockChaos != nil, false, e.BlockChaos),
		mk("GCPChaos", "gcpChaos", e.GCPChaos != nil, false, e.GCPChaos),
		mk("JVMChaos", "jvmChaos", e.JVMChaos != nil, false, e.JVMChaos),
		mk("KernelChaos", "kernelChaos", e.KernelChaos != nil, false, e.KernelChaos),
		mk("PhysicalMachineChaos", "physicalmachineChaos", e.PhysicalMachineChaos != nil, false, e.PhysicalMachineChaos),
	}
}

// SetChaos returns the chaos specs that are set, in field order; a valid
// EmbedChaos has exactly one.
func (e *EmbedChaos) SetChaos() []EmbeddedChaos {
	var out []EmbeddedChaos
	for _, en := range e.entries() {
		if en.set {
			out = append(out, en.EmbeddedChaos)
		}
	}
	return out
}

// Chaos returns the kind and spec of the set chaos (the first one if,
// invalidly, several are set), or "" and nil when none is set.
func (e *EmbedChaos) Chaos() (kind string, spec any) {
	if set := e.SetChaos(); len(set) > 0 {
		return set[0].Kind, set[0].Spec
	}
	return "", nil
}

// Get returns the spec of the given kind and whether it is set.
func (e *EmbedChaos) Get(kind string) (spec any, ok bool) {
	for _, en := range e.entries() {
		if en.Kind == kind {
			return en.Spec, en.set
		}
	}
	return nil, false
}

// IsEmpty reports whether no chaos spec is set.
func (e *EmbedChaos) IsEmpty() bool { return len(e.SetChaos()) == 0 }

// EmbedChaosField returns the JSON field holding the spec of a chaos kind
// faultline runs ("PodChaos" -> "podChaos"); ok is false for other names,
// including Chaos Mesh kinds faultline does not support.
func EmbedChaosField(kind string) (field string, ok bool) {
	for _, en := range (*EmbedChaos)(nil).entries() {
		if en.Kind == kind {
			return en.Field, en.Supported
		}
	}
	return "", false
}

// SupportedEmbedKinds lists the chaos kinds a Workflow template or a
// Schedule may embed.
func SupportedEmbedKinds() []string { return embedKinds(true) }

// UnsupportedEmbedKinds lists the Chaos Mesh kinds that decode in a Workflow
// or Schedule but that faultline cannot run.
func UnsupportedEmbedKinds() []string { return embedKinds(false) }

func embedKinds(supported bool) []string {
	var out []string
	for _, en := range (*EmbedChaos)(nil).entries() {
		if en.Supported == supported {
			out = append(out, en.Kind)
		}
	}
	return out
}
