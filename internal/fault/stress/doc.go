// Package stress runs StressChaos stressors for faultline's embedded engine:
// real stress-ng processes inside a target replica's cgroup, so the stress
// competes with the replica for the same CPU quota and memory limit, as
// Chaos Mesh's stressors do inside a container.
//
// Why stress-ng: it is the tool Chaos Mesh's StressChaos is defined in
// terms of (`stressngStressors` is literally a stress-ng command line), so
// a manifest means the same thing here as on a cluster.
//
// A stressor is moved into the cgroup before it does any work (it is held
// in a tiny shell wrapper until then), is stopped by the caller — duration
// is the caller's business, stress-ng's own --timeout is only a backstop
// so an orphan cannot run forever — and reports what it actually did
// (Measure): CPU seconds and cores used, bytes held, next to what was
// asked, because a report must show asked vs measured.
//
// Crash safety: a stressor's processes share one process group and live in
// a faultline cgroup; their pids go into faultline's journal
// (Stressor.PIDs), and KillLeftovers kills only processes that are still
// stress-ng in a faultline cgroup, never an unrelated process that reused a
// pid.
package stress
