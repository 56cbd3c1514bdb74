package v1alpha1

// Workflow runs chaos, checks, pauses and tasks as a tree of templates: in
// series, in parallel, on a schedule, or branching on a task's result
// (chaos-mesh.org/v1alpha1).
type Workflow struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec is the workflow's templates and where it starts.
	Spec WorkflowSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// WorkflowSpec is a set of named templates and the one to start from.
type WorkflowSpec struct {
	// Entry is the name of the template the workflow starts with. Required.
	Entry string `json:"entry"`
	// Templates are the steps of the workflow; each names the templates it
	// runs next (children or conditionalBranches). Names are unique and the
	// graph has no cycles. Required, at least one.
	Templates []Template `json:"templates"`
}

// Template returns the template with the given name, nil if there is none.
func (w *WorkflowSpec) Template(name string) *Template {
	for i := range w.Templates {
		if w.Templates[i].Name == name {
			return &w.Templates[i]
		}
	}
	return nil
}

// TemplateType is what a workflow template does.
type TemplateType string

// Template types. A chaos type needs the matching field (PodChaos needs
// podChaos, and so on) and no other chaos field.
const (
	// TemplateTypeTask runs a container (task) and then the first
	// conditionalBranches entry whose expression holds.
	TemplateTypeTask TemplateType = "Task"
	// TemplateTypeSerial runs children one after the other.
	TemplateTypeSerial TemplateType = "Serial"
	// TemplateTypeParallel runs children at the same time.
	TemplateTypeParallel TemplateType = "Parallel"
	// TemplateTypeSuspend waits for its deadline.
	TemplateTypeSuspend TemplateType = "Suspend"
	// TemplateTypeStatusCheck runs statusCheck.
	TemplateTypeStatusCheck TemplateType = "StatusCheck"
	// TemplateTypeSchedule runs the chaos in schedule on a cron schedule
	// until the deadline.
	TemplateTypeSchedule TemplateType = "Schedule"
	// TemplateTypePodChaos injects podChaos.
	TemplateTypePodChaos TemplateType = "PodChaos"
	// TemplateTypeNetworkChaos injects networkChaos.
	TemplateTypeNetworkChaos TemplateType = "NetworkChaos"
	// TemplateTypeStressChaos injects stressChaos.
	TemplateTypeStressChaos TemplateType = "StressChaos"
	// TemplateTypeHTTPChaos injects httpChaos.
	TemplateTypeHTTPChaos TemplateType = "HTTPChaos"
	// TemplateTypeIOChaos injects ioChaos.
	TemplateTypeIOChaos TemplateType = "IOChaos"
	// TemplateTypeDNSChaos injects dnsChaos.
	TemplateTypeDNSChaos TemplateType = "DNSChaos"
	// TemplateTypeTimeChaos injects timeChaos.
	TemplateTypeTimeChaos TemplateType = "TimeChaos"
	// TemplateTypeNodeChaos injects nodeChaos (faultline extension).
	TemplateTypeNodeChaos TemplateType = "NodeChaos"
	// TemplateTypeScaleChaos injects scaleChaos (faultline extension).
	TemplateTypeScaleChaos TemplateType = "ScaleChaos"
	// TemplateTypeModelChaos injects modelChaos (faultline extension).
	TemplateTypeModelChaos TemplateType = "ModelChaos"
)

// IsChaos reports whether the template injects a chaos spec of its own
// (PodChaos, NetworkChaos, ...), as opposed to orchestrating other templates.
func (t TemplateType) IsChaos() bool {
	_, ok := EmbedChaosField(string(t))
	return ok
}

// Template is one step of a workflow. Which fields apply depends on
// templateType; the others must be left out.
type Template struct {
	// Name identifies the template in entry, children and
	// conditionalBranches; unique, a DNS-1123 subdomain. Required.
	Name string `json:"name"`
	// Type is what the template does: Serial, Parallel, Suspend, Task,
	// StatusCheck, Schedule, or a chaos kind (PodChaos, NetworkChaos,
	// StressChaos, HTTPChaos, IOChaos, DNSChaos, TimeChaos, NodeChaos,
	// ScaleChaos, ModelChaos). Required.
	Type TemplateType `json:"templateType"`
	// Deadline is the longest the template runs, e.g. "5m": chaos is
	// reverted, a Serial or Parallel node stops its children, a Suspend
	// waits exactly this long. Required by Suspend. Default: no deadline.
	Deadline *string `json:"deadline,omitempty"`
	// Task is the container a Task template runs. Required by Task.
	Task *Task `json:"task,omitempty"`
	// Children are the names of the templates a Serial or Parallel template
	// runs. Required by Serial and Parallel.
	Children []string `json:"children,omitempty"`
	// ConditionalBranches follow a Task: each whose expression holds on the
	// task's result starts its target template. Task only.
	ConditionalBranches []ConditionalBranch `json:"conditionalBranches,omitempty"`
	// EmbedChaos holds the chaos spec of a chaos template, e.g. podChaos for
	// templateType PodChaos. Chaos specs in a workflow take no duration: the
	// deadline bounds them.
	EmbedChaos `json:",inline"`
	// Schedule is the scheduled chaos of a Schedule template. Required by Schedule.
	Schedule *ChaosOnlyScheduleSpec `json:"schedule,omitempty"`
	// StatusCheck is the check of a StatusCheck template. Required by StatusCheck.
	StatusCheck *StatusCheckSpec `json:"statusCheck,omitempty"`
	// AbortWithStatusCheck aborts the whole workflow when the status check
	// fails. StatusCheck only. Default false.
	AbortWithStatusCheck bool `json:"abortWithStatusCheck,omitempty"`
}

// ConditionalBranch starts a template when an expression on a task's
// result holds.
type ConditionalBranch struct {
	// Target is the name of the template to start. Required.
	Target string `json:"target"`
	// Expression decides, over the variables exitCode (int), stdout and
	// stderr (strings), e.g. `exitCode == 0 && stdout == "ok"`. Empty:
	// the branch is always taken.
	Expression string `json:"expression,omitempty"`
}

// Task is the container a Task template runs; its exit code and output feed
// the template's conditionalBranches.
type Task struct {
	// Container to run. Required.
	Container *TaskContainer `json:"container,omitempty"`
	// Volumes the container may mount, as Kubernetes volumes (Kubernetes
	// engine only; passed through unchanged).
	Volumes []Raw `json:"volumes,omitempty"`
	// Labels put on the task's pod.
	Labels map[string]string `json:"labels,omitempty"`
}

// PullPolicy says when a container image is pulled.
type PullPolicy string

// Image pull policies, as in Kubernetes.
const (
	PullAlways       PullPolicy = "Always"
	PullNever        PullPolicy = "Never"
	PullIfNotPresent PullPolicy = "IfNotPresent"
)

// TaskContainer is a Kubernetes container (core/v1 Container). faultline
// reads name, image, command, args, workingDir and env; the other fields are
// Kubernetes structures passed to the task pod unchanged by the Kubernetes
// engine.
type TaskContainer struct {
	// Name of the container, a DNS-1123 label. Required.
	Name string `json:"name"`
	// Image to run, e.g. busybox or curlimages/curl:8.8.0.
	Image string `json:"image,omitempty"`
	// Command replaces the image's entrypoint; not run in a shell.
	Command []string `json:"command,omitempty"`
	// Args are the arguments of the command (or of the image's entrypoint).
	Args []string `json:"args,omitempty"`
	// WorkingDir is the directory the command runs in.
	WorkingDir string `json:"workingDir,omitempty"`
	// Env sets environment variables.
	Env []TaskEnvVar `json:"env,omitempty"`
	// EnvFrom loads environment variables from ConfigMaps or Secrets
	// (Kubernetes EnvFromSource list).
	EnvFrom []Raw `json:"envFrom,omitempty"`
	// ImagePullPolicy is Always, Never or IfNotPresent. Default: Always for
	// :latest images, IfNotPresent otherwise.
	ImagePullPolicy PullPolicy `json:"imagePullPolicy,omitempty"`
	// Ports the container exposes (Kubernetes ContainerPort list).
	Ports []Raw `json:"ports,omitempty"`
	// Resources are CPU and memory requests and limits (Kubernetes
	// ResourceRequirements).
	Resources Raw `json:"resources,omitempty"`
	// ResizePolicy says how resources may change in place (Kubernetes
	// ContainerResizePolicy list).
	ResizePolicy []Raw `json:"resizePolicy,omitempty"`
	// RestartPolicy of this container (Kubernetes sidecar semantics).
	RestartPolicy string `json:"restartPolicy,omitempty"`
	// RestartPolicyRules decide restarts by exit code (Kubernetes
	// ContainerRestartRule list).
	RestartPolicyRules []Raw `json:"restartPolicyRules,omitempty"`
	// VolumeMounts mount task volumes (Kubernetes VolumeMount list).
	VolumeMounts []Raw `json:"volumeMounts,omitempty"`
	// VolumeDevices map block volumes (Kubernetes VolumeDevice list).
	VolumeDevices []Raw `json:"volumeDevices,omitempty"`
	// Lifecycle hooks (Kubernetes Lifecycle).
	Lifecycle Raw `json:"lifecycle,omitempty"`
	// LivenessProbe (Kubernetes Probe).
	LivenessProbe Raw `json:"livenessProbe,omitempty"`
	// ReadinessProbe (Kubernetes Probe).
	ReadinessProbe Raw `json:"readinessProbe,omitempty"`
	// StartupProbe (Kubernetes Probe).
	StartupProbe Raw `json:"startupProbe,omitempty"`
	// SecurityContext of the container (Kubernetes SecurityContext).
	SecurityContext Raw `json:"securityContext,omitempty"`
	// Stdin allocates a stdin buffer. Default false.
	Stdin bool `json:"stdin,omitempty"`
	// StdinOnce closes stdin after the first attach ends. Default false.
	StdinOnce bool `json:"stdinOnce,omitempty"`
	// TTY allocates a terminal; needs stdin. Default false.
	TTY bool `json:"tty,omitempty"`
	// TerminationMessagePath is the file the termination message is read
	// from. Default /dev/termination-log.
	TerminationMessagePath string `json:"terminationMessagePath,omitempty"`
	// TerminationMessagePolicy is File or FallbackToLogsOnError. Default File.
	TerminationMessagePolicy string `json:"terminationMessagePolicy,omitempty"`
}

// TaskEnvVar is an environment variable of a task container.
type TaskEnvVar struct {
	// Name of the variable. Required.
	Name string `json:"name"`
	// Value of the variable; $(OTHER) references are expanded.
	Value string `json:"value,omitempty"`
	// ValueFrom takes the value from a Secret, ConfigMap or field
	// (Kubernetes EnvVarSource; Kubernetes engine only).
	ValueFrom Raw `json:"valueFrom,omitempty"`
}
