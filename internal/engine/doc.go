// Package engine defines what every backend that runs faults provides — the
// embedded local environment (internal/engine/local) and Kubernetes
// (internal/engine/kube) — and the crash-safety machinery they share: the
// journal of active injections and their leases.
//
// An Engine resolves targets and injects faults; it knows nothing of load,
// probes or verdicts. Every Injection reports what it actually did (its
// fidelity) next to what was asked, and can always be reverted.
package engine
