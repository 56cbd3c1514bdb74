package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/kube"
	"github.com/faultline-dev/faultline/internal/kube/testenv"
)

// kubeCluster is one real control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok) shared by this package's
// Kubernetes tests, started on first use; each test works in its own
// namespaces.
var kubeCluster = testenv.NewShared(testenv.Options{Nodes: 2})

func TestMain(m *testing.M) {
	code := m.Run()
	if err := kubeCluster.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "kube testenv stop:", err)
	}
	os.Exit(code)
}

type kubeFixture struct {
	t   *testing.T
	env *testenv.Env
	dir string
}

func newKubeFixture(t *testing.T) *kubeFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real Kubernetes control plane")
	}
	return &kubeFixture{t: t, env: kubeCluster.Env(t), dir: t.TempDir()}
}

func (f *kubeFixture) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	f.t.Cleanup(cancel)
	return ctx
}

// namespace makes a namespace, opted in to chaos or not, deleted at cleanup.
func (f *kubeFixture) namespace(name string, optIn bool) {
	f.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if optIn {
		ns.Annotations = map[string]string{"faultline.dev/chaos": "enabled"}
	}
	if _, err := f.env.Clientset.CoreV1().Namespaces().Create(f.ctx(), ns, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		_ = f.env.Clientset.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// deployment creates a Deployment of kwok pods and waits until it is available.
func (f *kubeFixture) deployment(ns, name string, replicas int32) {
	f.t.Helper()
	ctx := f.ctx()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}},
				},
			},
		},
	}
	if _, err := f.env.Clientset.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.waitAvailable(ns, name, replicas)
}

func (f *kubeFixture) waitAvailable(ns, name string, replicas int32) {
	f.t.Helper()
	err := wait.PollUntilContextCancel(f.ctx(), 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		d, err := f.env.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.AvailableReplicas == replicas && d.Status.Replicas == replicas && *d.Spec.Replicas == replicas, nil
	})
	if err != nil {
		f.t.Fatalf("deployment %s/%s not available with %d replicas: %v", ns, name, replicas, err)
	}
}

func (f *kubeFixture) podNames(ns, app string) []string {
	f.t.Helper()
	list, err := f.env.Clientset.CoreV1().Pods(ns).List(f.ctx(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}

// write puts a file in the fixture's directory and returns its path.
func (f *kubeFixture) write(name, content string) string {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// envFile writes a kube Environment for the test cluster.
func (f *kubeFixture) envFile(namespaces string, extra string) string {
	return f.write("env-"+strings.NewReplacer(",", "", " ", "").Replace(namespaces)+".yaml", fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: testcluster}
spec:
  kube:
    kubeconfig: %s
    namespaces: [%s]
    access: direct
%s`, f.env.Kubeconfig, namespaces, extra))
}

func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(ctx, args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestKubeInjectDryRunListsTheExactPodsAndTheSeedRepeatsThem(t *testing.T) {
	f := newKubeFixture(t)
	f.namespace("cli-dry", true)
	f.deployment("cli-dry", "web", 6)
	env := f.envFile("cli-dry", "")
	chaos := f.write("kill.yaml", `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: kill-two, namespace: cli-dry}
spec:
  action: pod-kill
  mode: fixed
  value: "2"
  selector: {labelSelectors: {app: web}}
`)
	all := f.podNames("cli-dry", "web")
	var picks [][]string
	for range 2 {
		code, out, errs := runCLI(t, f.ctx(), "inject", "-f", chaos, "-e", env, "--dry-run", "--seed", "11", "-o", "json")
		if code != ExitOK {
			t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
		}
		var rep injectReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("dry run output: %v\n%s", err, out)
		}
		if !rep.DryRun || rep.Seed != 11 || len(rep.Faults) != 1 {
			t.Fatalf("dry run report: %+v", rep)
		}
		var names []string
		for _, tg := range rep.Faults[0].Targets {
			if tg.Namespace != "cli-dry" || !slices.Contains(all, tg.Name) || tg.Node == "" {
				t.Fatalf("target %+v is not one of the deployment's pods %v", tg, all)
			}
			names = append(names, tg.Name)
		}
		if len(names) != 2 {
			t.Fatalf("mode fixed 2 picked %v", names)
		}
		picks = append(picks, names)
	}
	if !slices.Equal(picks[0], picks[1]) {
		t.Fatalf("the same seed picked %v, then %v", picks[0], picks[1])
	}
	if got := f.podNames("cli-dry", "web"); !slices.Equal(got, all) {
		t.Fatalf("a dry run touched pods: before %v, after %v", all, got)
	}
}

func TestKubeInjectKillsTheDryRunsPodsAndRefusesANamespaceNotOptedIn(t *testing.T) {
	f := newKubeFixture(t)
	f.namespace("cli-kill", true)
	f.namespace("cli-closed", false)
	f.deployment("cli-kill", "web", 4)
	env := f.envFile("cli-kill, cli-closed", "")
	chaos := f.write("kill.yaml", `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: kill-one, namespace: cli-kill}
spec:
  action: pod-kill
  mode: one
  selector: {labelSelectors: {app: web}}
`)
	code, out, errs := runCLI(t, f.ctx(), "inject", "-f", chaos, "-e", f.envFile("cli-kill", ""), "--dry-run", "--seed", "5", "-o", "json")
	if code != ExitOK {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	var dry injectReport
	if err := json.Unmarshal([]byte(out), &dry); err != nil || len(dry.Faults) != 1 || len(dry.Faults[0].Targets) != 1 {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	victim := dry.Faults[0].Targets[0].Name

	code, out, errs = runCLI(t, f.ctx(), "inject", "-f", chaos, "-e", f.envFile("cli-kill", ""), "--seed", "5", "-o", "json")
	if code != ExitOK {
		t.Fatalf("inject: exit %d\n%s\n%s", code, out, errs)
	}
	var rep injectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Injections) != 1 {
		t.Fatalf("inject report: %v\n%s", err, out)
	}
	inj := rep.Injections[0]
	if len(inj.Targets) != 1 || inj.Targets[0].Name != victim {
		t.Fatalf("injected into %+v, the dry run with the same seed showed %s", inj.Targets, victim)
	}
	if !hasEvent(inj.Events, engine.EventInjected, victim) {
		t.Fatalf("no Injected event for %s: %+v", victim, inj.Events)
	}
	if slices.Contains(f.podNames("cli-kill", "web"), victim) {
		t.Fatalf("pod %s still exists", victim)
	}
	f.waitAvailable("cli-kill", "web", 4)

	// A namespace that has not opted in is refused, and nothing is injected.
	f.deployment("cli-closed", "db", 1)
	closed := f.write("closed.yaml", `apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: kill-db, namespace: cli-closed}
spec:
  action: pod-kill
  mode: all
  selector: {labelSelectors: {app: db}}
`)
	before := f.podNames("cli-closed", "db")
	code, out, errs = runCLI(t, f.ctx(), "inject", "-f", closed, "-e", env)
	if code != ExitInvalid || !strings.Contains(errs, "has not opted in") || !strings.Contains(errs, "kubectl annotate namespace cli-closed") || !strings.Contains(errs, "nothing was injected") {
		t.Fatalf("want a refusal naming the opt-in annotation: exit %d\n%s\n%s", code, out, errs)
	}
	if got := f.podNames("cli-closed", "db"); !slices.Equal(got, before) {
		t.Fatalf("a refused fault touched pods: %v -> %v", before, got)
	}
}

func hasEvent(evs []engine.Event, typ engine.EventType, target string) bool {
	for _, e := range evs {
		if e.Type == typ && strings.Contains(e.Target, target) {
			return true
		}
	}
	return false
}

func TestKubeRecoverAndStopRevertJournaledFaults(t *testing.T) {
	f := newKubeFixture(t)
	f.namespace("cli-rec", true)
	f.deployment("cli-rec", "web", 3)
	env := f.envFile("cli-rec", "")

	code, out, errs := runCLI(t, f.ctx(), "recover", "-e", env)
	if code != ExitOK || !strings.Contains(out, "nothing to recover in the cluster") {
		t.Fatalf("recover on a clean cluster: exit %d\n%s\n%s", code, out, errs)
	}

	// A fault held by another faultline (an engine of this test, renewing
	// its lease): recover leaves it, recover --force and stop revert it.
	for _, cmd := range [][]string{{"recover", "--force"}, {"stop"}} {
		eng, err := kube.New(f.env.Config, kube.Options{Namespaces: []string{"cli-rec"}})
		if err != nil {
			t.Fatal(err)
		}
		one := int32(1)
		scale := &v1alpha1.ScaleChaosSpec{Workload: &v1alpha1.ScaleWorkload{Kind: v1alpha1.WorkloadDeployment, Name: "web"}, Replicas: &one}
		inj, err := eng.Inject(f.ctx(), engine.Fault{Kind: "ScaleChaos", Name: "shrink", Namespace: "cli-rec", Spec: scale, Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		f.waitAvailable("cli-rec", "web", 1)
		code, out, errs := runCLI(t, f.ctx(), "recover", "-e", env)
		if code != ExitOK || !strings.Contains(out, "1 fault held by running faultline processes") {
			t.Fatalf("recover must leave a held fault alone: exit %d\n%s\n%s", code, out, errs)
		}
		args := append(cmd, "-e", env)
		code, out, errs = runCLI(t, f.ctx(), args...)
		if code != ExitOK || !strings.Contains(out, inj.ID()) || !strings.Contains(out, "reverted") {
			t.Fatalf("%v: exit %d\n%s\n%s", cmd, code, out, errs)
		}
		f.waitAvailable("cli-rec", "web", 3)
		leases, err := f.env.Clientset.CoordinationV1().Leases(kube.DefaultJournalNamespace).List(f.ctx(), metav1.ListOptions{LabelSelector: "faultline.dev/journal"})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases.Items {
			if l.Name == inj.ID() {
				t.Fatalf("%v left the journal lease %s", cmd, l.Name)
			}
		}
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = eng.Close(cctx)
		cancel()
		f.waitAvailable("cli-rec", "web", 3)
	}
}

// `faultline run -e` runs an experiment against the cluster: load on a URL
// (serviceURLs), a pod-kill on kwok pods, and the verdict.
func TestKubeRunExperimentAgainstTheCluster(t *testing.T) {
	f := newKubeFixture(t)
	f.namespace("cli-run", true)
	f.deployment("cli-run", "web", 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	t.Cleanup(srv.Close)
	env := f.envFile("cli-run", "    serviceURLs: {web: "+srv.URL+"}\n")
	exp := f.write("exp.yaml", `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: kill-on-kube}
spec:
  environment: {file: nowhere.yaml}
  phases: {baseline: 30s, fault: 60s, recovery: 60s}
  load: {target: web, path: /, rate: 20}
  faults:
  - name: kill
    at: 200ms
    podChaos:
      action: pod-kill
      mode: fixed
      value: "2"
      selector: {namespaces: [cli-run], labelSelectors: {app: web}}
  slos:
  - {name: available, metric: availability, min: 99}
`)
	before := f.podNames("cli-run", "web")
	jsonOut := filepath.Join(f.dir, "result.json")
	code, out, errs := runCLI(t, f.ctx(), "run", "-f", exp, "-e", env, "--phases", "baseline=1s,fault=3s,recovery=1s", "-q", "--json", jsonOut)
	if code != ExitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}
	raw, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kill-on-kube"`, `"PodChaos"`, `"verdict": "pass"`} {
		if !strings.Contains(string(raw), want) {
			t.Fatalf("result JSON lacks %s:\n%.2000s", want, raw)
		}
	}
	var killed []string
	after := f.podNames("cli-run", "web")
	for _, p := range before {
		if !slices.Contains(after, p) {
			killed = append(killed, p)
		}
	}
	if len(killed) != 2 {
		t.Fatalf("want 2 of %v killed, pods now %v", before, after)
	}
	for _, p := range killed {
		if !strings.Contains(string(raw), `"`+p+`"`) {
			t.Fatalf("the result does not name the killed pod %s as a target", p)
		}
	}
}

// A `faultline run` SIGKILLed in the middle of its fault phase leaves a
// node cordoned and tainted, a Deployment scaled down and pods on the pause
// image; `faultline recover -e` puts every one back from the journal, and
// no journal Lease is left.
func TestKubeRecoverAfterSIGKILLMidExperiment(t *testing.T) {
	f := newKubeFixture(t)
	f.namespace("cli-crash", true)
	f.deployment("cli-crash", "store", 3)
	f.deployment("cli-crash", "model", 2)
	bin := filepath.Join(f.dir, "faultline")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/faultline").CombinedOutput(); err != nil {
		t.Fatalf("build faultline: %v\n%s", err, out)
	}
	// A node of its own, so tainting it disturbs no other test's pods.
	node := "kwok-crash-node"
	if err := f.env.AddNodes(f.ctx(), node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.env.Clientset.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	t.Cleanup(srv.Close)
	env := f.envFile("cli-crash", "    serviceURLs: {store: "+srv.URL+"}\n")
	exp := f.write("crash.yaml", fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: crash}
spec:
  environment: {file: %s}
  phases: {baseline: 1s, fault: 5m, recovery: 1s}
  load: {target: store, path: /, rate: 5}
  faults:
  - name: node-down
    nodeChaos: {action: node-down, mode: all, selector: {nodes: [%s]}}
  - name: shrink
    scaleChaos: {workload: {kind: Deployment, name: store, namespace: cli-crash}, replicas: 1}
  - name: fail
    podChaos:
      action: pod-failure
      mode: all
      selector: {namespaces: [cli-crash], labelSelectors: {app: model}}
`, env, node))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "-f", exp, "-q")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cs := f.env.Clientset
	faulted := func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		d, err := cs.AppsV1().Deployments("cli-crash").Get(ctx, "store", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pods, err := cs.CoreV1().Pods("cli-crash").List(ctx, metav1.ListOptions{LabelSelector: "app=model"})
		if err != nil {
			return false, err
		}
		paused := 0
		for _, p := range pods.Items {
			if strings.Contains(p.Spec.Containers[0].Image, "pause") {
				paused++
			}
		}
		return n.Spec.Unschedulable && hasTaint(n.Spec.Taints, kube.NodeDownTaint) && *d.Spec.Replicas == 1 && paused == 2, nil
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, faulted); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the faults never all applied: %v\n%s", err, out.String())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no revert runs
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if still, err := faulted(ctx); err != nil || !still {
		t.Fatalf("after SIGKILL the faults must still be in place (nothing reverted them): %v %v", still, err)
	}

	code, stdout, errs := runCLI(t, ctx, "recover", "-e", env)
	if code != ExitOK {
		t.Fatalf("recover: exit %d\n%s\n%s", code, stdout, errs)
	}
	for _, want := range []string{"NodeChaos node-down", "ScaleChaos shrink", "PodChaos fail", "owner"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("recover output lacks %q:\n%s", want, stdout)
		}
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Spec.Unschedulable || hasTaint(n.Spec.Taints, kube.NodeDownTaint) {
		t.Fatalf("node %s still cordoned or tainted: %+v", node, n.Spec)
	}
	f.waitAvailable("cli-crash", "store", 3)
	pods, err := cs.CoreV1().Pods("cli-crash").List(ctx, metav1.ListOptions{LabelSelector: "app=model"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if img := p.Spec.Containers[0].Image; img != "example.com/app:1" {
			t.Fatalf("pod %s still runs %s", p.Name, img)
		}
	}
	leases, err := cs.CoordinationV1().Leases(kube.DefaultJournalNamespace).List(ctx, metav1.ListOptions{LabelSelector: "faultline.dev/journal"})
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Items) > 0 {
		t.Fatalf("%d journal leases left after recover", len(leases.Items))
	}
}

func hasTaint(ts []corev1.Taint, key string) bool {
	for _, t := range ts {
		if t.Key == key {
			return true
		}
	}
	return false
}

// `faultline run --dry-run -e` lists what every fault of an experiment
// would hit on the cluster, refuses what the safety checks refuse, and
// touches nothing: no pod deleted, no journal Lease written.
func TestKubeRunDryRunListsEveryFaultAndTouchesNothing(t *testing.T) {
	f := newKubeFixture(t)
	f.namespace("cli-rdry", true)
	f.namespace("cli-rdry-closed", false)
	f.deployment("cli-rdry", "web", 4)
	env := f.envFile("cli-rdry", "    maxPods: 3\n")
	exp := f.write("dry.yaml", `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: dry}
spec:
  environment: {file: nowhere.yaml}
  phases: {baseline: 1s, fault: 10s, recovery: 1s}
  faults:
  - name: kill-two
    podChaos: {action: pod-kill, mode: fixed, value: "2", selector: {namespaces: [cli-rdry], labelSelectors: {app: web}}}
  - name: kill-all
    podChaos: {action: pod-kill, mode: all, selector: {namespaces: [cli-rdry], labelSelectors: {app: web}}}
  - name: closed
    podChaos: {action: pod-kill, mode: all, selector: {namespaces: [cli-rdry-closed]}}
`)
	before := f.podNames("cli-rdry", "web")
	code, out, errs := runCLI(t, f.ctx(), "run", "-f", exp, "-e", env, "--dry-run", "-o", "json")
	if code != ExitInvalid {
		t.Fatalf("two faults must be refused (exit 1): exit %d\n%s\n%s", code, out, errs)
	}
	var res dryRunResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\nstdout: %s\nstderr: %s", err, out, errs)
	}
	if res.Experiment != "dry" || len(res.Faults) != 3 {
		t.Fatalf("want the 3 faults of experiment dry: %+v", res)
	}
	two, all, closed := res.Faults[0], res.Faults[1], res.Faults[2]
	if two.Source != "faults[0]" || two.Error != "" || len(two.Targets) != 2 {
		t.Fatalf("kill-two: %+v", two)
	}
	for _, tg := range two.Targets {
		if !slices.Contains(before, tg.Name) {
			t.Fatalf("kill-two would hit %s, not a pod of web %v", tg.Name, before)
		}
	}
	if !strings.Contains(all.Error, "blast radius") || !strings.Contains(errs, "kill-all") {
		t.Fatalf("kill-all (4 pods, cap 3) must be refused by the blast radius: %+v\n%s", all, errs)
	}
	if !strings.Contains(closed.Error, "not one of the environment's namespaces") {
		t.Fatalf("a namespace outside the environment must be refused: %+v", closed)
	}
	if got := f.podNames("cli-rdry", "web"); !slices.Equal(got, before) {
		t.Fatalf("a dry run touched pods: %v -> %v", before, got)
	}
	leases, err := f.env.Clientset.CoordinationV1().Leases(kube.DefaultJournalNamespace).List(f.ctx(), metav1.ListOptions{LabelSelector: "faultline.dev/journal"})
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Items) > 0 {
		t.Fatalf("a dry run wrote %d journal leases", len(leases.Items))
	}
}
