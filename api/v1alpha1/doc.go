// Package v1alpha1 holds the Go types of every manifest kind faultline reads.
//
// Two API groups live here:
//
//   - chaos-mesh.org/v1alpha1: PodChaos, NetworkChaos, StressChaos, HTTPChaos,
//     IOChaos, DNSChaos, TimeChaos, Workflow, Schedule and StatusCheck, with
//     Chaos Mesh's upstream field names and JSON tags, so manifests written for
//     Chaos Mesh decode unchanged.
//   - faultline.dev/v1alpha1: Environment, Experiment, NodeChaos, ScaleChaos and
//     ModelChaos, faultline's own kinds.
//
// The doc comment of every type and field is the manifest reference: the
// README's reference section and the JSON Schema are generated from them.
// The types carry no behaviour beyond small accessors; decoding lives in
// internal/manifest, behaviour in the engines.
package v1alpha1
