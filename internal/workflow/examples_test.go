package workflow

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/manifest"
)

// upstreamExamples holds Chaos Mesh's own example manifests.
const upstreamExamples = "../../../shared/compat/chaos-mesh/examples"

// TestUpstreamExampleWorkflows runs every upstream example Workflow to
// completion against the recording engine, with deadlines scaled down 50
// times, Schedule nodes ticking every second for 1.8s and status checks
// pointed at a local server, so that the examples keep their shape but
// finish in seconds and touch nothing outside this machine.
func TestUpstreamExampleWorkflows(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(upstreamExamples); err != nil {
		t.Skipf("upstream examples not available: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(upstreamExamples, "workflow-*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflow examples in %s (%v)", upstreamExamples, err)
	}
	srv := newStatusServer(t, 200)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			w := decodeWorkflow(t, file)
			spec := &w.Spec
			for i := range spec.Templates {
				scaleDown(t, &spec.Templates[i], srv.URL)
			}
			e, log := newRecordingEngine(), &eventLog{}
			res, err := Run(context.Background(), spec, w.Name, testDeps(e, log))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Status != StatusSucceeded || res.Aborted {
				for _, n := range res.Nodes() {
					t.Logf("%s: %s %q", n.Path, n.Status, n.Messages)
				}
				t.Fatalf("status %s aborted %v, want Succeeded", res.Status, res.Aborted)
			}
			ran := 0
			for _, n := range res.Nodes() {
				switch {
				case n.Status == StatusSkipped:
				case n.Type == v1alpha1.TemplateTypeSchedule:
					if n.Schedule == nil || n.Schedule.Started < 1 {
						t.Errorf("%s: schedule started no run", n.Path)
					}
					ran++
				case n.Type.IsChaos():
					if len(n.Injections) != 1 || n.Injections[0].Reverted.IsZero() {
						t.Errorf("%s: injections %+v, want one, reverted", n.Path, n.Injections)
					}
					ran++
				}
			}
			if ran == 0 {
				t.Errorf("no chaos ran")
			}
			noneActive(t, e)
		})
	}
}

func decodeWorkflow(t *testing.T, file string) *v1alpha1.Workflow {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	docs, diags := manifest.Decode(file, data)
	if diags.HasErrors() {
		t.Fatalf("decode: %v", diags)
	}
	for _, d := range docs {
		if diags := manifest.Validate(d); diags.HasErrors() {
			t.Fatalf("validate: %v", diags)
		}
		if w, ok := d.Object.(*v1alpha1.Workflow); ok {
			return w
		}
	}
	t.Fatalf("%s holds no Workflow", file)
	return nil
}

// scaleDown shortens a template so that the example runs in seconds.
func scaleDown(t *testing.T, tpl *v1alpha1.Template, url string) {
	t.Helper()
	if d, err := parseDeadline(tpl.Deadline); err != nil {
		t.Fatalf("%s: %v", tpl.Name, err)
	} else if d > 0 {
		tpl.Deadline = ptr((d / 50).String())
	}
	if tpl.Schedule != nil {
		tpl.Schedule.Schedule = "@every 1s"
		tpl.Deadline = ptr((1800 * time.Millisecond).String())
	}
	if tpl.StatusCheck != nil && tpl.StatusCheck.HTTP != nil {
		tpl.StatusCheck.HTTP.URL = url
	}
}
