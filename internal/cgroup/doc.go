// Package cgroup gives each replica of faultline's embedded engine a cgroup
// of its own, so that resource faults act on exactly one replica and
// measurements (CPU time, memory) are per replica, like a pod's cgroup in
// Kubernetes.
//
// Why a package of its own: the embedded engine needs only a handful of
// operations — create with CPU and memory limits, add a process, freeze and
// thaw (pod-failure), kill everything (pod-kill, node-down), read usage
// (StressChaos asked vs measured) and delete — and it needs them on both
// cgroup layouts found in the field: the unified cgroup v2 hierarchy, and
// v1 (legacy or hybrid, with one mount per controller). A Group hides which
// one is in use.
//
// Safety: every group lives under the faultline-owned [Root] ("faultline"
// directly below each hierarchy's mount point) and paths outside it are
// refused, so a corrupt journal can never make faultline freeze, kill or
// delete a cgroup it does not own, and `faultline recover` finds leftovers
// with [List] and removes them with [Open] and [Group.Delete].
//
// The library doing the work is github.com/containerd/cgroups/v3; what is
// written here by hand, and why, is said at each place: freezing (the
// library's v1 freeze waits without a deadline and its v2 freeze does not
// wait for the kernel to finish), killing on v1 (the library has no v1
// kill) and waiting for a killed group to empty (the library's v2 kill does
// not wait, so an immediate delete would fail).
package cgroup
