package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
)

// startTestEnv runs a small environment in this process — 3 nodes, a
// service "web" of 3 replicas and "db" of 1, each a sleep — with the fault
// engine on its control socket, in a fresh state directory that
// FAULTLINE_STATE_DIR points the commands at.
func startTestEnv(t *testing.T, name string) *local.Supervisor {
	t.Helper()
	stateDir, err := os.MkdirTemp("", "flc") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stateDir) })
	t.Setenv("FAULTLINE_STATE_DIR", stateDir)
	svc := func(name string, n int32) v1alpha1.EnvironmentService {
		return v1alpha1.EnvironmentService{Name: name, Replicas: &n, Command: []string{"sleep", "1000"},
			Labels: map[string]string{"tier": name}, TerminationGracePeriodSeconds: new(int64)}
	}
	env := &v1alpha1.Environment{
		TypeMeta:   v1alpha1.TypeMeta{APIVersion: v1alpha1.FaultlineAPIVersion, Kind: "Environment"},
		ObjectMeta: v1alpha1.ObjectMeta{Name: name},
		Spec: v1alpha1.EnvironmentSpec{Namespace: "shop", EvictionDelay: "200ms",
			Nodes:    []v1alpha1.EnvironmentNode{{Name: "node-1"}, {Name: "node-2"}, {Name: "node-3"}},
			Services: []v1alpha1.EnvironmentService{svc("web", 3), svc("db", 1)}},
	}
	s, err := local.New(env, local.Options{StateDir: stateDir, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, err := local.AttachEngine(s, local.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("engine Close: %v", err)
		}
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "faults.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func frozen(t *testing.T, s *local.Supervisor, name string) bool {
	r, ok := s.Replica(name)
	if !ok {
		t.Fatalf("no replica %s", name)
	}
	return r.Frozen
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func journalEntries(t *testing.T) []*engine.Entry {
	t.Helper()
	j, err := engine.OpenJournal(filepath.Join(engine.StateDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	es, err := j.List()
	if err != nil {
		t.Fatal(err)
	}
	return es
}

const podFailureWeb = `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: fail-web}
spec:
  action: pod-failure
  mode: fixed
  value: "2"
  selector:
    labelSelectors: {tier: web}
  duration: %s
`

func TestInjectDryRunListsTargets(t *testing.T) {
	s := startTestEnv(t, "clidry")
	f := writeFile(t, strings.Replace(podFailureWeb, "%s", "1h", 1))
	code, out, errs := run(t, "", "inject", "-f", f, "--dry-run", "--seed", "7")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "FAULT") || !strings.Contains(lines[0], "NAMESPACE") ||
		!strings.Contains(lines[1], "PodChaos/fail-web") || !strings.Contains(lines[1], "shop") || !strings.Contains(lines[1], "node-") {
		t.Fatalf("dry run table:\n%s", out)
	}
	if !strings.Contains(errs, "seed 7") || !strings.Contains(errs, "nothing injected") {
		t.Fatalf("stderr: %s", errs)
	}
	// The same seed picks the same targets; nothing was injected.
	_, again, _ := run(t, "", "inject", "-f", f, "--dry-run", "--seed", "7")
	if again != out {
		t.Fatalf("same seed, different targets:\n%s\n%s", out, again)
	}
	for _, r := range s.Status().Replicas {
		if r.Frozen {
			t.Fatalf("dry run froze %s", r.Name)
		}
	}
	code, out, _ = run(t, "", "inject", "-f", f, "--dry-run", "--seed", "7", "-o", "json")
	var rep struct {
		Environment string
		Seed        uint64
		DryRun      bool
		Faults      []struct {
			Kind, Name string
			Targets    []engine.Target
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitOK {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Environment != "clidry" || rep.Seed != 7 || !rep.DryRun || len(rep.Faults) != 1 || len(rep.Faults[0].Targets) != 2 {
		t.Fatalf("json report %+v", rep)
	}
}

func TestInjectBadInputInjectsNothing(t *testing.T) {
	s := startTestEnv(t, "clibad")
	good := strings.Replace(podFailureWeb, "%s", "1h", 1)
	tests := []struct {
		name, manifest, want string
	}{
		{"selector matches nothing", `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: nobody}
spec: {action: pod-kill, mode: one, selector: {labelSelectors: {tier: nope}}}
`, "matches no target"},
		{"mode asks for too many", `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: many}
spec: {action: pod-kill, mode: fixed, value: "4", selector: {labelSelectors: {tier: web}}}
`, "asks for 4 targets but the selector matches only 3"},
		{"fault the local engine cannot honour", `apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: slow}
spec: {action: delay, mode: all, selector: {labelSelectors: {tier: web}}, delay: {latency: 100ms}, externalTargets: [example.com]}
`, "no traffic leaves a local environment"},
		{"not a fault", `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: e}
spec:
  nodes: [{name: n}]
  services: [{name: s, command: [sleep]}]
`, "is not a fault"},
		{"invalid manifest", `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: typo}
spec: {action: pod-kil, mode: one, selector: {}}
`, `faults.yaml:15:16: spec.action: unknown value "pod-kil"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The good fault comes first: it must not be injected either.
			f := writeFile(t, good+"---\n"+tc.manifest)
			code, out, errs := run(t, "", "inject", "-f", f)
			if code != ExitInvalid || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "nothing was injected") {
				t.Fatalf("exit %d, want %q\nstdout:\n%s\nstderr:\n%s", code, tc.want, out, errs)
			}
			for _, r := range s.Status().Replicas {
				if r.Frozen {
					t.Fatalf("%s frozen after a refused inject", r.Name)
				}
			}
			if es := journalEntries(t); len(es) != 0 {
				t.Fatalf("journal: %+v", es)
			}
		})
	}
	code, _, errs := run(t, "", "inject", "-f", writeFile(t, good), "--env", "nope")
	if code != ExitInvalid || !strings.Contains(errs, "nope is not running") {
		t.Fatalf("unknown env: exit %d %s", code, errs)
	}
	code, _, _ = run(t, "", "inject")
	if code != ExitUsage {
		t.Fatalf("no -f: exit %d", code)
	}
}

func TestInjectFollowsEventsAndFidelity(t *testing.T) {
	s := startTestEnv(t, "clifollow")
	f := writeFile(t, strings.Replace(podFailureWeb, "%s", "1s", 1))
	code, out, errs := run(t, "", "inject", "-f", f, "--seed", "3")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if strings.Count(out, "Injected") != 2 || strings.Count(out, "Recovered") != 2 || !strings.Contains(out, "PodChaos/fail-web") {
		t.Fatalf("events:\n%s", out)
	}
	if !strings.Contains(out, "QUANTITY") || !strings.Contains(out, "duration") || !strings.Contains(out, "1s") {
		t.Fatalf("no fidelity table:\n%s", out)
	}
	for _, r := range s.Status().Replicas {
		if r.Frozen {
			t.Fatalf("%s still frozen", r.Name)
		}
	}

	kill := writeFile(t, `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: kill-db}
spec: {action: pod-kill, mode: all, selector: {labelSelectors: {tier: db}}}
`)
	code, out, errs = run(t, "", "inject", "-f", kill, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var rep struct {
		Injections []local.InjectionStatus
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(rep.Injections) != 1 || len(rep.Injections[0].Events) != 1 || rep.Injections[0].Events[0].Type != engine.EventInjected ||
		rep.Injections[0].Events[0].Target != "db-0" {
		t.Fatalf("json report %+v", rep)
	}
	eventually(t, "db-0 restarted", func() bool { r, _ := s.Replica("db-0"); return r.Restarts == 1 && r.Ready })
}

// runAsync runs a command with a cancellable context (Ctrl-C).
func runAsync(t *testing.T, args ...string) (cancel func(), result func() (int, string, string)) {
	ctx, cancelCtx := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, IO{In: strings.NewReader(""), Out: &out, Err: &errb}) }()
	t.Cleanup(cancelCtx)
	return cancelCtx, func() (int, string, string) {
		select {
		case code := <-done:
			return code, out.String(), errb.String()
		case <-time.After(60 * time.Second):
			t.Fatalf("%v did not end", args)
			return 0, "", ""
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestInjectInterruptRevertsAtOnce(t *testing.T) {
	s := startTestEnv(t, "cliint")
	f := writeFile(t, strings.Replace(strings.Replace(podFailureWeb, "%s", "1h", 1), `mode: fixed
  value: "2"`, "mode: all", 1))
	interrupt, result := runAsync(t, "inject", "-f", f)
	eventually(t, "web frozen", func() bool { return frozen(t, s, "web-0") && frozen(t, s, "web-1") && frozen(t, s, "web-2") })
	interrupt()
	code, out, errs := result()
	if code != ExitOK {
		t.Fatalf("exit %d after Ctrl-C\n%s\n%s", code, out, errs)
	}
	if strings.Count(out, "Recovered") != 3 || !strings.Contains(errs, "reverting") {
		t.Fatalf("output:\n%s\n%s", out, errs)
	}
	for _, r := range s.Status().Replicas {
		if r.Frozen {
			t.Fatalf("%s frozen after Ctrl-C", r.Name)
		}
	}
	if es := journalEntries(t); len(es) != 0 {
		t.Fatalf("journal: %+v", es)
	}
}

func TestStopRevertsEveryActiveFault(t *testing.T) {
	s := startTestEnv(t, "clistop")
	faults := writeFile(t, `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: fail-web-0}
spec: {action: pod-failure, mode: all, selector: {pods: {shop: [web-0]}}, duration: 1h}
---
apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: fail-db}
spec: {action: pod-failure, mode: all, selector: {labelSelectors: {tier: db}}}
---
apiVersion: faultline.dev/v1alpha1
kind: NodeChaos
metadata: {name: drain-3}
spec: {action: node-drain, mode: all, selector: {nodes: [node-3]}, duration: 1h}
---
apiVersion: faultline.dev/v1alpha1
kind: ScaleChaos
metadata: {name: web-to-1}
spec: {service: web, replicas: 1, duration: 1h}
`)
	_, result := runAsync(t, "inject", "-f", faults)
	c, err := local.Dial(engine.StateDir(), "clistop")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, "four faults active", func() bool {
		l, err := c.Injections(context.Background())
		return err == nil && len(l) == 4
	})
	code, out, errs := run(t, "", "stop")
	if code != ExitOK || !strings.Contains(out, "environment clistop: 4 faults reverted") {
		t.Fatalf("stop: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = result()
	if code != ExitOK || strings.Count(out, "Recovered") != 4 {
		t.Fatalf("inject after stop: exit %d\n%s\n%s", code, out, errs)
	}
	for _, r := range s.Status().Replicas {
		if r.Frozen {
			t.Fatalf("%s frozen after stop", r.Name)
		}
	}
	for _, n := range s.Nodes() {
		if !n.Schedulable {
			t.Fatalf("%s cordoned after stop", n.Name)
		}
	}
	eventually(t, "web back to 3 replicas", func() bool { _, ok := s.Replica("web-2"); return ok })
	if es := journalEntries(t); len(es) != 0 {
		t.Fatalf("journal: %+v", es)
	}
	// Nothing active: stop says so and succeeds.
	code, out, _ = run(t, "", "stop", "--env", "clistop")
	if code != ExitOK || !strings.Contains(out, "0 faults reverted") {
		t.Fatalf("second stop: exit %d %s", code, out)
	}
}
