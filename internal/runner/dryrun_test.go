package runner

import (
	"context"
	"strings"
	"testing"
	"time"
)

// DryRun resolves the faults, the workflow's chaos templates and the
// schedules' chaos of an experiment against its (local) environment, says
// why one would be refused, and injects nothing.
func TestDryRunListsEveryChaosObject(t *testing.T) {
	exp := experiment(t, `
apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: dry}
spec:
  environment:
    nodes: [{name: node-1}, {name: node-2}]
    services:
    - name: web
      replicas: 2
      command: [WEBSVC]
      readinessProbe: {httpGet: {path: /ready}, periodSeconds: 1}
  phases: {baseline: 1s, recovery: 1s}
  workflow:
    entry: main
    templates:
    - {name: main, templateType: Serial, deadline: 5s, children: [kill-web]}
    - name: kill-web
      templateType: PodChaos
      podChaos: {action: pod-kill, mode: all, selector: {labelSelectors: {app: web}}}
  schedules:
  - name: every-second
    schedule: "@every 1s"
    type: PodChaos
    historyLimit: 1
    concurrencyPolicy: Forbid
    podChaos: {action: pod-kill, mode: one, selector: {labelSelectors: {app: nope}}}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := DryRun(ctx, exp, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("want the workflow template and the schedule, got %+v", got)
	}
	wf, sc := got[0], got[1]
	if wf.Source != "workflow template kill-web" || wf.Kind != "PodChaos" || wf.Error != "" || len(wf.Targets) != 2 {
		t.Fatalf("workflow template: %+v", wf)
	}
	for _, tg := range wf.Targets {
		if !strings.HasPrefix(tg.Name, "web-") {
			t.Fatalf("target %s is not a web replica", tg.Name)
		}
	}
	if sc.Source != "schedules[0]" || sc.Name != "every-second" || sc.Error == "" || len(sc.Targets) != 0 {
		t.Fatalf("a schedule whose selector matches nothing must carry the reason: %+v", sc)
	}
}
