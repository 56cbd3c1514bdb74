package measure

import (
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// Result is everything measured about one run, and the verdict. Its JSON
// form is faultline's stable result schema (`faultline run -o json`):
// fields are only ever added.
type Result struct {
	SchemaVersion string        `json:"schemaVersion"` // "faultline.dev/result/v1"
	Experiment    string        `json:"experiment"`
	Start         time.Time     `json:"start"`
	Duration      time.Duration `json:"duration"`
	Phases        []PhaseStats  `json:"phases"`
	// Overall covers the whole run (Phase "all"), including requests
	// outside every phase.
	Overall PhaseStats `json:"overall"`
	// Recovery has one entry per fault of the timeline, in order of
	// injection.
	Recovery    []Recovery      `json:"recovery"`
	Consistency []Consistency   `json:"consistency"`
	Probes      []ProbeStats    `json:"probes"`
	Fidelity    []FaultFidelity `json:"fidelity"`
	SLOs        []SLOResult     `json:"slos"`
	Score       Score           `json:"score"`
	Verdict     Verdict         `json:"verdict"`
	Aborted     string          `json:"aborted,omitempty"`

	// AbortedAt is the offset at which a stop condition ended the run.
	AbortedAt time.Duration `json:"abortedAt,omitempty"`
	// Reasons says, one line each, why the verdict is not pass: the stop
	// condition, each failed SLO and probe, each fault that could not be
	// injected. Empty on a pass.
	Reasons []string `json:"reasons,omitempty"`
	// RecoveryWindow and RecoveryCriteria are the recovery definition the
	// Recovery figures were measured with: the service counts as recovered
	// from the first instant it holds every criterion ("availability ≥
	// 99.5%", "p99 ≤ 500ms") over a whole window of this length.
	RecoveryWindow   time.Duration `json:"recoveryWindow"`
	RecoveryCriteria []string      `json:"recoveryCriteria"`
}

// SchemaVersion is the value of Result.SchemaVersion.
const SchemaVersion = "faultline.dev/result/v1"

// Verdict is the overall outcome.
type Verdict string

// Verdicts.
const (
	VerdictPass    Verdict = "pass"
	VerdictFail    Verdict = "fail"
	VerdictAborted Verdict = "aborted"
)

// PhaseStats is what the load saw in one phase.
type PhaseStats struct {
	Phase    string        `json:"phase"`
	Start    time.Duration `json:"start"`
	End      time.Duration `json:"end"`
	Requests int64         `json:"requests"`
	OK       int64         `json:"ok"`
	Errors   int64         `json:"errors"`
	// Availability is the share of requests served, in percent (0–100);
	// NaN-free: a phase without requests reports 100 with Requests 0.
	Availability float64 `json:"availability"`
	ErrorRate    float64 `json:"errorRate"`  // percent
	Throughput   float64 `json:"throughput"` // successful requests per second
	Latency      Latency `json:"latency"`
	// ErrorsByKind counts failures by class ("timeout", "status 503", …).
	ErrorsByKind map[string]int64 `json:"errorsByKind,omitempty"`
	// Consistency is the share of golden checks that matched, percent;
	// -1 when the phase had no checks.
	Consistency float64 `json:"consistency"`
}

// Latency percentiles of successful and failed requests alike, measured
// from the scheduled send time. Percentiles come from an HdrHistogram
// (1 µs to 1 h, three significant digits: at most 0.1% above the exact
// value at rank round(p/100·n)); Max and Mean are exact.
type Latency struct {
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	P999 time.Duration `json:"p999"`
	Max  time.Duration `json:"max"`
	Mean time.Duration `json:"mean"`
}

// Recovery is how one fault affected the service and how long it took to
// come back. docs/measurement.md defines each figure.
type Recovery struct {
	Fault string `json:"fault"`
	// FaultStart and FaultEnd are the fault window (offsets).
	FaultStart time.Duration `json:"faultStart"`
	FaultEnd   time.Duration `json:"faultEnd"`
	// TimeToFirstError from fault start to the first failed request; -1
	// when no error followed before the service was seen to recover.
	TimeToFirstError time.Duration `json:"timeToFirstError"`
	// FromRevert is the time from the fault's revert until the service
	// first held its SLOs over the recovery window; FromStart the same from
	// the fault's start. -1 when it never recovered before the run ended
	// (or recovery was not measured, see Unmeasured); 0 when not impacted.
	FromRevert time.Duration `json:"fromRevert"`
	FromStart  time.Duration `json:"fromStart"`
	Recovered  bool          `json:"recovered"`
	// Impacted is false when the SLOs held throughout (then Recovered is
	// true and both recovery times are 0).
	Impacted bool `json:"impacted"`
	// Unmeasured says why recovery could not be measured for this fault —
	// it was never injected, or there was no load to observe — and is
	// empty when it was. An unmeasured fault has TimeToFirstError,
	// FromRevert and FromStart -1, Recovered and Impacted false, and takes
	// no part in recoveryTime SLOs, the score or aggregates.
	Unmeasured string `json:"unmeasured,omitempty"`
}

// Consistency is one inference probe's golden-set agreement per phase.
type Consistency struct {
	Probe      string             `json:"probe"`
	ByPhase    map[string]float64 `json:"byPhase"` // percent matched; only phases with checks
	Checks     int                `json:"checks"`
	Matched    int                `json:"matched"`
	Mismatches []Mismatch         `json:"mismatches,omitempty"` // kept, capped
	// MismatchesOmitted counts the mismatches beyond the cap (the first
	// MaxMismatches in time order are kept).
	MismatchesOmitted int `json:"mismatchesOmitted,omitempty"`
}

// MaxMismatches caps Consistency.Mismatches, so one badly skewed replica
// cannot blow up the result document.
const MaxMismatches = 100

// Mismatch is one golden response that differed.
type Mismatch struct {
	At      time.Duration `json:"at"`
	Phase   string        `json:"phase"`
	Request string        `json:"request"`
	Replica string        `json:"replica,omitempty"`
	Detail  string        `json:"detail"`
}

// ProbeStats summarises one probe.
type ProbeStats struct {
	Probe   string `json:"probe"`
	Mode    string `json:"mode"`
	Runs    int    `json:"runs"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"` // first failure
}

// FaultFidelity is what one fault was asked to do next to what it did.
type FaultFidelity struct {
	Fault string `json:"fault"`
	Kind  string `json:"kind"`
	// Asked is the fault as asked, in a few words ("delay 500ms on web").
	Asked   string            `json:"asked,omitempty"`
	Targets []string          `json:"targets,omitempty"`
	Items   []engine.Fidelity `json:"items,omitempty"`
	Error   string            `json:"error,omitempty"`
}

// SLOResult is one objective's outcome. Bounds are inclusive. An SLO whose
// figure could not be measured (no load, no golden checks, a phase the run
// never reached) fails with Observed "n/a", Value 0 and a Message saying
// why; one whose service never recovered has Observed "never recovered"
// and Value -1.
type SLOResult struct {
	Name   string `json:"name"`
	Metric string `json:"metric"`
	Phase  string `json:"phase"` // "" for recoveryTime, which is per fault
	// Objective is the bounds as people read them: "≥ 99.5%", "≤ 1%",
	// "p99 ≤ 800ms" (latency names its percentile), "≤ 30s from injection".
	Objective string  `json:"objective"`
	Observed  string  `json:"observed"`
	Value     float64 `json:"value"` // observed, in the metric's unit (percent, seconds, rps)
	Pass      bool    `json:"pass"`
	Message   string  `json:"message,omitempty"`
}

// Score is the resilience score (0–100) with its parts, so the number can
// be explained. The formula is documented in docs/measurement.md.
type Score struct {
	Value      float64            `json:"value"`
	Components map[string]float64 `json:"components"`
	Formula    string             `json:"formula"`
	// Weights are the weights of the components that were measured (a
	// component that could not be measured — no load, no checks, no fault —
	// is left out and the others share its weight).
	Weights map[string]float64 `json:"weights,omitempty"`
}

// Aggregate summarises repeated runs (`--repeat N`): mean and spread of
// the main figures.
//
// Metrics holds, by key (see the Metric* constants): availability of the
// fault phase (percent), p99 latency of the fault phase (milliseconds), the
// worst recovery time from revert (seconds, over runs whose faults all
// recovered), pooled consistency (percent) and the score. A run that could
// not measure a figure (no load, no checks, no fault) is left out of that
// figure's spread; Spread.Samples says how many runs it covers.
type Aggregate struct {
	Runs    int               `json:"runs"`
	Passed  int               `json:"passed"`
	Metrics map[string]Spread `json:"metrics"`
	// Aborted counts runs a stop condition ended.
	Aborted int `json:"aborted,omitempty"`
	// Unrecovered counts runs in which some fault never recovered; their
	// recovery time is not a number and is left out of recoverySeconds.
	Unrecovered int `json:"unrecovered,omitempty"`
}

// Keys of Aggregate.Metrics.
const (
	MetricAvailability    = "availability"    // fault phase, percent
	MetricP99             = "p99Ms"           // fault phase, milliseconds
	MetricRecoverySeconds = "recoverySeconds" // worst from revert, seconds
	MetricConsistency     = "consistency"     // pooled golden checks, percent
	MetricScore           = "score"           // 0–100
)

// Spread is mean, standard deviation, min and max of one figure.
// StdDev is the sample standard deviation (n−1 in the denominator, as the
// runs are a sample of the service's behaviour); 0 for a single run.
type Spread struct {
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Samples is the number of runs the figure was measured in.
	Samples int `json:"samples"`
}
