// Package workflow runs Chaos Mesh Workflows and Schedules on a faultline
// engine, with Chaos Mesh's semantics: [Run] executes a Workflow from its
// entry template and [RunSchedule] drives a Schedule object by cron.
//
// The package knows nothing of load, probes or verdicts: it injects through
// Deps.Inject, reports node transitions through Deps.Events and returns a
// tree of what happened ([Result]). Every injection it makes is reverted
// before Run or RunSchedule returns, whatever ended them (a deadline, an
// abort, a cancelled context).
//
// # Semantics
//
// The rules below follow the Chaos Mesh workflow controllers
// (pkg/workflow/controllers: serial, parallel, task, deadline, status check
// and abort reconcilers) and the schedule controllers (controllers/schedule).
// Where Chaos Mesh is ambiguous or behaves as an artefact of being a set of
// Kubernetes reconcilers, the choice made here is stated.
//
// Deadlines. A template's deadline bounds the template and everything it
// started. When it expires the node ends and Chaos Mesh propagates the
// expiry to every active descendant (ParentNodeDeadlineExceed): their chaos
// is deleted, which reverts it. Children of a Serial that had not started
// never start. An expired node counts as finished, so its parent carries on
// (a Serial starts its next child, a Parallel waits for its others). For
// chaos, Suspend, Schedule and Continuous StatusCheck nodes the deadline is
// the normal end and the node is reported Succeeded; for a node the deadline
// cut short (a Serial, Parallel or Task still running, a Synchronous
// StatusCheck without verdict, anything ended by an ancestor's deadline) it
// is DeadlineExceeded. Chaos Mesh calls both DeadlineExceeded; the split
// only tells a report which ended as planned.
//
// Serial and Parallel. Serial runs its children one after the other;
// Parallel starts them all and ends when all have ended.
//
// Chaos templates (PodChaos, NetworkChaos, ..., NodeChaos, ScaleChaos,
// ModelChaos). The embedded spec is injected as an engine.Fault named after
// the template, with Duration set to the deadline (or to what is left of
// an ancestor's deadline, if that ends first) so that the engine's own timer
// reverts it even if faultline dies. The node holds until its deadline and
// then reverts, exactly as Chaos Mesh, where a chaos node only ends at its
// deadline: an instantaneous action (pod-kill) with a deadline of 30s still
// occupies 30s of a Serial. Without a deadline Chaos Mesh would never end
// the node; faultline instead ends it when the injection ends on its own
// (at once for pod-kill and container-kill, otherwise when an ancestor
// ends), since a step that can never finish is never what was meant.
//
// Inject errors and unsupported kinds. Chaos Mesh never fails a workflow
// on a chaos error: the controller retries creating the chaos until the
// node's deadline and the workflow moves on then. faultline cannot retry
// into a silent no-op, so the node is reported Failed (with the error, at
// once, through Events) but keeps its place in time: it ends at its
// deadline, or at once without one, and the workflow continues. A failure
// marks every ancestor Failed and the Result Failed; it never stops the
// workflow.
//
// Suspend waits for its deadline.
//
// StatusCheck probes over HTTP every intervalSeconds, each probe bounded by
// timeoutSeconds; a probe succeeds when it gets a response whose status code
// matches the criteria, and fails on any other code, a timeout or a
// connection error. As in Chaos Mesh the first probe is made one interval
// after the node starts, and thresholds count consecutive results.
// Synchronous mode ends at successThreshold successes in a row (Succeeded)
// or failureThreshold failures in a row (Failed). Continuous mode ignores
// successes and ends Failed at failureThreshold failures in a row, or
// Succeeded when its duration or deadline comes first. statusCheck.duration
// is not the template's deadline: a Synchronous check whose duration ends
// without a verdict is Failed, because Chaos Mesh completes it without
// SuccessThresholdExceed and so aborts the workflow if abortWithStatusCheck
// is set; one cut by the template's deadline is DeadlineExceeded and never
// aborts (Chaos Mesh deletes an uncompleted check). Chaos Mesh also aborts
// a Continuous check that reaches its duration while its last probe failed;
// faultline does not: a Continuous check fails only on failureThreshold.
// A failed check without abortWithStatusCheck is Failed and the workflow
// goes on.
//
// abortWithStatusCheck. When such a check fails the whole workflow is
// aborted: every running node stops and is reported Aborted, every
// injection is reverted, nodes not yet started are Skipped, and Run returns
// a Result with Aborted set and AbortReason naming the check and why it
// failed (the runner turns this into exit code 3).
//
// Task runs its container through Deps.RunTask and then evaluates every
// conditional branch, in order, with github.com/expr-lang/expr (the
// successor of antonmedv/expr, which Chaos Mesh uses) over exitCode (int),
// stdout and stderr (strings, surrounding white space trimmed as Chaos Mesh
// trims the pod log). Like Chaos Mesh, it runs EVERY branch whose expression
// is true, all at once, and ends when they all have; branches whose
// expression is false are reported Skipped. An empty expression is always
// true. Chaos Mesh leaves a Task whose expression cannot be evaluated
// waiting forever with no branch started; faultline reports the Task Failed
// with the expression's error and starts no branch. A non-zero exit code is
// a result for the branches, not a failure; failing to start the command is
// a failure.
//
// Where a task runs. The embedded engine has no container images: the
// default RunTask runs the container's command followed by its args as a
// local process (not through a shell; write [sh, -c, ...] for one), in
// workingDir, with env added to faultline's own environment and $(VAR)
// references expanded as Kubernetes does. The image is not used; a
// container with an image but no command cannot run and fails. The process
// and its children are killed when the task's deadline or the workflow
// ends; a process killed by a signal reports 128+signal, as Kubernetes
// does.
//
// Schedule templates and Schedule objects tick by cron (parsed with
// manifest.ParseCron, so exactly what validation accepted; robfig/cron
// rounds @every to whole seconds). The first tick is the first cron time
// after the schedule starts. Each tick starts a run: the embedded chaos
// injected with the spec's own duration (none: held until the schedule
// ends), named <schedule>-<n>, or for a Schedule object of type Workflow the
// workflow run with Run. Ticks missed while faultline was not scheduled
// collapse into the most recent one, as in Chaos Mesh; it is skipped if it
// is more than startingDeadlineSeconds late (plus 100ms of timer slack, so
// that 0 means "on time" rather than "never"). With concurrencyPolicy Forbid
// (the default) a tick that comes while an earlier run is still active is
// skipped; with Allow runs overlap. historyLimit bounds how many finished
// runs are kept in the result (default 100); active runs are always kept
// and never cut short by it (Chaos Mesh's garbage collector deletes active
// runs without a duration beyond the limit; faultline reverts them only
// when the schedule ends). A Schedule template ends at its deadline, which
// reverts every active run; a Schedule object runs until its context ends.
//
// Context cancellation (Ctrl-C, a probe's stop condition, the end of the
// fault phase) stops every node at once and reverts every injection in
// parallel; Run then returns its Result, with Status Cancelled, and the
// context's error.
package workflow
