package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/manifest"
)

func TestNeedsNamespaces(t *testing.T) {
	dir := t.TempDir()
	lossFile := `apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: lossy}
spec: {action: loss, mode: all, selector: {namespaces: [default]}, loss: {loss: "30"}}
`
	if err := os.WriteFile(filepath.Join(dir, "loss.yaml"), []byte(lossFile), 0o644); err != nil {
		t.Fatal(err)
	}
	const head = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: e}
spec:
  environment: {file: env.yaml}
  phases: {baseline: 1s, fault: 1s, recovery: 1s}
`
	tests := []struct {
		name, faults, backend string
		want                  bool
	}{
		{"delay on auto", `  faults:
  - networkChaos: {action: delay, mode: all, selector: {namespaces: [default]}, delay: {latency: 10ms}}
`, "", false},
		{"loss on auto", `  faults:
  - networkChaos: {action: loss, mode: all, selector: {namespaces: [default]}, loss: {loss: "30"}}
`, "", true},
		{"delay forced to packet", `  faults:
  - networkChaos: {action: delay, mode: all, selector: {namespaces: [default]}, delay: {latency: 10ms}}
`, "packet", true},
		{"loss forced to proxy", `  faults:
  - networkChaos: {action: loss, mode: all, selector: {namespaces: [default]}, loss: {loss: "30"}}
`, "proxy", false},
		{"loss in a fault file", `  faults:
  - file: loss.yaml
`, "auto", true},
		{"pod kill", `  faults:
  - podChaos: {action: pod-kill, mode: one, selector: {namespaces: [default]}}
`, "", false},
		{"loss in a workflow template", `  workflow:
    entry: main
    templates:
    - {name: main, templateType: Serial, children: [lossy]}
    - name: lossy
      templateType: NetworkChaos
      deadline: 1s
      networkChaos: {action: loss, mode: all, selector: {namespaces: [default]}, loss: {loss: "30"}}
`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, diags := manifest.Decode("exp.yaml", []byte(head+tt.faults))
			if diags.HasErrors() || len(docs) != 1 {
				t.Fatalf("decode:\n%v", diags)
			}
			exp := docs[0].Object.(*v1alpha1.Experiment)
			if got := needsNamespaces(exp, Options{BaseDir: dir, NetworkBackend: tt.backend}); got != tt.want {
				t.Fatalf("needsNamespaces = %v, want %v", got, tt.want)
			}
		})
	}
}
