// Package kube is faultline's Kubernetes engine: it implements
// engine.Engine against a real cluster through client-go.
//
// Targets are pods, resolved with every Chaos Mesh selector field and mode.
// Label, expression and (supported) field selectors are pushed to the API
// server; what the server cannot filter (annotations, node labels, several
// nodes or phases) is filtered here with internal/selector, which also
// applies the mode. One LIST per namespace per selection is cheaper than an
// informer for a one-shot choice, so no informer is started.
//
// Faults are native, API-level ones:
//   - PodChaos pod-kill: DELETE with the asked grace period; the injection
//     then measures how long the owning workload takes to be available again.
//   - PodChaos pod-failure: the containers' images are replaced with a pause
//     image (what Chaos Mesh does), the originals kept in an annotation on
//     the pod and put back on revert.
//   - PodChaos container-kill: not possible through the API alone;
//     delegated to Chaos Mesh when installed (below), else refused.
//   - NodeChaos node-drain: cordon, then the Eviction API for every pod that
//     is not a DaemonSet or mirror pod (PodDisruptionBudgets honoured: a 429
//     is retried); uncordon on revert.
//   - NodeChaos node-down: cordon and a NoExecute taint (faultline.dev/node-down);
//     the node's Ready condition belongs to the kubelet and is not touched.
//   - ScaleChaos: the scale subresource of a Deployment, StatefulSet or
//     ReplicaSet; the previous count is put back on revert.
//
// Data-plane kinds (NetworkChaos, StressChaos, HTTPChaos, IOChaos, DNSChaos,
// TimeChaos) are delegated to Chaos Mesh when the cluster serves its API:
// faultline selects the pods, creates the Chaos Mesh object on exactly
// those, waits for AllInjected, records its container records as events,
// and deletes it on revert (a deletion stuck on Chaos Mesh's finalizer is
// reported after a bound, not waited on forever). Without Chaos Mesh an
// error says so.
//
// Safety: only namespaces carrying the opt-in annotation are touched, a
// blast-radius cap refuses larger experiments, and every injection is
// journaled in the cluster as a coordination.k8s.io Lease (owner, TTL, undo
// steps) written before it acts, so Recover in another faultline reverts
// it after a crash. Per-target events stay in this process (never in an
// etcd object), so a 10,000-pod fault cannot produce an oversized object;
// undo steps that concern many pods name them by a label, not one by one.
package kube
