package serving

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/demo/recsys"
)

// TestGatewayEndToEnd: gateway → feature store and model server, all real
// servers on loopback; answers equal the model file's, and a failing hop is
// a 5xx naming it.
func TestGatewayEndToEnd(t *testing.T) {
	d := getDemo(t)
	fs := featureStore(t)
	s, ms := modelServer(t, ModelServerConfig{Dir: modelDir(t, nil), FeatureStoreURL: fs.URL, Replica: "model-server-0"})
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	g, err := NewGateway(GatewayConfig{FeatureStoreURL: fs.URL, ModelServerURL: ms.URL, Replica: "gateway-0"})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, g.Handler())

	for _, tc := range []struct {
		method, path, body string
		user               int64
		k                  int
	}{
		{"GET", "/recommend?user=42", "", 42, 10},
		{"GET", "/recommend?user=599&k=25", "", 599, 25},
		{"POST", "/recommend", `{"user": 7, "k": 5}`, 7, 5},
	} {
		var rec Recommendation
		r := do(t, tc.method, gw.URL+tc.path, tc.body)
		r.json(t, &rec)
		f, _ := d.data.Features(tc.user)
		want := expectedItems(t, d.models["v2"], tc.user, f.History, tc.k)
		got := make([]int32, len(rec.Items))
		for i, it := range rec.Items {
			got[i] = int32(it.Item)
		}
		if r.status != 200 || !slices.Equal(got, want) || rec.ModelVersion != "v2" || rec.Replica != "model-server-0" || rec.Segment != f.Segment {
			t.Fatalf("%s %s: %d %s; want items %v", tc.method, tc.path, r.status, r.body, want)
		}
		for i := 1; i < len(rec.Items); i++ {
			if rec.Items[i].Score > rec.Items[i-1].Score {
				t.Fatalf("scores not descending: %+v", rec.Items)
			}
		}
	}

	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/recommend", "", 400, "user"},
		{"GET", "/recommend?user=abc", "", 400, "integer user id"},
		{"GET", "/recommend?user=1&k=0", "", 400, "k 0"},
		{"GET", "/recommend?user=1&k=x", "", 400, "k="},
		{"GET", "/recommend?user=100000", "", 404, "feature store: status 404: user 100000 is unknown"},
		{"POST", "/recommend", `{"user": 1, "kk": 3}`, 400, "unknown field"},
		{"POST", "/recommend", `{"k": 3}`, 400, `"user" is required`},
		{"POST", "/recommend", `[`, 400, "body"},
		{"POST", "/recommend", `{"user": 1, "pad": "` + strings.Repeat("x", maxRequestBody) + `"}`, 413, "exceeds"},
	} {
		var e errorBody
		r := do(t, tc.method, gw.URL+tc.path, tc.body)
		r.json(t, &e)
		if r.status != tc.status || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s %s: %d %q, want %d saying %q", tc.method, tc.path, r.status, e.Error, tc.status, tc.want)
		}
	}

	// A model server that cannot load (corrupt file) is a 502 naming it.
	bad, badSrv := modelServer(t, ModelServerConfig{Dir: modelDir(t, func(v string, b []byte) []byte { return b[:len(b)-1] }), FeatureStoreURL: fs.URL})
	if err := bad.Load(context.Background()); err == nil {
		t.Fatal("loaded a truncated model")
	}
	g2, err := NewGateway(GatewayConfig{FeatureStoreURL: fs.URL, ModelServerURL: badSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	gw2 := serve(t, g2.Handler())
	var e errorBody
	r := do(t, "GET", gw2.URL+"/recommend?user=3", "")
	r.json(t, &e)
	if r.status != 502 || !strings.Contains(e.Error, "model server: status 503") || !strings.Contains(e.Error, "truncated") {
		t.Fatalf("corrupt model server: %d %q", r.status, e.Error)
	}

	// Hops that are down: a 502 naming the hop.
	ms.Close()
	r = do(t, "GET", gw.URL+"/recommend?user=3", "")
	e = errorBody{}
	r.json(t, &e)
	if r.status != 502 || !strings.Contains(e.Error, "model server") {
		t.Fatalf("model server down: %d %q", r.status, e.Error)
	}
	fs.Close()
	r = do(t, "GET", gw.URL+"/recommend?user=3", "")
	e = errorBody{}
	r.json(t, &e)
	if r.status != 502 || !strings.Contains(e.Error, "feature store") {
		t.Fatalf("feature store down: %d %q", r.status, e.Error)
	}
	m := string(do(t, "GET", gw.URL+"/metrics", "").body)
	for _, want := range []string{`recsys_gateway_requests_total{code="200"} 3`, `recsys_gateway_requests_total{code="502"} 2`, `recsys_gateway_upstream_seconds_count{outcome="error",upstream="feature-store"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestGatewayUpstreamTimeout: a model server slower than the gateway's
// timeout is a 504 naming it, within the bound.
func TestGatewayUpstreamTimeout(t *testing.T) {
	fs := featureStore(t)
	release := make(chan struct{})
	defer close(release)
	slow := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	g, err := NewGateway(GatewayConfig{FeatureStoreURL: fs.URL, ModelServerURL: slow.URL, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, g.Handler())
	var e errorBody
	r := do(t, "GET", gw.URL+"/recommend?user=3", "")
	r.json(t, &e)
	if r.status != 504 || !strings.Contains(e.Error, "model server") {
		t.Fatalf("%d %q, want 504 naming the model server", r.status, e.Error)
	}
}

// TestGatewayRetriesADroppedConnection: a model server replica that dies
// mid-request (the connection closes without an answer) costs one retry,
// not an error; a second drop in a row is an error.
func TestGatewayRetriesADroppedConnection(t *testing.T) {
	d := getDemo(t)
	fs := featureStore(t)
	// The model server's handler runs behind a front that drops the
	// first connections without an answer, as a killed replica does.
	s, _ := modelServer(t, ModelServerConfig{Dir: modelDir(t, nil), FeatureStoreURL: fs.URL})
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	var calls, drops atomic.Int32
	drops.Store(1)
	flaky := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if drops.Add(-1) >= 0 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		r.URL.Scheme, r.URL.Host = "", ""
		s.Handler().ServeHTTP(w, r)
	}))
	g, err := NewGateway(GatewayConfig{FeatureStoreURL: fs.URL, ModelServerURL: flaky.URL})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, g.Handler())
	var rec Recommendation
	r := do(t, "GET", gw.URL+"/recommend?user=9", "")
	r.json(t, &rec)
	f, _ := d.data.Features(9)
	if r.status != 200 || calls.Load() != 2 || int32(rec.Items[0].Item) != expectedItems(t, d.models["v2"], 9, f.History, 1)[0] {
		t.Fatalf("after one drop: %d %s, %d calls", r.status, r.body, calls.Load())
	}
	calls.Store(0)
	drops.Store(2)
	r = do(t, "GET", gw.URL+"/recommend?user=9", "")
	if r.status != 502 || calls.Load() != 2 {
		t.Fatalf("after two drops: %d %s, %d calls", r.status, r.body, calls.Load())
	}
}

func TestFeatureStore(t *testing.T) {
	d := getDemo(t)
	fs := featureStore(t)
	var f recsys.Features
	r := do(t, "GET", fs.URL+"/v1/users/42/features", "")
	r.json(t, &f)
	want, _ := d.data.Features(42)
	if r.status != 200 || !slices.Equal(f.History, want.History) || f.Segment != want.Segment || r.header.Get(ReplicaHeader) != "feature-store-0" {
		t.Fatalf("features: %d %s", r.status, r.body)
	}
	var it ItemFacts
	r = do(t, "GET", fs.URL+"/v1/items/17", "")
	r.json(t, &it)
	if r.status != 200 || it.ItemID != 17 || it.Popularity != d.data.Popularity(17) {
		t.Fatalf("item: %d %s", r.status, r.body)
	}
	for path, status := range map[string]int{
		"/v1/users/x/features": 400, "/v1/users/-1/features": 404, "/v1/users/600/features": 404,
		"/v1/items/400": 404, "/v1/items/99999999999": 400, "/healthz": 200, "/ready": 200, "/metrics": 200,
	} {
		if r := do(t, "GET", fs.URL+path, ""); r.status != status {
			t.Errorf("GET %s: %d, want %d", path, r.status, status)
		}
	}
}

// TestTrainerInProcess: the trainer checkpoints, keeps the newest few, and
// a second run resumes where the first stopped.
func TestTrainerInProcess(t *testing.T) {
	dir := t.TempDir()
	cfg := TrainerConfig{Dir: dir, Every: 10, Keep: 2, Steps: 35, Data: recsys.DefaultDataConfig(),
		Train: recsys.TrainConfig{Seed: 3, Dims: 8, BatchSize: 32, LearnRate: 0.05, Reg: 0.01}}
	run := func() TrainerStatus {
		tr, err := NewTrainer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := tr.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return tr.Status()
	}
	st := run()
	if st.Step != 35 || !st.Done || st.ResumedFrom != nil || st.LastCheckpoint == nil || *st.LastCheckpoint != 35 {
		t.Fatalf("first run: %+v", st)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{recsys.CheckpointName(30), recsys.CheckpointName(35)}) {
		t.Fatalf("checkpoints %v, want steps 30 and 35", names)
	}
	cfg.Steps = 50
	st2 := run()
	if st2.ResumedFrom == nil || *st2.ResumedFrom != 35 || st2.Step != 50 {
		t.Fatalf("second run: %+v", st2)
	}
}
