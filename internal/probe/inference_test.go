package probe

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// recsys is a tiny Open Inference Protocol server: a recommender whose
// replicas answer in turn (round robin), one of which may serve a stale
// model that ranks a different last item and scores everything 0.01 higher.
type recsys struct {
	replicas  int
	stale     int  // replica serving the stale model; -1 for none
	viaParams bool // say the replica in parameters.replica, not X-Replica
	status    int  // when set, every answer is this status
	garbage   bool // answer 200 with a body that is not OIP
	path      string
	calls     atomic.Int64
}

const topK = 5

// ranking is the healthy model's answer for a user.
func ranking(user int64) ([]int64, []float64) {
	items, scores := make([]int64, topK), make([]float64, topK)
	for i := range topK {
		items[i] = (user*7 + int64(i)*13) % 100
		scores[i] = 0.95 - 0.1*float64(i)
	}
	return items, scores
}

func (m *recsys) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	want := m.path
	if want == "" {
		want = "/v2/models/recsys/infer"
	}
	if r.Method != http.MethodPost || r.URL.Path != want {
		http.Error(w, `{"error":"no such model"}`, http.StatusNotFound)
		return
	}
	replica := int(m.calls.Add(1)-1) % m.replicas
	if m.status != 0 {
		http.Error(w, `{"error":"model not ready"}`, m.status)
		return
	}
	if m.garbage {
		fmt.Fprint(w, "<html>half-loaded</html>")
		return
	}
	var req struct {
		ID     string `json:"id"`
		Inputs []struct {
			Name string  `json:"name"`
			Data []int64 `json:"data"`
		} `json:"inputs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Inputs) != 1 || len(req.Inputs[0].Data) != 1 {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	items, scores := ranking(req.Inputs[0].Data[0])
	if replica == m.stale {
		items[topK-1] = 999
		for i := range scores {
			scores[i] += 0.01
		}
	}
	name := fmt.Sprintf("model-%d", replica)
	resp := map[string]any{
		"model_name": "recsys", "model_version": "2", "id": req.ID,
		"outputs": []map[string]any{
			{"name": "items", "shape": []int{topK}, "datatype": "INT64", "data": items},
			{"name": "scores", "shape": []int{topK}, "datatype": "FP32", "data": scores},
		},
	}
	if m.viaParams {
		resp["parameters"] = map[string]any{"replica": name}
	} else {
		w.Header().Set(ReplicaHeader, name)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// golden is the golden set for users 1..n, expecting the named outputs.
func golden(n int, outputs ...string) []v1alpha1.GoldenRequest {
	var gs []v1alpha1.GoldenRequest
	for u := int64(1); u <= int64(n); u++ {
		items, scores := ranking(u)
		g := v1alpha1.GoldenRequest{
			Name:   fmt.Sprintf("user-%d", u),
			Inputs: []v1alpha1.InferenceTensor{{Name: "user_id", Shape: []int64{1}, Datatype: v1alpha1.DatatypeInt64, Data: []any{u}}},
		}
		for _, o := range outputs {
			switch o {
			case "items":
				d := make([]any, len(items))
				for i, x := range items {
					d[i] = x
				}
				g.Expected = append(g.Expected, v1alpha1.InferenceTensor{Name: "items", Shape: []int64{topK}, Datatype: v1alpha1.DatatypeInt64, Data: d})
			case "scores":
				d := make([]any, len(scores))
				for i, x := range scores {
					d[i] = x
				}
				g.Expected = append(g.Expected, v1alpha1.InferenceTensor{Name: "scores", Shape: []int64{topK}, Datatype: v1alpha1.DatatypeFP32, Data: d})
			}
		}
		gs = append(gs, g)
	}
	return gs
}

func TestInferenceProbe(t *testing.T) {
	topk := func(k int32, m float64) *v1alpha1.InferenceCompare {
		return &v1alpha1.InferenceCompare{Method: v1alpha1.CompareTopK, K: k, MinOverlap: &m}
	}
	numeric := func(tol float64) *v1alpha1.InferenceCompare {
		return &v1alpha1.InferenceCompare{Method: v1alpha1.CompareNumeric, Tolerance: &tol}
	}
	staleItems, _ := ranking(3)
	healthy := fmt.Sprint(staleItems)
	staleItems[topK-1] = 999
	stale := fmt.Sprint(staleItems)

	type mismatch struct{ request, detail, replica string }
	tests := []struct {
		name    string
		server  *recsys
		version string
		compare *v1alpha1.InferenceCompare
		outputs []string
		ok      bool
		msg     []string
		checks  int
		want    []mismatch // the checks that must not match
	}{
		{name: "healthy replicas match exactly", server: &recsys{replicas: 3, stale: -1}, outputs: []string{"items", "scores"},
			ok: true, msg: []string{"3/3 golden answers match (exact)"}, checks: 3},
		{name: "stale replica caught by exact", server: &recsys{replicas: 3, stale: 2}, outputs: []string{"items"},
			msg:    []string{"1 of 3 golden answers differ; first: user-3 (replica model-2): items: expected " + healthy + ", got " + stale},
			checks: 3, want: []mismatch{{"user-3", "items: expected " + healthy + ", got " + stale, "model-2"}}},
		{name: "replica from parameters.replica", server: &recsys{replicas: 3, stale: 2, viaParams: true}, outputs: []string{"items"},
			checks: 3, want: []mismatch{{"user-3", "items: expected", "model-2"}}},
		{name: "stale scores differ exactly too", server: &recsys{replicas: 3, stale: 0}, outputs: []string{"scores"},
			checks: 3, want: []mismatch{{"user-1", "scores: expected [0.95 0.85", "model-0"}}},
		{name: "topk tolerates partial overlap", server: &recsys{replicas: 3, stale: 2}, compare: topk(5, 0.8), outputs: []string{"items"},
			ok: true, msg: []string{"3/3 golden answers match (top-5 overlap ≥ 0.8)"}, checks: 3},
		{name: "topk needs full overlap", server: &recsys{replicas: 3, stale: 2}, compare: topk(5, 1), outputs: []string{"items"},
			checks: 3, want: []mismatch{{"user-3", "items: top-5 overlap 4/5, need 5: expected " + healthy + ", got " + stale, "model-2"}}},
		{name: "topk on a shorter prefix ignores the stale tail", server: &recsys{replicas: 3, stale: 2}, compare: topk(3, 1), outputs: []string{"items"},
			ok: true, checks: 3},
		{name: "numeric within tolerance", server: &recsys{replicas: 3, stale: 1}, compare: numeric(0.05), outputs: []string{"scores"},
			ok: true, msg: []string{"numeric, tolerance 0.05"}, checks: 3},
		{name: "numeric beyond tolerance", server: &recsys{replicas: 3, stale: 1}, compare: numeric(0.001), outputs: []string{"scores"},
			checks: 3, want: []mismatch{{"user-2", "scores: 5 of 5 elements beyond tolerance 0.001 (largest off 0.01", "model-1"}}},
		{name: "versioned model path", server: &recsys{replicas: 1, stale: -1, path: "/v2/models/recsys/versions/2/infer"}, version: "2",
			outputs: []string{"items"}, ok: true, checks: 3},
		{name: "unready server is unavailable, not inconsistent", server: &recsys{replicas: 1, stale: -1, status: 503}, outputs: []string{"items"},
			msg: []string{"3 of 3 golden requests got no answer; first: user-1: status 503", "model not ready"}, checks: 0},
		{name: "garbage answer is a mismatch", server: &recsys{replicas: 1, stale: -1, garbage: true}, outputs: []string{"items"},
			checks: 3, want: []mismatch{{"user-1", "not an Open Inference Protocol response", ""}, {"user-2", "", ""}, {"user-3", "", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.server)
			defer srv.Close()
			p := mustNew(t, v1alpha1.ExperimentProbe{Name: "consistency", Type: v1alpha1.ProbeInferenceType,
				Inference: &v1alpha1.ProbeInference{URL: srv.URL, Model: "recsys", Version: tc.version,
					Requests: golden(3, tc.outputs...), Compare: tc.compare}}, nil)
			r := check(t, p)
			checkWant(t, r, tc.ok, tc.msg...)
			if len(r.Checks) != tc.checks {
				t.Fatalf("%d checks, want %d: %+v", len(r.Checks), tc.checks, r.Checks)
			}
			bad := map[string]timeline.Check{}
			for i, c := range r.Checks {
				if c.Probe != "consistency" || c.Request != fmt.Sprintf("user-%d", i+1) || c.At < 0 {
					t.Errorf("check %d: %+v", i, c)
				}
				if i > 0 && c.At < r.Checks[i-1].At {
					t.Errorf("check %d At %v before the previous %v", i, c.At, r.Checks[i-1].At)
				}
				if !c.Match {
					bad[c.Request] = c
				} else if c.Detail != "" {
					t.Errorf("matching check %s has detail %q", c.Request, c.Detail)
				}
			}
			if len(bad) != len(tc.want) {
				t.Errorf("mismatches %+v, want %+v", bad, tc.want)
			}
			for _, w := range tc.want {
				c, ok := bad[w.request]
				if !ok {
					t.Errorf("request %s matched, want a mismatch", w.request)
					continue
				}
				if !strings.Contains(c.Detail, w.detail) || c.Replica != w.replica {
					t.Errorf("mismatch %s: detail %q replica %q; want detail containing %q, replica %q", w.request, c.Detail, c.Replica, w.detail, w.replica)
				}
			}
		})
	}
}

func TestInferenceProbeMissingOutput(t *testing.T) {
	srv := httptest.NewServer(&recsys{replicas: 1, stale: -1})
	defer srv.Close()
	gs := golden(1, "items")
	gs[0].Expected[0].Name = "ranking"
	p := mustNew(t, v1alpha1.ExperimentProbe{Name: "c", Type: v1alpha1.ProbeInferenceType,
		Inference: &v1alpha1.ProbeInference{URL: srv.URL, Model: "recsys", Requests: gs}}, nil)
	r := check(t, p)
	checkWant(t, r, false, "ranking: missing from the answer (outputs: items, scores)")
}

func TestInferenceProbeService(t *testing.T) {
	srv := httptest.NewServer(&recsys{replicas: 1, stale: -1})
	defer srv.Close()
	p := mustNew(t, v1alpha1.ExperimentProbe{Name: "c", Type: v1alpha1.ProbeInferenceType,
		Inference: &v1alpha1.ProbeInference{Service: "model", Model: "recsys", Requests: golden(2, "items")}},
		StaticEnv{URLs: map[string]string{"model": srv.URL + "/"}})
	checkWant(t, check(t, p), true, "2/2 golden answers match")
}

const goldenYAML = `# two users of the recommender
- name: user-1
  parameters: {top_k: 5}
  inputs:
    - {name: user_id, shape: [1], datatype: INT64, data: [1]}
  expected:
    - name: items
      shape: [5]
      datatype: INT64
      data: [7, 20, 33, 46, 59]
- inputs:
    - {name: user_id, shape: [1], datatype: INT64, data: [2]}
  expected:
    - {name: items, shape: [5], datatype: INT64, data: [[14, 27], [40, 53, 66]]}
`

const goldenJSON = `[
  {"name": "user-1",
   "inputs": [{"name": "user_id", "shape": [1], "datatype": "INT64", "data": [1]}],
   "expected": [{"name": "scores", "shape": [5], "datatype": "FP32", "data": [0.95, 0.85, 0.75, 0.65, 0.55]}]}
]`

func TestGoldenSetFile(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"golden.yaml":      goldenYAML,
		"golden.json":      goldenJSON,
		"empty.yaml":       "",
		"emptylist.json":   "[]",
		"typo.yaml":        "- name: a\n  inputs: [{name: x, shape: [1], datatype: INT64, data: [1]}]\n  expect: []\n",
		"noexpected.yaml":  "- name: a\n  inputs: [{name: x, shape: [1], datatype: INT64, data: [1]}]\n",
		"noinputs.yaml":    "- name: a\n  expected: [{name: y, shape: [1], datatype: INT64, data: [1]}]\n",
		"dup.yaml":         "- {name: a, inputs: [{name: x, data: [1]}], expected: [{name: y, data: [1]}]}\n- {name: a, inputs: [{name: x, data: [1]}], expected: [{name: y, data: [1]}]}\n",
		"notalist.yaml":    "name: a\n",
		"unnamedout.yaml":  "- {inputs: [{name: x, data: [1]}], expected: [{data: [1]}]}\n",
		"syntaxerror.yaml": "- name: [\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(&recsys{replicas: 1, stale: -1})
	defer srv.Close()
	env := StaticEnv{Dir: dir}
	tests := []struct {
		file    string
		compare *v1alpha1.InferenceCompare
		msg     string // of the check, when New succeeds
		err     string // of New
	}{
		{file: "golden.yaml", msg: "2/2 golden answers match"},
		{file: "golden.json", compare: &v1alpha1.InferenceCompare{Method: v1alpha1.CompareNumeric}, msg: "1/1 golden answers match"},
		{file: "missing.yaml", err: "no such file"},
		{file: "empty.yaml", err: "golden set empty.yaml is empty"},
		{file: "emptylist.json", err: "holds no requests"},
		{file: "typo.yaml", err: `unknown field "expect"`},
		{file: "noexpected.yaml", err: "request a has no expected outputs"},
		{file: "noinputs.yaml", err: "request a has no inputs"},
		{file: "dup.yaml", err: `requests 1 and 2 are both named "a"`},
		{file: "notalist.yaml", err: "golden set notalist.yaml"},
		{file: "unnamedout.yaml", err: "request #1: an expected output has no name"},
		{file: "syntaxerror.yaml", err: "golden set syntaxerror.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			p, err := New(v1alpha1.ExperimentProbe{Name: "c", Type: v1alpha1.ProbeInferenceType,
				Inference: &v1alpha1.ProbeInference{URL: srv.URL, Model: "recsys", GoldenSetFile: tc.file, Compare: tc.compare}}, env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("New error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := check(t, p)
			checkWant(t, r, true, tc.msg)
			if tc.file == "golden.yaml" && len(r.Checks) == 2 && (r.Checks[0].Request != "user-1" || r.Checks[1].Request != "#2") {
				t.Errorf("request names %q, %q; want user-1 and the default #2", r.Checks[0].Request, r.Checks[1].Request)
			}
		})
	}
}

func TestCompareElements(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name     string
		cmp      comparison
		exp, got any
		datatype [2]string
		detail   string // "" means a match
	}{
		{name: "int vs float of the same value", cmp: comparison{method: v1alpha1.CompareExact}, exp: []any{int64(3)}, got: []any{n("3.0")}},
		{name: "big int64 exact", cmp: comparison{method: v1alpha1.CompareExact}, exp: []any{int64(9007199254740993)}, got: []any{n("9007199254740992")},
			detail: "expected [9007199254740993], got [9007199254740992]"},
		{name: "uint64 from YAML", cmp: comparison{method: v1alpha1.CompareExact}, exp: []any{uint64(7)}, got: []any{n("7")}},
		{name: "strings", cmp: comparison{method: v1alpha1.CompareExact}, exp: []any{"a", "b"}, got: []any{"a", "c"}, detail: `expected ["a" "b"], got ["a" "c"]`},
		{name: "string is not a number", cmp: comparison{method: v1alpha1.CompareExact}, exp: []any{"3"}, got: []any{n("3")}, detail: `expected ["3"], got [3]`},
		{name: "length differs", cmp: comparison{method: v1alpha1.CompareExact}, exp: []any{int64(1), int64(2)}, got: []any{n("1")}, detail: "expected [1 2], got [1]"},
		{name: "datatype differs", cmp: comparison{method: v1alpha1.CompareExact}, exp: []any{int64(1)}, got: []any{n("1")}, datatype: [2]string{"INT64", "INT32"},
			detail: "datatype expected INT64, got INT32"},
		{name: "topk dedupes and ignores order", cmp: comparison{method: v1alpha1.CompareTopK, k: 3, minOverlap: 1}, exp: []any{int64(1), int64(2), int64(3)},
			got: []any{n("3"), n("1"), n("2"), n("9")}},
		{name: "topk 0.8 of 10 is 8", cmp: comparison{method: v1alpha1.CompareTopK, k: 10, minOverlap: 0.8},
			exp: []any{int64(0), int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), int64(9)},
			got: []any{n("0"), n("1"), n("2"), n("3"), n("4"), n("5"), n("6"), n("7"), n("98"), n("99")}},
		{name: "topk 7 of 10 is short", cmp: comparison{method: v1alpha1.CompareTopK, k: 10, minOverlap: 0.8},
			exp:    []any{int64(0), int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), int64(9)},
			got:    []any{n("0"), n("1"), n("2"), n("3"), n("4"), n("5"), n("6"), n("97"), n("98"), n("99")},
			detail: "top-10 overlap 7/10, need 8"},
		{name: "topk short answer", cmp: comparison{method: v1alpha1.CompareTopK, k: 3, minOverlap: 1}, exp: []any{int64(1), int64(2), int64(3)},
			got: []any{n("1")}, detail: "top-3 overlap 1/3, need 3: expected [1 2 3], got [1]"},
		{name: "numeric count differs", cmp: comparison{method: v1alpha1.CompareNumeric, tolerance: 1}, exp: []any{1.0, 2.0}, got: []any{n("1")},
			detail: "expected 2 elements, got 1"},
		{name: "numeric big ints stay exact", cmp: comparison{method: v1alpha1.CompareNumeric}, exp: []any{int64(9007199254740993)},
			got: []any{n("9007199254740992")}, detail: "1 of 1 elements beyond tolerance 0 (largest off 1 at element 0)"},
		{name: "numeric nested data", cmp: comparison{method: v1alpha1.CompareNumeric, tolerance: 0.1}, exp: []any{[]any{1.0, 2.0}, []any{3.0}},
			got: []any{n("1.05"), n("2"), n("2.95")}},
		{name: "long lists elide", cmp: comparison{method: v1alpha1.CompareExact}, exp: seq(30, false), got: seq(30, true),
			detail: "expected [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 …10 more… 26 27 28 29], got [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 …10 more… 26 27 28 -1] (first difference at element 29)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := v1alpha1.InferenceTensor{Name: "out", Data: tc.exp, Datatype: v1alpha1.InferenceDatatype(tc.datatype[0])}
			got := oipTensor{Name: "out", Data: tc.got, Datatype: tc.datatype[1]}
			d := tc.cmp.output(want, got)
			if tc.detail == "" && d != "" {
				t.Errorf("mismatch %q, want a match", d)
			}
			if tc.detail != "" && !strings.Contains(d, tc.detail) {
				t.Errorf("detail %q, want %q", d, tc.detail)
			}
		})
	}
}

// seq is 0..n-1: as YAML decodes it (int64), or as JSON numbers with the
// last one replaced by -1.
func seq(n int, answer bool) []any {
	out := make([]any, n)
	for i := range out {
		switch {
		case !answer:
			out[i] = int64(i)
		case i == n-1:
			out[i] = json.Number("-1")
		default:
			out[i] = json.Number(fmt.Sprint(i))
		}
	}
	return out
}
