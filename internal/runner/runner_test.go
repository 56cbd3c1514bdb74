package runner

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
	"github.com/faultline-dev/faultline/internal/manifest"
	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/testwatch"
)

var websvc string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runner-test")
	if err != nil {
		panic(err)
	}
	websvc = filepath.Join(dir, "websvc")
	out, err := exec.Command("go", "build", "-o", websvc, "../../examples/quickstart/websvc").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	// A hung test fails after 6 minutes with the test goroutines printed
	// last (CI keeps the tail of the log).
	stop := testwatch.Watch(6 * time.Minute)
	code := m.Run()
	stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// experiment decodes an experiment written in YAML with the real decoder,
// so the tests exercise what users write.
func experiment(t *testing.T, yaml string) *v1alpha1.Experiment {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "WEBSVC", websvc)
	res := manifest.Load([]manifest.Source{{Name: "exp.yaml", Data: []byte(yaml)}})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("experiment invalid:\n%v", res.Diagnostics)
	}
	return res.Documents[0].Object.(*v1alpha1.Experiment)
}

func testOptions(t *testing.T) Options {
	return Options{
		StateDir: t.TempDir(),
		Seed:     7,
		Supervisor: local.Options{
			BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second,
			ReadinessPollInterval: 20 * time.Millisecond,
		},
	}
}

func phase(t *testing.T, r *measure.Result, name string) measure.PhaseStats {
	t.Helper()
	for _, p := range r.Phases {
		if p.Phase == name {
			return p
		}
	}
	t.Fatalf("no phase %s", name)
	return measure.PhaseStats{}
}

// TestGroundTruthPlantedErrorRate: a service failing exactly every 4th
// request must measure 75% availability through the whole real path
// (load generator, gateway, replica, timeline, measure).
func TestGroundTruthPlantedErrorRate(t *testing.T) {
	exp := experiment(t, `
apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: planted-errors}
spec:
  environment:
    services:
    - name: web
      replicas: 1
      command: [WEBSVC]
      env: [{name: ERROR_EVERY, value: "4"}]
      readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}
  phases: {baseline: 1s, fault: 1s, recovery: 1s}
  load: {target: web, rate: 200, timeout: 2s}
  slos:
  - {name: avail, metric: availability, phase: all, min: 99}
`)
	out, err := Run(context.Background(), exp, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	res := out.Runs[0].Result
	if res.Overall.Requests < 550 || res.Overall.Requests > 650 {
		t.Fatalf("sent %d requests, want about 600 (200/s for 3s)", res.Overall.Requests)
	}
	if got := res.Overall.Availability; math.Abs(got-75) > 1 {
		t.Fatalf("availability %.2f%%, planted 75%%", got)
	}
	if res.Overall.ErrorsByKind["status 503"] != res.Overall.Errors {
		t.Fatalf("errors by kind %v, want only status 503", res.Overall.ErrorsByKind)
	}
	if res.Verdict != measure.VerdictFail || out.Passed() {
		t.Fatalf("verdict %s: the 99%% availability SLO must fail", res.Verdict)
	}
}

// TestGroundTruthOutageAndRecovery: scaling the only replica to zero for a
// known window is an outage of known length; the measured outage and the
// recovery after revert must match it within the restart time.
func TestGroundTruthOutageAndRecovery(t *testing.T) {
	exp := experiment(t, `
apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: planted-outage}
spec:
  environment:
    services:
    - name: web
      replicas: 1
      command: [WEBSVC]
      readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}
  phases: {baseline: 1s, fault: 3s, recovery: 2s}
  load: {target: web, rate: 100, timeout: 1s}
  faults:
  - name: scale-to-zero
    at: 500ms
    scaleChaos: {service: web, replicas: 0, duration: 1500ms}
  recovery: {window: 500ms}
  slos:
  - {name: baseline-avail, metric: availability, phase: baseline, min: 99}
  - {name: recovers, metric: recoveryTime, maxDuration: 2s}
`)
	out, err := Run(context.Background(), exp, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	res := out.Runs[0].Result
	if len(res.Recovery) != 1 {
		t.Fatalf("recovery = %+v", res.Recovery)
	}
	rc := res.Recovery[0]
	window := rc.FaultEnd - rc.FaultStart
	// The engine holds a fault at least as long as asked (a loaded machine
	// may add to it; no upper wall-clock bound here).
	if window < 1450*time.Millisecond {
		t.Fatalf("fault window %s, asked 1.5s", window)
	}
	if !rc.Impacted || !rc.Recovered {
		t.Fatalf("outage not seen or not recovered: %+v", rc)
	}
	// The service is down from scale-down until the replica is back and
	// ready: the window plus a restart that takes well under a second here.
	if rc.FromRevert < 0 || rc.FromRevert > window {
		t.Fatalf("recovery after revert %s: a restart must take less than the %s outage", rc.FromRevert, window)
	}
	if rc.TimeToFirstError < 0 || rc.TimeToFirstError > window/3 {
		t.Fatalf("time to first error %s: scale to zero stops service at once", rc.TimeToFirstError)
	}
	f := phase(t, res, "fault")
	outage := window + rc.FromRevert
	want := 100 * (1 - outage.Seconds()/(f.End-f.Start).Seconds())
	if math.Abs(f.Availability-want) > 6 {
		t.Fatalf("fault-phase availability %.1f%%, outage of %s in 3s predicts %.1f%%", f.Availability, outage, want)
	}
	if b := phase(t, res, "baseline"); b.Availability < 99.9 {
		t.Fatalf("baseline availability %.2f%%", b.Availability)
	}
	if res.Verdict != measure.VerdictPass {
		t.Fatalf("verdict %s: %v", res.Verdict, res.Reasons)
	}
}

// TestStopConditionAbortsAndReverts: a failing stopOnFailure probe aborts
// the run during a long pod-failure, which must be reverted at once.
func TestStopConditionAbortsAndReverts(t *testing.T) {
	exp := experiment(t, `
apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: abort}
spec:
  environment:
    services:
    - name: web
      replicas: 2
      command: [WEBSVC]
      readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}
  phases: {baseline: 500ms, fault: 20s, recovery: 1s}
  load: {target: web, rate: 50}
  probes:
  - name: all-replicas-up
    type: http
    mode: OnChaos
    interval: 200ms
    initialDelay: 1s
    stopOnFailure: true
    http: {service: web, path: /, bodyRegex: "^never-matches$"}
  faults:
  - name: freeze-one
    podChaos: {action: pod-failure, mode: one, selector: {labelSelectors: {app: web}}, duration: 20s}
`)
	opts := testOptions(t)
	start := time.Now()
	out, err := Run(context.Background(), exp, opts)
	if err != nil {
		t.Fatal(err)
	}
	res := out.Runs[0].Result
	if res.Verdict != measure.VerdictAborted || !out.Aborted() {
		t.Fatalf("verdict %s, want aborted", res.Verdict)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("the run went on for %s after the stop condition", time.Since(start))
	}
	tl := out.Runs[0].Timeline
	if len(tl.Faults) != 1 || tl.Faults[0].Error != "" || len(tl.Faults[0].Targets) != 1 {
		t.Fatalf("the pod-failure was not injected on one replica: %+v", tl.Faults)
	}
	if held := tl.Faults[0].End - tl.Faults[0].Start; held > 10*time.Second {
		t.Fatalf("pod-failure held %s: the abort must revert it long before its 20s", held)
	}
	j, err := engine.OpenJournal(filepath.Join(opts.StateDir, "envs", "inline", "journal"))
	if err == nil {
		if list, _ := j.List(); len(list) != 0 {
			t.Fatalf("journal still holds %d injections after the abort", len(list))
		}
	}
}

// TestFileReferences: faults and workflows named by file are read next to
// the experiment; a file holding something else is a recorded fault error.
func TestFileReferences(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kill.yaml", "apiVersion: chaos-mesh.org/v1alpha1\nkind: PodChaos\nmetadata: {name: kill-from-file}\nspec: {action: pod-kill, mode: one, selector: {labelSelectors: {app: web}}}\n")
	write("not-chaos.yaml", "apiVersion: chaos-mesh.org/v1alpha1\nkind: StatusCheck\nmetadata: {name: sc}\nspec: {mode: Synchronous, type: HTTP, http: {url: 'http://127.0.0.1:1/', criteria: {statusCode: '200'}}}\n")
	write("wf.yaml", `apiVersion: chaos-mesh.org/v1alpha1
kind: Workflow
metadata: {name: wf-from-file}
spec:
  entry: serial
  templates:
  - {name: serial, templateType: Serial, deadline: 1s, children: [kill]}
  - {name: kill, templateType: PodChaos, deadline: 200ms, podChaos: {action: pod-kill, mode: one, selector: {labelSelectors: {app: web}}}}
`)
	env := `
  environment:
    services:
    - {name: web, replicas: 2, command: [WEBSVC], readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}}
  phases: {baseline: 200ms, fault: 1s, recovery: 200ms}
`
	opts := testOptions(t)
	opts.BaseDir = dir

	exp := experiment(t, "apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: files}\nspec:"+env+
		"  faults:\n  - {name: from-file, file: kill.yaml}\n  - {name: wrong-kind, file: not-chaos.yaml}\n")
	out, err := Run(context.Background(), exp, opts)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, f := range out.Runs[0].Timeline.Faults {
		byName[f.Name] = f.Error
		if f.Name == "from-file" && (f.Kind != "PodChaos" || len(f.Targets) != 1) {
			t.Fatalf("fault from file: %+v", f)
		}
	}
	if e, ok := byName["from-file"]; !ok || e != "" {
		t.Fatalf("fault from file not injected: %v", byName)
	}
	if e := byName["wrong-kind"]; !strings.Contains(e, "not-chaos.yaml") {
		t.Fatalf("a file without a chaos object must be a recorded error naming it, got %q", e)
	}

	exp = experiment(t, "apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: wf-file}\nspec:"+env+
		"  workflow: {file: wf.yaml}\n")
	out, err = Run(context.Background(), exp, opts)
	if err != nil {
		t.Fatal(err)
	}
	faults := out.Runs[0].Timeline.Faults
	if len(faults) != 1 || faults[0].Name != "kill" || faults[0].Error != "" {
		t.Fatalf("workflow from file did not inject its pod-kill: %+v", faults)
	}
}

// A cmd probe finds every service's URL in <NAME>_URL, as documented.
func TestCmdProbeGetsServiceURLs(t *testing.T) {
	exp := experiment(t, `
apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: cmd-urls}
spec:
  environment:
    services:
    - name: web-api
      command: [WEBSVC]
      readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}
  phases: {baseline: 500ms, fault: 500ms, recovery: 500ms}
  probes:
  - name: url-set
    type: cmd
    mode: EOT
    cmd:
      command: [sh, -c, 'case "$WEB_API_URL" in http://127.0.0.1:*) exit 0;; *) echo "WEB_API_URL=$WEB_API_URL"; exit 1;; esac']
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := Run(ctx, exp, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Passed() {
		t.Fatalf("the cmd probe did not see WEB_API_URL: %+v", out.Runs[0].Result.Probes)
	}
}
