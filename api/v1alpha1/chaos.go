package v1alpha1

// ChaosSpec is implemented by the spec of every fault kind: how long the
// fault is held ("" or nil: until reverted, or instantaneous).
type ChaosSpec interface {
	GetDuration() *string
}

// ChaosObject is implemented by every fault kind (PodChaos … ModelChaos),
// not by Workflow, Schedule, StatusCheck, Environment or Experiment.
type ChaosObject interface {
	Object
	// Chaos returns a pointer to the object's spec.
	Chaos() ChaosSpec
}

// Chaos returns the spec; it makes PodChaos a ChaosObject.
func (o *PodChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes NetworkChaos a ChaosObject.
func (o *NetworkChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes StressChaos a ChaosObject.
func (o *StressChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes HTTPChaos a ChaosObject.
func (o *HTTPChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes IOChaos a ChaosObject.
func (o *IOChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes DNSChaos a ChaosObject.
func (o *DNSChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes TimeChaos a ChaosObject.
func (o *TimeChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes NodeChaos a ChaosObject.
func (o *NodeChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes ScaleChaos a ChaosObject.
func (o *ScaleChaos) Chaos() ChaosSpec { return &o.Spec }

// Chaos returns the spec; it makes ModelChaos a ChaosObject.
func (o *ModelChaos) Chaos() ChaosSpec { return &o.Spec }

// NewChaosSpec returns a zero spec of the fault kind named kind.
func NewChaosSpec(kind string) (ChaosSpec, bool) {
	for _, k := range Kinds() {
		if k.Kind != kind {
			continue
		}
		if co, ok := k.New().(ChaosObject); ok {
			return co.Chaos(), true
		}
	}
	return nil, false
}
