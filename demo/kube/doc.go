// Package kube holds the demo system's Kubernetes form — recsys.yaml (the
// Deployments, Services and PodDisruptionBudgets of the recommendation
// service), environment.yaml (a kube Environment) and experiments/ — and
// the end-to-end test that runs the demo's pod-kill and node-drain
// experiments with `faultline run` semantics against a real control plane
// (internal/kube/testenv), the recsys binary running behind the pods. Its
// Go code reads and creates recsys.yaml's objects for those tests.
package kube
