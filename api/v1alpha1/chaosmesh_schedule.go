package v1alpha1

// Schedule creates a chaos object or a Workflow on a cron schedule
// (chaos-mesh.org/v1alpha1).
type Schedule struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec is when to run and what.
	Spec ScheduleSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// ConcurrencyPolicy says whether a scheduled run may start while the
// previous one still runs.
type ConcurrencyPolicy string

// Concurrency policies.
const (
	// ConcurrencyForbid skips a run while the previous one is active.
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyAllow lets runs overlap.
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
)

// ScheduleTemplateType is what a Schedule creates at each run.
type ScheduleTemplateType string

// Schedule types: a chaos kind, whose spec is in the field of the same name
// (PodChaos in podChaos, ...), or Workflow, in workflow.
const (
	ScheduleTypePodChaos     ScheduleTemplateType = "PodChaos"
	ScheduleTypeNetworkChaos ScheduleTemplateType = "NetworkChaos"
	ScheduleTypeStressChaos  ScheduleTemplateType = "StressChaos"
	ScheduleTypeHTTPChaos    ScheduleTemplateType = "HTTPChaos"
	ScheduleTypeIOChaos      ScheduleTemplateType = "IOChaos"
	ScheduleTypeDNSChaos     ScheduleTemplateType = "DNSChaos"
	ScheduleTypeTimeChaos    ScheduleTemplateType = "TimeChaos"
	ScheduleTypeNodeChaos    ScheduleTemplateType = "NodeChaos"
	ScheduleTypeScaleChaos   ScheduleTemplateType = "ScaleChaos"
	ScheduleTypeModelChaos   ScheduleTemplateType = "ModelChaos"
	ScheduleTypeWorkflow     ScheduleTemplateType = "Workflow"
)

// ChaosOnlyScheduleSpec is a cron schedule of chaos. A Workflow's Schedule
// template uses it as is; a Schedule object adds the choice of a Workflow.
type ChaosOnlyScheduleSpec struct {
	// Schedule is a cron expression: five fields ("*/5 * * * *"), six with
	// leading seconds ("0 */5 * * * *"), a descriptor (@hourly, @daily, ...)
	// or "@every <duration>" ("@every 2m"). Optional "TZ=Europe/Paris "
	// prefix. Required.
	Schedule string `json:"schedule"`
	// StartingDeadlineSeconds: a run that could not start within this many
	// seconds of its time is skipped. Default: no limit. At least 0.
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
	// ConcurrencyPolicy is Forbid (skip a run while the last is active) or
	// Allow. Default: Forbid.
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
	// HistoryLimit is how many finished runs are kept, at least 1.
	HistoryLimit *int `json:"historyLimit,omitempty"`
	// Type is what each run creates: a chaos kind (PodChaos, NetworkChaos,
	// StressChaos, HTTPChaos, IOChaos, DNSChaos, TimeChaos, NodeChaos,
	// ScaleChaos, ModelChaos) with its spec in the field of the same name
	// (podChaos, ...), or, in a Schedule object only, Workflow with its spec
	// in workflow. Required.
	Type ScheduleTemplateType `json:"type"`
	// EmbedChaos holds the chaos spec named by type.
	EmbedChaos `json:",inline"`
}

// ScheduleSpec is when a Schedule runs and what it creates: each run
// creates the chaos named by type or, when type is Workflow, the workflow.
type ScheduleSpec struct {
	// ChaosOnlyScheduleSpec holds the cron schedule, its policies, the type
	// and the chaos spec.
	ChaosOnlyScheduleSpec `json:",inline"`
	// Workflow is the workflow created at each run. Required when type is
	// Workflow, not allowed otherwise.
	Workflow *WorkflowSpec `json:"workflow,omitempty"`
}
