package kube_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	kubedemo "github.com/faultline-dev/faultline/demo/kube"
	"github.com/faultline-dev/faultline/internal/engine/kube"
	"github.com/faultline-dev/faultline/internal/kube/testenv"
	"github.com/faultline-dev/faultline/internal/manifest"
	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/report"
	"github.com/faultline-dev/faultline/internal/runner"
	"github.com/faultline-dev/faultline/internal/testwatch"
)

// cluster is a real control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) with three kwok nodes in three
// zones, as the demo's embedded environment has three nodes.
var cluster = testenv.NewShared(testenv.Options{Nodes: 3})

// recsysBin is the demo binary, built once for the package.
var recsysBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kubedemo")
	if err != nil {
		panic(err)
	}
	recsysBin = filepath.Join(dir, "recsys")
	if out, err := exec.Command("go", "build", "-o", recsysBin, "../cmd/recsys").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	stop := testwatch.Watch(8 * time.Minute)
	code := m.Run()
	stop()
	if err := cluster.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "kube testenv stop:", err)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// demoTree lays out the demo's files as the experiments expect them,
// in a directory of the test's: experiments/pod-kill.yaml,
// kube/experiments/node-drain.yaml, kube/environment.yaml (pointed at the
// test cluster, direct access) and models/ (built by `recsys model build`).
func demoTree(t *testing.T, kubeconfig string) string {
	t.Helper()
	root := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("../experiments/pod-kill.yaml", filepath.Join(root, "experiments", "pod-kill.yaml"))
	copyFile("experiments/node-drain.yaml", filepath.Join(root, "kube", "experiments", "node-drain.yaml"))
	env, err := os.ReadFile("environment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The same environment, pointed at the test cluster. Pod IPs of kwok
	// pods are not routable: the test dials them through their loopback
	// twins (runner.Options.PodDialer), so access is direct.
	env = bytes.Replace(env, []byte("    access: auto\n"), fmt.Appendf(nil, "    access: direct\n    kubeconfig: %s\n", kubeconfig), 1)
	if !bytes.Contains(env, []byte("access: direct")) {
		t.Fatal("environment.yaml no longer says access: auto")
	}
	if err := os.WriteFile(filepath.Join(root, "kube", "environment.yaml"), env, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, recsysBin, "model", "build", "--out", filepath.Join(root, "models")).CombinedOutput(); err != nil {
		t.Fatalf("model build: %v\n%s", err, out)
	}
	return root
}

// applyRecsys creates the objects of recsys.yaml, as `kubectl apply` would,
// with three changes for the test control plane: pods carry the exec label
// (testenv runs the recsys binary behind them), each listens on its own pod
// IP instead of every address (exec pods share this machine's network
// namespace, so two wildcard listeners on one port would collide), and the
// trainer's hostPath is a directory of the test's.
func applyRecsys(t *testing.T, ctx context.Context, env *testenv.Env, hostPath string) {
	t.Helper()
	objs, err := kubedemo.ReadObjects("recsys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kubedemo.SetHostPaths(objs, hostPath)
	for _, obj := range objs {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		d.Spec.Template.Labels[testenv.ExecLabel] = "true"
		for i := range d.Spec.Template.Spec.Containers {
			c := &d.Spec.Template.Spec.Containers[i]
			for j := range c.Env {
				if c.Env[j].Name == "LISTEN_HOST" {
					c.Env[j].Value = "$(POD_IP)"
				}
			}
		}
	}
	if err := kubedemo.Create(ctx, env.Clientset, objs); err != nil {
		t.Fatal(err)
	}
}

// loadExperiment decodes an experiment file and switches it to the short
// phases of its experiment.faultline.dev/demo-phases annotation, as
// `faultline demo` (and `faultline run --phases`) do.
func loadExperiment(t *testing.T, path string) *v1alpha1.Experiment {
	t.Helper()
	srcs, err := manifest.ReadSources([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := manifest.Load(srcs)
	if res.Diagnostics.HasErrors() {
		t.Fatalf("%s: %v", path, res.Diagnostics)
	}
	exp := res.Documents[0].Object.(*v1alpha1.Experiment)
	for _, part := range strings.Split(exp.Annotations["experiment.faultline.dev/demo-phases"], ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "baseline":
			exp.Spec.Phases.Baseline = v
		case "fault":
			exp.Spec.Phases.Fault = v
		case "recovery":
			exp.Spec.Phases.Recovery = v
		}
	}
	return exp
}

// podsOn lists the recsys pods bound to a node.
func podsOn(t *testing.T, ctx context.Context, env *testenv.Env, node string) []string {
	t.Helper()
	list, err := env.Clientset.CoreV1().Pods("recsys").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Name)
	}
	return out
}

// TestDemoOnKubernetes runs the demo's pod-kill experiment (unchanged, with
// -e pointing at the cluster) and the Kubernetes node-drain experiment
// against the test control plane, and checks that both give a verdict and
// a report as on the embedded engine: the service stays available, the
// golden set stays consistent, the trainer resumes from its checkpoint,
// the drained node's pods move to the other nodes and the node is
// uncordoned, and nothing is left journaled.
func TestDemoOnKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo's services behind a real control plane")
	}
	env := cluster.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// Zones, and one node that may be drained.
	for i, n := range env.Nodes {
		labels := fmt.Sprintf(`{"metadata":{"labels":{"topology.kubernetes.io/zone":"zone-%c"}}}`, 'a'+i)
		if i == 2 {
			labels = `{"metadata":{"labels":{"topology.kubernetes.io/zone":"zone-c","faultline.dev/drainable":"true"}}}`
		}
		if _, err := env.Clientset.CoreV1().Nodes().Patch(ctx, n, "application/merge-patch+json", []byte(labels), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	root := demoTree(t, env.Kubeconfig)
	applyRecsys(t, ctx, env, filepath.Join(t.TempDir(), "checkpoints"))
	env.Exec(t, testenv.ExecOptions{
		Namespaces:  []string{"recsys"},
		Images:      map[string]string{"localhost/recsys:demo": recsysBin},
		Dir:         root,
		ProbePeriod: 250 * time.Millisecond,
	})
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if local, ok := env.LocalIP(host); ok {
			addr = net.JoinHostPort(local, port)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	envFile := filepath.Join(root, "kube", "environment.yaml")

	var reports []report.Report
	var drained []string
	for _, sc := range []struct {
		name, file string
	}{
		{"pod-kill", filepath.Join(root, "experiments", "pod-kill.yaml")},
		{"node-drain", filepath.Join(root, "kube", "experiments", "node-drain.yaml")},
	} {
		if sc.name == "node-drain" {
			drained = podsOn(t, ctx, env, env.Nodes[2])
			if len(drained) == 0 {
				t.Fatalf("no recsys pod runs on %s: the drain would prove nothing", env.Nodes[2])
			}
		}
		exp := loadExperiment(t, sc.file)
		opts := runner.Options{BaseDir: filepath.Dir(sc.file), Environment: envFile, Seed: 7, PodDialer: dial, ReadyTimeout: 2 * time.Minute}
		out, err := runner.Run(ctx, exp, opts)
		if err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		res := out.Runs[len(out.Runs)-1].Result
		reports = append(reports, report.Report{Result: res, Timeline: out.Runs[len(out.Runs)-1].Timeline})
		var md bytes.Buffer
		if err := report.WriteMarkdown(&md, reports[len(reports)-1]); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s on Kubernetes:\n%s", sc.name, md.String())
		if res.Verdict != measure.VerdictPass {
			t.Fatalf("%s: verdict %s, want pass:\n%s", sc.name, res.Verdict, md.String())
		}
	}

	// The drained node's pods were evicted and recreated elsewhere; the node
	// is schedulable again; nothing is left journaled.
	if left := podsOn(t, ctx, env, env.Nodes[2]); len(left) > 0 {
		t.Fatalf("pods %v still on the drained node (before the drain: %v)", left, drained)
	}
	for _, d := range []string{"feature-store", "model-server", "gateway", "trainer"} {
		dep, err := env.Clientset.AppsV1().Deployments("recsys").Get(ctx, d, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dep.Status.AvailableReplicas != *dep.Spec.Replicas {
			t.Fatalf("deployment %s: %d of %d available after the runs", d, dep.Status.AvailableReplicas, *dep.Spec.Replicas)
		}
	}
	node, err := env.Clientset.CoreV1().Nodes().Get(ctx, env.Nodes[2], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Spec.Unschedulable {
		t.Fatalf("node %s is still cordoned", node.Name)
	}
	leases, err := env.Clientset.CoordinationV1().Leases(kube.DefaultJournalNamespace).List(ctx, metav1.ListOptions{LabelSelector: "faultline.dev/journal"})
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Items) > 0 {
		t.Fatalf("%d journal leases left", len(leases.Items))
	}

	var page bytes.Buffer
	if err := report.WriteHTML(&page, reports...); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pod-kill", "node-drain"} {
		if !bytes.Contains(page.Bytes(), []byte(name)) {
			t.Fatalf("the HTML report does not show %s", name)
		}
	}
}
