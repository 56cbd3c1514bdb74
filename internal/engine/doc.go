// Package engine defines what every backend that runs faults provides — the
// embedded local environment (internal/engine/local) and Kubernetes
// (internal/engine/kube) — and the machinery they share: the journal of
// active injections and their leases (HeldEntry), an injection's lifecycle
// from apply to revert (Lifecycle), and the set of active injections
// (Registry). Each engine keeps only how its actions apply and revert and
// where its journal entries live.
//
// An Engine resolves targets and injects faults; it knows nothing of load,
// probes or verdicts. Every Injection reports what it actually did (its
// fidelity) next to what was asked, and can always be reverted.
package engine
