package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestEveryKindHasAStrictSchema(t *testing.T) {
	for _, k := range v1alpha1.Kinds() {
		s := ForKind(k)
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		var back map[string]any
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("%s: schema is not valid JSON: %v", k.Kind, err)
		}
		if back["additionalProperties"] != false {
			t.Errorf("%s: unknown top-level fields must be rejected", k.Kind)
		}
		props := back["properties"].(map[string]any)
		for _, f := range []string{"apiVersion", "kind", "metadata", "spec"} {
			if _, ok := props[f]; !ok {
				t.Errorf("%s: schema lacks %s", k.Kind, f)
			}
		}
		// Every $ref resolves.
		defs, _ := back["definitions"].(map[string]any)
		for _, ref := range refs(data) {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if _, ok := defs[name]; !ok {
				t.Errorf("%s: dangling $ref %s", k.Kind, ref)
			}
		}
	}
}

func refs(data []byte) []string {
	var out []string
	for _, part := range strings.Split(string(data), `"$ref":"`)[1:] {
		out = append(out, part[:strings.IndexByte(part, '"')])
	}
	return out
}

func TestSchemaCarriesDocsAndEnums(t *testing.T) {
	k, err := KindByName("podchaos")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(ForKind(k))
	s := string(data)
	for _, want := range []string{`"random-max-percent"`, `"fixed-percent"`, `"description":`} {
		if !strings.Contains(s, want) {
			t.Errorf("PodChaos schema lacks %s", want)
		}
	}
	if _, err := KindByName("nope"); err == nil || !strings.Contains(err.Error(), "valid kinds") {
		t.Fatalf("unknown kind error = %v", err)
	}
}

// TestReferenceUpToDate keeps docs/reference.md in step with the types:
// regenerate it with `make docs`.
func TestReferenceUpToDate(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReference(&buf); err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatalf("docs/reference.md missing: run `make docs`: %v", err)
	}
	if !bytes.Equal(have, buf.Bytes()) {
		t.Fatal("docs/reference.md is stale: run `make docs`")
	}
	for _, want := range []string{"## PodChaos", "`spec.selector.labelSelectors`", "## Experiment"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}
