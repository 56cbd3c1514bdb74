package local

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// recsysBuild builds the demo's recsys binary once for the package's
// tests: the model faults run against the real model server.
var recsysBuild = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fl-recsys")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "recsys")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/faultline-dev/faultline/demo/cmd/recsys").CombinedOutput(); err != nil {
		return "", &buildError{err: err, out: string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "build recsys: " + e.err.Error() + "\n" + e.out }

// modelEnvironment is one model-server service of the real demo server
// with n replicas sharing a working directory with freshly built models
// (v1, v2), as pods share a volume. It returns the environment and that
// directory.
func modelEnvironment(t *testing.T, name string, n int32) (*v1alpha1.Environment, string) {
	t.Helper()
	bin, err := recsysBuild()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "model", "build", "--out", filepath.Join(work, "models")).CombinedOutput(); err != nil {
		t.Fatalf("model build: %v\n%s", err, out)
	}
	probe := &v1alpha1.HealthProbe{HTTPGet: &v1alpha1.HealthProbeHTTPGet{Path: "/v2/health/ready"},
		PeriodSeconds: ptr(int32(1)), FailureThreshold: ptr(int32(1))}
	return &v1alpha1.Environment{
		TypeMeta:   v1alpha1.TypeMeta{APIVersion: v1alpha1.FaultlineAPIVersion, Kind: "Environment"},
		ObjectMeta: v1alpha1.ObjectMeta{Name: name},
		Spec: v1alpha1.EnvironmentSpec{
			Namespace: "chaos",
			Services: []v1alpha1.EnvironmentService{{
				Name: "model-server", Replicas: ptr(n), Command: []string{bin, "serve-model"}, WorkingDir: work,
				Env:            []v1alpha1.ServiceEnvVar{{Name: "MODEL_DIR", Value: "models"}, {Name: "MODEL_LOAD_DELAY", Value: "300ms"}},
				ReadinessProbe: probe, TerminationGracePeriodSeconds: ptr(int64(5)),
			}},
		},
	}, work
}

func modelChaos(name string, spec v1alpha1.ModelChaosSpec, replicas ...string) engine.Fault {
	spec.Selector = pods(replicas...)
	spec.Mode = v1alpha1.ModeAll
	return engine.Fault{Kind: "ModelChaos", Name: name, Spec: &spec}
}

// servedVersion asks a replica's OIP endpoint which version it serves.
func servedVersion(t *testing.T, s *Supervisor, replica string) string {
	t.Helper()
	st := replicaOf(t, s, replica)
	v, err := oipVersion(context.Background(), net.JoinHostPort(st.IP, strconv.Itoa(st.Port)), "recsys")
	if err != nil {
		return "error: " + err.Error()
	}
	return v
}

func modelFidelity(inj engine.Injection, target, quantity string) (engine.Fidelity, bool) {
	for _, f := range inj.Fidelity() {
		if f.Target == target && f.Quantity == quantity {
			return f, true
		}
	}
	return engine.Fidelity{}, false
}

func TestModelStaleVersion(t *testing.T) {
	env, _ := modelEnvironment(t, "mstale", 2)
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	for _, r := range []string{"model-server-0", "model-server-1"} {
		if v := servedVersion(t, s, r); v != "v2" {
			t.Fatalf("%s serves %q before the fault, want v2 (the newest)", r, v)
		}
	}
	before := replicaOf(t, s, "model-server-0").Restarts
	inj, err := e.Inject(testContext(t), modelChaos("stale", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelStaleVersion, Model: "recsys", Version: "v1"}, "model-server-0"))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "model-server-0 serves v1", func() bool { return servedVersion(t, s, "model-server-0") == "v1" })
	if v := servedVersion(t, s, "model-server-1"); v != "v2" {
		t.Errorf("model-server-1 (not selected) serves %q, want v2", v)
	}
	if r := replicaOf(t, s, "model-server-0"); r.Restarts != before+1 {
		t.Errorf("restarts %d, want %d", r.Restarts, before+1)
	}
	waitUntil(t, "the fidelity reads the version from OIP", func() bool {
		f, ok := modelFidelity(inj, "model-server-0", "model version")
		return ok && strings.HasPrefix(f.Measured, "v1 (OIP")
	})
	f, _ := modelFidelity(inj, "model-server-0", "model version")
	t.Logf("fidelity: asked %s measured %s", f.Asked, f.Measured)
	// A crash restart keeps the override: the replica comes back on v1.
	if err := s.KillContainer("model-server-0", "", 9); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "model-server-0 back on v1 after a crash", func() bool {
		return replicaOf(t, s, "model-server-0").Restarts >= before+2 && servedVersion(t, s, "model-server-0") == "v1"
	})
	rctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := inj.Revert(rctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "model-server-0 serves v2 after the revert", func() bool { return servedVersion(t, s, "model-server-0") == "v2" })
	if _, ok := s.ReplicaOverrideOf("model-server-0"); ok {
		t.Error("override left after the revert")
	}
}

func TestModelCorruptFile(t *testing.T) {
	for _, c := range []v1alpha1.ModelCorruption{v1alpha1.CorruptionFlip, v1alpha1.CorruptionTruncate} {
		t.Run(string(c), func(t *testing.T) {
			env, work := modelEnvironment(t, "mcorrupt"+string(c[0]), 2)
			s := startEnv(t, env, testOptions(t))
			waitReady(t, s)
			e := newTestEngine(t, s)
			path := filepath.Join(work, "models", "recsys-v2.model")
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			inj, err := e.Inject(testContext(t), modelChaos("corrupt", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelCorruptFile, Path: "models/recsys-v2.model", Corruption: c}, "model-server-0"))
			if err != nil {
				t.Fatal(err)
			}
			bad, _ := os.ReadFile(path)
			switch {
			case bytes.Equal(bad, orig):
				t.Fatal("file unchanged")
			case c == v1alpha1.CorruptionFlip && len(bad) != len(orig):
				t.Fatalf("flip changed the size: %d → %d", len(orig), len(bad))
			case c == v1alpha1.CorruptionTruncate && len(bad) != len(orig)/2:
				t.Fatalf("truncate: %d bytes, want %d", len(bad), len(orig)/2)
			}
			// The replica restarted on the corrupt file stays unready for
			// good (checked for 3 s, three readiness periods); the other
			// one keeps serving.
			waitUntil(t, "model-server-0 restarted", func() bool {
				r := replicaOf(t, s, "model-server-0")
				return r.Restarts >= 1 && r.Containers[0].State == StateRunning
			})
			deadline := time.After(3 * time.Second)
		watch:
			for {
				select {
				case <-deadline:
					break watch
				case <-time.After(100 * time.Millisecond):
				}
				if replicaOf(t, s, "model-server-0").Ready {
					t.Fatal("model-server-0 got ready on the corrupt file")
				}
				if !replicaOf(t, s, "model-server-1").Ready {
					t.Fatal("model-server-1 (not selected) is not ready")
				}
			}
			if v := servedVersion(t, s, "model-server-1"); v != "v2" {
				t.Errorf("model-server-1 serves %q", v)
			}
			f, ok := modelFidelity(inj, "model-server-0", "ready on the corrupt file")
			if !ok || f.MeasuredValue != 0 || !strings.HasPrefix(f.Measured, "no") {
				t.Errorf("fidelity %+v", f)
			}
			t.Logf("fidelity: %s; %s", f.Measured, mustFidelity(t, inj, "model-server-0", "model file damage").Measured)
			rctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := inj.Revert(rctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, orig) {
				t.Fatal("file not restored to its original bytes")
			}
			if entries, _ := os.ReadDir(filepath.Join(s.Dir(), "model-backups")); len(entries) != 0 {
				t.Errorf("backups left: %v", entries)
			}
			waitUntil(t, "model-server-0 ready again", func() bool { return replicaOf(t, s, "model-server-0").Ready })
			mustFidelity(t, inj, "model-server-0", "model file restored")
		})
	}
}

func mustFidelity(t *testing.T, inj engine.Injection, target, q string) engine.Fidelity {
	t.Helper()
	f, ok := modelFidelity(inj, target, q)
	if !ok {
		t.Fatalf("no fidelity %q for %s in %+v", q, target, inj.Fidelity())
	}
	return f
}

func TestModelSlowLoad(t *testing.T) {
	if !isRoot() {
		t.Skip("slow-load needs root: it mounts FUSE in a mount namespace of the replica's own")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("slow-load needs /dev/fuse: " + err.Error())
	}
	env, work := modelEnvironment(t, "mslow", 2)
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	e := newTestEngine(t, s)
	const delay = 2 * time.Second
	inj, err := e.Inject(testContext(t), modelChaos("slow", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelSlowLoad, Path: "models/recsys-v2.model", Delay: delay.String()}, "model-server-0"))
	if err != nil {
		t.Fatal(err)
	}
	var f engine.Fidelity
	waitUntil(t, "model-server-0 ready again under slow-load", func() bool {
		var ok bool
		f, ok = modelFidelity(inj, "model-server-0", "extra time to ready")
		return ok && strings.Contains(f.Measured, "before the fault")
	})
	t.Logf("fidelity: asked %s measured %s; %+v", f.Asked, f.Measured, mustFidelity(t, inj, "model-server-0", "model reads delayed"))
	// Measured extra time within [delay-10%, delay+1.5s]: readiness is
	// polled every 50ms, the rest is process start noise.
	if f.MeasuredValue < 0.9*delay.Seconds() || f.MeasuredValue > delay.Seconds()+1.5 {
		t.Errorf("extra time to ready %.2fs, asked %s", f.MeasuredValue, delay)
	}
	// The other replica, and this process, read the real file at once.
	if v := servedVersion(t, s, "model-server-1"); v != "v2" {
		t.Errorf("model-server-1 serves %q", v)
	}
	start := time.Now()
	if _, err := os.ReadFile(filepath.Join(work, "models", "recsys-v2.model")); err != nil || time.Since(start) > delay/2 {
		t.Errorf("the supervisor's own view is slowed or broken: %v after %s", err, time.Since(start))
	}
	if out, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(out, []byte("faultline-model")) {
		t.Error("the FUSE view is in the supervisor's mount namespace")
	}
	rctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := inj.Revert(rctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "model-server-0 ready after the revert", func() bool { return replicaOf(t, s, "model-server-0").Ready })
	if entries, _ := os.ReadDir(filepath.Join(s.Dir(), "model-views")); len(entries) != 0 {
		t.Errorf("mount points left: %v", entries)
	}
}

func TestModelBadInput(t *testing.T) {
	env, work := modelEnvironment(t, "mbad", 1)
	if err := os.Symlink("/proc/self/status", filepath.Join(work, "proc-link")); err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	s := startEnv(t, env, opts)
	waitReady(t, s)
	e := newTestEngine(t, s)
	cases := []struct {
		name string
		spec v1alpha1.ModelChaosSpec
		want string
	}{
		{"no action", v1alpha1.ModelChaosSpec{}, "no action"},
		{"unknown action", v1alpha1.ModelChaosSpec{Action: "melt"}, "unknown action"},
		{"no version", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelStaleVersion}, "needs version"},
		{"bad version env", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelStaleVersion, Version: "v1", VersionEnv: "MODEL VERSION"}, "not an environment variable name"},
		{"no path", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelCorruptFile}, "needs path"},
		{"missing file", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelCorruptFile, Path: "models/recsys-v9.model"}, "does not exist"},
		{"directory", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelCorruptFile, Path: "models"}, "is a directory"},
		{"pseudo file", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelCorruptFile, Path: "proc-link"}, "is in /proc"},
		{"bad corruption", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelCorruptFile, Path: "models/recsys-v2.model", Corruption: "shred"}, "unknown corruption"},
		{"no delay", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelSlowLoad, Path: "models/recsys-v2.model"}, "needs delay"},
		{"negative delay", v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelSlowLoad, Path: "models/recsys-v2.model", Delay: "-1s"}, "needs delay"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Inject(testContext(t), modelChaos("bad", c.spec, "model-server-0"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	// A second corrupt-file on the same file is refused while the first
	// holds, and the first still reverts to the original bytes.
	path := filepath.Join(work, "models", "recsys-v2.model")
	orig, _ := os.ReadFile(path)
	spec := v1alpha1.ModelChaosSpec{Action: v1alpha1.ModelCorruptFile, Path: "models/recsys-v2.model"}
	first, err := e.Inject(testContext(t), modelChaos("first", spec, "model-server-0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Inject(testContext(t), modelChaos("second", spec, "model-server-0")); err == nil || !strings.Contains(err.Error(), "already corrupted") {
		t.Errorf("second corruption: %v", err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := first.Revert(rctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, orig) {
		t.Error("not restored")
	}
}

const modelCrashFaults = `apiVersion: faultline.dev/v1alpha1
kind: ModelChaos
metadata: {name: corrupt-model}
spec:
  action: corrupt-file
  path: models/recsys-v2.model
  corruption: truncate
  mode: all
  selector: {pods: {chaos: [model-server-0]}}
  duration: 10m
`

const modelCrashSlow = `---
apiVersion: faultline.dev/v1alpha1
kind: ModelChaos
metadata: {name: slow-model}
spec:
  action: slow-load
  path: models/recsys-v1.model
  delay: 20s
  mode: all
  selector: {pods: {chaos: [model-server-1]}}
  duration: 10m
`

// TestModelCrashRecover: the supervisor holding a corrupt-file (and a
// slow-load) dies by SIGKILL; `faultline recover` restores the model file
// from its backup, and nothing stays mounted.
func TestModelCrashRecover(t *testing.T) {
	if faultlineErr != nil {
		t.Fatal(faultlineErr)
	}
	stateDir := testOptions(t).StateDir
	const name = "mcrash"
	env, work := modelEnvironment(t, name, 2)
	// slow-load's view only has to exist when the supervisor dies.
	startHelperSupervisor(t, stateDir, env)
	faults := modelCrashFaults
	withSlow := isRoot()
	if withSlow {
		faults += modelCrashSlow
	}
	file := filepath.Join(t.TempDir(), "faults.yaml")
	if err := os.WriteFile(file, []byte(faults), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(work, "models", "recsys-v2.model")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(stateDir, name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testContext(t)
	_, out, _ := runInjectClient(t, stateDir, file, name)
	want := 1
	if withSlow {
		want = 2
	}
	waitUntil(t, "the faults are active", func() bool {
		list, err := c.Injections(ctx)
		got, _ := os.ReadFile(path)
		return err == nil && len(list) == want && len(got) == len(orig)/2
	})
	st, err := ReadState(stateDir, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.Owner.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the supervisor is gone", func() bool { return !st.Owner.Alive() })
	if got, _ := os.ReadFile(path); bytes.Equal(got, orig) {
		t.Fatal("the file was restored without recover: the test proves nothing")
	}
	rep, err := Recover(ctx, stateDir, RecoverOptions{})
	if err != nil {
		t.Fatalf("Recover: %v\n%+v\ninject: %s", err, rep, out.String())
	}
	for _, ri := range rep.Injections {
		t.Logf("recovered %s %s: %+v", ri.Kind, ri.Name, ri.Steps)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, orig) {
		t.Fatal("recover did not restore the model file")
	}
	envDir := EnvDir(stateDir, name)
	for _, d := range []string{"model-backups", "model-views"} {
		if entries, _ := os.ReadDir(filepath.Join(envDir, d)); len(entries) != 0 {
			t.Errorf("%s left: %v", d, entries)
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte("faultline-model")) {
		t.Error("a FUSE view is still mounted")
	}
	if entries, _ := journalIn(t, stateDir).List(); len(entries) != 0 {
		t.Errorf("journal after recover: %+v", entries)
	}
}
