package v1alpha1

// HTTPChaos aborts, delays, replaces or patches HTTP requests or responses
// served by pods (chaos-mesh.org/v1alpha1).
type HTTPChaos struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says which HTTP messages are hit and how.
	Spec HTTPChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// HTTPChaosTarget is which side of an HTTP exchange is changed.
type HTTPChaosTarget string

// HTTPChaos targets.
const (
	// HTTPTargetRequest changes requests on their way to the server.
	HTTPTargetRequest HTTPChaosTarget = "Request"
	// HTTPTargetResponse changes responses on their way back to the client.
	HTTPTargetResponse HTTPChaosTarget = "Response"
)

// HTTPChaosSpec is the fault of an HTTPChaos. The match fields (port, path,
// method, code, request_headers, response_headers) choose the messages; the
// actions (abort, delay, replace, patch) say what happens to them. At least
// one action is required.
type HTTPChaosSpec struct {
	// PodSelector chooses the pods serving the HTTP traffic.
	PodSelector `json:",inline"`
	// Target is Request or Response: which message the actions change. Required.
	Target HTTPChaosTarget `json:"target"`
	// HTTPChaosActions are what happens to a matched message.
	HTTPChaosActions `json:",inline"`
	// Port the pods serve HTTP on, from 1 to 65535. Required.
	Port int32 `json:"port,omitempty"`
	// Path matches the request URI path; `*` is a wildcard, e.g. "/api/*".
	// Default: any path.
	Path *string `json:"path,omitempty"`
	// Method matches the request method, e.g. GET. Default: any method.
	Method *string `json:"method,omitempty"`
	// Code matches the response status code (target Response only).
	// Default: any code.
	Code *int32 `json:"code,omitempty"`
	// RequestHeaders match request headers, name to value. Default: any.
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	// ResponseHeaders match response headers, name to value (target Response
	// only). Default: any.
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	// TLS makes the fault work on HTTPS, with the server's certificate from
	// a Kubernetes secret.
	TLS *HTTPChaosTLS `json:"tls,omitempty"`
	// Duration the fault lasts, e.g. "5m". Default: until the experiment
	// ends. In a Workflow use the template's deadline instead.
	Duration *string `json:"duration,omitempty"`
	// RemoteCluster names the Chaos Mesh RemoteCluster to run in; only the
	// Kubernetes engine uses it.
	RemoteCluster string `json:"remoteCluster,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *HTTPChaosSpec) GetDuration() *string { return s.Duration }

// HTTPChaosActions are the changes applied to a matched message; several
// may be combined, e.g. a delay then an abort.
type HTTPChaosActions struct {
	// Abort closes the connection instead of delivering the message.
	Abort *bool `json:"abort,omitempty"`
	// Delay holds the message this long before delivering it, e.g. "10s".
	Delay *string `json:"delay,omitempty"`
	// Replace overwrites parts of the message.
	Replace *HTTPChaosReplace `json:"replace,omitempty"`
	// Patch adds to parts of the message.
	Patch *HTTPChaosPatch `json:"patch,omitempty"`
}

// HTTPChaosReplace overwrites parts of a message.
type HTTPChaosReplace struct {
	// Path replaces the request URI path (target Request).
	Path *string `json:"path,omitempty"`
	// Method replaces the request method (target Request).
	Method *string `json:"method,omitempty"`
	// Code replaces the response status code, from 100 to 599 (target Response).
	Code *int32 `json:"code,omitempty"`
	// Body replaces the whole body; base64-encoded, as Kubernetes encodes bytes.
	Body string `json:"body,omitempty"`
	// Queries replaces URI query parameters, name to value (target Request):
	// `{foo: unknown}` turns `/?foo=bar` into `/?foo=unknown`.
	Queries map[string]string `json:"queries,omitempty"`
	// Headers replaces headers, name to value.
	Headers map[string]string `json:"headers,omitempty"`
}

// HTTPChaosPatch adds to parts of a message.
type HTTPChaosPatch struct {
	// Body merges a patch into the body.
	Body *HTTPChaosPatchBody `json:"body,omitempty"`
	// Queries appends URI query parameters as [name, value] pairs (target
	// Request), e.g. [["foo", "bar"]].
	Queries [][]string `json:"queries,omitempty"`
	// Headers appends headers as [name, value] pairs, e.g.
	// [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]].
	Headers [][]string `json:"headers,omitempty"`
}

// HTTPChaosPatchBody is a patch merged into a message body.
type HTTPChaosPatchBody struct {
	// Type of patch; only JSON (an RFC 7396 JSON merge patch). Required.
	Type string `json:"type"`
	// Value is the patch itself, e.g. '{"status": "failed"}'. Required.
	Value string `json:"value"`
}

// HTTPChaosTLS names the Kubernetes secret holding the server's TLS
// certificate, so HTTPS traffic can be intercepted.
type HTTPChaosTLS struct {
	// SecretName is the secret's name. Required.
	SecretName string `json:"secretName"`
	// SecretNamespace is the secret's namespace. Required.
	SecretNamespace string `json:"secretNamespace"`
	// CertName is the secret's key holding the certificate, e.g. tls.crt. Required.
	CertName string `json:"certName"`
	// KeyName is the secret's key holding the private key, e.g. tls.key. Required.
	KeyName string `json:"keyName"`
	// CAName is the secret's key holding the CA certificate, e.g. ca.crt.
	CAName *string `json:"caName,omitempty"`
}
