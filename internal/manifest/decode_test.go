package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// compatDir is the upstream Chaos Mesh example corpus, kept beside the
// project in ../shared. Tests fail loudly when it is missing: silently
// skipping would hide a compatibility regression.
func compatDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../../../shared/compat/chaos-mesh/examples")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("Chaos Mesh compat corpus missing at %s (expected ../shared beside the repository): %v", dir, err)
	}
	return dir
}

func compatFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(compatDir(t), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("compat corpus has %d files, expected at least 40", len(files))
	}
	return files
}

func TestCompatExamplesValidate(t *testing.T) {
	for _, f := range compatFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res := Load([]Source{{Name: filepath.Base(f), Data: data}})
			if len(res.Diagnostics) > 0 {
				t.Fatalf("upstream example rejected:\n%s", res.Diagnostics.Error())
			}
			if len(res.Documents) != 1 {
				t.Fatalf("got %d documents, want 1", len(res.Documents))
			}
			if res.Documents[0].Object.GetTypeMeta().APIVersion != v1alpha1.ChaosMeshAPIVersion {
				t.Fatalf("apiVersion = %q", res.Documents[0].Object.GetTypeMeta().APIVersion)
			}
		})
	}
}

// TestCompatRoundTrip: decode → encode (JSON) → decode gives the same value,
// so nothing a user wrote is lost or changed by faultline's types.
func TestCompatRoundTrip(t *testing.T) {
	for _, f := range compatFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs, diags := Decode("a.yaml", data)
			if diags.HasErrors() || len(docs) != 1 {
				t.Fatalf("decode: %v", diags)
			}
			enc, err := json.Marshal(docs[0].Object)
			if err != nil {
				t.Fatal(err)
			}
			docs2, diags := Decode("b.json", enc)
			if diags.HasErrors() || len(docs2) != 1 {
				t.Fatalf("decode of encoded form: %v\n%s", diags, enc)
			}
			if !reflect.DeepEqual(docs[0].Object, docs2[0].Object) {
				enc2, _ := json.Marshal(docs2[0].Object)
				t.Fatalf("round trip changed the object:\nfirst:  %s\nsecond: %s", enc, enc2)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	podChaos := func(spec string) string {
		return "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata:\n  name: p\nspec:\n" + spec
	}
	tests := []struct {
		name string
		in   string
		// each want is "line:col path substring"
		want []string
	}{
		{"unknown field with suggestion", podChaos("  action: pod-kill\n  mode: one\n  selectr: {}\n"),
			[]string{`8:3 spec.selectr unknown field "selectr"`, `did you mean "selector"`}},
		{"duplicate key", podChaos("  action: pod-kill\n  mode: one\n  mode: all\n"),
			[]string{`8:3 spec.mode duplicate key "mode" (first written at line 7)`}},
		{"tab indentation", "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata:\n\tname: p\n",
			[]string{`4:1  tab character in indentation`}},
		{"number for string", podChaos("  action: pod-kill\n  mode: one\n  duration: 30\n"),
			[]string{`8:13 spec.duration must be a string, not an integer 30`, `quote it: "30"`}},
		{"string for integer", podChaos("  action: pod-kill\n  mode: one\n  gracePeriod: \"5\"\n"),
			[]string{`8:16 spec.gracePeriod must be an integer, not a string "5"`}},
		{"scalar for list", podChaos("  action: container-kill\n  mode: one\n  containerNames: web\n  selector: {}\n"),
			[]string{`8:19 spec.containerNames must be a list`, `[web]`}},
		{"list for object", podChaos("  action: pod-kill\n  mode: one\n  selector: [a]\n"),
			[]string{`8:13 spec.selector must be an object, not a list`}},
		{"unknown kind suggestion", "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChoas\nmetadata: {name: p}\n",
			[]string{`2:7 kind unknown kind "PodChoas"`, "did you mean PodChaos?"}},
		{"kind in wrong group", "apiVersion: faultline.dev/v1alpha1\nkind: PodChaos\nmetadata: {name: p}\n",
			[]string{`1:13 apiVersion kind PodChaos is not in faultline.dev/v1alpha1`, "write apiVersion: chaos-mesh.org/v1alpha1"}},
		{"missing kind", "apiVersion: chaos-mesh.org/v1alpha1\nmetadata: {name: p}\n",
			[]string{`1:1 kind kind is missing`}},
		{"syntax error", podChaos("  action: pod-kill\n  mode: [one\n"),
			[]string{`YAML syntax error`}},
		{"empty document between separators", podChaos("  action: pod-kill\n  mode: one\n  selector: {}\n") + "---\n---\n" + podChaos("  action: pod-kill\n  mode: one\n  selector: {}\n"),
			[]string{`9:1  empty document`}},
		{"no document", "# only a comment\n", []string{`1:1  no manifest in the file`}},
		{"top-level list", "- a\n- b\n", []string{`1:1  a manifest must be an object, not a list`}},
		{"alias to undefined anchor", podChaos("  action: *nope\n"), []string{`alias *nope refers to no anchor`}},
		{"unknown tag", podChaos("  action: !!python/object pod-kill\n"), []string{`unknown tag !!python/object`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Decode("m.yaml", []byte(tc.in))
			got := make([]string, len(diags))
			for i, d := range diags {
				got[i] = d.String()
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				// "line:col path message" → match "m.yaml:line:col: path: message".
				lc, rest, _ := strings.Cut(w, " ")
				path, msg, _ := strings.Cut(rest, " ")
				needle := msg
				if strings.Contains(lc, ":") {
					needle = "m.yaml:" + lc + ": "
					if path != "" {
						needle += path + ": "
					}
					needle += msg
				} else {
					needle = w
				}
				if !strings.Contains(all, needle) {
					t.Errorf("want a diagnostic containing %q, got:\n%s", needle, all)
				}
			}
			for _, d := range diags {
				if d.Line < 1 || d.Column < 1 {
					t.Errorf("diagnostic without a position: %s", d)
				}
			}
		})
	}
}

func TestDecodeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: p}\nstatus:\n")
	b.WriteString("  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("  a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	_, diags := Decode("bomb.yaml", []byte(b.String()))
	if !strings.Contains(diags.Error(), "expands to more than") {
		t.Fatalf("alias bomb not rejected: %v", diags)
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestDecodeSizeLimit(t *testing.T) {
	big := "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: p}\nstatus:\n  x: \"" + strings.Repeat("a", MaxDocumentBytes) + "\"\n"
	_, diags := Decode("big.yaml", []byte(big))
	if !strings.Contains(diags.Error(), "over the") {
		t.Fatalf("oversized document not rejected: %v", diags)
	}
}

func TestDecodeDeepNesting(t *testing.T) {
	in := "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: p}\nstatus: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n"
	_, diags := Decode("deep.yaml", []byte(in))
	if !strings.Contains(diags.Error(), "nests deeper than") && !strings.Contains(diags.Error(), "syntax") {
		t.Fatalf("deep nesting not rejected: %v", diags)
	}
}

func TestDecodeMultiDocJSONAndList(t *testing.T) {
	in := `{"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "PodChaos", "metadata": {"name": "a"},
	"spec": {"action": "pod-kill", "mode": "one", "selector": {"namespaces": ["x"]}}}
---
apiVersion: v1
kind: List
items:
- apiVersion: chaos-mesh.org/v1alpha1
  kind: PodChaos
  metadata: {name: b}
  spec: {action: pod-kill, mode: one, selector: {namespaces: [x]}}
- apiVersion: chaos-mesh.org/v1alpha1
  kind: PodChaos
  metadata: {name: c}
  spec: {action: pod-kill, mode: one, selectr: {}}
`
	res := Load([]Source{{Name: "m.yaml", Data: []byte(in)}})
	if len(res.Documents) != 3 {
		t.Fatalf("got %d documents, want 3", len(res.Documents))
	}
	names := []string{res.Documents[0].Name(), res.Documents[1].Name(), res.Documents[2].Name()}
	if !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Fatalf("names = %v", names)
	}
	if !strings.Contains(res.Diagnostics.Error(), `m.yaml:14:39: items[1].spec.selectr: unknown field "selectr"`) {
		t.Fatalf("list item error not located:\n%s", res.Diagnostics.Error())
	}
}

func TestDiagnosticsSortedAndComplete(t *testing.T) {
	in := "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: p}\nspec:\n  zzz: 1\n  action: pod-kill\n  aaa: 2\n  mode: one\n  selector: {}\n"
	_, diags := Decode("m.yaml", []byte(in))
	if len(diags) != 2 {
		t.Fatalf("want both unknown fields reported, got %v", diags)
	}
	if diags[0].Line != 5 || diags[1].Line != 7 {
		t.Fatalf("not sorted by line: %v", diags)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	in := `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata:
  name: p
  labels: &l {a: "1"}
  annotations:
    <<: *l
    b: "2"
spec:
  action: pod-kill
  mode: one
  selector:
    labelSelectors: *l
`
	docs, diags := Decode("m.yaml", []byte(in))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	m := docs[0].Object.GetObjectMeta()
	if m.Annotations["a"] != "1" || m.Annotations["b"] != "2" {
		t.Fatalf("merge key not applied: %v", m.Annotations)
	}
	pc := docs[0].Object.(*v1alpha1.PodChaos)
	if pc.Spec.Selector.LabelSelectors["a"] != "1" {
		t.Fatalf("alias not expanded: %v", pc.Spec.Selector.LabelSelectors)
	}
}

func TestPathParent(t *testing.T) {
	tests := map[Path]Path{
		"spec.templates[2].name":                 "spec.templates[2]",
		"spec.templates[2]":                      "spec.templates",
		`metadata.labels["app.kubernetes.io/x"]`: "metadata.labels",
		`metadata.labels["a[0]\"b"]`:             "metadata.labels",
		"spec":                                   "",
		"":                                       "",
	}
	for in, want := range tests {
		if got := in.Parent(); got != want {
			t.Errorf("Parent(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Path("spec").Child("selector").Key("app.kubernetes.io/name"); got != `spec.selector["app.kubernetes.io/name"]` {
		t.Errorf("Key = %q", got)
	}
}

// A field that failed to decode must not also produce a misleading warning
// about its parent (an "empty" selector that was only misspelt).
func TestDecodeErrorShadowsWarningOnParent(t *testing.T) {
	in := "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: p}\nspec:\n  action: pod-kill\n  mode: one\n  selector:\n    labelSelectr: {app: web}\n"
	res := Load([]Source{{Name: "m.yaml", Data: []byte(in)}})
	if len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0].Message, `unknown field "labelSelectr"`) {
		t.Fatalf("want only the unknown-field error, got:\n%v", res.Diagnostics)
	}
	// Without the typo the empty selector is worth a warning.
	res = Load([]Source{{Name: "m.yaml", Data: []byte(strings.Replace(in, "  selector:\n    labelSelectr: {app: web}\n", "  selector: {}\n", 1))}})
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].Severity != SeverityWarning || res.Diagnostics[0].Path != "spec.selector" {
		t.Fatalf("want the empty-selector warning, got:\n%v", res.Diagnostics)
	}
}
