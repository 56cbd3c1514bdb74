// Package svcaccess lets faultline's load generator and probes reach
// Kubernetes Services by name from wherever faultline runs.
//
// Resolve turns a name such as "gateway", "gateway.inference" or
// "model-server.inference:grpc" into a base URL http://127.0.0.1:PORT. Behind
// that URL a local listener forwards every accepted connection to one ready
// endpoint of the Service, chosen afresh for each connection (round-robin),
// the way kube-proxy does for a client inside the cluster: while a pod dies
// or a node drains, a connection to the dying pod fails and the next one goes
// to a live pod. A connection that finds no ready endpoint, or none that can
// be dialed, is closed at once; the load generator counts it as an outage.
//
// Endpoints come from discovery.k8s.io/v1 EndpointSlices, watched by one
// informer per namespace (label kubernetes.io/service-name). An endpoint is
// ready when its ready condition is true or unset and it is not terminating.
//
// Two ways to reach an endpoint:
//
//   - direct: dial the endpoint address (the pod IP) and the slice's port.
//     This works inside the cluster or wherever pod IPs are routable.
//   - port-forward: open a stream to the endpoint's pod through the API
//     server's pods/portforward subresource. One upgraded connection is kept
//     per pod and each accepted connection gets its own pair of streams
//     (error + data) on it, as kubectl port-forward does for one pod.
//
// ModeAuto picks direct when running in a pod (KUBERNETES_SERVICE_HOST is
// set) and port-forward otherwise.
//
// Stats reports connections per endpoint (namespace/pod) and dial failures
// for tests and reports. Close stops the listeners, the informers and every
// connection in flight, bounded by its context.
package svcaccess
