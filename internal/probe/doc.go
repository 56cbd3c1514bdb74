// Package probe watches a service during an experiment: the steady-state
// hypothesis of a run. A Probe is built from a manifest's ExperimentProbe
// with New and checked with Check; a Scheduler runs a run's probes with
// Litmus' modes (SOT, EOT, Edge, Continuous, OnChaos) and writes every
// result, with its offset from the run's start, to a Sink such as the
// timeline.Recorder.
//
// # Probe types
//
//   - http: one request per check (url, or service + path through its
//     gateway). Passes when the status is expected (default 200–399;
//     redirects are not followed), the body matches bodyRegex, and every
//     jsonPath check holds. JSON paths are a small subset written by hand
//     (see jsonPath): `$`, `.name`, `['name']`, `[index]`, `[-1]`.
//   - tcp: a TCP connection to address, or to the service's gateway, opens.
//   - cmd: the command runs without a shell, in the experiment file's
//     directory, with each service's gateway URL in <NAME>_URL (when the
//     Env is a ServiceLister). Passes on
//     the expected exit code (default 0) and outputRegex over stdout. It
//     runs in its own process group, which is killed on timeout and after
//     every check, so a probe never leaves a process behind.
//   - prometheus: an instant PromQL query (client_golang's API client)
//     whose value — a scalar or a vector of exactly one sample — must
//     satisfy the comparator. No sample, or several, fails and says so.
//   - inference: replays a golden set against an Open Inference Protocol
//     (KServe v2) endpoint, POST {base}/v2/models/{model}[/versions/{v}]/infer,
//     one request at a time, and compares each answer's outputs with the
//     expected ones (exact, topk or numeric; see tensor.go). Every answered
//     request yields a timeline.Check (Match, Detail "items: expected
//     [3 7 9], got [3 7 12]", Replica from the X-Replica response header or
//     the response's parameters.replica); these are the consistency metric.
//     The probe passes when every request was answered and matched. The
//     golden set file format is documented on GoldenSet.
//
// # Checks, timeouts and retries
//
// One check is up to 1+retries attempts, each bounded by the probe's
// timeout, with a short pause between them; only the last attempt's result
// (and golden checks) are kept, so a check that passed on a retry says so
// in its message. Probes use fresh connections for every attempt (no
// keep-alive), so they see a failing replica the way a new client would.
package probe
