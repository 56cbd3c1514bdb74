// Package realnode holds faultline's real-node tier: tests that run against
// a one-node Kubernetes cluster with a real kubelet, containerd and runc
// (hack/realnode.sh; see docs/realnode.md), where the kwok fake nodes of
// internal/kube/testenv cannot show the behaviour: a killed pod really dies
// and is replaced, a container really restarts, and `access: port-forward`
// really tunnels through the kubelet.
//
// The tests need root and bring the cluster up themselves (about a minute),
// so they run only in CI (CI=true, as .ci/run sets; `make tools` builds the
// binaries and images) or when asked: FAULTLINE_REALNODE=1 (make
// test-realnode); FAULTLINE_REALNODE=0 skips them. They refuse to run when a
// real node is already up on the machine (its ports are fixed).
package realnode
