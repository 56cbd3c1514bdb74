package manifest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// flExamplesDir is the repository's examples/ directory.
const flExamplesDir = "../../examples"

// flDecodeExample reads a one-document example without the position-aware
// decoder: YAML → JSON → encoding/json with unknown fields refused.
func flDecodeExample(t *testing.T, data []byte) v1alpha1.Object {
	t.Helper()
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	var tm v1alpha1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		t.Fatalf("type: %v", err)
	}
	info, ok := v1alpha1.LookupKind(tm.APIVersion, tm.Kind)
	if !ok {
		t.Fatalf("unknown kind %s %s", tm.APIVersion, tm.Kind)
	}
	obj := info.New()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		t.Fatalf("decode %s: %v", tm.Kind, err)
	}
	return obj
}

// TestFaultlineExamples checks every example: it decodes strictly, validates
// with no error and no warning, survives a JSON round trip unchanged, and the
// files an experiment names exist.
func TestFaultlineExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(flExamplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s (%v)", flExamplesDir, err)
	}
	kinds := map[string]int{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obj := flDecodeExample(t, data)
			kinds[obj.GetTypeMeta().Kind]++
			if ps := ValidateObject(obj); len(ps) > 0 {
				t.Fatalf("want a clean example, got:\n%s", flFormat(ps))
			}

			js, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			again := flDecodeExample(t, js)
			if !reflect.DeepEqual(obj, again) {
				t.Fatalf("JSON round trip changed the object:\n%s\n%s", js, flMustJSON(again))
			}

			if x, ok := obj.(*v1alpha1.Experiment); ok {
				if e := x.Spec.Environment; e != nil && e.File != "" {
					if _, err := os.Stat(filepath.Join(filepath.Dir(f), e.File)); err != nil {
						t.Errorf("spec.environment.file: %v", err)
					}
				}
			}
		})
	}
	// The examples the reference points to: one of each faultline kind, and
	// experiments with inline faults and with a workflow.
	want := map[string]int{"Environment": 1, "Experiment": 2, "NodeChaos": 1, "ScaleChaos": 1, "ModelChaos": 1}
	for k, n := range want {
		if kinds[k] < n {
			var have []string
			for k := range kinds {
				have = append(have, k)
			}
			sort.Strings(have)
			t.Errorf("want at least %d %s example(s), have kinds %v", n, k, have)
		}
	}
}

func flMustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestFaultlineExamplesShape pins what the experiment examples demonstrate.
func TestFaultlineExamplesShape(t *testing.T) {
	read := func(name string) *v1alpha1.Experiment {
		data, err := os.ReadFile(filepath.Join(flExamplesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return flDecodeExample(t, data).(*v1alpha1.Experiment)
	}
	x := read("experiment.yaml")
	if x.Spec.Load == nil || len(x.Spec.Probes) == 0 || len(x.Spec.SLOs) == 0 || len(x.Spec.Faults) == 0 || x.Spec.Phases.Fault == "" {
		t.Error("experiment.yaml must show load, probes, SLOs, phases and faults")
	}
	for i, f := range x.Spec.Faults {
		if f.EmbedChaos.IsEmpty() {
			t.Errorf("experiment.yaml faults[%d] must be inline", i)
		}
	}
	w := read("experiment-workflow.yaml")
	if w.Spec.Workflow == nil || w.Spec.Workflow.Entry == "" {
		t.Error("experiment-workflow.yaml must run an inline workflow")
	}
}
