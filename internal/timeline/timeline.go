// Package timeline is the record of one experiment run: phases, every load
// request's outcome, probe results, consistency checks and fault windows,
// each stamped with its offset from the start of the run.
//
// It is the only thing measurement reads (internal/measure is a pure
// function of a Timeline), so a stored run can be measured again, and
// measurement can be tested with synthetic timelines. The Recorder is safe
// for concurrent use by the load generator, probes and the runner.
package timeline

import (
	"sort"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// Phase names.
const (
	PhaseBaseline = "baseline"
	PhaseFault    = "fault"
	PhaseRecovery = "recovery"
)

// Span is a named interval of the run, as offsets from its start.
type Span struct {
	Name  string        `json:"name"`
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
}

// Contains reports whether offset t lies in [Start, End).
func (s Span) Contains(t time.Duration) bool { return t >= s.Start && t < s.End }

// Request is the outcome of one load request. At is its *scheduled* send
// time and Latency runs from there, so a stalled server shows as latency
// rather than as requests never sent (no coordinated omission).
type Request struct {
	At      time.Duration `json:"at"`
	Latency time.Duration `json:"latency"`
	OK      bool          `json:"ok"`
	// Status is the HTTP status, 0 when no response arrived.
	Status int `json:"status,omitempty"`
	// Error classifies a failure: "timeout", "refused", "reset", "status 503", …
	Error string `json:"error,omitempty"`
}

// ErrorDropped classifies a request the load generator could not send
// because every worker was busy: it failed, but it has no latency.
const ErrorDropped = "dropped: workers saturated"

// ProbeResult is one evaluation of a probe.
type ProbeResult struct {
	Probe   string        `json:"probe"`
	Mode    string        `json:"mode"`
	At      time.Duration `json:"at"`
	OK      bool          `json:"ok"`
	Latency time.Duration `json:"latency,omitempty"`
	Message string        `json:"message,omitempty"`
}

// Check is one golden-set comparison of an inference probe: the
// consistency metric counts them.
type Check struct {
	Probe   string        `json:"probe"`
	At      time.Duration `json:"at"`
	Request string        `json:"request"`
	Match   bool          `json:"match"`
	// Detail explains a mismatch: expected vs got.
	Detail string `json:"detail,omitempty"`
	// Replica that answered, when the service says (for version skew).
	Replica string `json:"replica,omitempty"`
}

// Fault is the window one injection was active, with what it did.
type Fault struct {
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Start    time.Duration     `json:"start"`
	End      time.Duration     `json:"end"` // revert time; equals Start for instantaneous faults
	Targets  []string          `json:"targets,omitempty"`
	Asked    string            `json:"asked,omitempty"`
	Fidelity []engine.Fidelity `json:"fidelity,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// Event is anything else worth showing on the timeline: fault events per
// target, replica restarts, workflow node transitions.
type Event struct {
	At      time.Duration `json:"at"`
	Source  string        `json:"source"`
	Type    string        `json:"type"`
	Target  string        `json:"target,omitempty"`
	Message string        `json:"message,omitempty"`
}

// Timeline is the whole record of a run.
type Timeline struct {
	Experiment string        `json:"experiment"`
	Start      time.Time     `json:"start"`
	Duration   time.Duration `json:"duration"`
	Phases     []Span        `json:"phases"`
	Requests   []Request     `json:"requests"`
	Probes     []ProbeResult `json:"probes"`
	Checks     []Check       `json:"checks"`
	Faults     []Fault       `json:"faults"`
	Events     []Event       `json:"events"`
	// Aborted is set when a stop condition ended the run early.
	Aborted *Abort `json:"aborted,omitempty"`
}

// Abort records why and when a run was stopped early.
type Abort struct {
	At     time.Duration `json:"at"`
	Reason string        `json:"reason"`
}

// Phase returns the span of the named phase.
func (t *Timeline) Phase(name string) (Span, bool) {
	for _, p := range t.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Span{}, false
}

// PhaseAt names the phase holding offset at ("" outside every phase).
func (t *Timeline) PhaseAt(at time.Duration) string {
	for _, p := range t.Phases {
		if p.Contains(at) {
			return p.Name
		}
	}
	return ""
}

// Sort orders every list by time; the Recorder's output is already nearly
// sorted, so this is cheap.
func (t *Timeline) Sort() {
	sort.SliceStable(t.Requests, func(i, j int) bool { return t.Requests[i].At < t.Requests[j].At })
	sort.SliceStable(t.Probes, func(i, j int) bool { return t.Probes[i].At < t.Probes[j].At })
	sort.SliceStable(t.Checks, func(i, j int) bool { return t.Checks[i].At < t.Checks[j].At })
	sort.SliceStable(t.Faults, func(i, j int) bool { return t.Faults[i].Start < t.Faults[j].Start })
	sort.SliceStable(t.Events, func(i, j int) bool { return t.Events[i].At < t.Events[j].At })
}

// Recorder collects a timeline from concurrent writers. Offsets are taken
// from a monotonic clock started by NewRecorder.
type Recorder struct {
	mu    sync.Mutex
	start time.Time
	tl    Timeline
}

// NewRecorder starts a timeline at start (use time.Now()).
func NewRecorder(experiment string, start time.Time) *Recorder {
	return &Recorder{start: start, tl: Timeline{Experiment: experiment, Start: start}}
}

// Start is the run's start time; offsets are measured from it.
func (r *Recorder) Start() time.Time { return r.start }

// Since is the offset of time t from the start of the run.
func (r *Recorder) Since(t time.Time) time.Duration { return t.Sub(r.start) }

// Now is the current offset.
func (r *Recorder) Now() time.Duration { return time.Since(r.start) }

// AddPhase records a phase span.
func (r *Recorder) AddPhase(s Span) {
	r.mu.Lock()
	r.tl.Phases = append(r.tl.Phases, s)
	r.mu.Unlock()
}

// AddRequests appends a batch of request outcomes (the load generator
// batches to keep the lock cold).
func (r *Recorder) AddRequests(reqs ...Request) {
	r.mu.Lock()
	r.tl.Requests = append(r.tl.Requests, reqs...)
	r.mu.Unlock()
}

// AddProbe appends a probe result.
func (r *Recorder) AddProbe(p ProbeResult) {
	r.mu.Lock()
	r.tl.Probes = append(r.tl.Probes, p)
	r.mu.Unlock()
}

// AddCheck appends a consistency check.
func (r *Recorder) AddCheck(c Check) {
	r.mu.Lock()
	r.tl.Checks = append(r.tl.Checks, c)
	r.mu.Unlock()
}

// AddFault appends a fault window.
func (r *Recorder) AddFault(f Fault) {
	r.mu.Lock()
	r.tl.Faults = append(r.tl.Faults, f)
	r.mu.Unlock()
}

// AddEvent appends an event.
func (r *Recorder) AddEvent(e Event) {
	r.mu.Lock()
	r.tl.Events = append(r.tl.Events, e)
	r.mu.Unlock()
}

// SetAborted marks the run as stopped early.
func (r *Recorder) SetAborted(a Abort) {
	r.mu.Lock()
	if r.tl.Aborted == nil {
		r.tl.Aborted = &a
	}
	r.mu.Unlock()
}

// Snapshot returns a sorted copy of the timeline so far (for live views).
func (r *Recorder) Snapshot() *Timeline {
	r.mu.Lock()
	tl := r.tl
	tl.Phases = append([]Span(nil), r.tl.Phases...)
	tl.Requests = append([]Request(nil), r.tl.Requests...)
	tl.Probes = append([]ProbeResult(nil), r.tl.Probes...)
	tl.Checks = append([]Check(nil), r.tl.Checks...)
	tl.Faults = append([]Fault(nil), r.tl.Faults...)
	tl.Events = append([]Event(nil), r.tl.Events...)
	tl.Duration = time.Since(r.start)
	r.mu.Unlock()
	tl.Sort()
	return &tl
}

// Finish returns the final timeline with its duration set.
func (r *Recorder) Finish(d time.Duration) *Timeline {
	tl := r.Snapshot()
	tl.Duration = d
	return tl
}
