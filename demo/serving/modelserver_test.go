package serving

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/demo/recsys"
	"github.com/faultline-dev/faultline/internal/probe"
)

type inferAnswer struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id"`
	Parameters   map[string]any `json:"parameters"`
	Outputs      []struct {
		Name     string    `json:"name"`
		Shape    []int64   `json:"shape"`
		Datatype string    `json:"datatype"`
		Data     []float64 `json:"data"`
	} `json:"outputs"`
}

func (a inferAnswer) items() []int32 {
	for _, o := range a.Outputs {
		if o.Name == recsys.OutputItems {
			out := make([]int32, len(o.Data))
			for i, x := range o.Data {
				out[i] = int32(x)
			}
			return out
		}
	}
	return nil
}

func expectedItems(t *testing.T, m *recsys.Model, user int64, history []int32, k int) []int32 {
	t.Helper()
	top, err := m.Recommend(user, history, k)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int32, len(top))
	for i, s := range top {
		out[i] = s.Item
	}
	return out
}

// TestModelServerOIP drives every OIP endpoint over real HTTP, with a real
// feature store behind the server.
func TestModelServerOIP(t *testing.T) {
	d := getDemo(t)
	fs := featureStore(t)
	s, ms := modelServer(t, ModelServerConfig{Dir: modelDir(t, nil), FeatureStoreURL: fs.URL, Replica: "model-server-1"})
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/v2", 200, `"name":"faultline-recsys"`},
		{"/v2/health/live", 200, `"live":true`},
		{"/v2/health/ready", 200, `"ready":true`},
		{"/v2/models/recsys", 200, `"versions":["v2"]`},
		{"/v2/models/recsys/ready", 200, `"ready":true`},
		{"/v2/models/recsys/versions/v2", 200, `"outputs"`},
		{"/v2/models/recsys/versions/v2/ready", 200, `"version":"v2"`},
		{"/v2/models/recsys/versions/v1/ready", 404, `serves \"v2\"`},
		{"/v2/models/other", 404, `not served here`},
		{"/metrics", 200, `recsys_model_ready 1`},
	} {
		r := do(t, "GET", ms.URL+tc.path, "")
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("GET %s: %d %s, want %d with %s", tc.path, r.status, r.body, tc.status, tc.want)
		}
		if r.header.Get(ReplicaHeader) != "model-server-1" {
			t.Errorf("GET %s: X-Replica %q", tc.path, r.header.Get(ReplicaHeader))
		}
	}

	v2 := d.models["v2"]
	f, _ := d.data.Features(42)
	var a inferAnswer
	r := do(t, "POST", ms.URL+"/v2/models/recsys/infer", inferBody(42, ""))
	r.json(t, &a)
	if r.status != 200 || a.ModelVersion != "v2" || a.ID != "t" || a.Parameters["features"] != "feature-store" || a.Parameters["replica"] != "model-server-1" {
		t.Fatalf("infer: %d %s", r.status, r.body)
	}
	if got, want := a.items(), expectedItems(t, v2, 42, f.History, 10); !slices.Equal(got, want) {
		t.Fatalf("infer user 42: items %v, want %v (from the model file and the store's history)", got, want)
	}
	if len(a.Outputs) != 2 || a.Outputs[1].Datatype != "FP32" || a.Outputs[0].Shape[0] != 10 {
		t.Fatalf("outputs %+v", a.Outputs)
	}

	// The history input replaces the feature store's.
	r = do(t, "POST", ms.URL+"/v2/models/recsys/versions/v2/infer", `{"parameters":{"top_k":5},"inputs":[
		{"name":"user_id","shape":[1,1],"datatype":"INT64","data":[[42]]},
		{"name":"history","shape":[3],"datatype":"INT32","data":[1,2,3]}],"outputs":[{"name":"items"}]}`)
	a = inferAnswer{}
	r.json(t, &a)
	if r.status != 200 || a.Parameters["features"] != "request" || len(a.Outputs) != 1 {
		t.Fatalf("infer with history: %d %s", r.status, r.body)
	}
	if got, want := a.items(), expectedItems(t, v2, 42, []int32{1, 2, 3}, 5); !slices.Equal(got, want) {
		t.Fatalf("infer with history: items %v, want %v", got, want)
	}
	// A user the store does not know ranks by popularity.
	r = do(t, "POST", ms.URL+"/v2/models/recsys/infer", inferBody(123456, ""))
	a = inferAnswer{}
	r.json(t, &a)
	if r.status != 200 || a.Parameters["features"] != "none" {
		t.Fatalf("unknown user: %d %s", r.status, r.body)
	}

	huge := `{"inputs":[{"name":"user_id","shape":[1],"datatype":"INT64","data":[1]}],"id":"` + strings.Repeat("x", maxRequestBody) + `"}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"not JSON", "/v2/models/recsys/infer", `{"inputs":`, 400, "not an inference request"},
		{"two values", "/v2/models/recsys/infer", inferBody(1, "") + `{}`, 400, "more than one"},
		{"no user", "/v2/models/recsys/infer", `{"inputs":[]}`, 400, "user_id is required"},
		{"two users", "/v2/models/recsys/infer", `{"inputs":[{"name":"user_id","shape":[2],"datatype":"INT64","data":[1,2]}]}`, 400, "exactly one user"},
		{"float datatype", "/v2/models/recsys/infer", `{"inputs":[{"name":"user_id","shape":[1],"datatype":"FP32","data":[1]}]}`, 400, "integer type"},
		{"fractional id", "/v2/models/recsys/infer", `{"inputs":[{"name":"user_id","shape":[1],"datatype":"INT64","data":[1.5]}]}`, 400, "not an integer"},
		{"string id", "/v2/models/recsys/infer", `{"inputs":[{"name":"user_id","shape":[1],"datatype":"INT64","data":["1"]}]}`, 400, "not a number"},
		{"shape mismatch", "/v2/models/recsys/infer", `{"inputs":[{"name":"user_id","shape":[3],"datatype":"INT64","data":[1]}]}`, 400, "holds 3 elements"},
		{"huge shape", "/v2/models/recsys/infer", `{"inputs":[{"name":"user_id","shape":[100000,100000],"datatype":"INT64","data":[1]}]}`, 400, "shape"},
		{"deep nesting", "/v2/models/recsys/infer", `{"inputs":[{"name":"user_id","datatype":"INT64","data":[[[[[[[[[[1]]]]]]]]]]}]}`, 400, "deeper"},
		{"unknown input", "/v2/models/recsys/infer", inferBody(1, `,{"name":"age","shape":[1],"datatype":"INT64","data":[3]}`), 400, "unknown input"},
		{"unknown output", "/v2/models/recsys/infer", `{"inputs":[{"name":"user_id","shape":[1],"datatype":"INT64","data":[1]}],"outputs":[{"name":"logits"}]}`, 400, "unknown output"},
		{"history out of range", "/v2/models/recsys/infer", inferBody(1, `,{"name":"history","shape":[1],"datatype":"INT64","data":[400]}`), 400, "outside 0 to 399"},
		{"top_k zero", "/v2/models/recsys/infer", `{"parameters":{"top_k":0},"inputs":[{"name":"user_id","shape":[1],"datatype":"INT64","data":[1]}]}`, 400, "top_k"},
		{"top_k text", "/v2/models/recsys/infer", `{"parameters":{"top_k":"ten"},"inputs":[{"name":"user_id","shape":[1],"datatype":"INT64","data":[1]}]}`, 400, "top_k"},
		{"top_k huge", "/v2/models/recsys/infer", `{"parameters":{"top_k":1e9},"inputs":[{"name":"user_id","shape":[1],"datatype":"INT64","data":[1]}]}`, 400, "top_k"},
		{"body too large", "/v2/models/recsys/infer", huge, 413, "exceeds"},
		{"other version", "/v2/models/recsys/versions/v1/infer", inferBody(1, ""), 404, "not served here"},
		{"other model", "/v2/models/x/infer", inferBody(1, ""), 404, "not served here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", ms.URL+tc.path, tc.body)
			var e errorBody
			r.json(t, &e)
			if r.status != tc.status || !strings.Contains(e.Error, tc.want) {
				t.Fatalf("%d %q, want %d saying %q", r.status, e.Error, tc.status, tc.want)
			}
		})
	}
	m := string(do(t, "GET", ms.URL+"/metrics", "").body)
	for _, want := range []string{`recsys_inference_requests_total{code="200"} 3`, `recsys_inference_requests_total{code="400"}`, `recsys_feature_store_requests_total{outcome="ok"} 1`, `recsys_model_info{sha256="` + d.models["v2"].Header.SHA256} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestGoldenSetMatchesServer: faultline's own inference probe, fed the
// golden set built from the model file, finds every answer of a v2 server
// right and most answers of a stale v1 replica wrong.
func TestGoldenSetMatchesServer(t *testing.T) {
	d := getDemo(t)
	fs := featureStore(t)
	dir := modelDir(t, nil)
	gs, err := recsys.GoldenSet(d.models["v2"], d.data, recsys.GoldenUsers(d.data, 24), 10, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(gs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "golden.golden"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version     string
		method      v1alpha1.CompareMethod
		wantOK      bool
		maxMatching int
	}{
		{"", v1alpha1.CompareExact, true, 24},
		{"v2", v1alpha1.CompareNumeric, true, 24},
		{"v1", v1alpha1.CompareExact, false, 0},
	} {
		t.Run("version "+tc.version+" "+string(tc.method), func(t *testing.T) {
			s, ms := modelServer(t, ModelServerConfig{Dir: dir, Version: tc.version, FeatureStoreURL: fs.URL, Replica: "model-server-" + tc.version})
			if err := s.Load(context.Background()); err != nil {
				t.Fatal(err)
			}
			cmp := &v1alpha1.InferenceCompare{Method: tc.method}
			if tc.method == v1alpha1.CompareNumeric {
				tol := 1e-6
				cmp.Tolerance = &tol
			}
			p, err := probe.New(v1alpha1.ExperimentProbe{
				Name: "golden", Type: v1alpha1.ProbeInferenceType, Timeout: "10s",
				Inference: &v1alpha1.ProbeInference{Service: "model-server", Model: "recsys", GoldenSetFile: "golden.golden", Compare: cmp},
			}, probe.StaticEnv{Dir: dir, URLs: map[string]string{"model-server": ms.URL}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res := p.Check(ctx)
			matching := 0
			for _, c := range res.Checks {
				if c.Match {
					matching++
				}
				if c.Replica != "model-server-"+tc.version {
					t.Fatalf("check names replica %q", c.Replica)
				}
			}
			t.Logf("version %q: %d/%d golden answers match: %s", tc.version, matching, len(res.Checks), firstLine(res.Message))
			if res.OK != tc.wantOK || len(res.Checks) != 24 || matching > tc.maxMatching || tc.wantOK && matching != 24 {
				t.Fatalf("probe OK %v with %d/%d matching, want OK %v", res.OK, matching, len(res.Checks), tc.wantOK)
			}
		})
	}
}

func firstLine(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestModelServerReadyOnlyAfterLoad: live at once, ready only once the
// model is loaded.
func TestModelServerReadyOnlyAfterLoad(t *testing.T) {
	s, ms := modelServer(t, ModelServerConfig{Dir: modelDir(t, nil), LoadDelay: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	loaded := make(chan error, 1)
	go func() { loaded <- s.Load(ctx) }()
	if r := do(t, "GET", ms.URL+"/v2/health/live", ""); r.status != 200 {
		t.Fatalf("live while loading: %d", r.status)
	}
	r := do(t, "GET", ms.URL+"/v2/health/ready", "")
	if r.status != 503 || !strings.Contains(string(r.body), "loading") {
		t.Fatalf("ready while loading: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", ms.URL+"/v2/models/recsys/infer", inferBody(1, `,{"name":"history","shape":[0],"datatype":"INT64","data":[]}`)); r.status != 503 {
		t.Fatalf("infer while loading: %d %s", r.status, r.body)
	}
	select {
	case err := <-loaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("load did not finish")
	}
	t.Logf("ready %v after the load started (delay 1s)", time.Since(start).Round(time.Millisecond))
	if r := do(t, "GET", ms.URL+"/v2/health/ready", ""); r.status != 200 {
		t.Fatalf("ready after load: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", ms.URL+"/v2/models/recsys/infer", inferBody(1, `,{"name":"history","shape":[0],"datatype":"INT64","data":[]}`)); r.status != 200 {
		t.Fatalf("infer after load: %d %s", r.status, r.body)
	}
}

// TestModelServerCorruptFileNeverReady: a damaged model file is refused at
// load and the replica stays unready (and serves nothing) for good.
func TestModelServerCorruptFileNeverReady(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		want   string
	}{
		{"flip", func(b []byte) []byte {
			for i := len(b) / 7; i < len(b); i += len(b) / 7 {
				b[i] ^= 0xff
			}
			return b
		}, "corrupt model file"},
		{"one payload value", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[len(b)-16:], 0x3ff0000000000000) // 1.0: plausible, wrong
			return b
		}, "checksum mismatch"},
		{"truncate", func(b []byte) []byte { return b[:len(b)/2] }, "truncated"},
		{"empty", func(b []byte) []byte { return nil }, "does not start with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := modelDir(t, func(v string, b []byte) []byte {
				if v == "v2" {
					return tc.damage(b)
				}
				return b
			})
			s, ms := modelServer(t, ModelServerConfig{Dir: dir})
			err := s.Load(context.Background())
			if !errors.Is(err, recsys.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load: %v, want ErrCorrupt saying %q", err, tc.want)
			}
			// Unready at every look, not just once.
			for range 5 {
				r := do(t, "GET", ms.URL+"/v2/health/ready", "")
				if r.status != 503 || !strings.Contains(string(r.body), tc.want) {
					t.Fatalf("ready: %d %s", r.status, r.body)
				}
				if r := do(t, "POST", ms.URL+"/v2/models/recsys/infer", inferBody(1, `,{"name":"history","shape":[0],"datatype":"INT64","data":[]}`)); r.status != 503 {
					t.Fatalf("infer on a corrupt model: %d %s", r.status, r.body)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if r := do(t, "GET", ms.URL+"/v2/health/live", ""); r.status != 200 {
				t.Fatalf("live: %d", r.status)
			}
			if m := string(do(t, "GET", ms.URL+"/metrics", "").body); !strings.Contains(m, "recsys_model_load_failures_total 1") || !strings.Contains(m, "recsys_model_ready 0") {
				t.Fatal("metrics do not show the failed load")
			}
		})
	}
	// A stale version still loads when the newest is corrupt and it is
	// asked for by name (ModelChaos stale-version).
	dir := modelDir(t, func(v string, b []byte) []byte {
		if v == "v2" {
			return b[:10]
		}
		return b
	})
	s, _ := modelServer(t, ModelServerConfig{Dir: dir, Version: "v1"})
	if err := s.Load(context.Background()); err != nil || !s.Ready() {
		t.Fatalf("v1: %v", err)
	}
	s, _ = modelServer(t, ModelServerConfig{Dir: dir, Version: "v9"})
	if err := s.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing version: %v", err)
	}
	s, _ = modelServer(t, ModelServerConfig{Dir: dir, Version: "../v1"})
	if err := s.Load(context.Background()); err == nil {
		t.Fatal("loaded a version with a path in it")
	}
}

func TestModelServerFeatureStoreDown(t *testing.T) {
	fs := featureStore(t)
	url := fs.URL
	fs.Close()
	s, ms := modelServer(t, ModelServerConfig{Dir: modelDir(t, nil), FeatureStoreURL: url})
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := do(t, "POST", ms.URL+"/v2/models/recsys/infer", inferBody(42, ""))
	var e errorBody
	r.json(t, &e)
	if r.status != http.StatusBadGateway || !strings.Contains(e.Error, "feature store") {
		t.Fatalf("%d %q, want 502 naming the feature store", r.status, e.Error)
	}
	// Requests carrying their features still work.
	if r := do(t, "POST", ms.URL+"/v2/models/recsys/infer", inferBody(42, `,{"name":"history","shape":[1],"datatype":"INT64","data":[5]}`)); r.status != 200 {
		t.Fatalf("with history: %d %s", r.status, r.body)
	}
	s2, ms2 := modelServer(t, ModelServerConfig{Dir: modelDir(t, nil)})
	if err := s2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "POST", ms2.URL+"/v2/models/recsys/infer", inferBody(42, "")); r.status != 503 || !strings.Contains(string(r.body), "FEATURE_STORE_URL") {
		t.Fatalf("no feature store configured: %d %s", r.status, r.body)
	}
}
