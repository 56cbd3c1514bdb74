package v1alpha1

// Default values of load, as documented on LoadSpec's fields.
const (
	// DefaultLoadTimeout is how long one load request may take.
	DefaultLoadTimeout = "5s"
	// DefaultLoadMinWorkers is the fewest workers the load generator keeps.
	DefaultLoadMinWorkers = 16
)

// LoadSpec is open-loop load: requests are sent on a fixed schedule whatever
// the service's answers, and each request's latency is measured from the
// moment it was scheduled to be sent, so a stalled service shows as latency,
// not as fewer requests (no coordinated omission).
//
// A request succeeds when it completes within timeout with a status in
// expectedStatus. Every outcome is recorded in time buckets of 100 ms.
//
// At most one of body, bodyFile, bodies, bodiesFile and inference is given.
type LoadSpec struct {
	// Target is the service the load is sent to, by name (its gateway in the
	// environment), or a full URL ("http://host:port/path"). Required.
	Target string `json:"target"`
	// Rate is the constant request rate, in requests per second, greater
	// than 0 (fractions allowed: 0.5 is one request every 2 s). Exactly one
	// of rate and ramp is required.
	Rate *float64 `json:"rate,omitempty"`
	// Ramp changes the rate linearly instead of keeping it constant.
	// Exactly one of rate and ramp is required.
	Ramp *LoadRamp `json:"ramp,omitempty"`
	// Duration of the load, from the start of the baseline phase, a duration
	// greater than zero. Default: the whole run (all three phases).
	Duration string `json:"duration,omitempty"`
	// Method is the HTTP method: GET, HEAD, POST, PUT, PATCH, DELETE or
	// OPTIONS. Default GET, or POST with a body or inference.
	Method string `json:"method,omitempty"`
	// Path of the requests for a service target, starting with '/', with
	// an optional query ("/recommend?user=42"). Default
	// "/". For a URL target write the path in the URL; with inference the
	// path is the model's infer endpoint.
	Path string `json:"path,omitempty"`
	// Headers are extra request headers, e.g. `{Content-Type: application/json}`.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the request body, sent as written.
	Body string `json:"body,omitempty"`
	// BodyFile is the path of a file whose content is the request body,
	// relative to the experiment file's directory.
	BodyFile string `json:"bodyFile,omitempty"`
	// Bodies are request bodies used in turn, round robin.
	Bodies []string `json:"bodies,omitempty"`
	// BodiesFile is the path of a file of request bodies, one per line (JSON
	// Lines), used in turn, relative to the experiment file's directory.
	BodiesFile string `json:"bodiesFile,omitempty"`
	// Inference sends an Open Inference Protocol (KServe v2) infer request:
	// POST /v2/models/<model>[/versions/<version>]/infer with this payload.
	Inference *InferenceRequest `json:"inference,omitempty"`
	// ExpectedStatus are the HTTP statuses that count as success, 100 to
	// 599. Default: any status from 200 to 399.
	ExpectedStatus []int32 `json:"expectedStatus,omitempty"`
	// Timeout of one request, a duration greater than zero; a request
	// without an answer by then is an error. Default "5s".
	Timeout string `json:"timeout,omitempty"`
	// MaxWorkers caps the requests in flight at once; when all are busy the
	// next request waits, and its wait counts in its latency. At least 1.
	// Default: enough for every request of one timeout at the peak rate
	// (peak rate × timeout), at least 16.
	MaxWorkers *int32 `json:"maxWorkers,omitempty"`
}

// LoadRamp is a rate changing linearly from `from` to `to` over `over`, then
// holding `to` for the rest of the load.
type LoadRamp struct {
	// From is the starting rate in requests per second, 0 or more.
	From float64 `json:"from"`
	// To is the final rate in requests per second, 0 or more; from and to
	// are not both 0.
	To float64 `json:"to"`
	// Over is how long the change takes, a duration greater than zero.
	// Default: the whole load duration.
	Over string `json:"over,omitempty"`
}

// InferenceRequest is an Open Inference Protocol (KServe v2) infer request,
// as served by KServe, Triton and Seldon MLServer.
type InferenceRequest struct {
	// Model is the model's name in the URL /v2/models/<model>/infer.
	// Required.
	Model string `json:"model"`
	// Version is the model version in the URL
	// (/v2/models/<model>/versions/<version>/infer). Default: none, the
	// server's choice.
	Version string `json:"version,omitempty"`
	// ID is the request's "id" field, echoed by the server.
	ID string `json:"id,omitempty"`
	// Parameters is the request's "parameters" object, sent as written.
	Parameters map[string]Raw `json:"parameters,omitempty"`
	// Inputs are the input tensors. Required, at least one.
	Inputs []InferenceTensor `json:"inputs"`
	// Outputs names the outputs the response should hold. Default: all of
	// the model's outputs.
	Outputs []InferenceRequestedOutput `json:"outputs,omitempty"`
}

// InferenceDatatype is the element type of a tensor in the Open Inference
// Protocol.
type InferenceDatatype string

// Tensor datatypes of the Open Inference Protocol.
const (
	DatatypeBool   InferenceDatatype = "BOOL"
	DatatypeUint8  InferenceDatatype = "UINT8"
	DatatypeUint16 InferenceDatatype = "UINT16"
	DatatypeUint32 InferenceDatatype = "UINT32"
	DatatypeUint64 InferenceDatatype = "UINT64"
	DatatypeInt8   InferenceDatatype = "INT8"
	DatatypeInt16  InferenceDatatype = "INT16"
	DatatypeInt32  InferenceDatatype = "INT32"
	DatatypeInt64  InferenceDatatype = "INT64"
	DatatypeFP16   InferenceDatatype = "FP16"
	DatatypeFP32   InferenceDatatype = "FP32"
	DatatypeFP64   InferenceDatatype = "FP64"
	DatatypeBytes  InferenceDatatype = "BYTES"
)

// InferenceTensor is one tensor of an Open Inference Protocol request or
// response: `{name: user_id, shape: [1], datatype: INT64, data: [42]}`.
type InferenceTensor struct {
	// Name of the tensor. Required.
	Name string `json:"name"`
	// Shape of the tensor, each dimension 0 or more, e.g. [1, 16]. Required.
	Shape []int64 `json:"shape"`
	// Datatype of the elements: BOOL, UINT8, UINT16, UINT32, UINT64, INT8,
	// INT16, INT32, INT64, FP16, FP32, FP64 or BYTES. Required.
	Datatype InferenceDatatype `json:"datatype"`
	// Data holds the elements, flat in row-major order or nested like the
	// shape; BYTES elements are strings. Required.
	Data Raw `json:"data"`
	// Parameters is the tensor's "parameters" object, sent as written.
	Parameters map[string]Raw `json:"parameters,omitempty"`
}

// InferenceRequestedOutput names one output a request asks for.
type InferenceRequestedOutput struct {
	// Name of the output tensor. Required.
	Name string `json:"name"`
	// Parameters is the output's "parameters" object, sent as written.
	Parameters map[string]Raw `json:"parameters,omitempty"`
}
