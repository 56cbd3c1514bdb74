package realnode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	kubedemo "github.com/faultline-dev/faultline/demo/kube"
	"github.com/faultline-dev/faultline/internal/cli"
	"github.com/faultline-dev/faultline/internal/engine/local"
	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/report"
)

// repo is the repository root, relative to this package's directory (the
// working directory of its tests).
const repo = "../.."

// node is a running real-node cluster.
type node struct {
	state      string // hack/realnode.sh's state dir
	kubeconfig string
	cs         *kubernetes.Clientset
}

// script runs hack/realnode.sh with a bound and returns its combined output.
func script(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "hack", "realnode.sh"), args...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("hack/realnode.sh %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// hostState is what the cluster may change on the host and down must put
// back: kubelet's and kube-proxy's nftables tables and the cluster's links.
type hostState struct {
	nft, links string
}

func snapshot(t *testing.T) hostState {
	t.Helper()
	nft, err := exec.Command("nft", "list", "ruleset").Output()
	if err != nil {
		t.Fatalf("nft list ruleset: %v", err)
	}
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	var names []string
	for _, l := range strings.Split(string(links), "\n") {
		// The cluster's links only: its bridge and the pods' veths (other
		// packages' tests may add and remove their own meanwhile).
		if f := strings.Fields(l); len(f) > 1 {
			name := strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":")
			if name == "flrn0" || strings.HasPrefix(name, "veth") {
				names = append(names, name)
			}
		}
	}
	return hostState{nft: kubeTables(string(nft)), links: strings.Join(names, " ")}
}

// kubeTables keeps, of an `nft list ruleset`, the tables kubelet
// (iptables-nft) and kube-proxy write: tests of other packages may add and
// remove their own tables meanwhile.
func kubeTables(ruleset string) string {
	var out strings.Builder
	keep := false
	for _, l := range strings.SplitAfter(ruleset, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "table" {
			keep = slices.Contains([]string{"filter", "nat", "mangle", "raw", "security", "kube-proxy"}, f[2])
		}
		if keep {
			out.WriteString(l)
		}
	}
	return out.String()
}

// leftovers lists what down did not remove: processes of the state dir's
// containerd, kubelet and control plane, mounts under the state dir, links
// and nftables rules that were not there before up.
func leftovers(t *testing.T, state string, before hostState) []string {
	t.Helper()
	var left []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, state+"/") {
			left = append(left, "process: "+cmdline)
		}
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(mounts))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && (strings.HasPrefix(f[1], state+"/") || strings.HasPrefix(f[1], "/run/netns/cni-")) {
			left = append(left, "mount: "+f[1])
		}
	}
	after := snapshot(t)
	if after.links != before.links {
		left = append(left, fmt.Sprintf("links: %q, before up: %q", after.links, before.links))
	}
	if after.nft != before.nft {
		left = append(left, fmt.Sprintf("kubelet/kube-proxy nft tables differ from before up:\n%s", after.nft))
	}
	return left
}

// up brings the real node up for the test and down when it ends, checking
// that down left nothing behind. It refuses to run beside another real node.
func up(t *testing.T) *node {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the real node needs root (containerd, runc, CNI, nftables)")
	}
	switch want := os.Getenv("FAULTLINE_REALNODE"); {
	case want == "0":
		t.Skip("FAULTLINE_REALNODE=0")
	case want != "1" && os.Getenv("CI") != "true":
		t.Skip("the real-node tier runs in CI (CI=true) or when asked: FAULTLINE_REALNODE=1 (make test-realnode)")
	}
	ctx := context.Background()
	if out, err := script(ctx, 30*time.Second, "status"); err == nil {
		t.Fatalf("a real node is already up on this machine (one per machine: fixed ports); stop it with hack/realnode.sh down:\n%s", out)
	}
	if out, err := script(ctx, 25*time.Minute, "build"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	before := snapshot(t)
	start := time.Now()
	out, err := script(ctx, 4*time.Minute, "up")
	state := os.Getenv("FAULTLINE_REALNODE_DIR")
	if state == "" {
		state = "/tmp/faultline-realnode"
	}
	t.Cleanup(func() {
		start := time.Now()
		out, err := script(context.Background(), 3*time.Minute, "down")
		if err != nil {
			t.Errorf("%v\n%s", err, out)
		}
		t.Logf("down in %s", time.Since(start).Round(100*time.Millisecond))
		for _, l := range leftovers(t, state, before) {
			t.Errorf("left behind after down: %s", l)
		}
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("up in %s", time.Since(start).Round(100*time.Millisecond))
	n := &node{state: state}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "KUBECONFIG="); ok {
			n.kubeconfig = v
		}
	}
	if n.kubeconfig == "" {
		t.Fatalf("up printed no KUBECONFIG=:\n%s", out)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", n.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if n.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return n
}

// applyRecsys creates the objects of demo/kube/recsys.yaml as `kubectl
// apply` would, the trainer's hostPath moved under the state dir.
func (n *node) applyRecsys(t *testing.T, ctx context.Context) {
	t.Helper()
	objs, err := kubedemo.ReadObjects(filepath.Join(repo, "demo", "kube", "recsys.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kubedemo.SetHostPaths(objs, filepath.Join(n.state, "hostpath", "checkpoints"))
	if err := kubedemo.Create(ctx, n.cs, objs); err != nil {
		t.Fatal(err)
	}
}

// waitAvailable waits until every recsys Deployment has all its replicas
// available and no pod of it is terminating.
func (n *node) waitAvailable(t *testing.T, ctx context.Context, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		deps, err := n.cs.AppsV1().Deployments("recsys").List(ctx, metav1.ListOptions{})
		var missing []string
		if err == nil {
			for _, d := range deps.Items {
				if d.Status.AvailableReplicas != *d.Spec.Replicas || d.Status.UpdatedReplicas != *d.Spec.Replicas || d.Status.ObservedGeneration < d.Generation {
					missing = append(missing, fmt.Sprintf("%s %d/%d", d.Name, d.Status.AvailableReplicas, *d.Spec.Replicas))
				}
			}
			if len(deps.Items) == 0 {
				missing = append(missing, "no deployments")
			}
		}
		if err == nil && len(missing) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			pods, _ := n.cs.CoreV1().Pods("recsys").List(context.Background(), metav1.ListOptions{})
			var st []string
			if pods != nil {
				for _, p := range pods.Items {
					st = append(st, fmt.Sprintf("%s %s %v", p.Name, p.Status.Phase, p.Status.ContainerStatuses))
				}
			}
			t.Fatalf("recsys not available within %s: %v (err %v)\npods:\n%s\nlogs in %s/logs", timeout, missing, err, strings.Join(st, "\n"), n.state)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pods lists the running (not terminating) recsys pods of an app.
func (n *node) pods(t *testing.T, ctx context.Context, app string) []corev1.Pod {
	t.Helper()
	list, err := n.cs.CoreV1().Pods("recsys").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func names(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// demoTree lays out the demo's pod-kill experiment with its golden set in
// a directory of the test's (nothing is written into the repository), and
// an environment file pointing at the real node through port-forward.
func demoTree(t *testing.T, ctx context.Context, kubeconfig string) (root, envFile string) {
	t.Helper()
	root = t.TempDir()
	exp, err := os.ReadFile(filepath.Join(repo, "demo", "experiments", "pod-kill.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "experiments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "experiments", "pod-kill.yaml"), exp, 0o644); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(repo, "demo", "kube", "environment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env = bytes.Replace(env, []byte("    access: auto\n"), fmt.Appendf(nil, "    access: port-forward\n    kubeconfig: %s\n", kubeconfig), 1)
	if !bytes.Contains(env, []byte("access: port-forward")) {
		t.Fatal("demo/kube/environment.yaml no longer says access: auto")
	}
	envFile = filepath.Join(root, "kube", "environment.yaml")
	if err := os.MkdirAll(filepath.Dir(envFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(envFile, env, 0o644); err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "recsys")
	if out, err := exec.CommandContext(bctx, "go", "build", "-o", bin, filepath.Join(repo, "demo", "cmd", "recsys")).CombinedOutput(); err != nil {
		t.Fatalf("build recsys: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(bctx, bin, "model", "build", "--out", filepath.Join(root, "models")).CombinedOutput(); err != nil {
		t.Fatalf("model build: %v\n%s", err, out)
	}
	return root, envFile
}

// faultline runs the real command line with a bound.
func faultline(ctx context.Context, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out, errs bytes.Buffer
	code = cli.Run(ctx, args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errs})
	return code, out.String(), errs.String()
}

// TestDemoPodKillOnARealNode runs the demo's pod-kill experiment (one model
// server and the trainer killed under load) through `faultline run -e`
// against a real kubelet, load and probes going through port-forward; then
// a pod-failure through `faultline inject -e`, which only a real kubelet
// turns into a container restart.
func TestDemoPodKillOnARealNode(t *testing.T) {
	n := up(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	start := time.Now()
	n.applyRecsys(t, ctx)
	n.waitAvailable(t, ctx, 3*time.Minute)
	t.Logf("recsys available in %s", time.Since(start).Round(100*time.Millisecond))
	root, envFile := demoTree(t, ctx, n.kubeconfig)

	t.Run("pod-kill", func(t *testing.T) {
		models, trainers := names(n.pods(t, ctx, "model-server")), names(n.pods(t, ctx, "trainer"))
		jsonFile := filepath.Join(t.TempDir(), "result.json")
		start := time.Now()
		code, out, errs := faultline(ctx, 5*time.Minute, "run", "-f", filepath.Join(root, "experiments", "pod-kill.yaml"), "-e", envFile,
			"--phases", "baseline=3s,fault=7s,recovery=6s", "--json", jsonFile, "-q")
		t.Logf("faultline run: exit %d in %s\n%s\n%s", code, time.Since(start).Round(100*time.Millisecond), out, errs)
		f, err := os.Open(jsonFile)
		if err != nil {
			t.Fatalf("no result JSON: %v", err)
		}
		defer f.Close()
		doc, err := report.ReadJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		if code != cli.ExitOK || doc.Verdict != measure.VerdictPass {
			t.Fatalf("exit %d, verdict %s, want 0 and pass: %v", code, doc.Verdict, doc.Reasons)
		}
		for _, p := range doc.Probes {
			if !p.OK {
				t.Errorf("probe %s failed: %s", p.Probe, p.Message)
			}
		}
		if len(doc.Probes) != 2 {
			t.Errorf("probes %+v, want golden-set and trainer-resumed", doc.Probes)
		}
		// The result names the killed pods; they are gone, replaced by new ones.
		killed := map[string]string{}
		for _, fi := range doc.Fidelity {
			if len(fi.Targets) != 1 {
				t.Fatalf("fault %s hit %v, want one pod", fi.Fault, fi.Targets)
			}
			killed[fi.Fault] = fi.Targets[0]
		}
		n.waitAvailable(t, ctx, 2*time.Minute)
		for fault, before := range map[string][]string{"kill-model-server": models, "kill-trainer": trainers} {
			victim := killed[fault]
			if i := strings.LastIndex(victim, "/"); i >= 0 {
				victim = victim[i+1:]
			}
			if !slices.Contains(before, victim) {
				t.Errorf("%s: the result names %q, not one of the pods before the run %v", fault, killed[fault], before)
			}
			app := strings.TrimPrefix(fault, "kill-")
			now := names(n.pods(t, ctx, app))
			if slices.Contains(now, victim) {
				t.Errorf("%s: pod %s still exists", fault, victim)
			}
			if len(now) != len(before) {
				t.Errorf("%s: %d pods now %v, %d before", fault, len(now), now, len(before))
			}
			t.Logf("%s: killed %s; pods before %v, after %v", fault, victim, before, now)
		}
		code, out, errs = faultline(ctx, time.Minute, "recover", "-e", envFile)
		if code != cli.ExitOK || !strings.Contains(out, "nothing to recover") {
			t.Errorf("recover after the run: exit %d\n%s\n%s", code, out, errs)
		}
	})

	t.Run("pod-failure", func(t *testing.T) {
		podsBefore := n.pods(t, ctx, "model-server")
		restarts := map[string]int32{}
		images := map[string]string{}
		for _, p := range podsBefore {
			restarts[p.Name] = p.Status.ContainerStatuses[0].RestartCount
			images[p.Name] = p.Spec.Containers[0].Image
		}
		chaos := filepath.Join(t.TempDir(), "pod-failure.yaml")
		if err := os.WriteFile(chaos, []byte(`apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: fail-one-model-server, namespace: recsys}
spec:
  action: pod-failure
  mode: one
  duration: 5s
  selector: {labelSelectors: {app: model-server}}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		// While the fault holds, watch the kubelet act on it: the target's
		// container runs another image or is not ready.
		seen := make(chan map[string]string, 1)
		wctx, wcancel := context.WithCancel(ctx)
		go func() {
			obs := map[string]string{}
			for wctx.Err() == nil {
				list, err := n.cs.CoreV1().Pods("recsys").List(wctx, metav1.ListOptions{LabelSelector: "app=model-server"})
				if err == nil {
					for _, p := range list.Items {
						if len(p.Status.ContainerStatuses) > 0 && (!ready(&p) || p.Status.ContainerStatuses[0].Image != images[p.Name]) {
							cs := p.Status.ContainerStatuses[0]
							obs[p.Name] = fmt.Sprintf("image %s ready %v restarts %d", cs.Image, cs.Ready, cs.RestartCount)
						}
					}
				}
				select {
				case <-wctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
			seen <- obs
		}()
		code, out, errs := faultline(ctx, 3*time.Minute, "inject", "-f", chaos, "-e", envFile, "-o", "json")
		wcancel()
		obs := <-seen
		if code != cli.ExitOK {
			t.Fatalf("inject: exit %d\n%s\n%s", code, out, errs)
		}
		var rep struct {
			Injections []local.InjectionStatus `json:"injections"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Injections) != 1 || len(rep.Injections[0].Targets) != 1 {
			t.Fatalf("inject report: %v\n%s", err, out)
		}
		target := rep.Injections[0].Targets[0].Name
		t.Logf("pod-failure on %s; seen while it held: %v", target, obs)
		if _, ok := obs[target]; !ok {
			t.Errorf("the kubelet never showed %s unready or on another image while the fault held", target)
		}
		// The same pod (not a replacement), its container restarted by the
		// kubelet, Ready again on its own image.
		wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for {
			p, err := n.cs.CoreV1().Pods("recsys").Get(wait, target, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("pod %s after pod-failure: %v", target, err)
			}
			cs := p.Status.ContainerStatuses[0]
			if ready(p) && cs.RestartCount > restarts[target] && p.Spec.Containers[0].Image == images[target] && strings.Contains(cs.Image, "recsys") {
				t.Logf("%s: restarts %d -> %d, Ready on %s", target, restarts[target], cs.RestartCount, cs.Image)
				break
			}
			select {
			case <-wait.Done():
				t.Fatalf("pod %s not Ready again with a restarted container on %s: ready %v, restarts %d (before %d), image %s / %s",
					target, images[target], ready(p), cs.RestartCount, restarts[target], p.Spec.Containers[0].Image, cs.Image)
			case <-time.After(250 * time.Millisecond):
			}
		}
		n.waitAvailable(t, ctx, 2*time.Minute)
		code, out, errs = faultline(ctx, time.Minute, "recover", "-e", envFile)
		if code != cli.ExitOK || !strings.Contains(out, "nothing to recover") {
			t.Errorf("recover after the inject: exit %d\n%s\n%s", code, out, errs)
		}
	})
}
