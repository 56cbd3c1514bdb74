package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

const compat = "../../../shared/compat/chaos-mesh/examples"

func TestValidateCompatCorpus(t *testing.T) {
	if _, err := os.Stat(compat); err != nil {
		t.Fatalf("Chaos Mesh compat corpus missing at %s: %v", compat, err)
	}
	code, out, errs := run(t, "", "validate", "-f", compat)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "podchaos-pod-kill.yaml") || !strings.Contains(errs, "0 errors") {
		t.Fatalf("table or summary missing:\n%s\n%s", out, errs)
	}
}

func TestValidateExitCodesAndJSON(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: x}\nspec:\n  action: pod-kil\n  mode: one\n  selector: {}\n"), 0o644)

	code, _, errs := run(t, "", "validate", "-f", bad)
	if code != ExitInvalid || !strings.Contains(errs, "bad.yaml:5:11: spec.action:") || !strings.Contains(errs, `did you mean "pod-kill"`) {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}

	code, out, _ := run(t, "", "validate", "-f", bad, "-o", "json")
	var rep struct {
		Valid       bool
		Diagnostics []struct {
			File, Path, Message, Hint string
			Line, Column              int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, out)
	}
	if code != ExitInvalid || rep.Valid || len(rep.Diagnostics) == 0 || rep.Diagnostics[0].Line != 5 || rep.Diagnostics[0].Path != "spec.action" {
		t.Fatalf("json report wrong: %+v", rep)
	}

	code, out, _ = run(t, "", "validate", "-f", bad, "-o", "yaml")
	if code != ExitInvalid || !strings.Contains(out, "valid: false") {
		t.Fatalf("-o yaml: exit %d\n%s", code, out)
	}

	// stdin
	code, _, errs = run(t, "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: x}\nspec: {action: pod-kill, mode: one, selector: {}}\n", "validate", "-f", "-")
	if code != ExitOK {
		t.Fatalf("stdin: exit %d\n%s", code, errs)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"validate"}, // no -f
		{"validate", "-f", "/does/not/exist.yaml"}, // missing file
		{"validate", "-f", compat, "-o", "xml"},    // bad output
		{"validate", "--bogus"},                    // unknown flag
		{"nonsense"},                               // unknown command
		{"schema", "NoSuchKind"},                   // unknown kind
	}
	for _, args := range tests {
		code, _, errs := run(t, "", args...)
		if code != ExitUsage || !strings.Contains(errs, "error:") {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", args, code, ExitUsage, errs)
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	code, out, _ := run(t, "", "version", "-o", "json")
	if code != ExitOK || !strings.Contains(out, `"goVersion"`) {
		t.Fatalf("version: %d %s", code, out)
	}
	code, out, _ = run(t, "", "completion", "bash")
	if code != ExitOK || !strings.Contains(out, "faultline") {
		t.Fatalf("completion: %d", code)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, out, _ := run(t, "", "schema")
	var s map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &s) != nil || s["$schema"] == nil {
		t.Fatalf("schema: exit %d", code)
	}
	dir := t.TempDir()
	if code, _, errs := run(t, "", "schema", "--dir", dir); code != ExitOK {
		t.Fatalf("schema --dir: %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "podchaos.json")); err != nil {
		t.Fatal(err)
	}
}
