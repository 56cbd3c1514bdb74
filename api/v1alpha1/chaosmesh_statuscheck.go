package v1alpha1

// StatusCheck probes a service over HTTP at intervals and succeeds or fails
// by thresholds; Workflows use it to gate or abort chaos
// (chaos-mesh.org/v1alpha1).
type StatusCheck struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says what is probed and when the check passes or fails.
	Spec StatusCheckSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// StatusCheckMode says when a status check ends.
type StatusCheckMode string

// Status check modes.
const (
	// StatusCheckSynchronous ends at the first verdict: successThreshold
	// successes in a row (success) or failureThreshold failures in a row
	// (failure), or at duration.
	StatusCheckSynchronous StatusCheckMode = "Synchronous"
	// StatusCheckContinuous keeps probing until duration (or the Workflow
	// template's deadline) and fails at failureThreshold failures in a row.
	StatusCheckContinuous StatusCheckMode = "Continuous"
)

// StatusCheckType is how a status check probes.
type StatusCheckType string

// Status check types.
const (
	// StatusCheckHTTP sends an HTTP request and checks the status code.
	StatusCheckHTTP StatusCheckType = "HTTP"
)

// Defaults of StatusCheckSpec, applied when a field is unset.
const (
	DefaultStatusCheckTimeoutSeconds      = 1
	DefaultStatusCheckIntervalSeconds     = 10
	DefaultStatusCheckFailureThreshold    = 3
	DefaultStatusCheckSuccessThreshold    = 1
	DefaultStatusCheckRecordsHistoryLimit = 100
)

// StatusCheckSpec is what a status check probes and how it decides.
type StatusCheckSpec struct {
	// Mode is Synchronous or Continuous. Default: Synchronous.
	Mode StatusCheckMode `json:"mode,omitempty"`
	// Type of probe; only HTTP. Default: HTTP.
	Type StatusCheckType `json:"type,omitempty"`
	// Duration bounds the whole check, e.g. "5m". A Continuous check that
	// reaches it without failing succeeds; a Synchronous one that reaches
	// it before successThreshold successes in a row fails. Default: no
	// bound.
	Duration *string `json:"duration,omitempty"`
	// TimeoutSeconds after which one probe counts as failed, at least 1. Default 1.
	TimeoutSeconds *int `json:"timeoutSeconds,omitempty"`
	// IntervalSeconds between probes, at least 1. Default 10.
	IntervalSeconds *int `json:"intervalSeconds,omitempty"`
	// FailureThreshold is the failures in a row that fail the check, at
	// least 1. Default 3.
	FailureThreshold *int `json:"failureThreshold,omitempty"`
	// SuccessThreshold is the successes in a row that pass the check, at
	// least 1; Synchronous mode only. Default 1.
	SuccessThreshold *int `json:"successThreshold,omitempty"`
	// RecordsHistoryLimit is how many probe results are kept, from 1 to
	// 1000. Default 100.
	RecordsHistoryLimit *int `json:"recordsHistoryLimit,omitempty"`
	// HTTP is the probe of type HTTP. Required when type is HTTP.
	HTTP *HTTPStatusCheck `json:"http,omitempty"`
}

// TimeoutSecondsOrDefault returns timeoutSeconds, or its default.
func (s *StatusCheckSpec) TimeoutSecondsOrDefault() int {
	return statusCheckIntOr(s.TimeoutSeconds, DefaultStatusCheckTimeoutSeconds)
}

// IntervalSecondsOrDefault returns intervalSeconds, or its default.
func (s *StatusCheckSpec) IntervalSecondsOrDefault() int {
	return statusCheckIntOr(s.IntervalSeconds, DefaultStatusCheckIntervalSeconds)
}

// FailureThresholdOrDefault returns failureThreshold, or its default.
func (s *StatusCheckSpec) FailureThresholdOrDefault() int {
	return statusCheckIntOr(s.FailureThreshold, DefaultStatusCheckFailureThreshold)
}

// SuccessThresholdOrDefault returns successThreshold, or its default.
func (s *StatusCheckSpec) SuccessThresholdOrDefault() int {
	return statusCheckIntOr(s.SuccessThreshold, DefaultStatusCheckSuccessThreshold)
}

// RecordsHistoryLimitOrDefault returns recordsHistoryLimit, or its default.
func (s *StatusCheckSpec) RecordsHistoryLimitOrDefault() int {
	return statusCheckIntOr(s.RecordsHistoryLimit, DefaultStatusCheckRecordsHistoryLimit)
}

// ModeOrDefault returns the mode, Synchronous when unset.
func (s *StatusCheckSpec) ModeOrDefault() StatusCheckMode {
	if s.Mode == "" {
		return StatusCheckSynchronous
	}
	return s.Mode
}

func statusCheckIntOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// StatusCheckMethod is the HTTP method of a status check probe.
type StatusCheckMethod string

// Status check HTTP methods.
const (
	StatusCheckGet  StatusCheckMethod = "GET"
	StatusCheckPost StatusCheckMethod = "POST"
)

// HTTPStatusCheck is an HTTP probe: one request per interval, judged by its
// status code.
type HTTPStatusCheck struct {
	// URL to request, absolute, e.g. http://web.default.svc:8080/healthz. Required.
	URL string `json:"url"`
	// Method is GET or POST. Default: GET.
	Method StatusCheckMethod `json:"method,omitempty"`
	// Headers sent with the request, name to list of values.
	Headers map[string][]string `json:"headers,omitempty"`
	// Body sent with the request.
	Body string `json:"body,omitempty"`
	// Criteria decide whether a response is a success. Required.
	Criteria HTTPCriteria `json:"criteria"`
}

// HTTPCriteria decide whether an HTTP probe succeeded.
type HTTPCriteria struct {
	// StatusCode expected: one code ("200") or an inclusive range
	// ("200-399"), as a string. Required.
	StatusCode string `json:"statusCode"`
}
