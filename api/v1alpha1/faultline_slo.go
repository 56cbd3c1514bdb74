package v1alpha1

// SLOMetric is what an SLO measures.
type SLOMetric string

// SLO metrics, with the unit their bounds are written in.
const (
	// SLOAvailability is the percentage of load requests that succeeded
	// (0 to 100). Bounds: min/max.
	SLOAvailability SLOMetric = "availability"
	// SLOErrorRate is the percentage of load requests that failed (0 to
	// 100). Bounds: min/max.
	SLOErrorRate SLOMetric = "errorRate"
	// SLOLatency is a percentile of load request latency, measured from each
	// request's scheduled send time. Bounds: minDuration/maxDuration.
	SLOLatency SLOMetric = "latency"
	// SLORecoveryTime is the time from a fault's revert (or injection, see
	// from) until the service holds its SLOs over the recovery window; the
	// longest over the run's faults. Bounds: minDuration/maxDuration.
	SLORecoveryTime SLOMetric = "recoveryTime"
	// SLOConsistency is the percentage of golden inference answers that
	// matched (0 to 100), from inference probes. Bounds: min/max.
	SLOConsistency SLOMetric = "consistency"
	// SLOThroughput is the rate of successful load requests, in requests
	// per second. Bounds: min/max.
	SLOThroughput SLOMetric = "throughput"
)

// SLOPhase is the part of a run an SLO is measured over.
type SLOPhase string

// SLO phases.
const (
	SLOPhaseBaseline SLOPhase = "baseline"
	SLOPhaseFault    SLOPhase = "fault"
	SLOPhaseRecovery SLOPhase = "recovery"
	// SLOPhaseAll is the whole run.
	SLOPhaseAll SLOPhase = "all"
)

// RecoveryFrom is where a recovery time starts.
type RecoveryFrom string

// Starting points of recovery time.
const (
	// RecoveryFromRevert measures from the moment the fault was reverted.
	RecoveryFromRevert RecoveryFrom = "revert"
	// RecoveryFromInjection measures from the moment the fault was
	// injected: the whole outage.
	RecoveryFromInjection RecoveryFrom = "injection"
)

// SLO is one service-level objective of the verdict: a metric, measured over
// a phase, held within bounds. Bounds are inclusive and at least one is
// required. Percentages and rates use min and max (numbers);
// latency and recoveryTime use minDuration and maxDuration (durations):
//
//	slos:
//	  - {name: available, metric: availability, phase: fault, min: 99.5}
//	  - {name: errors, metric: errorRate, max: 1}
//	  - {name: p99, metric: latency, percentile: p99, phase: fault, maxDuration: 500ms}
//	  - {name: recovers, metric: recoveryTime, maxDuration: 30s}
//	  - {name: consistent, metric: consistency, min: 99}
//	  - {name: keeps-up, metric: throughput, phase: fault, min: 45}
type SLO struct {
	// Name of the SLO in reports and JUnit, a DNS-1123 label, unique in the
	// experiment. Required.
	Name string `json:"name"`
	// Metric is availability, errorRate, latency, recoveryTime, consistency
	// or throughput. Required.
	Metric SLOMetric `json:"metric"`
	// Percentile of latency: "p50", "p90", "p95", "p99", "p99.9", "max", or
	// any "p<n>" or "<n>" with n above 0 and at most 100 (quote a bare
	// number: "99.5"). Only for latency; default "p99".
	Percentile string `json:"percentile,omitempty"`
	// Phase the metric is measured over: baseline, fault, recovery or all.
	// Default all. Not used by recoveryTime, which is measured per fault.
	Phase SLOPhase `json:"phase,omitempty"`
	// Min is the lowest passing value of availability, errorRate,
	// consistency (percentages, 0 to 100) or throughput (requests per
	// second, 0 or more).
	Min *float64 `json:"min,omitempty"`
	// Max is the highest passing value, in the same units as min.
	Max *float64 `json:"max,omitempty"`
	// MinDuration is the lowest passing latency or recovery time, a
	// duration such as "1ms".
	MinDuration string `json:"minDuration,omitempty"`
	// MaxDuration is the highest passing latency or recovery time, a
	// duration such as "500ms" or "30s".
	MaxDuration string `json:"maxDuration,omitempty"`
	// From is where a recovery time starts: revert (the fault's revert) or
	// injection (the fault's start). Only for recoveryTime; default revert.
	From RecoveryFrom `json:"from,omitempty"`
	// Probe names the inference probe a consistency SLO reads. Only for
	// consistency; default: every inference probe, pooled.
	Probe string `json:"probe,omitempty"`
}
