package explain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/internal/manifest"
)

func explainFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, diags := manifest.Decode(filepath.Base(path), data)
	if diags.HasErrors() || len(docs) == 0 {
		t.Fatalf("decode %s: %v", path, diags)
	}
	return strings.Join(Object(docs[0].Object), "\n")
}

const compat = "../../../shared/compat/chaos-mesh/examples/"

func TestExplain(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{compat + "workflow-serial-suspend.yaml", []string{
			"Entry: the-entry",
			"└─ the-entry: Serial, deadline 240s — runs its children one after another",
			"├─ prefix-suspending: Suspend, deadline 10s — waits 10s",
			"└─ workflow-pod-chaos: Schedule, deadline 40s — every 2s: PodChaos",
		}},
		{compat + "workflow-task-branches.yaml", []string{
			`├─ if exitCode == 0 && stdout == "branch-a" → workflow-stress-chaos: StressChaos`,
		}},
		{compat + "networkchaos-delay-target.yaml", []string{
			"What:    delay packets by 90ms ± 90ms (correlation 25%) on traffic from the pods to one, chosen at random, of the pods in namespace db or storage",
			"Targets: one, chosen at random, of the pods in namespace web, with labels app.kubernetes.io/component=web-app",
			"When:    at once; held for 10s, then reverted",
		}},
		{compat + "podchaos-pod-kill.yaml", []string{"kill the pods (SIGKILL", "the action is instantaneous"}},
		{compat + "schedule-podchaos-pod-kill.yaml", []string{"Schedule: every 5s; concurrency Forbid", "Each run: PodChaos"}},
		{compat + "stresschaos-memory-size.yaml", []string{"memory worker(s) holding"}},
		{compat + "httpchaos-abort.yaml", []string{"abort the connection for requests on port 80"}},
		{compat + "statuscheck-http.yaml", []string{"status check: GET http"}},
		{"../../examples/experiment.yaml", []string{"Timeline (", "baseline: steady state", "recovery: no faults", "SLO "}},
		{"../../examples/environment.yaml", []string{"Local environment on this machine", "Service "}},
		{"../../demo/kube/environment.yaml", []string{"Kubernetes cluster: context (current)", "namespaces recsys, each opted in with faultline.dev/chaos=enabled",
			"port-forward from outside the cluster", "faults refused above 10 pods"}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			got := explainFile(t, tc.file)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("explanation lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestExplainEveryCompatExample: explain never panics or comes back empty.
func TestExplainEveryCompatExample(t *testing.T) {
	files, _ := filepath.Glob(compat + "*.yaml")
	if len(files) == 0 {
		t.Fatalf("compat corpus missing at %s", compat)
	}
	for _, f := range files {
		if got := explainFile(t, f); strings.Count(got, "\n") < 1 {
			t.Errorf("%s: explanation too short: %q", f, got)
		}
	}
}

func TestExplainCycleDoesNotLoop(t *testing.T) {
	in := `apiVersion: chaos-mesh.org/v1alpha1
kind: Workflow
metadata: {name: w}
spec:
  entry: a
  templates:
  - {name: a, templateType: Serial, children: [b]}
  - {name: b, templateType: Serial, children: [a]}
`
	docs, _ := manifest.Decode("w.yaml", []byte(in))
	got := strings.Join(Object(docs[0].Object), "\n")
	if !strings.Contains(got, "a: (cycle)") {
		t.Fatalf("cycle not shown:\n%s", got)
	}
}
