package manifest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// Test helpers shared by the validate_chaosmesh*_test.go files.
//
// Expected problems are written "path: message substring", optionally
// followed by " | hint substring", and prefixed with "warning: " for
// warnings. A case passes when every expected problem matches one problem
// found and nothing else was found.

type cmCase[T any] struct {
	name string
	mod  func(s *T)
	want []string
}

func cmRunCases[T any](t *testing.T, base func() *T, validate func(Path, *T, *Problems), cases []cmCase[T]) {
	t.Helper()
	// Every validator must survive a nil and a zero spec: the decoder
	// hands over whatever the manifest had.
	var ps Problems
	validate("spec", nil, &ps)
	if len(ps.List) != 0 {
		t.Errorf("nil spec: got problems %v", ps.List)
	}
	validate("spec", new(T), &Problems{})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			if c.mod != nil {
				c.mod(s)
			}
			var ps Problems
			validate("spec", s, &ps)
			cmCheck(t, ps.List, c.want)
		})
	}
}

type cmWant struct {
	warn                bool
	path, msg, hint, in string
}

func cmParseWant(w string) cmWant {
	wp := cmWant{in: w}
	if rest, ok := strings.CutPrefix(w, "warning: "); ok {
		wp.warn, w = true, rest
	}
	w, wp.hint, _ = strings.Cut(w, " | ")
	wp.path, wp.msg, _ = strings.Cut(w, ": ")
	return wp
}

func cmCheck(t *testing.T, got []Problem, want []string) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range want {
		wp := cmParseWant(w)
		found := false
		for i, g := range got {
			if !used[i] && g.Warning == wp.warn && string(g.Path) == wp.path &&
				strings.Contains(g.Message, wp.msg) && strings.Contains(g.Hint, wp.hint) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %q\n got: %s", w, cmFormatAll(got))
		}
	}
	for i, g := range got {
		if !used[i] {
			t.Errorf("unexpected problem %s", cmFormat(g))
		}
		if g.Hint == "" {
			t.Errorf("problem without a hint (say what would be valid): %s", cmFormat(g))
		}
	}
}

func cmFormat(p Problem) string {
	s := string(p.Path) + ": " + p.Message + " | " + p.Hint
	if p.Warning {
		s = "warning: " + s
	}
	return s
}

func cmFormatAll(ps []Problem) string {
	if len(ps) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n  " + cmFormat(p))
	}
	return b.String()
}

func cmPtr[T any](v T) *T { return &v }

// selector returns a valid selector: pods labelled app=web, one of them.
func cmSelector() v1alpha1.PodSelector {
	return v1alpha1.PodSelector{
		Selector: v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"app": "web"}},
		Mode:     v1alpha1.ModeOne,
	}
}

func cmContainerSelector() v1alpha1.ContainerSelector {
	return v1alpha1.ContainerSelector{PodSelector: cmSelector()}
}

// chaosMeshExamplesDir is the upstream compatibility corpus, shared by every
// checkout: /work/shared/compat/chaos-mesh/examples.
const chaosMeshExamplesDir = "../../../shared/compat/chaos-mesh/examples"

// TestChaosMeshExamplesDecodeAndValidate decodes every upstream example into
// the Go types with encoding/json (independently of faultline's decoder),
// refusing unknown fields, checks the JSON round trip, and validates the
// spec: upstream manifests must be accepted as they are.
func TestChaosMeshExamplesDecodeAndValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chaosMeshExamplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		wd, _ := os.Getwd()
		t.Fatalf("the Chaos Mesh compatibility corpus is missing: no *.yaml in %s (from %s): %v", chaosMeshExamplesDir, wd, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			js, err := yaml.YAMLToJSON(src)
			if err != nil {
				t.Fatalf("YAML to JSON: %v", err)
			}
			var tm v1alpha1.TypeMeta
			if err := json.Unmarshal(js, &tm); err != nil {
				t.Fatal(err)
			}
			kind, ok := v1alpha1.LookupKind(tm.APIVersion, tm.Kind)
			if !ok {
				t.Fatalf("unknown kind %s %s", tm.APIVersion, tm.Kind)
			}
			obj := kind.New()
			if err := cmDecodeStrict(js, obj); err != nil {
				t.Fatalf("decode: %v", err)
			}
			again, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			obj2 := kind.New()
			if err := cmDecodeStrict(again, obj2); err != nil {
				t.Fatalf("decode after round trip: %v", err)
			}
			if !reflect.DeepEqual(obj, obj2) {
				t.Errorf("round trip changed the object:\n%s\n%s", js, again)
			}

			var ps Problems
			validateChaosMeshObject(t, obj, &ps)
			for _, p := range ps.List {
				if p.Warning {
					t.Errorf("upstream example got a warning: %s", cmFormat(p))
				} else {
					t.Errorf("upstream example rejected: %s", cmFormat(p))
				}
			}
		})
	}
}

func cmDecodeStrict(js []byte, into any) error {
	d := json.NewDecoder(bytes.NewReader(js))
	d.DisallowUnknownFields()
	return d.Decode(into)
}

func validateChaosMeshObject(t *testing.T, obj v1alpha1.Object, ps *Problems) {
	spec := Path("spec")
	switch o := obj.(type) {
	case *v1alpha1.PodChaos:
		validatePodChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.NetworkChaos:
		validateNetworkChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.StressChaos:
		validateStressChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.HTTPChaos:
		validateHTTPChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.IOChaos:
		validateIOChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.DNSChaos:
		validateDNSChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.TimeChaos:
		validateTimeChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.Workflow:
		validateWorkflowSpec(spec, &o.Spec, ps)
	case *v1alpha1.Schedule:
		validateScheduleSpec(spec, &o.Spec, ps)
	case *v1alpha1.StatusCheck:
		validateStatusCheckSpec(spec, &o.Spec, ps)
	default:
		t.Fatalf("not a Chaos Mesh kind: %T", obj)
	}
}

func TestChaosMeshKindsAreRegistered(t *testing.T) {
	for _, k := range []string{"PodChaos", "NetworkChaos", "StressChaos", "HTTPChaos", "IOChaos", "DNSChaos",
		"TimeChaos", "Workflow", "Schedule", "StatusCheck"} {
		info, ok := v1alpha1.LookupKind(v1alpha1.ChaosMeshAPIVersion, k)
		if !ok {
			t.Errorf("%s is not registered", k)
			continue
		}
		obj := info.New()
		if obj == nil || info.Short == "" {
			t.Errorf("%s: New() = %v, Short = %q", k, obj, info.Short)
		}
		if got := reflect.TypeOf(obj).Elem().Name(); got != k {
			t.Errorf("%s: New() returns a %s", k, got)
		}
	}
}
