package v1alpha1

// faultlineKinds lists faultline's own kinds (faultline.dev/v1alpha1), in
// documentation order.
func faultlineKinds() []KindInfo {
	return []KindInfo{
		{APIVersion: FaultlineAPIVersion, Kind: "Environment", New: func() Object { return &Environment{} },
			Short: "Where targets live: local services with replicas, nodes, probes and restarts; or a Kubernetes cluster and its namespaces."},
		{APIVersion: FaultlineAPIVersion, Kind: "Experiment", New: func() Object { return &Experiment{} },
			Short: "A resilience test: environment, load, probes, faults or a workflow over baseline/fault/recovery phases, judged by SLOs."},
		{APIVersion: FaultlineAPIVersion, Kind: "NodeChaos", New: func() Object { return &NodeChaos{} },
			Short: "Takes nodes down or drains them; replicas are rescheduled after the eviction delay."},
		{APIVersion: FaultlineAPIVersion, Kind: "ScaleChaos", New: func() Object { return &ScaleChaos{} },
			Short: "Scales a service or workload to N replicas for a duration, then back."},
		{APIVersion: FaultlineAPIVersion, Kind: "ModelChaos", New: func() Object { return &ModelChaos{} },
			Short: "Serves a stale model version, corrupts the model file or slows the model's load on selected replicas."},
	}
}
