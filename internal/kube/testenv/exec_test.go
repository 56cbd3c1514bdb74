package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestExpandEnv(t *testing.T) {
	vars := map[string]string{"A": "a", "HOST": "127.65.0.7", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "a"},
		{"x$(A)y$(A)", "xaya"},
		{"http://$(HOST):$(PORT)", "http://127.65.0.7:$(PORT)"}, // unknown kept
		{"$$(A)", "$(A)"},              // escaped
		{"$$$(A)", "$a"},               // escape then reference
		{"$$", "$"},                    //
		{"$", "$"},                     // lone dollar at the end
		{"a$b", "a$b"},                 // dollar without a parenthesis
		{"$(A", "$(A"},                 // unterminated
		{"$(EMPTY)x", "x"},             // defined as empty
		{"$()", "$()"},                 // empty name is unknown
		{"$(A)$(B)$$(C)", "a$(B)$(C)"}, // mixed
	}
	for _, c := range cases {
		if got := expandEnv(c.in, lookup); got != c.want {
			t.Errorf("expandEnv(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestServiceEnvVars(t *testing.T) {
	got := serviceEnvVars([]svcEnv{
		{Name: "model-server", Host: "127.65.0.9", Ports: []svcPortEnv{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "grpc-api", Port: 9000}}},
		{Name: "feature-store", Host: "127.65.0.3", Ports: []svcPortEnv{{Port: 80}}},
		{Name: "headless", Host: "", Ports: []svcPortEnv{{Port: 1}}},
	}, false)
	want := []envVar{
		{"FEATURE_STORE_SERVICE_HOST", "127.65.0.3"},
		{"FEATURE_STORE_SERVICE_PORT", "80"},
		{"MODEL_SERVER_SERVICE_HOST", "127.65.0.9"},
		{"MODEL_SERVER_SERVICE_PORT", "8080"},
		{"MODEL_SERVER_SERVICE_PORT_HTTP", "8080"},
		{"MODEL_SERVER_SERVICE_PORT_GRPC_API", "9000"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("serviceEnvVars:\n got %v\nwant %v", got, want)
	}
	links := serviceEnvVars([]svcEnv{{Name: "db", Host: "127.65.0.4", Ports: []svcPortEnv{{Port: 5432, Protocol: "TCP"}}}}, true)
	for _, w := range []envVar{
		{"DB_PORT", "tcp://127.65.0.4:5432"},
		{"DB_PORT_5432_TCP", "tcp://127.65.0.4:5432"},
		{"DB_PORT_5432_TCP_PROTO", "tcp"},
		{"DB_PORT_5432_TCP_PORT", "5432"},
		{"DB_PORT_5432_TCP_ADDR", "127.65.0.4"},
	} {
		if !slices.Contains(links, w) {
			t.Errorf("link variables %v lack %v", links, w)
		}
	}
}

func TestContainerProcess(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "fs-1", Namespace: "demo", Labels: map[string]string{"app": "fs"}},
		Spec: corev1.PodSpec{
			NodeName: "kwok-node-1",
			Volumes: []corev1.Volume{
				{Name: "models", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/host/models"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
		Status: corev1.PodStatus{PodIP: "10.100.0.9"},
	}
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	svc := []envVar{{"FEATURE_STORE_SERVICE_HOST", "127.65.0.3"}, {"FEATURE_STORE_SERVICE_PORT", "80"}, {"SHADOWED", "svc"}}
	base := []string{"PATH=/usr/bin", "HOME=/home/t", "EXTRA=1", "SHADOWED=base"}
	cases := []struct {
		name    string
		c       corev1.Container
		want    map[string]string // env entries that must be present
		absent  []string
		argv    []string
		dir     string
		wantErr string
	}{
		{
			name: "service vars, fieldRefs, ordering, defaults",
			c: corev1.Container{
				Command: []string{"./bin/recsys", "serve-model"}, Args: []string{"--url=$(FEATURE_STORE_URL)", "$$(X)"},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env: []corev1.EnvVar{
					{Name: "FEATURE_STORE_URL", Value: "http://$(FEATURE_STORE_SERVICE_HOST):$(FEATURE_STORE_SERVICE_PORT)"},
					{Name: "LATER", Value: "$(EARLIER)"}, // not yet defined: kept
					{Name: "EARLIER", Value: "e"},
					{Name: "SELF", Value: "$(EARLIER)-$(NOPE)"},
					{Name: "REPLICA_NAME", ValueFrom: field("metadata.name")},
					{Name: "NS", ValueFrom: field("metadata.namespace")},
					{Name: "NODE", ValueFrom: field("spec.nodeName")},
					{Name: "APP", ValueFrom: field("metadata.labels['app']")},
					{Name: "SHADOWED", Value: "own"},
				},
			},
			want: map[string]string{
				"FEATURE_STORE_URL": "http://127.65.0.3:80", "LATER": "$(EARLIER)", "SELF": "e-$(NOPE)",
				"REPLICA_NAME": "fs-1", "NS": "demo", "NODE": "kwok-node-1", "APP": "fs",
				"POD_IP": "127.64.0.9", "PORT": "8080", "PATH": "/usr/bin", "HOME": "/home/t", "EXTRA": "1",
				"FEATURE_STORE_SERVICE_HOST": "127.65.0.3", "SHADOWED": "own",
			},
			argv: []string{"/bin/exe", "serve-model", "--url=http://127.65.0.3:80", "$(X)"},
			dir:  "/work",
		},
		{
			name: "POD_IP and PORT from the container win; no command",
			c: corev1.Container{
				Args:  []string{"a"},
				Ports: []corev1.ContainerPort{{ContainerPort: 1}},
				Env: []corev1.EnvVar{
					{Name: "POD_IP", ValueFrom: field("status.podIP")},
					{Name: "PORT", Value: "9999"},
				},
			},
			want: map[string]string{"POD_IP": "127.64.0.9", "PORT": "9999"},
			argv: []string{"/bin/exe", "a"},
			dir:  "/work",
		},
		{
			name: "no ports: no PORT",
			c:    corev1.Container{},
			want: map[string]string{"POD_IP": "127.64.0.9"}, absent: []string{"PORT"},
			argv: []string{"/bin/exe"},
			dir:  "/work",
		},
		{
			name: "hostPath mounts map paths in env, args and workingDir",
			c: corev1.Container{
				Command:    []string{"x", "--dir", "/models/v2"},
				WorkingDir: "/models",
				VolumeMounts: []corev1.VolumeMount{
					{Name: "models", MountPath: "/models"},
					{Name: "scratch", MountPath: "/tmp/scratch"},
				},
				Env: []corev1.EnvVar{
					{Name: "MODEL_DIR", Value: "/models"},
					{Name: "MODEL_FILE", Value: "/models/v2/m.bin"},
					{Name: "NOT_A_MOUNT", Value: "/modelsX"},
					{Name: "SCRATCH", Value: "/tmp/scratch/a"},
				},
			},
			want: map[string]string{
				"MODEL_DIR": "/host/models", "MODEL_FILE": "/host/models/v2/m.bin",
				"NOT_A_MOUNT": "/modelsX", "SCRATCH": "/tmp/scratch/a",
			},
			argv: []string{"/bin/exe", "--dir", "/host/models/v2"},
			dir:  "/host/models",
		},
		{
			name:    "secretKeyRef refused",
			c:       corev1.Container{Env: []corev1.EnvVar{{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}}},
			wantErr: "only value and valueFrom.fieldRef",
		},
		{
			name:    "unknown fieldRef refused",
			c:       corev1.Container{Env: []corev1.EnvVar{{Name: "S", ValueFrom: field("status.podIPs")}}},
			wantErr: "not supported",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, err := containerProcess(pod, &c.c, "/bin/exe", "/work", "127.64.0.9", base, svc)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			for _, kv := range spec.Env {
				k, v, _ := strings.Cut(kv, "=")
				if _, dup := env[k]; dup {
					t.Errorf("%s set twice in %v", k, spec.Env)
				}
				env[k] = v
			}
			for k, v := range c.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range c.absent {
				if _, ok := env[k]; ok {
					t.Errorf("%s set (%q), want absent", k, env[k])
				}
			}
			if !slices.Equal(spec.Argv, c.argv) {
				t.Errorf("argv %q, want %q", spec.Argv, c.argv)
			}
			if spec.Dir != c.dir {
				t.Errorf("dir %q, want %q", spec.Dir, c.dir)
			}
		})
	}
}

func TestWriteKwokStages(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.yaml")
	in := `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: node-initialize
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.conditions'
      operator: 'DoesNotExist'
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  selector:
    matchExpressions:
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
  next:
    delete: true
`
	if err := os.WriteFile(src, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "out.yaml")
	if err := writeKwokStages(src, dst); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	excl := `{"key":".metadata.labels[\"testenv.faultline.dev/exec\"]","operator":"NotIn","values":["true"]}`
	if n := strings.Count(out, excl); n != 2 {
		t.Errorf("exec exclusion appears %d times, want 2 (pod-ready, pod-delete):\n%s", n, out)
	}
	for _, want := range []string{`"name":"node-initialize"`, `"name":"pod-ready"`, `"name":"pod-delete"`, "name: pod-exec-scheduled", "name: pod-exec-delete-fallback"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if err := os.WriteFile(src, []byte("kind: Stage\nmetadata: {name: other}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeKwokStages(src, dst); err == nil {
		t.Error("stages without pod-ready/pod-delete accepted")
	}
}

func TestNetBlocksDistinct(t *testing.T) {
	a, err := allocNetBlock()
	if err != nil {
		t.Fatal(err)
	}
	defer a.release()
	b, err := allocNetBlock()
	if err != nil {
		t.Fatal(err)
	}
	defer b.release()
	if a.index == b.index || a.podCIDR.Overlaps(b.podCIDR) {
		t.Fatalf("two live blocks share addresses: %v and %v", a.podCIDR, b.podCIDR)
	}
	for _, blk := range []*netBlock{a, b} {
		if blk.podCIDR.Contains(blk.svcBase) || blk.podCIDR.Contains(blk.nodeIP) {
			t.Errorf("block %d: service base %v or node IP %v inside the pod CIDR %v", blk.index, blk.svcBase, blk.nodeIP, blk.podCIDR)
		}
		sa, err := blk.serviceAddr("10.0.0.17")
		if err != nil || sa.As4()[3] != 17 || !strings.HasPrefix(sa.String(), "127.") {
			t.Errorf("serviceAddr(10.0.0.17) = %v, %v", sa, err)
		}
		if _, err := blk.serviceAddr("10.0.1.1"); err == nil {
			t.Error("serviceAddr outside the service range accepted")
		}
		// Pod IPs are not loopback (EndpointSlices refuse those); their
		// twins are, and are bindable without setup.
		podIP := blk.podCIDR.Addr().Next().Next()
		if podIP.IsLoopback() || blk.nodeIP.IsLoopback() {
			t.Errorf("pod IP %v or node IP %v is a loopback address", podIP, blk.nodeIP)
		}
		twin, ok := blk.loopback(podIP.String())
		if !ok || !strings.HasSuffix(twin, ".0.2") || !strings.HasPrefix(twin, "127.") {
			t.Fatalf("loopback(%v) = %q, %t", podIP, twin, ok)
		}
		if _, ok := blk.loopback("10.0.0.1"); ok {
			t.Error("loopback of an address outside the pod range")
		}
		l, err := net.Listen("tcp", net.JoinHostPort(twin, "0"))
		if err != nil {
			t.Fatalf("twin %s of block %d not bindable: %v", twin, blk.index, err)
		}
		_ = l.Close()
	}
}

// TestExecPods runs a Deployment of exec pods: real processes behind kwok
// pods, readiness from their probes, a Service through the kube-proxy
// stand-in, pod deletion and replacement, a SIGKILLed process restarted,
// and nothing left after Stop.
func TestExecPods(t *testing.T) {
	env := shared.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs := env.Clientset
	ns := newNamespace(ctx, t, cs, "exec")
	bin := buildEchoServer(ctx, t)
	readyFile := filepath.Join(t.TempDir(), "ready")
	const image = "localhost/echo:test"
	x := env.Exec(t, ExecOptions{
		Namespaces:     []string{ns},
		Images:         map[string]string{image: bin},
		ProbePeriod:    200 * time.Millisecond,
		RestartBackOff: 200 * time.Millisecond,
	})

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "echo"},
			Ports:    []corev1.ServicePort{{Name: "web", Port: 8080, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	const replicas = 2
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, echoDeployment(image, readyFile, replicas), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}

	// 1. Processes run and are probed, but until they answer /ready the
	// pods are not Ready and the Deployment has nothing available.
	procs, err := x.WaitProcesses(ctx, "2 running processes", func(ps []ExecProcess) bool {
		return countRunning(ps) == replicas
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		waitHTTP(ctx, t, "http://"+net.JoinHostPort(p.LocalIP, "8080")+"/probes", func(body string) bool {
			n, err := strconv.Atoi(body)
			return err == nil && n >= 3
		})
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 0 {
		t.Fatalf("deployment has %d available replicas while /ready answers 503", d.Status.AvailableReplicas)
	}
	pods := listPods(ctx, t, env, ns, "app=echo")
	for _, p := range pods {
		if podReady(&p) {
			t.Errorf("pod %s Ready while its readiness probe fails", p.Name)
		}
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s phase %s with its process running, want Running", p.Name, p.Status.Phase)
		}
	}
	if err := os.WriteFile(readyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mark := time.Now()
	waitDeploymentAvailable(ctx, t, cs, ns, "echo", replicas)
	t.Logf("deployment available %v after /ready started passing", time.Since(mark).Round(time.Millisecond))

	// 2. The Service reaches both pods; env vars point at the stand-in.
	addr, err := x.ServiceAddr(ns, "echo", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.WaitServiceEndpoints(ctx, ns, "echo", 0, replicas); err != nil {
		t.Fatal(err)
	}
	seen := whoAnswers(ctx, t, addr, replicas)
	t.Logf("service %s answered from %v", addr, seen)
	gotURL := httpGet(ctx, t, "http://"+addr+"/env?name=ECHO_URL")
	if gotURL != "http://"+addr {
		t.Errorf("ECHO_URL = %q in the process, want http://%s", gotURL, addr)
	}

	// 3. Deleting a pod stops its process; the ReplicaSet's replacement gets
	// a new one.
	before := x.Processes()
	victim := before[0]
	mark = time.Now()
	if err := cs.CoreV1().Pods(ns).Delete(ctx, victim.Pod, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	waitGone(ctx, t, victim.PID)
	waitPods(ctx, t, env, ns, "app=echo", victim.Pod+" deleted and replaced", func(ps []corev1.Pod) bool {
		return len(running(ps)) == replicas && !slices.ContainsFunc(ps, func(p corev1.Pod) bool { return p.UID == victim.UID })
	})
	after, err := x.WaitProcesses(ctx, "replacement running", func(ps []ExecProcess) bool {
		return countRunning(ps) == replicas && !slices.ContainsFunc(ps, func(p ExecProcess) bool { return p.UID == victim.UID })
	})
	if err != nil {
		t.Fatal(err)
	}
	waitDeploymentAvailable(ctx, t, cs, ns, "echo", replicas)
	t.Logf("pod deleted, process stopped, replacement available in %v", time.Since(mark).Round(time.Millisecond))

	// 4. A process killed with SIGKILL is restarted; its pod is unready
	// meanwhile and its restartCount goes up.
	target := after[0]
	// A watch sees every status write, so the unready window cannot be missed.
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + target.Pod})
	if err != nil {
		t.Fatalf("watch pod: %v", err)
	}
	defer w.Stop()
	mark = time.Now()
	if err := syscall.Kill(target.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", target.PID, err)
	}
	sawUnready := false
	for done := false; !done; {
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s not Ready again after SIGKILL: %v (saw unready: %t)", target.Pod, ctx.Err(), sawUnready)
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch of %s closed", target.Pod)
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || len(p.Status.ContainerStatuses) == 0 {
				continue
			}
			cst := p.Status.ContainerStatuses[0]
			if !podReady(p) {
				sawUnready = true
			}
			if podReady(p) && cst.RestartCount >= 1 {
				if !sawUnready {
					t.Errorf("pod %s went from Ready to restarted and Ready without being unready", target.Pod)
				}
				if lt := cst.LastTerminationState.Terminated; lt == nil || lt.Signal != int32(syscall.SIGKILL) || lt.ExitCode != 137 {
					t.Errorf("lastState after SIGKILL: %+v", cst.LastTerminationState)
				}
				done = true
				t.Logf("SIGKILLed process restarted and its pod Ready again in %v", time.Since(mark).Round(time.Millisecond))
			}
		}
	}
	ps, err := x.WaitProcesses(ctx, "restarted process", func(ps []ExecProcess) bool {
		for _, p := range ps {
			if p.UID == target.UID {
				return p.PID != 0 && p.PID != target.PID && p.Restarts >= 1
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.WaitServiceEndpoints(ctx, ns, "echo", 0, replicas); err != nil {
		t.Fatal(err)
	}
	whoAnswers(ctx, t, addr, replicas)

	// 5. Stop leaves no process and no listener.
	pids := []int{victim.PID, target.PID}
	for _, p := range ps {
		pids = append(pids, p.PID)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if err := x.Stop(sctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Errorf("service address %s still accepts connections after Stop", addr)
	}
	if n := len(x.Processes()); n != 0 {
		t.Errorf("%d processes listed after Stop", n)
	}
}

// --- helpers ---

func echoDeployment(image, readyFile string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "echo", ExecLabel: "true"}
	grace := int64(5)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "echo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{
						Name: "echo", Image: image,
						Command: []string{"/echoserver"},
						Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						Env: []corev1.EnvVar{
							{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "READY_FILE", Value: readyFile},
							{Name: "ECHO_URL", Value: "http://$(ECHO_SERVICE_HOST):$(ECHO_SERVICE_PORT)"},
						},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
							PeriodSeconds: 1, FailureThreshold: 1,
						},
					}},
				},
			},
		},
	}
}

func buildEchoServer(ctx context.Context, t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echoserver")
	bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(bctx, "go", "build", "-o", bin, "./testdata/echoserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echoserver: %v\n%s", err, out)
	}
	return bin
}

func countRunning(ps []ExecProcess) int {
	n := 0
	for _, p := range ps {
		if p.PID != 0 {
			n++
		}
	}
	return n
}

func listPods(ctx context.Context, t *testing.T, env *Env, ns, selector string) []corev1.Pod {
	t.Helper()
	l, err := env.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	return l.Items
}

// httpClient opens a connection per request: the Service stand-in balances
// connections, not requests.
var httpClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func httpGet(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

// waitHTTP polls url (every 100ms, until ctx ends) until cond(body) holds.
func waitHTTP(ctx context.Context, t *testing.T, url string, cond func(string) bool) {
	t.Helper()
	var last string
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := httpClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			last, lastErr = string(b), nil
			if cond(last) {
				return
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s: condition not met: %v (last body %q, error %v)", url, ctx.Err(), last, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// whoAnswers sends at most 200 requests through the Service address until
// n distinct pods have answered; every request must succeed.
func whoAnswers(ctx context.Context, t *testing.T, addr string, n int) []string {
	t.Helper()
	var seen []string
	for i := 0; i < 200 && len(seen) < n; i++ {
		name := httpGet(ctx, t, "http://"+addr+"/whoami")
		if name == "" {
			t.Fatalf("request %d through %s: empty answer", i, addr)
		}
		if !slices.Contains(seen, name) {
			seen = append(seen, name)
		}
	}
	if len(seen) < n {
		t.Fatalf("200 requests through %s reached only %v, want %d pods", addr, seen, n)
	}
	slices.Sort(seen)
	return seen
}

// waitGone waits until pid no longer exists (it is reaped by the runner).
func waitGone(ctx context.Context, t *testing.T, pid int) {
	t.Helper()
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pid %d still exists: %v", pid, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestExecRecsysFeatureStore runs the demo's feature store as exec pods (the
// binary the lead's e2e test uses): it listens on $POD_IP:$PORT, becomes
// Ready from its /ready probe and answers through its Service.
func TestExecRecsysFeatureStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo binary; skipped with -short")
	}
	env := shared.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs := env.Clientset
	ns := newNamespace(ctx, t, cs, "recsys")
	bin := filepath.Join(t.TempDir(), "recsys")
	bctx, bcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer bcancel()
	if out, err := exec.CommandContext(bctx, "go", "build", "-o", bin, "../../../demo/cmd/recsys").CombinedOutput(); err != nil {
		t.Fatalf("build recsys: %v\n%s", err, out)
	}
	const image = "localhost/recsys:test"
	x := env.Exec(t, ExecOptions{Namespaces: []string{ns}, Images: map[string]string{image: bin}, Dir: t.TempDir(), ProbePeriod: 200 * time.Millisecond})

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "feature-store"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "feature-store"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8081, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	replicas := int32(2)
	labels := map[string]string{"app": "feature-store", ExecLabel: "true"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "feature-store"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "feature-store"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name: "feature-store", Image: image,
						Command: []string{"./bin/recsys", "feature-store"},
						Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						Env: []corev1.EnvVar{
							{Name: "DATA_SEED", Value: "7"},
							{Name: "REPLICA_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	waitDeploymentAvailable(ctx, t, cs, ns, "feature-store", replicas)
	addr, err := x.ServiceAddr(ns, "feature-store", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.WaitServiceEndpoints(ctx, ns, "feature-store", 0, int(replicas)); err != nil {
		t.Fatal(err)
	}
	body := httpGet(ctx, t, "http://"+addr+"/v1/users/1/features")
	if !strings.Contains(body, "{") {
		t.Fatalf("features of user 1 through %s: %q", addr, body)
	}
	for _, p := range x.Processes() {
		if b := fileTail(x.LogPath(ns, p.Pod), 50); !strings.Contains(b, p.LocalIP+":8080") {
			t.Errorf("%s does not log listening on its pod IP's twin %s:8080:\n%s", p.Pod, p.LocalIP, b)
		}
	}
}

// TestExecDeadNode checks that a node that stops being a kwok node (its
// kubelet "died") takes its exec processes with it, and that an exec pod
// there can still be deleted.
func TestExecDeadNode(t *testing.T) {
	env := shared.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := env.Clientset
	ns := newNamespace(ctx, t, cs, "exec-dead")
	node := ns + "-node" // unique: the shared environment's nodes stay untouched
	if err := env.AddNodes(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		if err := cs.CoreV1().Nodes().Delete(cctx, node, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete node %s: %v", node, err)
		}
	})
	bin := buildEchoServer(ctx, t)
	const image = "localhost/echo:test"
	x := env.Exec(t, ExecOptions{Namespaces: []string{ns}, Images: map[string]string{image: bin}, ProbePeriod: 200 * time.Millisecond})
	d := echoDeployment(image, "", 1)
	d.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	waitDeploymentAvailable(ctx, t, cs, ns, "echo", 1)
	ps := x.Processes()
	if len(ps) != 1 || ps[0].PID == 0 {
		t.Fatalf("processes %+v, want one running", ps)
	}
	pid := ps[0].PID

	// kwok stops managing the node: the process dies with it.
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:null}}}`, KwokAnnotation)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, node, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("remove kwok annotation: %v", err)
	}
	waitGone(ctx, t, pid)
	if _, err := x.WaitProcesses(ctx, "no process on the dead node", func(ps []ExecProcess) bool {
		return len(ps) == 1 && ps[0].PID == 0
	}); err != nil {
		t.Fatal(err)
	}

	// Deleting the pod still works (the runner deletes it: no process left).
	if err := cs.CoreV1().Pods(ns).Delete(ctx, ps[0].Pod, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	waitPods(ctx, t, env, ns, "app=echo", ps[0].Pod+" gone", func(pods []corev1.Pod) bool {
		return !slices.ContainsFunc(pods, func(p corev1.Pod) bool { return p.UID == ps[0].UID })
	})
}

// TestExecLivenessRestarts checks that a failing livenessProbe kills the
// process and the runner starts it again, counting the restart.
func TestExecLivenessRestarts(t *testing.T) {
	env := shared.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := env.Clientset
	ns := newNamespace(ctx, t, cs, "exec-live")
	bin := buildEchoServer(ctx, t)
	const image = "localhost/echo:test"
	x := env.Exec(t, ExecOptions{Namespaces: []string{ns}, Images: map[string]string{image: bin},
		ProbePeriod: 200 * time.Millisecond, RestartBackOff: 200 * time.Millisecond})
	// /ready never passes (the file never exists): liveness on it fails.
	d := echoDeployment(image, filepath.Join(t.TempDir(), "never"), 1)
	c := &d.Spec.Template.Spec.Containers[0]
	c.LivenessProbe, c.ReadinessProbe = c.ReadinessProbe, nil
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	if _, err := x.WaitProcesses(ctx, "a process restarted twice after failing liveness", func(ps []ExecProcess) bool {
		return len(ps) == 1 && ps[0].Restarts >= 2 && ps[0].PID != 0
	}); err != nil {
		t.Fatal(err)
	}
	waitPods(ctx, t, env, ns, "app=echo", "restartCount >= 2 in the pod status", func(ps []corev1.Pod) bool {
		return len(ps) == 1 && len(ps[0].Status.ContainerStatuses) > 0 && ps[0].Status.ContainerStatuses[0].RestartCount >= 2
	})
}
