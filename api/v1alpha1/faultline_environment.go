package v1alpha1

// Environment is where an experiment's targets live (faultline.dev/v1alpha1).
//
// A local environment runs each service as real processes on this machine:
// replicas spread over named "nodes", readiness and liveness probes,
// restarts with kubelet's back-off, and a load-balancing gateway per service
// that sends traffic only to ready replicas, like a Kubernetes Service. Each
// replica is a pod-like target named `<service>-<n>` that Chaos Mesh
// selectors match on its namespace, labels, annotations and node.
//
// A kube environment (spec.kube) names an existing Kubernetes cluster
// instead: its pods are the targets, its Services what load and probes
// reach, and the Kubernetes engine injects faults through the API server.
type Environment struct {
	// TypeMeta holds apiVersion (faultline.dev/v1alpha1) and kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name (required), namespace,
	// labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec describes the environment: either local services and nodes, or kube.
	Spec EnvironmentSpec `json:"spec"`
	// Status is written by faultline's tools; manifests leave it out.
	Status Raw `json:"status,omitempty"`
}

// Default values of a local environment, as documented on its fields.
const (
	// DefaultEnvironmentNamespace is the namespace of local replicas when
	// spec.namespace is empty.
	DefaultEnvironmentNamespace = "default"
	// DefaultEnvironmentNode is the one node of a local environment that
	// lists no nodes.
	DefaultEnvironmentNode = "local"
	// DefaultEvictionDelay is how long the replicas of a node that went
	// down wait before they are rescheduled onto other nodes.
	DefaultEvictionDelay = "5s"
	// DefaultPortEnv is the environment variable that carries a replica's
	// port.
	DefaultPortEnv = "PORT"
	// DefaultTerminationGracePeriodSeconds is how long a stopping container
	// has between SIGTERM and SIGKILL.
	DefaultTerminationGracePeriodSeconds = 30
	// DefaultRestartBackOffInitial, DefaultRestartBackOffMax and
	// DefaultRestartBackOffReset are kubelet's CrashLoopBackOff figures.
	DefaultRestartBackOffInitial = "10s"
	DefaultRestartBackOffMax     = "5m"
	DefaultRestartBackOffReset   = "10m"
)

// EnvironmentSpec describes either a local environment (services, and
// optionally nodes, namespace and evictionDelay) or a Kubernetes one (kube).
// Exactly one of the two forms is written.
type EnvironmentSpec struct {
	// Namespace every local replica is in; chaos selectors match it with
	// selector.namespaces (or the chaos object's own namespace). A DNS-1123
	// label. Default "default".
	Namespace string `json:"namespace,omitempty"`
	// Nodes are the local environment's simulated machines. Replicas are
	// spread over the nodes; NodeChaos takes them down or drains them. Names
	// are unique DNS-1123 labels. Default: one node named "local".
	Nodes []EnvironmentNode `json:"nodes,omitempty"`
	// EvictionDelay is how long the replicas of a node that went down (or
	// stopped reporting ready) stay there before they are rescheduled onto
	// healthy nodes, like kube-controller-manager's --pod-eviction-timeout
	// but short. A duration such as "5s". Default "5s".
	EvictionDelay string `json:"evictionDelay,omitempty"`
	// Services are the local environment's services. At least one is
	// required unless kube is set. Names are unique DNS-1123 labels.
	Services []EnvironmentService `json:"services,omitempty"`
	// Kube selects a Kubernetes cluster instead of local services. When
	// set, namespace, nodes, evictionDelay and services must be empty.
	Kube *KubeEnvironment `json:"kube,omitempty"`
}

// EnvironmentNode is one simulated node of a local environment.
type EnvironmentNode struct {
	// Name of the node, a DNS-1123 label such as "node-1". Required; unique.
	// Chaos Mesh selectors match it with selector.nodes, and it appears as
	// spec.nodeName in fieldSelectors.
	Name string `json:"name"`
	// Labels of the node, matched by selector.nodeSelectors of chaos kinds,
	// by NodeChaos selector.labelSelectors and by a service's nodeSelector,
	// e.g. `{zone: a, gpu: "true"}`.
	Labels map[string]string `json:"labels,omitempty"`
}

// RestartPolicy says when the supervisor restarts a container that exited.
type RestartPolicy string

// Restart policies, as in a Kubernetes pod.
const (
	// RestartAlways restarts a container whenever it exits.
	RestartAlways RestartPolicy = "Always"
	// RestartOnFailure restarts a container that exited with a non-zero
	// status or was killed by a signal.
	RestartOnFailure RestartPolicy = "OnFailure"
	// RestartNever leaves an exited container stopped.
	RestartNever RestartPolicy = "Never"
)

// EnvironmentService is one service of a local environment: a command run
// as `replicas` processes (replicas), each with its own port, behind one
// gateway.
//
// Every replica gets these environment variables on top of env: the port it
// must listen on (PORT, see portEnv), and for each service in dependsOn the
// URL of that service's gateway as seen from this replica
// (`<NAME>_URL=http://127.0.0.1:<port>`, see dependencyEnv).
type EnvironmentService struct {
	// Name of the service, a DNS-1123 label. Required; unique in the
	// environment. Its replicas are named `<name>-<n>` and its main
	// container is named after it.
	Name string `json:"name"`
	// Labels of every replica of the service, matched by chaos selectors'
	// labelSelectors and expressionSelectors. faultline adds
	// `app: <name>` when no `app` label is given.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations of every replica, matched by annotationSelectors.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Replicas is the number of processes run for the service. 0 is allowed
	// (a service scaled to zero). Default 1.
	Replicas *int32 `json:"replicas,omitempty"`
	// Command is the program and its fixed arguments, e.g. `[./bin/server]`.
	// Required, like a container's entrypoint. A relative program path is
	// resolved against workingDir; a bare name is looked up in PATH.
	Command []string `json:"command"`
	// Args are appended to command. `$(NAME)` expands to the replica's
	// environment variable NAME, as in Kubernetes.
	Args []string `json:"args,omitempty"`
	// Env are extra environment variables of each replica, in order; a later
	// entry overrides an earlier one. faultline's own variables (port and
	// dependency URLs) are set after these unless overridden here.
	Env []ServiceEnvVar `json:"env,omitempty"`
	// WorkingDir is the replica's working directory, relative to the
	// directory of the environment file. Default: that directory.
	WorkingDir string `json:"workingDir,omitempty"`
	// Port is the first replica's listening port; replica n (from 0) listens
	// on port+n. 0 (the default) picks a free port for each replica. Either
	// way the replica learns its port from the portEnv variable. 0 to 65535.
	Port int32 `json:"port,omitempty"`
	// PortEnv is the environment variable that carries the replica's port.
	// Default "PORT".
	PortEnv string `json:"portEnv,omitempty"`
	// GatewayPort is where the service's gateway listens on 127.0.0.1: the
	// address load and probes use, balanced over ready replicas. 0 (the
	// default) picks a free port. 0 to 65535; a fixed port must not clash
	// with another gateway or replica port.
	GatewayPort int32 `json:"gatewayPort,omitempty"`
	// DependsOn names services this one calls. They are started first, and
	// each replica is given the dependency's URL in `<NAME>_URL` (the name
	// upper-cased, '-' turned into '_'; e.g. feature-store →
	// FEATURE_STORE_URL). The URL points at a proxy owned by faultline, so
	// network faults can act on the hop between the two services. No cycles.
	DependsOn []string `json:"dependsOn,omitempty"`
	// DependencyEnv renames the variable that carries a dependency's URL:
	// a map from a service named in dependsOn to a variable name, e.g.
	// `{feature-store: FEATURES_ADDR}`.
	DependencyEnv map[string]string `json:"dependencyEnv,omitempty"`
	// NodeSelector restricts the nodes the service's replicas may be placed
	// on to those carrying all these labels, as a pod's nodeSelector does.
	// Default: any node.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// ReadinessProbe decides whether a replica receives traffic from the
	// gateway. Without one a replica is ready as soon as it started.
	ReadinessProbe *HealthProbe `json:"readinessProbe,omitempty"`
	// LivenessProbe restarts a replica's main container when it fails
	// failureThreshold times in a row. Without one only an exit restarts it.
	LivenessProbe *HealthProbe `json:"livenessProbe,omitempty"`
	// RestartPolicy is Always, OnFailure or Never. Default Always.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`
	// RestartBackOff tunes the delay between restarts of a crashing
	// container (CrashLoopBackOff). Default: kubelet's 10s doubling to 5m,
	// reset after 10m of running.
	RestartBackOff *RestartBackOff `json:"restartBackOff,omitempty"`
	// TerminationGracePeriodSeconds is how long a stopping container has
	// between SIGTERM and SIGKILL, in seconds. 0 kills at once. Default 30.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// Sidecars are extra containers of each replica, each its own process
	// started with the main container and restarted by the same policy.
	// PodChaos container-kill and containerNames name them; the main
	// container is named after the service. Names are unique DNS-1123 labels
	// other than the service's name.
	Sidecars []ServiceContainer `json:"sidecars,omitempty"`
	// Resources are per-replica limits, enforced on the replica's cgroup
	// (all its containers together) where cgroup v2 is available.
	Resources *ServiceResources `json:"resources,omitempty"`
}

// ServiceEnvVar is one environment variable of a process.
type ServiceEnvVar struct {
	// Name of the variable: letters, digits and '_', not starting with a
	// digit. Required.
	Name string `json:"name"`
	// Value of the variable; `$(NAME)` expands to an earlier variable.
	// Default "".
	Value string `json:"value,omitempty"`
}

// ServiceContainer is a sidecar: an extra process of every replica.
type ServiceContainer struct {
	// Name of the container, a DNS-1123 label, unique in the service and
	// different from the service's name (which is the main container's).
	// Required.
	Name string `json:"name"`
	// Command is the program and its fixed arguments. Required.
	Command []string `json:"command"`
	// Args are appended to command.
	Args []string `json:"args,omitempty"`
	// Env are the sidecar's variables, added to the replica's own (port and
	// dependency URLs included).
	Env []ServiceEnvVar `json:"env,omitempty"`
	// WorkingDir, relative to the environment file's directory. Default:
	// the service's workingDir.
	WorkingDir string `json:"workingDir,omitempty"`
}

// ServiceResources are the limits of one replica's cgroup.
type ServiceResources struct {
	// CPU limit in cores, e.g. 0.5 or 2 (Kubernetes' "500m" is 0.5).
	// Greater than 0. Default: no limit.
	CPU *float64 `json:"cpu,omitempty"`
	// Memory limit as a Kubernetes quantity: "512Mi", "1Gi", "256M" or a
	// byte count in quotes ("1048576"). Default: no limit.
	Memory string `json:"memory,omitempty"`
}

// RestartBackOff is the restart delay of a crashing container: the first
// restart after an exit is immediate, the next waits initial, then the wait
// doubles up to max. A container that ran for resetAfter before exiting
// starts over with an immediate restart.
type RestartBackOff struct {
	// Initial is the second restart's delay. A duration; default "10s".
	Initial string `json:"initial,omitempty"`
	// Max caps the delay. A duration not less than initial; default "5m".
	Max string `json:"max,omitempty"`
	// ResetAfter is how long a container must run for its back-off to be
	// forgotten. A duration; default "10m".
	ResetAfter string `json:"resetAfter,omitempty"`
}

// HealthProbe is a Kubernetes-style container probe: exactly one of
// httpGet, tcpSocket and exec, with its timing. Field names and defaults are
// Kubernetes'.
type HealthProbe struct {
	// HTTPGet passes when a GET returns a status from 200 to 399.
	HTTPGet *HealthProbeHTTPGet `json:"httpGet,omitempty"`
	// TCPSocket passes when a TCP connection opens.
	TCPSocket *HealthProbeTCPSocket `json:"tcpSocket,omitempty"`
	// Exec passes when the command exits with status 0. It runs in the
	// replica's working directory with its environment.
	Exec *HealthProbeExec `json:"exec,omitempty"`
	// InitialDelaySeconds is the wait after the container starts before the
	// first check, in seconds. Default 0.
	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty"`
	// PeriodSeconds is the time between checks, in seconds. At least 1;
	// default 10.
	PeriodSeconds *int32 `json:"periodSeconds,omitempty"`
	// TimeoutSeconds is how long one check may take, in seconds. At least 1;
	// default 1.
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
	// SuccessThreshold is the number of consecutive passes that make a
	// failed probe pass again. At least 1; default 1; must be 1 for a
	// liveness probe.
	SuccessThreshold *int32 `json:"successThreshold,omitempty"`
	// FailureThreshold is the number of consecutive failures that make the
	// probe fail. At least 1; default 3.
	FailureThreshold *int32 `json:"failureThreshold,omitempty"`
}

// HealthProbeHTTPGet checks a replica with an HTTP GET.
type HealthProbeHTTPGet struct {
	// Path of the request, starting with '/'. Default "/".
	Path string `json:"path,omitempty"`
	// Port to connect to, 1 to 65535. Default: the replica's own port.
	Port int32 `json:"port,omitempty"`
	// Host to connect to. Default "127.0.0.1".
	Host string `json:"host,omitempty"`
	// Scheme is HTTP or HTTPS (certificates are not verified). Default HTTP.
	Scheme string `json:"scheme,omitempty"`
	// HTTPHeaders are extra request headers.
	HTTPHeaders []HealthProbeHeader `json:"httpHeaders,omitempty"`
}

// HealthProbeHeader is one HTTP header of a probe request.
type HealthProbeHeader struct {
	// Name of the header, e.g. "Authorization". Required.
	Name string `json:"name"`
	// Value of the header.
	Value string `json:"value"`
}

// HealthProbeTCPSocket checks that a replica accepts TCP connections.
type HealthProbeTCPSocket struct {
	// Port to connect to, 1 to 65535. Default: the replica's own port.
	Port int32 `json:"port,omitempty"`
	// Host to connect to. Default "127.0.0.1".
	Host string `json:"host,omitempty"`
}

// HealthProbeExec checks a replica by running a command.
type HealthProbeExec struct {
	// Command is the program and its arguments, run without a shell (write
	// `[sh, -c, "..."]` for one). Required.
	Command []string `json:"command"`
}

// KubeEnvironment names a Kubernetes cluster, the namespaces faultline may
// touch, how load and probes reach its Services, and the safety limits of
// the Kubernetes engine.
type KubeEnvironment struct {
	// Kubeconfig is the path of a kubeconfig file (a leading ~/ is the home
	// directory). Default: $KUBECONFIG, then ~/.kube/config, then the
	// in-cluster configuration of the pod faultline runs in.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context to use. Default: the current one.
	Context string `json:"context,omitempty"`
	// Namespaces faultline may inject faults into and find services in;
	// each must also carry the opt-in annotation. DNS-1123 labels.
	// Required, at least one.
	Namespaces []string `json:"namespaces,omitempty"`
	// Access is how load and probes reach a Service named in the
	// experiment: "direct" dials the ready pods' IPs (inside the cluster,
	// or wherever pod IPs are routable), "port-forward" tunnels to them
	// through the API server (from a laptop or CI runner), "auto" picks
	// direct inside a pod and port-forward elsewhere. Either way each
	// connection goes to a ready pod behind the Service, picked anew, as
	// through kube-proxy. Default "auto".
	Access KubeAccess `json:"access,omitempty"`
	// ServiceURLs maps a service name used by load and probes to a URL
	// that reaches it without faultline's forwarding, e.g. an Ingress:
	// {gateway: "https://recsys.example.com"}.
	ServiceURLs map[string]string `json:"serviceURLs,omitempty"`
	// OptInAnnotation is the annotation a namespace must carry before
	// faultline touches it: "key=value", or "key" for any value. Default
	// "faultline.dev/chaos=enabled".
	OptInAnnotation string `json:"optInAnnotation,omitempty"`
	// MaxPods refuses a fault that would hit more pods (a drained node's
	// pods and a scale-down's removed pods count). 0 or unset: no cap.
	MaxPods int32 `json:"maxPods,omitempty"`
	// MaxPercent refuses a fault that would hit more than this share (1 to
	// 100) of any one workload's pods. 0 or unset: no cap.
	MaxPercent int32 `json:"maxPercent,omitempty"`
	// JournalNamespace holds the journal Leases that let `faultline
	// recover` revert a crashed run's faults. Default "default".
	JournalNamespace string `json:"journalNamespace,omitempty"`
	// PauseImage replaces the containers' images during a PodChaos
	// pod-failure; the nodes must be able to pull it. Default
	// "registry.k8s.io/pause:3.10".
	PauseImage string `json:"pauseImage,omitempty"`
	// QPS and Burst limit faultline's requests to the API server.
	// Defaults 50 and 100.
	QPS   int32 `json:"qps,omitempty"`
	Burst int32 `json:"burst,omitempty"`
}

// KubeAccess is how faultline reaches a cluster's Services.
type KubeAccess string

// Access modes.
const (
	KubeAccessAuto        KubeAccess = "auto"
	KubeAccessDirect      KubeAccess = "direct"
	KubeAccessPortForward KubeAccess = "port-forward"
)

// IsLocal reports whether the spec describes a local environment (no kube).
func (s *EnvironmentSpec) IsLocal() bool { return s.Kube == nil }

// ReplicaCount returns the service's replicas with the default applied.
func (s *EnvironmentService) ReplicaCount() int32 {
	if s.Replicas == nil {
		return 1
	}
	return *s.Replicas
}
