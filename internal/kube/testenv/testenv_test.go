package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// shared is the control plane of the behaviour tests of this package; the
// start/stop test and the thousand-pod test make their own.
var shared = NewShared(Options{Nodes: 3})

func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop shared kube testenv: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func TestOptionsDefaults(t *testing.T) {
	cases := []struct {
		name      string
		in        Options
		wantNodes int
		wantPods  int
	}{
		{"zero value is one node", Options{}, 1, 250},
		{"negative means no nodes", Options{Nodes: -1}, 0, 250},
		{"explicit values kept", Options{Nodes: 10, NodePods: 120}, 10, 120},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.in.withDefaults()
			if got.Nodes != c.wantNodes || got.NodePods != c.wantPods {
				t.Fatalf("withDefaults(%+v): nodes=%d pods=%d, want %d %d", c.in, got.Nodes, got.NodePods, c.wantNodes, c.wantPods)
			}
			if got.StartTimeout <= 0 || got.BuildTimeout <= 0 || got.QPS <= 0 || got.Burst <= 0 {
				t.Fatalf("withDefaults left a zero bound: %+v", got)
			}
		})
	}
}

func TestFreePortsDistinctAndBindable(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d returned twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d not bindable after freePorts: %v", p, err)
		}
		_ = l.Close()
	}
}

// recordTB records Skipf/Fatalf instead of ending the test, to check which
// one skipOrFail picks.
type recordTB struct {
	testing.TB
	skipped, failed bool
}

func (r *recordTB) Skipf(string, ...any)  { r.skipped = true }
func (r *recordTB) Fatalf(string, ...any) { r.failed = true }

func TestUnavailableSkipsOutsideCIFailsInCI(t *testing.T) {
	empty := t.TempDir()
	cases := []struct {
		name, ci             string
		wantSkip, wantFailed bool
	}{
		{"CI unset skips", "", true, false},
		{"CI=false skips", "false", true, false},
		{"CI=true fails", "true", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CI", c.ci)
			t.Setenv(BinEnv, empty)
			_, err := Build(context.Background())
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Build with %s=<empty dir>: %v, want ErrUnavailable", BinEnv, err)
			}
			rec := &recordTB{TB: t}
			skipOrFail(rec, err)
			if rec.skipped != c.wantSkip || rec.failed != c.wantFailed {
				t.Fatalf("CI=%q: skipped=%t failed=%t, want %t %t", c.ci, rec.skipped, rec.failed, c.wantSkip, c.wantFailed)
			}
		})
	}
}

func TestSweepStaleRemovesOnlyDeadOwners(t *testing.T) {
	tmp := t.TempDir()
	// A pid that existed and is gone: a reaped child.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run true: %v", err)
	}
	dead := cmd.Process.Pid
	cases := []struct {
		name, owner string
		wantKept    bool
	}{
		{"dead owner removed", strconv.Itoa(dead), false},
		{"live owner kept", strconv.Itoa(os.Getpid()), true},
		{"no owner file kept", "", true},
		{"garbage owner kept", "not-a-pid", true},
	}
	for i, c := range cases {
		d := filepath.Join(tmp, fmt.Sprintf("%s%d", sharedDirPrefix, i))
		if err := os.MkdirAll(filepath.Join(d, "kube-0"), 0o700); err != nil {
			t.Fatal(err)
		}
		if c.owner != "" {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(c.owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	sweepStale(tmp)
	for i, c := range cases {
		_, err := os.Stat(filepath.Join(tmp, fmt.Sprintf("%s%d", sharedDirPrefix, i)))
		if kept := err == nil; kept != c.wantKept {
			t.Errorf("%s: kept=%t, want %t", c.name, kept, c.wantKept)
		}
	}
}

// TestStartStopLeavesNothing starts a control plane outside the shared one,
// checks that it serves, and that Stop ends every process and removes the
// directory.
func TestStartStopLeavesNothing(t *testing.T) {
	env, err := StartEnv(Options{Nodes: 2})
	if err != nil {
		if errors.Is(err, ErrUnavailable) && !inCI() {
			t.Skipf("kube testenv: %v", err)
		}
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = env.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	v, err := env.Clientset.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if !strings.HasPrefix(v.GitVersion, "v1.") {
		t.Errorf("server version %q, want v1.x", v.GitVersion)
	}
	nodes, err := env.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := 0
	for i := range nodes.Items {
		if NodeReady(&nodes.Items[i]) {
			ready++
		}
	}
	if ready != 2 {
		t.Fatalf("%d Ready nodes, want 2", ready)
	}

	var pids []int
	for _, p := range env.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	if len(pids) != len(binaries) {
		t.Fatalf("%d processes, want %d", len(pids), len(binaries))
	}
	host := strings.TrimPrefix(env.Host, "https://")
	dir := env.ownDir
	if dir == "" || !strings.HasPrefix(env.Dir, dir) {
		t.Fatalf("StartEnv's own directory %q does not hold Dir %q", dir, env.Dir)
	}
	if err := env.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	for _, pid := range pids {
		// The processes were reaped by Stop, so signal 0 must find nothing:
		// neither the leader nor anything left in its process group.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Stop (kill 0: %v)", pid, err)
		}
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d still has members after Stop (kill 0: %v)", pid, err)
		}
	}
	if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
		_ = c.Close()
		t.Errorf("apiserver address %s still accepts connections after Stop", host)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("env dir %s still exists after Stop (stat: %v)", dir, err)
	}
	if err := env.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestDeploymentReplicaSetEviction checks the behaviour the Kubernetes engine
// relies on: a Deployment becomes available on kwok nodes, a deleted pod is
// replaced by its ReplicaSet, and a cordoned node is drained by evictions
// (honouring a PodDisruptionBudget) onto the other nodes.
func TestDeploymentReplicaSetEviction(t *testing.T) {
	env := shared.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := env.Clientset
	ns := newNamespace(ctx, t, cs, "deploy")

	const replicas = 3
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("web", replicas), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	pods := waitRunningPods(ctx, t, env, ns, "app=web", replicas)
	waitDeploymentAvailable(ctx, t, cs, ns, "web", replicas)
	for _, p := range pods {
		if !slices.Contains(env.Nodes, p.Spec.NodeName) {
			t.Errorf("pod %s on node %q, not a kwok node %v", p.Name, p.Spec.NodeName, env.Nodes)
		}
		if p.Status.PodIP == "" {
			t.Errorf("pod %s Running without a pod IP", p.Name)
		}
	}

	// Delete one pod: the ReplicaSet makes a new one (a different name and UID).
	victim := pods[0]
	if err := cs.CoreV1().Pods(ns).Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	after := waitPods(ctx, t, env, ns, "app=web", "3 Running pods without "+victim.Name, func(ps []corev1.Pod) bool {
		return len(running(ps)) == replicas && !slices.ContainsFunc(ps, func(p corev1.Pod) bool { return p.UID == victim.UID })
	})
	if got := newPods(pods, after); len(got) != 1 {
		t.Fatalf("after deleting %s: %d new pods %v, want exactly 1", victim.Name, len(got), got)
	}

	// Cordon the node of one pod and evict what runs there.
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &intstr.IntOrString{Type: intstr.Int, IntVal: 1},
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		},
	}
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pdb: %v", err)
	}
	node := running(after)[0].Spec.NodeName
	cordon(ctx, t, cs, node, true)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		cordon(cctx, t, cs, node, false)
	})
	evicted := evictNode(ctx, t, cs, ns, "app=web", node)
	if evicted == 0 {
		t.Fatalf("no pod evicted from %s", node)
	}
	final := waitPods(ctx, t, env, ns, "app=web", "3 Running pods off "+node, func(ps []corev1.Pod) bool {
		r := running(ps)
		return len(r) == replicas && !slices.ContainsFunc(r, func(p corev1.Pod) bool { return p.Spec.NodeName == node })
	})
	for _, p := range final {
		if p.Spec.NodeName == node {
			t.Errorf("pod %s scheduled on cordoned node %s", p.Name, node)
		}
	}
	t.Logf("evicted %d pod(s) from %s; replacements on %v", evicted, node, nodeNames(running(final)))
}

// TestThousandPods checks that the control plane carries the scale the
// engine's benchmarks need: 1,000 pods Running on 10 kwok nodes (100 per
// node). FAULTLINE_KUBE_TESTENV_PODS=<n> runs it with n pods on n/100 nodes
// (e.g. 10000 by hand). The time is logged, not asserted.
func TestThousandPods(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 pods take a while; skipped with -short")
	}
	replicas := 1000
	if v := os.Getenv("FAULTLINE_KUBE_TESTENV_PODS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 100000 {
			t.Fatalf("FAULTLINE_KUBE_TESTENV_PODS=%q: want an integer in [100, 100000]", v)
		}
		replicas = n
	}
	nodes := (replicas + 99) / 100
	startAt := time.Now()
	env := Start(t, Options{Nodes: nodes})
	t.Logf("control plane with %d kwok nodes up in %v", nodes, time.Since(startAt).Round(time.Millisecond))
	// ~1s per 100 pods on 2 cores; the bound leaves a wide margin.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+time.Duration(replicas)*60*time.Millisecond)
	defer cancel()
	cs := env.Clientset
	ns := newNamespace(ctx, t, cs, "scale")

	created := time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("many", int32(replicas)), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	pods := waitRunningPods(ctx, t, env, ns, "app=many", replicas)
	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
	}
	if len(perNode) != nodes {
		t.Errorf("pods on %d nodes, want all %d: %v", len(perNode), nodes, perNode)
	}
	minPods, maxPods := replicas, 0
	for _, n := range perNode {
		minPods, maxPods = min(minPods, n), max(maxPods, n)
	}
	t.Logf("%d pods Running in %v on %d nodes (%d..%d per node)", len(pods), time.Since(created).Round(time.Millisecond), len(perNode), minPods, maxPods)
}

// --- helpers ---

func newNamespace(ctx context.Context, t *testing.T, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(cctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// kwok never pulls or runs the image.
					Containers: []corev1.Container{{Name: "app", Image: "localhost/fake:none"}},
					// Without this, deleting a pod waits 30s for a kubelet
					// that does not exist before kwok removes it.
					TerminationGracePeriodSeconds: new(int64),
				},
			},
		},
	}
}

func running(ps []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range ps {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(&p) {
			out = append(out, p)
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func newPods(before, after []corev1.Pod) []string {
	var out []string
	for _, a := range after {
		if !slices.ContainsFunc(before, func(b corev1.Pod) bool { return b.UID == a.UID }) {
			out = append(out, a.Name)
		}
	}
	return out
}

func nodeNames(ps []corev1.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Spec.NodeName)
	}
	slices.Sort(out)
	return out
}

// waitPods polls the pods matching selector until cond holds or ctx ends.
func waitPods(ctx context.Context, t *testing.T, env *Env, ns, selector, what string, cond func([]corev1.Pod) bool) []corev1.Pod {
	t.Helper()
	var last []corev1.Pod
	// 100ms for a few pods, up to 1s for ten thousand (a list of 10,000
	// pods costs the apiserver ~100ms of CPU).
	interval := 100 * time.Millisecond
	err := env.pollEvery(ctx, func() time.Duration { return interval }, what, func(ctx context.Context) (bool, error) {
		list, err := env.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		last = list.Items
		interval = min(time.Second, max(interval, time.Duration(len(last))*100*time.Microsecond))
		return cond(list.Items), nil
	})
	if err != nil {
		t.Fatalf("%v; %d pods, %d running", err, len(last), len(running(last)))
	}
	return last
}

func waitRunningPods(ctx context.Context, t *testing.T, env *Env, ns, selector string, n int) []corev1.Pod {
	t.Helper()
	ps := waitPods(ctx, t, env, ns, selector, fmt.Sprintf("%d Running pods", n), func(ps []corev1.Pod) bool {
		return len(running(ps)) == n
	})
	return running(ps)
}

func waitDeploymentAvailable(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.AvailableReplicas == n && d.Status.UpdatedReplicas == n && d.Status.ObservedGeneration >= d.Generation {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment %s/%s not available with %d replicas: %v (last error %v)", ns, name, n, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func cordon(ctx context.Context, t *testing.T, cs kubernetes.Interface, node string, on bool) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"spec":{"unschedulable":%t}}`, on)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, node, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Errorf("cordon %s=%t: %v", node, on, err)
	}
}

// evictNode evicts every pod matching selector on node, retrying evictions
// the PodDisruptionBudget refuses (429) until the replacements are Ready.
func evictNode(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, selector, node string) int {
	t.Helper()
	evicted := 0
	refused := 0
	for {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector, FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			t.Fatalf("list pods on %s: %v", node, err)
		}
		left := 0
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			left++
			err := cs.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: ns}})
			switch {
			case err == nil:
				evicted++
			case apierrors.IsTooManyRequests(err):
				refused++
			case apierrors.IsNotFound(err):
			default:
				t.Fatalf("evict %s: %v", p.Name, err)
			}
		}
		if left == 0 {
			t.Logf("drained %s: %d evicted, %d refused by the PDB and retried", node, evicted, refused)
			return evicted
		}
		select {
		case <-ctx.Done():
			t.Fatalf("drain %s: %v (%d pods left)", node, ctx.Err(), left)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
