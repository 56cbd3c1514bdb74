package probe

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func newHTTPTarget(t *testing.T) *httptest.Server {
	t.Helper()
	var flaky atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok","replicas":3,"load":"0.5","ready":true,"model":{"name":"recsys","versions":[1,2]},"a.b":"dotted"}`)
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded, try later", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/down", http.StatusFound)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "model recsys v2 ready")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("X-Token") != "s3cret" || r.Host != "svc.example" {
			http.Error(w, "want POST with X-Token and Host svc.example", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "echo:%s", b)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPProbe(t *testing.T) {
	srv := newHTTPTarget(t)
	env := StaticEnv{URLs: map[string]string{"web": srv.URL + "/"}}
	jp := func(path string, op v1alpha1.ComparisonOperator, v string) v1alpha1.JSONPathCheck {
		return v1alpha1.JSONPathCheck{Path: path, Criteria: op, Value: v}
	}
	tests := []struct {
		name string
		spec v1alpha1.ProbeHTTP
		ok   bool
		msg  []string
	}{
		{"default status passes", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok"}, true, []string{"status 200"}},
		{"5xx fails with body", v1alpha1.ProbeHTTP{URL: srv.URL + "/down"}, false,
			[]string{"status 503, expected 200-399", "overloaded"}},
		{"expected 503 passes", v1alpha1.ProbeHTTP{URL: srv.URL + "/down", ExpectedStatus: []int32{503}}, true, nil},
		{"expected list", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok", ExpectedStatus: []int32{201, 204}}, false,
			[]string{"status 200, expected 201 or 204"}},
		{"redirect is the answer, not followed", v1alpha1.ProbeHTTP{URL: srv.URL + "/moved"}, true, []string{"status 302"}},
		{"service and path", v1alpha1.ProbeHTTP{Service: "web", Path: "/ok"}, true, nil},
		{"unknown service", v1alpha1.ProbeHTTP{Service: "nope"}, false, []string{"resolve service nope", "unknown service"}},
		{"body regex passes", v1alpha1.ProbeHTTP{URL: srv.URL + "/text", BodyRegex: `recsys v\d+ ready`}, true, nil},
		{"body regex fails", v1alpha1.ProbeHTTP{URL: srv.URL + "/text", BodyRegex: `v3`}, false,
			[]string{"body does not match /v3/", `"model recsys v2 ready"`}},
		{"method headers host body", v1alpha1.ProbeHTTP{URL: srv.URL + "/echo", Method: "post", Body: "ping",
			Headers: map[string]string{"X-Token": "s3cret", "Host": "svc.example"}, BodyRegex: "^echo:ping$"}, true, nil},
		{"jsonPath all hold", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok", JSONPath: []v1alpha1.JSONPathCheck{
			jp("$.status", "", "ok"),
			jp("$.replicas", ">=", "3"),
			jp("$.replicas", "==", "3.0"),
			jp("$.replicas", "<", "4"),
			jp("$.load", "<=", "0.5"),
			jp("$.ready", "==", "true"),
			jp("$.model.versions[1]", "==", "2"),
			jp("$.model.versions[-1]", "!=", "1"),
			jp("$.model.name", "contains", "sys"),
			jp("$.model", "contains", `"versions":[1,2]`),
			jp("$.status", "matches", "^o.$"),
			jp("$['a.b']", "==", "dotted"),
		}}, true, nil},
		{"jsonPath number differs", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok", JSONPath: []v1alpha1.JSONPathCheck{jp("$.replicas", ">", "3")}},
			false, []string{"$.replicas is 3, want > 3"}},
		{"jsonPath text differs", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok", JSONPath: []v1alpha1.JSONPathCheck{jp("$.status", "==", "degraded")}},
			false, []string{`$.status is "ok", want == degraded`}},
		{"jsonPath every failure listed", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok", JSONPath: []v1alpha1.JSONPathCheck{
			jp("$.status", "!=", "ok"), jp("$.model.versions[0]", ">=", "2")}},
			false, []string{`$.status is "ok", want != ok`, "$.model.versions[0] is 1, want >= 2"}},
		{"jsonPath missing member", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok", JSONPath: []v1alpha1.JSONPathCheck{jp("$.model.owner", "==", "x")}},
			false, []string{`$.model has no member "owner"`}},
		{"jsonPath index out of range", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok", JSONPath: []v1alpha1.JSONPathCheck{jp("$.model.versions[5]", "==", "1")}},
			false, []string{"$.model.versions has 2 elements, no index 5"}},
		{"jsonPath ordering on text", v1alpha1.ProbeHTTP{URL: srv.URL + "/ok", JSONPath: []v1alpha1.JSONPathCheck{jp("$.status", ">", "1")}},
			false, []string{"not a number"}},
		{"jsonPath on a non-JSON body", v1alpha1.ProbeHTTP{URL: srv.URL + "/text", JSONPath: []v1alpha1.JSONPathCheck{jp("$.a", "==", "1")}},
			false, []string{"body is not JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, v1alpha1.ExperimentProbe{Name: "web", Type: v1alpha1.ProbeHTTPType, HTTP: &tc.spec}, env)
			checkWant(t, check(t, p), tc.ok, tc.msg...)
		})
	}
}

func TestHTTPProbeTimeoutAndRetries(t *testing.T) {
	srv := newHTTPTarget(t)
	slow := mustNew(t, v1alpha1.ExperimentProbe{Name: "slow", Type: v1alpha1.ProbeHTTPType, Timeout: "100ms",
		HTTP: &v1alpha1.ProbeHTTP{URL: srv.URL + "/slow"}}, nil)
	r := check(t, slow)
	checkWant(t, r, false, "timed out after 100ms")
	if r.Latency < 100*time.Millisecond {
		t.Errorf("latency %v is shorter than the timeout", r.Latency)
	}

	flaky := mustNew(t, v1alpha1.ExperimentProbe{Name: "flaky", Type: v1alpha1.ProbeHTTPType, Retries: 2,
		HTTP: &v1alpha1.ProbeHTTP{URL: srv.URL + "/flaky"}}, nil)
	checkWant(t, check(t, flaky), true, "passed on attempt 3 of 3")

	down := mustNew(t, v1alpha1.ExperimentProbe{Name: "down", Type: v1alpha1.ProbeHTTPType, Retries: 1,
		HTTP: &v1alpha1.ProbeHTTP{URL: srv.URL + "/down"}}, nil)
	checkWant(t, check(t, down), false, "status 503", "(failed 2 attempts)")
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		spec v1alpha1.ExperimentProbe
		msg  string
	}{
		{"no name", v1alpha1.ExperimentProbe{Type: v1alpha1.ProbeTCPType}, "no name"},
		{"unknown type", v1alpha1.ExperimentProbe{Name: "x", Type: "grpc"}, `unknown type "grpc"`},
		{"missing settings", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeHTTPType}, "needs http settings"},
		{"bad mode", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeTCPType, Mode: "Always",
			TCP: &v1alpha1.ProbeTCP{Address: "127.0.0.1:1"}}, `unknown mode "Always"`},
		{"bad interval", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeTCPType, Interval: "0s",
			TCP: &v1alpha1.ProbeTCP{Address: "127.0.0.1:1"}}, "interval must be greater than zero"},
		{"bad timeout", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeTCPType, Timeout: "soon",
			TCP: &v1alpha1.ProbeTCP{Address: "127.0.0.1:1"}}, "timeout"},
		{"bad regex", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeHTTPType,
			HTTP: &v1alpha1.ProbeHTTP{URL: "http://x", BodyRegex: "("}}, "bodyRegex"},
		{"bad json path", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeHTTPType,
			HTTP: &v1alpha1.ProbeHTTP{URL: "http://x", JSONPath: []v1alpha1.JSONPathCheck{{Path: "$..a"}}}}, "recursive descent"},
		{"ordering needs a number", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeHTTPType,
			HTTP: &v1alpha1.ProbeHTTP{URL: "http://x", JSONPath: []v1alpha1.JSONPathCheck{{Path: "$.a", Criteria: ">", Value: "big"}}}}, "not a number"},
		{"url and service", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeHTTPType,
			HTTP: &v1alpha1.ProbeHTTP{URL: "http://x", Service: "web"}}, "exactly one of url and service"},
		{"tcp bad address", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeTCPType,
			TCP: &v1alpha1.ProbeTCP{Address: "localhost"}}, "address"},
		{"cmd without command", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbeCmdType,
			Cmd: &v1alpha1.ProbeCmd{}}, "command is required"},
		{"prometheus bad criteria", v1alpha1.ExperimentProbe{Name: "x", Type: v1alpha1.ProbePrometheusType,
			Prometheus: &v1alpha1.ProbePrometheus{URL: "http://x", Query: "up", Comparator: &v1alpha1.NumericComparator{Criteria: "contains"}}}, "criteria"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.spec, StaticEnv{})
			if err == nil || !contains(err.Error(), tc.msg) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p := mustNew(t, v1alpha1.ExperimentProbe{Name: "d", Type: v1alpha1.ProbeTCPType, TCP: &v1alpha1.ProbeTCP{Address: "127.0.0.1:1"}}, nil)
	want := Timing{Mode: v1alpha1.ProbeModeContinuous, Interval: time.Second, Timeout: 5 * time.Second}
	if got := p.Timing(); got != want {
		t.Errorf("Timing() = %+v, want %+v", got, want)
	}
	if p.Mode() != v1alpha1.ProbeModeContinuous || p.Name() != "d" {
		t.Errorf("Mode, Name = %s, %s", p.Mode(), p.Name())
	}
}
