package workflow

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// Deps is what a workflow acts through. Only Inject is needed for chaos,
// Schedule templates and chaos Schedules; the others have defaults.
type Deps struct {
	// Inject injects one fault and returns its handle. A workflow without
	// chaos never calls it; a chaos node run without it fails.
	Inject func(ctx context.Context, f engine.Fault) (engine.Injection, error)
	// RunTask runs a Task template's container and returns its exit code
	// and output; a non-nil error means it could not run at all. Default:
	// the container's command and args as a local process (see the package
	// documentation: the embedded engine has no images).
	RunTask func(ctx context.Context, c *v1alpha1.TaskContainer) (TaskResult, error)
	// HTTPClient sends StatusCheck probes; each probe is bounded by the
	// check's timeoutSeconds through its context. Default: a client of its
	// own whose idle connections are closed when the run ends.
	HTTPClient *http.Client
	// Events receives every node transition. Calls are serialised, in the
	// order the transitions happened; it must not block for long.
	Events func(Event)
	// Now stamps events and records. Default: time.Now. Waiting always uses
	// real timers.
	Now func() time.Time
}

// TaskResult is what a task's container did.
type TaskResult struct {
	// ExitCode of the command; 128+signal when a signal killed it.
	ExitCode int `json:"exitCode"`
	// Stdout and Stderr are the command's output (possibly truncated).
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
}

// EventType is what happened to a node.
type EventType string

// Event types. Started, Succeeded, Failed, DeadlineExceeded, Aborted,
// Cancelled and Skipped mirror the node's status; Injected and Reverted
// are a chaos node's (or a schedule run's) fault going in and out.
const (
	EventStarted          EventType = "Started"
	EventInjected         EventType = "Injected"
	EventReverted         EventType = "Reverted"
	EventSucceeded        EventType = "Succeeded"
	EventFailed           EventType = "Failed"
	EventDeadlineExceeded EventType = "DeadlineExceeded"
	EventSkipped          EventType = "Skipped"
	EventAborted          EventType = "Aborted"
	EventCancelled        EventType = "Cancelled"
)

// Event is one transition of a node of a workflow, or of a schedule.
type Event struct {
	Time time.Time `json:"time"`
	// Workflow is the name given to Run (or RunSchedule).
	Workflow string `json:"workflow"`
	// Node is the template's name (the schedule's name for a Schedule
	// object).
	Node string `json:"node"`
	// Path locates the node in the tree: template names from the entry,
	// joined by "/".
	Path    string    `json:"path"`
	Type    EventType `json:"type"`
	Message string    `json:"message,omitempty"`
}

// emitter serialises event delivery so that Deps.Events sees transitions
// one at a time and in order.
type emitter struct {
	mu       sync.Mutex
	fn       func(Event)
	now      func() time.Time
	workflow string
}

func (e *emitter) emit(node, path string, t EventType, msg string) {
	if e.fn == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fn(Event{Time: e.now(), Workflow: e.workflow, Node: node, Path: path, Type: t, Message: msg})
}

// withDefaults fills what the caller left out. The returned cleanup closes
// the idle connections of a client made here, so that a finished run
// leaves no goroutine behind.
func (d Deps) withDefaults() (Deps, func()) {
	cleanup := func() {}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.RunTask == nil {
		d.RunTask = RunLocalTask
	}
	if d.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		d.HTTPClient = &http.Client{Transport: tr}
		cleanup = tr.CloseIdleConnections
	}
	return d, cleanup
}
