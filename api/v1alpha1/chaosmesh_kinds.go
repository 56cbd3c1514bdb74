package v1alpha1

// Chaos Mesh kind names (apiVersion chaos-mesh.org/v1alpha1).
const (
	KindPodChaos     = "PodChaos"
	KindNetworkChaos = "NetworkChaos"
	KindStressChaos  = "StressChaos"
	KindHTTPChaos    = "HTTPChaos"
	KindIOChaos      = "IOChaos"
	KindDNSChaos     = "DNSChaos"
	KindTimeChaos    = "TimeChaos"
	KindWorkflow     = "Workflow"
	KindSchedule     = "Schedule"
	KindStatusCheck  = "StatusCheck"
)

// chaosMeshKinds lists the Chaos Mesh kinds faultline reads, faults first,
// then orchestration.
func chaosMeshKinds() []KindInfo {
	k := func(kind, short string, newFn func() Object) KindInfo {
		return KindInfo{APIVersion: ChaosMeshAPIVersion, Kind: kind, New: newFn, Short: short}
	}
	return []KindInfo{
		k(KindPodChaos, "Kill pods or containers, or make pods fail for a while.",
			func() Object { return &PodChaos{} }),
		k(KindNetworkChaos, "Delay, drop, duplicate, corrupt, throttle or partition pod traffic.",
			func() Object { return &NetworkChaos{} }),
		k(KindStressChaos, "Burn CPU or memory inside pods.",
			func() Object { return &StressChaos{} }),
		k(KindHTTPChaos, "Abort, delay, replace or patch HTTP requests and responses.",
			func() Object { return &HTTPChaos{} }),
		k(KindIOChaos, "Delay or fail file operations, or return wrong data or attributes.",
			func() Object { return &IOChaos{} }),
		k(KindDNSChaos, "Make DNS lookups fail or return random addresses.",
			func() Object { return &DNSChaos{} }),
		k(KindTimeChaos, "Shift the clocks seen by processes in pods.",
			func() Object { return &TimeChaos{} }),
		k(KindWorkflow, "Run chaos, checks, pauses and tasks in series, in parallel or by branch.",
			func() Object { return &Workflow{} }),
		k(KindSchedule, "Run chaos or a workflow on a cron schedule.",
			func() Object { return &Schedule{} }),
		k(KindStatusCheck, "Probe a service over HTTP and pass or fail by thresholds.",
			func() Object { return &StatusCheck{} }),
	}
}
