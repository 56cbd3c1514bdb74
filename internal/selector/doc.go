// Package selector resolves Chaos Mesh selectors and modes against a list of
// targets (local replicas or Kubernetes pods) with Chaos Mesh's semantics:
// every given criterion must match, then the mode picks how many of the
// candidates are hit. Randomness comes from a caller-supplied source so a
// run can be replayed with the same seed.
package selector
