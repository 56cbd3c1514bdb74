package workflow

import (
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// Status is how a node, a schedule run or a whole workflow stands.
type Status string

// Statuses.
const (
	StatusRunning   Status = "Running"
	StatusSucceeded Status = "Succeeded"
	// StatusFailed: the node could not do its part (an inject or revert
	// error, a failed status check, a task that could not run), or a
	// descendant failed.
	StatusFailed Status = "Failed"
	// StatusDeadlineExceeded: a deadline (its own or an ancestor's) cut the
	// node short.
	StatusDeadlineExceeded Status = "DeadlineExceeded"
	// StatusSkipped: the node never started (a branch not taken, a Serial
	// child after a deadline or an abort).
	StatusSkipped Status = "Skipped"
	// StatusAborted: a status check with abortWithStatusCheck failed while
	// the node ran.
	StatusAborted Status = "Aborted"
	// StatusCancelled: the caller's context ended while the node ran.
	StatusCancelled Status = "Cancelled"
)

// Result is one run of a workflow.
type Result struct {
	// Name is the name given to Run.
	Name string `json:"name"`
	// Status is Succeeded, Failed (some node failed; the workflow still
	// ran to its end), Aborted or Cancelled.
	Status Status    `json:"status"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Aborted is set when a status check with abortWithStatusCheck failed;
	// AbortReason names it and says why.
	Aborted     bool   `json:"aborted"`
	AbortReason string `json:"abortReason,omitempty"`
	// Root is the entry node; the tree mirrors the templates as they ran.
	Root *Node `json:"root"`
}

// Nodes lists every node of the tree, depth first, parents before children.
func (r *Result) Nodes() []*Node {
	if r == nil || r.Root == nil {
		return nil
	}
	var out []*Node
	var walk func(n *Node)
	walk = func(n *Node) {
		out = append(out, n)
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(r.Root)
	return out
}

// Find returns the first node (depth first) made from the named template,
// nil if none ran.
func (r *Result) Find(template string) *Node {
	for _, n := range r.Nodes() {
		if n.Name == template {
			return n
		}
	}
	return nil
}

// Node is one template as it ran.
type Node struct {
	// Name is the template's name.
	Name string `json:"name"`
	// Path is the template names from the entry to this node, joined by
	// "/"; a name repeated among siblings gets "#2", "#3", ...
	Path string                `json:"path"`
	Type v1alpha1.TemplateType `json:"type"`
	// Deadline is the template's deadline, 0 when it has none.
	Deadline time.Duration `json:"deadline,omitempty"`
	Status   Status        `json:"status"`
	// Start and End are zero for a node that never started.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Messages explain the node's end and anything that went wrong.
	Messages []string `json:"messages,omitempty"`
	// Children are the nodes this one started (or skipped): a Serial's or
	// Parallel's children, a Task's branch targets.
	Children []*Node `json:"children,omitempty"`
	// Injections of a chaos node (at most one).
	Injections []*InjectionRecord `json:"injections,omitempty"`
	// Schedule holds a Schedule node's runs.
	Schedule *ScheduleHistory `json:"schedule,omitempty"`
	// Probes holds a StatusCheck node's latest probes
	// (recordsHistoryLimit of them).
	Probes []ProbeRecord `json:"probes,omitempty"`
	// Task holds a Task node's outcome.
	Task *TaskOutcome `json:"task,omitempty"`

	// cutByAncestor is set when the node ended because an ancestor did (its
	// deadline, an abort, a cancellation) rather than on its own.
	cutByAncestor bool
}

// InjectionRecord is one fault the workflow injected.
type InjectionRecord struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Duration is the duration the engine was asked to hold the fault
	// (0: until reverted).
	Duration time.Duration `json:"duration,omitempty"`
	Injected time.Time     `json:"injected"`
	// Reverted is when the fault was gone: Revert returned, or the engine
	// reported it over on its own (an instantaneous action, its duration).
	Reverted time.Time `json:"reverted,omitzero"`
	// RevertError is set when reverting failed; the engine's journal keeps
	// the fault for `faultline recover`.
	RevertError string            `json:"revertError,omitempty"`
	Targets     []engine.Target   `json:"targets,omitempty"`
	Fidelity    []engine.Fidelity `json:"fidelity,omitempty"`
	Events      []engine.Event    `json:"events,omitempty"`
}

// ProbeRecord is one StatusCheck probe.
type ProbeRecord struct {
	Time    time.Time `json:"time"`
	Success bool      `json:"success"`
	// StatusCode is 0 when no response came.
	StatusCode int           `json:"statusCode,omitempty"`
	Latency    time.Duration `json:"latency"`
	Message    string        `json:"message,omitempty"`
}

// TaskOutcome is what a Task node's container did and which branches it
// chose.
type TaskOutcome struct {
	TaskResult
	Branches []BranchOutcome `json:"branches,omitempty"`
}

// BranchOutcome is one conditional branch's evaluation.
type BranchOutcome struct {
	Target     string `json:"target"`
	Expression string `json:"expression,omitempty"`
	Taken      bool   `json:"taken"`
	Error      string `json:"error,omitempty"`
}

// ScheduleHistory is what a schedule did: its kept runs and counts over
// all of them.
type ScheduleHistory struct {
	// Runs are the runs kept: every active one and the latest historyLimit
	// finished ones, oldest first.
	Runs []*ScheduleRun `json:"runs,omitempty"`
	// Started, Skipped and Failed count every tick: runs started, ticks
	// skipped (Forbid, startingDeadlineSeconds) and runs that failed.
	Started int `json:"started"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

// ScheduleRun is one run a schedule started.
type ScheduleRun struct {
	// Index counts runs from 1.
	Index int `json:"index"`
	// ScheduledAt is the cron time the run belongs to; Start is when it
	// started.
	ScheduledAt time.Time `json:"scheduledAt"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitzero"`
	Status      Status    `json:"status"`
	Message     string    `json:"message,omitempty"`
	// Injection of a chaos run.
	Injection *InjectionRecord `json:"injection,omitempty"`
	// Workflow is a Workflow run's result.
	Workflow *Result `json:"workflow,omitempty"`
}

// ScheduleResult is what RunSchedule did.
type ScheduleResult struct {
	Name  string                        `json:"name"`
	Type  v1alpha1.ScheduleTemplateType `json:"type"`
	Start time.Time                     `json:"start"`
	End   time.Time                     `json:"end"`
	ScheduleHistory
}
