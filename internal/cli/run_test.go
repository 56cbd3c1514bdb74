package cli

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeRunFixture builds the quick-start service into dir and writes an
// environment and an experiment with the given SLOs and probes beside it.
func writeRunFixture(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "websvc"), "../../examples/quickstart/websvc").CombinedOutput()
	if err != nil {
		t.Fatalf("build websvc: %v\n%s", err, out)
	}
	exp := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: cli-run}
spec:
  environment:
    services:
    - name: web
      replicas: 2
      command: [./websvc]
      readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}
  phases: {baseline: 500ms, fault: 1s, recovery: 500ms}
  load: {target: web, rate: 50}
  faults:
  - name: kill-one
    podChaos: {action: pod-kill, mode: one, selector: {labelSelectors: {app: web}}}
` + extra
	if err := os.WriteFile(filepath.Join(dir, "exp.yaml"), []byte(exp), 0o644); err != nil {
		t.Fatal(err)
	}
	// A short state directory: unix socket paths are limited to 107 bytes.
	state, err := os.MkdirTemp("", "fl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	t.Setenv("FAULTLINE_STATE_DIR", state)
	return dir
}

func TestRunCommandExitCodesAndOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real experiments")
	}
	t.Run("pass with reports", func(t *testing.T) {
		dir := writeRunFixture(t, "  slos:\n  - {name: avail, metric: availability, phase: baseline, min: 90}\n")
		junit, html, md := filepath.Join(dir, "j.xml"), filepath.Join(dir, "r.html"), filepath.Join(dir, "s.md")
		code, out, errs := run(t, "", "run", "-f", filepath.Join(dir, "exp.yaml"), "-q", "--junit", junit, "--html", html, "--markdown", md)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		if !strings.Contains(out, "Experiment cli-run: PASS") || !strings.Contains(out, "slo avail") {
			t.Fatalf("summary missing:\n%s", out)
		}
		var suites struct {
			Suites []struct {
				Tests int `xml:"tests,attr"`
			} `xml:"testsuite"`
		}
		data, _ := os.ReadFile(junit)
		if err := xml.Unmarshal(data, &suites); err != nil || len(suites.Suites) != 1 || suites.Suites[0].Tests < 1 {
			t.Fatalf("junit: %v %+v\n%s", err, suites, data)
		}
		for _, f := range []string{html, md} {
			if st, err := os.Stat(f); err != nil || st.Size() == 0 {
				t.Fatalf("%s not written: %v", f, err)
			}
		}
	})
	t.Run("failed verdict is exit 1 with JSON", func(t *testing.T) {
		dir := writeRunFixture(t, "  slos:\n  - {name: impossible, metric: throughput, phase: fault, min: 1000}\n")
		code, out, errs := run(t, "", "run", "-f", filepath.Join(dir, "exp.yaml"), "-o", "json")
		if code != ExitInvalid {
			t.Fatalf("exit %d, want %d\n%s", code, ExitInvalid, errs)
		}
		var res struct {
			Verdict string
			SLOs    []struct {
				Name string
				Pass bool
			}
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("-o json: %v\n%s\n%s", err, out, errs)
		}
		if res.Verdict != "fail" || len(res.SLOs) != 1 || res.SLOs[0].Pass {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("stop condition is exit 3", func(t *testing.T) {
		dir := writeRunFixture(t, `  probes:
  - name: never-true
    type: http
    mode: SOT
    stopOnFailure: true
    http: {service: web, path: /, bodyRegex: "^never$"}
`)
		code, _, errs := run(t, "", "run", "-f", filepath.Join(dir, "exp.yaml"), "-q")
		if code != ExitAborted {
			t.Fatalf("exit %d, want %d\n%s", code, ExitAborted, errs)
		}
	})
	t.Run("invalid experiment is exit 1 before anything runs", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: x}\nspec:\n  phases: {fault: soon}\n"), 0o644)
		code, _, errs := run(t, "", "run", "-f", filepath.Join(dir, "bad.yaml"))
		if code != ExitInvalid || !strings.Contains(errs, "bad.yaml:5:") {
			t.Fatalf("exit %d\n%s", code, errs)
		}
	})
}
