package v1alpha1

// Experiment is one resilience test (faultline.dev/v1alpha1): an environment,
// load driven against it, probes that watch it, faults (or a Chaos Mesh
// workflow) injected during the fault phase, and SLOs that turn what was
// measured into a verdict.
//
// A run has three phases, back to back: baseline (no faults: the steady
// state), fault (faults are injected at their offsets and reverted at the
// latest when the phase ends) and recovery (no faults: does the service come
// back, and how fast). Load and Continuous probes run through all three.
type Experiment struct {
	// TypeMeta holds apiVersion (faultline.dev/v1alpha1) and kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name (required), namespace,
	// labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec describes the experiment.
	Spec ExperimentSpec `json:"spec"`
	// Status is written by faultline's tools; manifests leave it out.
	Status Raw `json:"status,omitempty"`
}

// Default values of an experiment, as documented on its fields.
const (
	// DefaultBaselinePhase is the baseline phase's length.
	DefaultBaselinePhase = "10s"
	// DefaultRecoveryPhase is the recovery phase's length.
	DefaultRecoveryPhase = "30s"
	// DefaultRecoveryWindow is the sliding window over which a service must
	// hold its SLOs to count as recovered.
	DefaultRecoveryWindow = "2s"
)

// ExperimentSpec is what an experiment does. Faults and workflow exclude
// each other; schedules may come with either.
type ExperimentSpec struct {
	// Environment the experiment runs in: an environment file, an inline
	// environment, or one that is already running. Required.
	Environment *ExperimentEnvironment `json:"environment,omitempty"`
	// Phases are the lengths of the baseline, fault and recovery phases.
	Phases ExperimentPhases `json:"phases"`
	// Load is the traffic driven against the service during the run, open
	// loop. Without it only probes observe the service (availability and
	// latency SLOs then have nothing to measure).
	Load *LoadSpec `json:"load,omitempty"`
	// Probes watch the service: the steady-state hypothesis and the
	// consistency checks. Names are unique DNS-1123 labels.
	Probes []ExperimentProbe `json:"probes,omitempty"`
	// Faults are injected during the fault phase, each at its offset.
	// Cannot be combined with workflow. Names are unique DNS-1123 labels.
	Faults []ExperimentFault `json:"faults,omitempty"`
	// Workflow is a Chaos Mesh workflow run during the fault phase, with
	// Chaos Mesh's semantics. Cannot be combined with faults.
	Workflow *ExperimentWorkflow `json:"workflow,omitempty"`
	// Schedules are Chaos Mesh schedules (cron) active during the fault
	// phase. Names are unique DNS-1123 labels.
	Schedules []ExperimentSchedule `json:"schedules,omitempty"`
	// SLOs are the objectives the verdict checks, each on one phase. Names
	// are unique DNS-1123 labels.
	SLOs []SLO `json:"slos,omitempty"`
	// Recovery tunes how recovery time is measured.
	Recovery *ExperimentRecovery `json:"recovery,omitempty"`
	// Repeat runs the experiment this many times and reports mean and
	// spread; `faultline run --repeat` overrides it. At least 1; default 1.
	Repeat *int32 `json:"repeat,omitempty"`
}

// ExperimentEnvironment says which environment an experiment runs in. Write
// one of: file (an Environment manifest), the environment inline (its spec
// fields: services, nodes, … or kube), or attach with name or file.
//
//	environment: {file: env.yaml}
//	environment: {services: [{name: web, command: [./web]}]}
//	environment: {attach: true, name: recsys}
type ExperimentEnvironment struct {
	// File is the path of a file holding an Environment manifest, relative
	// to the experiment file's directory.
	File string `json:"file,omitempty"`
	// Name of the environment: with attach, the running environment to use
	// (default: metadata.name of file); with an inline spec, its name
	// (default: the experiment's name). A DNS-1123 subdomain.
	Name string `json:"name,omitempty"`
	// Attach uses an environment that is already running (started with
	// `faultline env up --detach`) instead of starting one, and leaves it
	// running after the run; the run fails if it is not up. Default false:
	// the environment is started for the run and stopped after it.
	Attach bool `json:"attach,omitempty"`
	// EnvironmentSpec is an inline environment: the fields of an
	// Environment's spec written directly under environment.
	EnvironmentSpec `json:",inline"`
}

// ExperimentPhases are the lengths of the three phases, as durations such as
// "30s" or "2m".
type ExperimentPhases struct {
	// Baseline runs load and probes with no fault: the steady state the
	// other phases are compared to. Zero or more; default "10s".
	Baseline string `json:"baseline,omitempty"`
	// Fault is the phase in which faults are injected; every fault still
	// active when it ends is reverted then. Required and greater than zero,
	// except with a workflow, where omitting it lets the phase last until
	// the workflow completes.
	Fault string `json:"fault,omitempty"`
	// Recovery runs load and probes after every fault was reverted, to
	// measure recovery. Zero or more; default "30s".
	Recovery string `json:"recovery,omitempty"`
}

// ExperimentFault is one fault of an experiment: a chaos object from a file,
// or one chaos spec written inline under its kind's key, e.g.
//
//	faults:
//	  - name: kill-one
//	    at: 10s
//	    podChaos: {action: pod-kill, mode: one, selector: {labelSelectors: {app: web}}}
//
// The fault is injected `at` into the fault phase and lasts its spec's
// duration, cut short when the fault phase ends.
type ExperimentFault struct {
	// Name of the fault in events and reports, a DNS-1123 label, unique in
	// the experiment. Required for an inline fault; for a file, defaults to
	// the object's metadata.name.
	Name string `json:"name,omitempty"`
	// At is the offset into the fault phase at which the fault is injected,
	// a duration from "0s" up to (not including) the fault phase's length.
	// Default "0s".
	At string `json:"at,omitempty"`
	// File is the path of a file holding one chaos object (a Chaos Mesh
	// PodChaos, NetworkChaos, StressChaos, HTTPChaos, IOChaos, DNSChaos or
	// TimeChaos, or a faultline NodeChaos, ScaleChaos or ModelChaos),
	// relative to the experiment file's directory. Excludes an inline spec.
	File string `json:"file,omitempty"`
	// EmbedChaos holds the inline fault: exactly one of podChaos,
	// networkChaos, stressChaos, httpChaos, ioChaos, dnsChaos, timeChaos,
	// nodeChaos, scaleChaos or modelChaos, holding that kind's spec.
	EmbedChaos `json:",inline"`
}

// ExperimentWorkflow is a Chaos Mesh workflow run in the fault phase: a file
// holding a Workflow object, or the workflow's spec (entry and templates)
// written inline.
//
//	workflow: {file: workflow.yaml}
//	workflow: {entry: the-entry, templates: [...]}
type ExperimentWorkflow struct {
	// File is the path of a file holding a chaos-mesh.org/v1alpha1 Workflow,
	// relative to the experiment file's directory. Excludes entry and
	// templates.
	File string `json:"file,omitempty"`
	// WorkflowSpec is the inline workflow: entry and templates, as in a
	// Workflow's spec.
	WorkflowSpec `json:",inline"`
}

// ExperimentSchedule is a Chaos Mesh schedule active in the fault phase: a
// file holding a Schedule object, or the schedule's spec written inline
// (schedule, type, concurrencyPolicy, the chaos spec, …).
//
//	schedules:
//	  - name: kill-every-10s
//	    schedule: "@every 10s"
//	    type: PodChaos
//	    podChaos: {action: pod-kill, mode: one, selector: {labelSelectors: {app: web}}}
type ExperimentSchedule struct {
	// Name of the schedule in events and reports, a DNS-1123 label, unique
	// in the experiment. Required inline; for a file, defaults to the
	// object's metadata.name.
	Name string `json:"name,omitempty"`
	// At is the offset into the fault phase at which the schedule starts, a
	// duration below the fault phase's length. It stops when the phase
	// ends. Default "0s".
	At string `json:"at,omitempty"`
	// File is the path of a file holding a chaos-mesh.org/v1alpha1 Schedule,
	// relative to the experiment file's directory. Excludes an inline spec.
	File string `json:"file,omitempty"`
	// ScheduleSpec is the inline schedule, as in a Schedule's spec.
	ScheduleSpec `json:",inline"`
}

// ExperimentRecovery tunes the measurement of recovery time: the time from a
// fault's revert (or its injection) to the first moment the service holds
// its SLOs over a whole sliding window.
type ExperimentRecovery struct {
	// Window is the length of the sliding window, a duration greater than
	// zero, such as "2s". Measured at 100 ms resolution. Default "2s".
	Window string `json:"window,omitempty"`
	// SLOs names the SLOs the service must hold to count as recovered; only
	// availability, errorRate, latency and throughput SLOs qualify.
	// Default: every SLO of those metrics. With none, recovered means the
	// window's availability is at least the baseline phase's.
	SLOs []string `json:"slos,omitempty"`
}
