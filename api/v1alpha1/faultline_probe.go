package v1alpha1

// Default values of probes, as documented on ExperimentProbe's fields.
const (
	// DefaultProbeInterval is the time between checks of a Continuous or
	// OnChaos probe.
	DefaultProbeInterval = "1s"
	// DefaultProbeTimeout is how long one check may take.
	DefaultProbeTimeout = "5s"
	// DefaultNumericTolerance is the tolerance of the numeric comparison
	// when none is given.
	DefaultNumericTolerance = 1e-6
)

// ProbeType is the mechanism of an experiment probe.
type ProbeType string

// Probe types. Each reads its settings from the field of the same name.
const (
	// ProbeHTTPType sends an HTTP request and checks the response.
	ProbeHTTPType ProbeType = "http"
	// ProbeTCPType opens a TCP connection.
	ProbeTCPType ProbeType = "tcp"
	// ProbeCmdType runs a command and checks its exit code and output.
	ProbeCmdType ProbeType = "cmd"
	// ProbePrometheusType runs a PromQL query and compares its value.
	ProbePrometheusType ProbeType = "prometheus"
	// ProbeInferenceType replays a golden set of inference requests and
	// compares the answers: the consistency check.
	ProbeInferenceType ProbeType = "inference"
)

// ProbeMode says when a probe runs, with Litmus' names.
type ProbeMode string

// Probe modes.
const (
	// ProbeModeSOT checks once at the start of the fault phase, before the
	// first fault.
	ProbeModeSOT ProbeMode = "SOT"
	// ProbeModeEOT checks once at the end of the recovery phase.
	ProbeModeEOT ProbeMode = "EOT"
	// ProbeModeEdge checks at both of those moments.
	ProbeModeEdge ProbeMode = "Edge"
	// ProbeModeContinuous checks every interval through all three phases.
	ProbeModeContinuous ProbeMode = "Continuous"
	// ProbeModeOnChaos checks every interval during the fault phase only.
	ProbeModeOnChaos ProbeMode = "OnChaos"
)

// ExperimentProbe watches the service during a run. A check passes when the
// type's criteria hold; it is retried up to retries times before it counts
// as failed. A probe fails when any of its checks failed. Failing probes
// fail the verdict; a probe with stopOnFailure also aborts the run at once
// (every fault is reverted, exit code 3).
//
// type names the mechanism, and the field of the same name holds its
// settings: `{name: ready, type: http, http: {service: web, path: /healthz}}`.
type ExperimentProbe struct {
	// Name of the probe in reports and JUnit, a DNS-1123 label, unique in
	// the experiment. Required.
	Name string `json:"name"`
	// Type is http, tcp, cmd, prometheus or inference. Required.
	Type ProbeType `json:"type"`
	// Mode is when the probe runs: SOT, EOT, Edge, Continuous or OnChaos.
	// Default Continuous.
	Mode ProbeMode `json:"mode,omitempty"`
	// Interval between checks for Continuous and OnChaos probes, a duration
	// greater than zero. Default "1s".
	Interval string `json:"interval,omitempty"`
	// InitialDelay before the first check, a duration. Default "0s".
	InitialDelay string `json:"initialDelay,omitempty"`
	// Timeout of one check, a duration greater than zero. Default "5s".
	Timeout string `json:"timeout,omitempty"`
	// Retries is how many times a failed check is repeated before it counts
	// as failed. 0 or more; default 0.
	Retries int32 `json:"retries,omitempty"`
	// StopOnFailure aborts the run when the probe fails: every fault is
	// reverted at once and faultline exits with code 3. Default false.
	StopOnFailure bool `json:"stopOnFailure,omitempty"`
	// HTTP holds the settings of an http probe.
	HTTP *ProbeHTTP `json:"http,omitempty"`
	// TCP holds the settings of a tcp probe.
	TCP *ProbeTCP `json:"tcp,omitempty"`
	// Cmd holds the settings of a cmd probe.
	Cmd *ProbeCmd `json:"cmd,omitempty"`
	// Prometheus holds the settings of a prometheus probe.
	Prometheus *ProbePrometheus `json:"prometheus,omitempty"`
	// Inference holds the settings of an inference probe.
	Inference *ProbeInference `json:"inference,omitempty"`
}

// ProbeHTTP sends one HTTP request per check. It passes when the status is
// expected, the body matches bodyRegex and every jsonPath check holds.
type ProbeHTTP struct {
	// URL to request, e.g. "http://127.0.0.1:8080/healthz". Exactly one of
	// url and service is required.
	URL string `json:"url,omitempty"`
	// Service to request through its gateway, by name. Exactly one of url
	// and service is required.
	Service string `json:"service,omitempty"`
	// Path of the request to a service, starting with '/'. Default "/".
	Path string `json:"path,omitempty"`
	// Method is GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS. Default GET.
	Method string `json:"method,omitempty"`
	// Headers are extra request headers.
	Headers map[string]string `json:"headers,omitempty"`
	// Body of the request.
	Body string `json:"body,omitempty"`
	// ExpectedStatus are the statuses that pass, 100 to 599. Default: any
	// status from 200 to 399.
	ExpectedStatus []int32 `json:"expectedStatus,omitempty"`
	// BodyRegex is a regular expression (RE2 syntax) the response body must
	// match.
	BodyRegex string `json:"bodyRegex,omitempty"`
	// JSONPath are checks on values of a JSON response body; all must hold.
	JSONPath []JSONPathCheck `json:"jsonPath,omitempty"`
}

// ComparisonOperator compares a measured value with an expected one.
type ComparisonOperator string

// Comparison operators. The ordering ones compare numbers.
const (
	OpEqual          ComparisonOperator = "=="
	OpNotEqual       ComparisonOperator = "!="
	OpGreater        ComparisonOperator = ">"
	OpGreaterOrEqual ComparisonOperator = ">="
	OpLess           ComparisonOperator = "<"
	OpLessOrEqual    ComparisonOperator = "<="
	// OpContains holds when the value, as text, contains the expected text.
	OpContains ComparisonOperator = "contains"
	// OpMatches holds when the value, as text, matches the expected regular
	// expression (RE2 syntax).
	OpMatches ComparisonOperator = "matches"
)

// JSONPathCheck compares one value of a JSON response body:
// `{path: $.outputs[0].shape[0], criteria: ">=", value: "10"}`.
type JSONPathCheck struct {
	// Path selects the value: `$`, then `.field` or `[index]` steps, e.g.
	// "$.outputs[0].data[0]". Required.
	Path string `json:"path"`
	// Criteria is ==, !=, >, >=, <, <=, contains or matches. Default ==.
	Criteria ComparisonOperator `json:"criteria,omitempty"`
	// Value to compare with, written as a string ("200", "true", "ok").
	// == and != compare numbers numerically when both sides are numbers,
	// otherwise as text; the ordering operators need a number.
	Value string `json:"value"`
}

// ProbeTCP passes when a TCP connection opens within the timeout.
type ProbeTCP struct {
	// Address is "host:port". Exactly one of address and service is
	// required.
	Address string `json:"address,omitempty"`
	// Service to connect to through its gateway, by name.
	Service string `json:"service,omitempty"`
}

// ProbeCmd runs a command per check, without a shell, in the experiment
// file's directory. It passes when the exit code and output are expected.
type ProbeCmd struct {
	// Command is the program and its arguments (`[sh, -c, "..."]` for a
	// shell). Each service's gateway URL is in `<NAME>_URL`. Required.
	Command []string `json:"command"`
	// ExpectedExitCode is the exit code that passes, 0 to 255. Default 0.
	ExpectedExitCode *int32 `json:"expectedExitCode,omitempty"`
	// OutputRegex is a regular expression (RE2 syntax) the standard output
	// must match.
	OutputRegex string `json:"outputRegex,omitempty"`
}

// ProbePrometheus runs an instant PromQL query against a Prometheus server
// and compares its value: a scalar, or a vector of exactly one sample
// (Prometheus does not order a vector's samples, so several are an error:
// aggregate them with sum(), max() or a label match).
type ProbePrometheus struct {
	// URL of the Prometheus server, e.g. "http://127.0.0.1:9090". Exactly
	// one of url and service is required.
	URL string `json:"url,omitempty"`
	// Service is the Prometheus server as a service of the environment; in
	// a kube environment the cluster's own, e.g.
	// "prometheus-k8s.monitoring:web", reached as load and probes reach
	// every service (port-forward or direct).
	Service string `json:"service,omitempty"`
	// Query is the PromQL expression. Required.
	Query string `json:"query"`
	// Comparator the query's value must satisfy. Required.
	Comparator *NumericComparator `json:"comparator"`
}

// NumericComparator compares a number with a threshold:
// `{criteria: "<=", value: 0.5}`.
type NumericComparator struct {
	// Criteria is ==, !=, >, >=, < or <=. Required.
	Criteria ComparisonOperator `json:"criteria"`
	// Value is the threshold.
	Value float64 `json:"value"`
}

// ProbeInference replays a golden set of Open Inference Protocol requests
// per check and compares each answer with the expected outputs. Its results
// are the consistency measurement: the share of golden answers that match,
// per phase, with the mismatches kept.
type ProbeInference struct {
	// URL of the inference server's base, e.g. "http://127.0.0.1:8080".
	// Exactly one of url and service is required.
	URL string `json:"url,omitempty"`
	// Service to send the requests to through its gateway, by name.
	Service string `json:"service,omitempty"`
	// Model is the model's name. Required.
	Model string `json:"model"`
	// Version of the model. Default: none, the server's choice.
	Version string `json:"version,omitempty"`
	// GoldenSetFile is the path of a JSON or YAML file holding a list of
	// golden requests (the shape of requests), relative to the experiment
	// file's directory. Exactly one of goldenSetFile and requests is
	// required.
	GoldenSetFile string `json:"goldenSetFile,omitempty"`
	// Requests is the golden set written inline.
	Requests []GoldenRequest `json:"requests,omitempty"`
	// Compare says when an answer matches. Default: exact.
	Compare *InferenceCompare `json:"compare,omitempty"`
}

// GoldenRequest is one inference request with its expected answer.
type GoldenRequest struct {
	// Name of the request in mismatch reports. Default: its position.
	Name string `json:"name,omitempty"`
	// Parameters is the request's "parameters" object.
	Parameters map[string]Raw `json:"parameters,omitempty"`
	// Inputs are the input tensors. Required.
	Inputs []InferenceTensor `json:"inputs"`
	// Expected are the expected output tensors; only outputs named here are
	// compared. Required.
	Expected []InferenceTensor `json:"expected"`
}

// CompareMethod is how an inference answer is compared with the expected
// one.
type CompareMethod string

// Compare methods.
const (
	// CompareExact requires equal datatype, shape and elements.
	CompareExact CompareMethod = "exact"
	// CompareTopK compares the first k elements of each output as sets: the
	// answer matches when at least minOverlap of them agree.
	CompareTopK CompareMethod = "topk"
	// CompareNumeric requires equal shape and every element within
	// tolerance of the expected one.
	CompareNumeric CompareMethod = "numeric"
)

// InferenceCompare is the comparison of an inference probe:
// `{method: topk, k: 10, minOverlap: 0.8}` or
// `{method: numeric, tolerance: 0.001}`.
type InferenceCompare struct {
	// Method is exact, topk or numeric. Default exact.
	Method CompareMethod `json:"method,omitempty"`
	// K is the number of leading elements compared by topk. At least 1;
	// required by topk.
	K int32 `json:"k,omitempty"`
	// MinOverlap is the share of the top k that must agree for topk, from
	// above 0 to 1 (0.8 = 8 of 10). Default 1.
	MinOverlap *float64 `json:"minOverlap,omitempty"`
	// Tolerance is the largest absolute difference per element allowed by
	// numeric, 0 or more. Default 1e-6.
	Tolerance *float64 `json:"tolerance,omitempty"`
}
