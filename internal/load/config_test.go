package load

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := m[name]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}
}

func TestFromSpec(t *testing.T) {
	read := files(map[string]string{"body.json": `{"q":1}`, "bodies.jsonl": "{\"a\":1}\r\n\n{\"b\":2}\n"})
	tests := []struct {
		name string
		spec v1alpha1.LoadSpec
		base string
		want Config
	}{
		{name: "service with path and defaults", base: "http://127.0.0.1:9000",
			spec: v1alpha1.LoadSpec{Target: "api", Rate: ptr(50.0), Path: "/predict", Duration: "10s"},
			want: Config{URL: "http://127.0.0.1:9000/predict", Method: "GET", Header: http.Header{}, Rate: 50, Duration: 10 * time.Second}},
		{name: "path with a query is a request target, not escaped", base: "http://127.0.0.1:9000",
			spec: v1alpha1.LoadSpec{Target: "gw", Rate: ptr(5.0), Path: "/recommend?user=42&k=5"},
			want: Config{URL: "http://127.0.0.1:9000/recommend?user=42&k=5", Method: "GET", Header: http.Header{}, Rate: 5}},
		{name: "URL target keeps its path", base: "http://127.0.0.1:9000/v1/x?k=1",
			spec: v1alpha1.LoadSpec{Rate: ptr(1.0)},
			want: Config{URL: "http://127.0.0.1:9000/v1/x?k=1", Method: "GET", Header: http.Header{}, Rate: 1}},
		{name: "bare host gets /", base: "http://127.0.0.1:9000",
			spec: v1alpha1.LoadSpec{Rate: ptr(1.0)},
			want: Config{URL: "http://127.0.0.1:9000/", Method: "GET", Header: http.Header{}, Rate: 1}},
		{name: "body means POST; headers canonical; everything parsed", base: "http://h:1/",
			spec: v1alpha1.LoadSpec{Ramp: &v1alpha1.LoadRamp{From: 1, To: 9, Over: "30s"}, Body: "hi",
				Headers: map[string]string{"x-api-key": "k"}, Timeout: "250ms", ExpectedStatus: []int32{200, 202}, MaxWorkers: ptr(int32(3))},
			want: Config{URL: "http://h:1/", Method: "POST", Header: http.Header{"X-Api-Key": {"k"}}, Bodies: [][]byte{[]byte("hi")},
				Ramp: &Ramp{From: 1, To: 9, Over: 30 * time.Second}, Timeout: 250 * time.Millisecond, ExpectedStatus: []int{200, 202}, MaxWorkers: 3}},
		{name: "bodyFile", base: "http://h:1", spec: v1alpha1.LoadSpec{Rate: ptr(1.0), BodyFile: "body.json", Method: "put"},
			want: Config{URL: "http://h:1/", Method: "PUT", Header: http.Header{}, Bodies: [][]byte{[]byte(`{"q":1}`)}, Rate: 1}},
		{name: "bodies", base: "http://h:1", spec: v1alpha1.LoadSpec{Rate: ptr(1.0), Bodies: []string{"a", "b"}},
			want: Config{URL: "http://h:1/", Method: "POST", Header: http.Header{}, Bodies: [][]byte{[]byte("a"), []byte("b")}, Rate: 1}},
		{name: "bodiesFile: JSON lines, blank and CR dropped", base: "http://h:1", spec: v1alpha1.LoadSpec{Rate: ptr(1.0), BodiesFile: "bodies.jsonl"},
			want: Config{URL: "http://h:1/", Method: "POST", Header: http.Header{}, Bodies: [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}, Rate: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromSpec(&tt.spec, tt.base, read)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FromSpec =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestFromSpecErrors(t *testing.T) {
	tests := []struct {
		name, base, want string
		spec             v1alpha1.LoadSpec
	}{
		{name: "nil", want: "no load spec"},
		{name: "bad URL", base: "tcp://127.0.0.1:80", spec: v1alpha1.LoadSpec{Rate: ptr(1.0)}, want: "not an http(s) URL"},
		{name: "no rate", base: "http://h/", want: "rate or ramp is required"},
		{name: "rate and ramp", base: "http://h/", spec: v1alpha1.LoadSpec{Rate: ptr(1.0), Ramp: &v1alpha1.LoadRamp{To: 1}}, want: "exclude"},
		{name: "zero rate", base: "http://h/", spec: v1alpha1.LoadSpec{Rate: ptr(0.0)}, want: "greater than 0"},
		{name: "bad duration", base: "http://h/", spec: v1alpha1.LoadSpec{Rate: ptr(1.0), Duration: "soon"}, want: "duration"},
		{name: "bad timeout", base: "http://h/", spec: v1alpha1.LoadSpec{Rate: ptr(1.0), Timeout: "-1s"}, want: "timeout"},
		{name: "missing file", base: "http://h/", spec: v1alpha1.LoadSpec{Rate: ptr(1.0), BodyFile: "nope"}, want: "reading nope: no such file"},
		{name: "empty bodies file", base: "http://h/", spec: v1alpha1.LoadSpec{Rate: ptr(1.0), BodiesFile: "empty"}, want: "holds no bodies"},
		{name: "unencodable inference", base: "http://h/", spec: v1alpha1.LoadSpec{Rate: ptr(1.0),
			Inference: &v1alpha1.InferenceRequest{Model: "m", Inputs: []v1alpha1.InferenceTensor{{Name: "x", Data: map[any]any{1: 2}}}}},
			want: "encoding the inference request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var spec *v1alpha1.LoadSpec
			if tt.name != "nil" {
				spec = &tt.spec
			}
			_, err := FromSpec(spec, tt.base, files(map[string]string{"empty": "\n\n"}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FromSpec error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// The server must see exactly the KServe v2 request: POST to the model's
// infer endpoint, JSON content type, and the payload without model and
// version (those are in the path).
func TestInferenceRequest(t *testing.T) {
	spec := v1alpha1.LoadSpec{
		Target: "model-server", Rate: ptr(20.0), Duration: "300ms",
		Inference: &v1alpha1.InferenceRequest{
			Model: "recsys", Version: "2", ID: "load",
			Parameters: map[string]v1alpha1.Raw{"priority": 1},
			Inputs: []v1alpha1.InferenceTensor{
				{Name: "user_id", Shape: []int64{1}, Datatype: v1alpha1.DatatypeInt64, Data: []any{42}},
				{Name: "features", Shape: []int64{1, 2}, Datatype: v1alpha1.DatatypeFP32, Data: []any{[]any{0.5, 1.5}}},
			},
			Outputs: []v1alpha1.InferenceRequestedOutput{{Name: "scores"}},
		},
	}
	const wantBody = `{"id":"load","parameters":{"priority":1},"inputs":[` +
		`{"name":"user_id","shape":[1],"datatype":"INT64","data":[42]},` +
		`{"name":"features","shape":[1,2],"datatype":"FP32","data":[[0.5,1.5]]}],` +
		`"outputs":[{"name":"scores"}]}`
	type seen struct{ method, path, ctype, body string }
	got := make(chan seen, 100)
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"model_name": "recsys", "outputs": []any{}})
	})
	cfg, err := FromSpec(&spec, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := New(cfg, nil)
	if err := g.Run(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	close(got)
	n := 0
	for s := range got {
		n++
		want := seen{"POST", "/v2/models/recsys/versions/2/infer", "application/json", wantBody}
		if s != want {
			t.Fatalf("server saw\n%+v\nwant\n%+v", s, want)
		}
	}
	if tot := g.Totals(); n != 6 || tot.OK != 6 {
		t.Errorf("server saw %d requests, %d OK; want 6", n, tot.OK)
	}
	// Without a version the path has no /versions/.
	spec.Inference.Version = ""
	cfg, err = FromSpec(&spec, "http://gw:8080/prefix/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://gw:8080/prefix/v2/models/recsys/infer" || cfg.Method != "POST" {
		t.Errorf("URL %s %s", cfg.Method, cfg.URL)
	}
}

func TestResolveDefaults(t *testing.T) {
	tests := []struct {
		name               string
		cfg                Config
		workers, queueSize int
		timeout            time.Duration
	}{
		{name: "at least 16", cfg: Config{Rate: 1, Duration: time.Second}, workers: 16, queueSize: 16, timeout: 5 * time.Second},
		{name: "peak × timeout", cfg: Config{Ramp: &Ramp{From: 10, To: 200}, Duration: time.Second, Timeout: time.Second},
			workers: 200, queueSize: 200, timeout: time.Second},
		{name: "queue: a second at the peak rate", cfg: Config{Rate: 500, Duration: time.Second, Timeout: 10 * time.Millisecond},
			workers: 16, queueSize: 500, timeout: 10 * time.Millisecond},
		{name: "derived default capped", cfg: Config{Rate: 1e6, Duration: time.Second}, workers: 10000, queueSize: 1e6, timeout: 5 * time.Second},
		{name: "explicit kept", cfg: Config{Rate: 1e6, Duration: time.Second, MaxWorkers: 20000, QueueSize: 5}, workers: 20000, queueSize: 5, timeout: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.URL = "http://127.0.0.1/"
			c, err := tt.cfg.resolve()
			if err != nil {
				t.Fatal(err)
			}
			if c.MaxWorkers != tt.workers || c.QueueSize != tt.queueSize || c.Timeout != tt.timeout {
				t.Errorf("workers %d, queue %d, timeout %v; want %d, %d, %v", c.MaxWorkers, c.QueueSize, c.Timeout, tt.workers, tt.queueSize, tt.timeout)
			}
			if tt.cfg.Ramp != nil && c.Ramp.Over != c.Duration {
				t.Errorf("ramp over %v, want the whole duration %v", c.Ramp.Over, c.Duration)
			}
		})
	}
}
