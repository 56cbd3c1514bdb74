package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// ExecLabel marks "exec pods": pods whose first container the exec runner
// (Env.StartExec) runs as a local process. kwok does not make them Ready
// (the runner does, from the container's readinessProbe) and does not delete
// them at once when they are deleted (the runner does, once the process has
// exited). The value must be "true".
const ExecLabel = "testenv.faultline.dev/exec"

// execLabelQuery is ExecLabel as a kwok Stage selector key (a jq query).
const execLabelQuery = `.metadata.labels["` + ExecLabel + `"]`

// ExecOptions configure the exec runner.
type ExecOptions struct {
	// Namespaces whose exec pods are run and whose Services get the
	// kube-proxy stand-in; empty means all namespaces (then a shared
	// environment's other tests' exec pods are run too).
	Namespaces []string
	// Images maps a container image to a local executable. A relative path
	// is taken relative to Dir. A pod whose image is not here stays unready
	// with the waiting reason ErrImageNeverPull.
	Images map[string]string
	// Dir is the processes' working directory (default: the test's working
	// directory), e.g. the demo directory so that relative paths resolve.
	Dir string
	// Env are extra KEY=VALUE entries every process gets, below the
	// container's own env and the Service variables.
	Env []string
	// ProbePeriod, when set, replaces every probe's periodSeconds (at least
	// 200ms): tests need not wait seconds for readiness.
	ProbePeriod time.Duration
	// RestartBackOff and MaxRestartBackOff bound the delay before a process
	// that exited is started again, doubling per consecutive exit (defaults
	// 1s and 10s; the kubelet's are 10s and 5min). A process that ran for
	// BackOffReset (default 30s) resets the doubling.
	RestartBackOff, MaxRestartBackOff, BackOffReset time.Duration
	// MaxGracePeriod caps the pod's termination grace period: SIGTERM, then
	// SIGKILL after min(grace, MaxGracePeriod) (default 10s).
	MaxGracePeriod time.Duration
}

func (o ExecOptions) withDefaults() ExecOptions {
	if o.Dir == "" {
		o.Dir, _ = os.Getwd()
	}
	if o.ProbePeriod > 0 {
		o.ProbePeriod = max(o.ProbePeriod, 200*time.Millisecond)
	}
	if o.RestartBackOff <= 0 {
		o.RestartBackOff = time.Second
	}
	if o.MaxRestartBackOff <= 0 {
		o.MaxRestartBackOff = 10 * time.Second
	}
	o.MaxRestartBackOff = max(o.MaxRestartBackOff, o.RestartBackOff)
	if o.BackOffReset <= 0 {
		o.BackOffReset = 30 * time.Second
	}
	if o.MaxGracePeriod <= 0 {
		o.MaxGracePeriod = 10 * time.Second
	}
	return o
}

// Exec is a running exec runner: a process runner standing in for the
// kubelet's container runtime for exec pods, and a userspace stand-in for
// kube-proxy (svcproxy.go). Everything else (Deployments, ReplicaSets,
// scheduling, evictions, EndpointSlices) stays the real control plane's.
type Exec struct {
	env    *Env
	opts   ExecOptions
	ctx    context.Context
	cancel context.CancelFunc
	logDir string
	log    *runnerLog
	proxy  *svcProxy

	nodes       corelisters.NodeLister
	svcListers  map[string]corelisters.ServiceLister // by namespace; "" = all
	informersWG sync.WaitGroup

	mu       sync.Mutex
	stopping bool
	workers  map[types.UID]*podWorker
	ips      map[string]types.UID // pod IP -> the worker whose process may hold it
	workerWG sync.WaitGroup

	stopOnce sync.Once
	stopErr  error
}

// ExecProcess describes one exec pod as the runner sees it.
type ExecProcess struct {
	Namespace, Pod string
	UID            types.UID
	// IP is the pod IP (as in the API); LocalIP its loopback twin, on which
	// the process listens.
	IP, LocalIP string
	// PID is the running process, 0 while none runs.
	PID int
	// Starts counts processes started for the pod; Restarts is the
	// container's restartCount (Starts-1 once running).
	Starts   int
	Restarts int32
	// Ready is what the runner last wrote as the pod's Ready condition.
	Ready bool
}

// Exec starts the exec runner (StartExec) and stops it in t.Cleanup; when the
// test failed, the last lines of every exec pod's log are logged first.
func (e *Env) Exec(t testing.TB, opts ExecOptions) *Exec {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x, err := e.StartExec(ctx, opts)
	if err != nil {
		t.Fatalf("kube testenv exec: %v", err)
		return nil
	}
	t.Cleanup(func() {
		if t.Failed() {
			x.logTails(t, 20)
		}
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		if err := x.Stop(sctx); err != nil {
			t.Errorf("kube testenv exec stop: %v", err)
		}
	})
	return x
}

// StartExec starts the exec runner: it watches the pods labelled
// ExecLabel=true in opts.Namespaces and, for each scheduled on a kwok node
// with a pod IP, runs its first container as a local process listening on
// the pod IP's loopback twin (Env.LocalIP); and it serves every ClusterIP
// Service of those namespaces on a loopback address (ServiceAddr). ctx
// bounds the initial cache sync only; Stop ends everything.
func (e *Env) StartExec(ctx context.Context, opts ExecOptions) (*Exec, error) {
	opts = opts.withDefaults()
	if e.net == nil {
		return nil, errors.New("exec runner: environment has no loopback block (not started by this package?)")
	}
	logDir := filepath.Join(e.Dir, "logs", "pods")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("exec runner: log dir: %w", err)
	}
	rl, err := openRunnerLog(filepath.Join(e.Dir, "logs", "exec.log"))
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	x := &Exec{
		env: e, opts: opts, ctx: rctx, cancel: cancel, logDir: logDir, log: rl,
		svcListers: map[string]corelisters.ServiceLister{},
		workers:    map[types.UID]*podWorker{},
		ips:        map[string]types.UID{},
	}
	x.proxy = newSvcProxy(e.net, rl.logf)

	namespaces := opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var factories []informers.SharedInformerFactory
	var synced []cache.InformerSynced
	nodeF := informers.NewSharedInformerFactory(e.Clientset, 0)
	nodeInf := nodeF.Core().V1().Nodes()
	x.nodes = nodeInf.Lister()
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { x.kickAll() },
		UpdateFunc: func(_, n any) { x.kickAll() },
		DeleteFunc: func(any) { x.kickAll() },
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("exec runner: node handler: %w", err)
	}
	synced = append(synced, nodeInf.Informer().HasSynced)
	factories = append(factories, nodeF)
	for _, ns := range namespaces {
		podF := informers.NewSharedInformerFactoryWithOptions(e.Clientset, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = ExecLabel + "=true" }))
		podInf := podF.Core().V1().Pods().Informer()
		if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { x.onPod(o, false) },
			UpdateFunc: func(_, o any) { x.onPod(o, false) },
			DeleteFunc: func(o any) { x.onPod(o, true) },
		}); err != nil {
			cancel()
			return nil, fmt.Errorf("exec runner: pod handler: %w", err)
		}
		svcF := informers.NewSharedInformerFactoryWithOptions(e.Clientset, 0, informers.WithNamespace(ns))
		svcInf := svcF.Core().V1().Services()
		x.svcListers[ns] = svcInf.Lister()
		if _, err := svcInf.Informer().AddEventHandler(x.proxy.serviceHandler()); err != nil {
			cancel()
			return nil, fmt.Errorf("exec runner: service handler: %w", err)
		}
		sliceInf := svcF.Discovery().V1().EndpointSlices().Informer()
		if _, err := sliceInf.AddEventHandler(x.proxy.sliceHandler()); err != nil {
			cancel()
			return nil, fmt.Errorf("exec runner: endpointslice handler: %w", err)
		}
		synced = append(synced, podInf.HasSynced, svcInf.Informer().HasSynced, sliceInf.HasSynced)
		factories = append(factories, podF, svcF)
	}
	for _, f := range factories {
		f.Start(rctx.Done())
		x.informersWG.Add(1)
		go func() {
			defer x.informersWG.Done()
			<-rctx.Done()
			f.Shutdown()
		}()
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		_ = x.Stop(sctx)
		return nil, fmt.Errorf("exec runner: informer caches not synced: %w", context.Cause(ctx))
	}
	rl.logf("exec runner started: namespaces %q, images %v, dir %s", opts.Namespaces, opts.Images, opts.Dir)
	return x, nil
}

// Stop kills every process (SIGTERM, SIGKILL after the capped grace period
// or when ctx ends), waits for them, and closes the Service listeners. The
// pods are left as they are; a terminating exec pod is then deleted by kwok
// at its deletionTimestamp. Safe to call more than once.
func (x *Exec) Stop(ctx context.Context) error {
	x.stopOnce.Do(func() {
		x.mu.Lock()
		x.stopping = true
		x.mu.Unlock()
		x.cancel()
		var errs []error
		if err := waitGroup(ctx, &x.workerWG); err != nil {
			errs = append(errs, fmt.Errorf("exec runner: processes not stopped: %w", err))
		}
		x.proxy.close()
		if err := waitGroup(ctx, &x.proxy.wg); err != nil {
			errs = append(errs, fmt.Errorf("exec runner: service proxy not stopped: %w", err))
		}
		if err := waitGroup(ctx, &x.informersWG); err != nil {
			errs = append(errs, fmt.Errorf("exec runner: informers not stopped: %w", err))
		}
		x.log.logf("exec runner stopped")
		x.log.close()
		x.stopErr = errors.Join(errs...)
	})
	return x.stopErr
}

// waitGroup waits for wg, or returns ctx's error.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LocalIP returns the loopback twin of a pod IP of this environment: the
// address on which an exec pod's process listens, and which a test dials to
// reach a pod directly. False for an address outside the environment's pod
// range.
func (e *Env) LocalIP(podIP string) (string, bool) {
	if e.net == nil {
		return "", false
	}
	return e.net.loopback(podIP)
}

// LogPath is the file that receives the output of the pod's processes (all
// of its restarts, each start marked by a "# testenv:" line).
func (x *Exec) LogPath(namespace, pod string) string {
	return filepath.Join(x.logDir, namespace+"_"+pod+".log")
}

// ServiceAddr returns the loopback host:port at which the kube-proxy
// stand-in serves the Service's port (port 0: its first port).
func (x *Exec) ServiceAddr(namespace, name string, port int32) (string, error) {
	return x.proxy.addr(namespace, name, port)
}

// WaitServiceEndpoints waits (polling every 50ms, until ctx ends) until the
// Service stand-in has at least n ready endpoints for the Service's port
// (port 0: its first). A Deployment is Available slightly before the
// EndpointSlice controller has published its pods, as in a cluster.
func (x *Exec) WaitServiceEndpoints(ctx context.Context, namespace, name string, port int32, n int) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		got, err := x.proxy.readyEndpoints(namespace, name, port)
		if err == nil && got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s/%s: waiting for %d ready endpoints: %w (have %d, last error %v)", namespace, name, n, ctx.Err(), got, err)
		case <-t.C:
		}
	}
}

// Processes lists the exec pods the runner knows, sorted by namespace and
// pod name.
func (x *Exec) Processes() []ExecProcess {
	x.mu.Lock()
	ws := make([]*podWorker, 0, len(x.workers))
	for _, w := range x.workers {
		ws = append(ws, w)
	}
	x.mu.Unlock()
	out := make([]ExecProcess, 0, len(ws))
	for _, w := range ws {
		w.mu.Lock()
		out = append(out, w.info)
		w.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Pod < out[j].Pod
	})
	return out
}

// WaitProcesses polls Processes every 50ms until cond holds or ctx ends.
func (x *Exec) WaitProcesses(ctx context.Context, what string, cond func([]ExecProcess) bool) ([]ExecProcess, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ps := x.Processes()
		if cond(ps) {
			return ps, nil
		}
		select {
		case <-ctx.Done():
			return ps, fmt.Errorf("waiting for %s: %w (processes: %+v)", what, ctx.Err(), ps)
		case <-t.C:
		}
	}
}

func (x *Exec) logTails(t testing.TB, n int) {
	t.Helper()
	t.Logf("--- exec runner (%s), last %d lines:\n%s", x.log.path, n, fileTail(x.log.path, n))
	for _, p := range x.Processes() {
		path := x.LogPath(p.Namespace, p.Pod)
		t.Logf("--- exec pod %s/%s (%s), last %d lines:\n%s", p.Namespace, p.Pod, path, n, fileTail(path, n))
	}
}

func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return lastLines(string(b), n)
}

// onPod hands a pod event to the pod's worker, starting one for a new pod.
func (x *Exec) onPod(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = d.Obj, true
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[ExecLabel] != "true" {
		return
	}
	x.mu.Lock()
	w := x.workers[pod.UID]
	if w == nil {
		if deleted || x.stopping {
			x.mu.Unlock()
			return
		}
		w = &podWorker{x: x, uid: pod.UID, kick: make(chan struct{}, 1), pod: pod,
			info: ExecProcess{Namespace: pod.Namespace, Pod: pod.Name, UID: pod.UID}}
		x.workers[pod.UID] = w
		x.workerWG.Add(1)
		go w.run(x.ctx)
	}
	x.mu.Unlock()
	w.update(pod, deleted)
}

func (x *Exec) kickAll() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, w := range x.workers {
		w.poke()
	}
}

// onKwokNode reports whether the node exists and kwok manages it (a node
// that lost kwok's annotation, or was deleted, is a dead node: its
// processes are stopped).
func (x *Exec) onKwokNode(name string) bool {
	if name == "" {
		return false
	}
	n, err := x.nodes.Get(name)
	return err == nil && n.Annotations[KwokAnnotation] == "fake"
}

// acquireIP reserves a pod IP for a worker: kwok hands a deleted pod's IP to
// the next pod at once, possibly while the old process still shuts down.
func (x *Exec) acquireIP(ip string, uid types.UID) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if owner, ok := x.ips[ip]; ok && owner != uid {
		return false
	}
	x.ips[ip] = uid
	return true
}

func (x *Exec) releaseIP(ip string, uid types.UID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ips[ip] == uid {
		delete(x.ips, ip)
	}
}

// serviceEnv returns the Service variables for a pod in ns, pointing at the
// kube-proxy stand-in's addresses (which it makes sure exist).
func (x *Exec) serviceEnv(ns string, links bool) []envVar {
	l, ok := x.svcListers[ns]
	if !ok {
		l = x.svcListers[metav1.NamespaceAll]
	}
	if l == nil {
		return nil
	}
	svcs, err := l.Services(ns).List(labels.Everything())
	if err != nil {
		return nil
	}
	var entries []svcEnv
	for _, s := range svcs {
		host, err := x.proxy.ensure(s)
		if err != nil || host == "" {
			continue
		}
		e := svcEnv{Name: s.Name, Host: host}
		for _, p := range s.Spec.Ports {
			e.Ports = append(e.Ports, svcPortEnv{Name: p.Name, Port: p.Port, Protocol: string(p.Protocol)})
		}
		entries = append(entries, e)
	}
	return serviceEnvVars(entries, links)
}

// --- kwok stages ---

// writeKwokStages copies kwok's default stages from src to dst with exec
// pods taken out of pod-ready (the runner makes them Ready from their probes),
// pod-complete (their process decides when they end) and pod-delete (the
// runner deletes them once their process has exited),
// and adds the stages of exec pods: a pod IP and host IP when scheduled
// (Pending, unready: the runner marks it Running when the process starts),
// and deletion at the deletionTimestamp when no runner did it first (a test
// whose runner has stopped must still be able to delete its namespace).
// Non-exec pods match exactly the stages they matched before.
func writeKwokStages(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("kwok stages: %w", err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out bytes.Buffer
	seen := map[string]bool{}
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("kwok stages %s: %w", src, err)
		}
		if doc == nil {
			continue
		}
		name, _ := nested(doc, "metadata", "name").(string)
		if name == "pod-ready" || name == "pod-delete" || name == "pod-complete" {
			sel, ok := nested(doc, "spec", "selector").(map[string]any)
			if !ok {
				return fmt.Errorf("kwok stages %s: stage %s has no selector", src, name)
			}
			exprs, _ := sel["matchExpressions"].([]any)
			sel["matchExpressions"] = append(exprs, map[string]any{
				"key": execLabelQuery, "operator": "NotIn", "values": []any{"true"},
			})
			seen[name] = true
		}
		j, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("kwok stages: %w", err)
		}
		out.WriteString("---\n")
		out.Write(j)
		out.WriteString("\n")
	}
	if !seen["pod-ready"] || !seen["pod-delete"] {
		return fmt.Errorf("kwok stages %s: no pod-ready or pod-delete stage to exclude exec pods from", src)
	}
	out.WriteString(execStages)
	return writeFile(dst, out.Bytes())
}

func nested(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// execStages are the kwok stages of exec pods (see writeKwokStages).
const execStages = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-exec-scheduled
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '` + execLabelQuery + `'
      operator: 'In'
      values: ['true']
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
    - key: '.status.podIP'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          waiting:
            reason: ContainerCreating
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-exec-delete-fallback
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '` + execLabelQuery + `'
      operator: 'In'
      values: ['true']
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
  delay:
    durationMilliseconds: 1000
    durationFrom:
      expressionFrom: '.metadata.deletionTimestamp'
  next:
    delete: true
`

// --- environment of a container ---

// envVar is one NAME=value of a process environment.
type envVar struct{ Name, Value string }

// svcEnv is what the Service variables of one Service are made from.
type svcEnv struct {
	Name, Host string
	Ports      []svcPortEnv
}

type svcPortEnv struct {
	Name     string
	Port     int32
	Protocol string
}

// serviceEnvVars returns the kubelet's Service variables:
// <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT (first port),
// <NAME>_SERVICE_PORT_<PORT NAME> per named port, and with links the
// Docker-link style <NAME>_PORT, <NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}.
// Names are upper-cased with '-' as '_'. Services are taken in name order.
func serviceEnvVars(svcs []svcEnv, links bool) []envVar {
	svcs = slices.Clone(svcs)
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	var out []envVar
	for _, s := range svcs {
		if s.Host == "" || len(s.Ports) == 0 {
			continue
		}
		name := envName(s.Name)
		out = append(out,
			envVar{name + "_SERVICE_HOST", s.Host},
			envVar{name + "_SERVICE_PORT", strconv.Itoa(int(s.Ports[0].Port))})
		for _, p := range s.Ports {
			if p.Name != "" {
				out = append(out, envVar{name + "_SERVICE_PORT_" + envName(p.Name), strconv.Itoa(int(p.Port))})
			}
		}
		if !links {
			continue
		}
		url := func(p svcPortEnv) string {
			proto := strings.ToLower(cmpOr(p.Protocol, "TCP"))
			return fmt.Sprintf("%s://%s:%d", proto, s.Host, p.Port)
		}
		out = append(out, envVar{name + "_PORT", url(s.Ports[0])})
		for _, p := range s.Ports {
			proto := strings.ToUpper(cmpOr(p.Protocol, "TCP"))
			pre := fmt.Sprintf("%s_PORT_%d_%s", name, p.Port, proto)
			out = append(out,
				envVar{pre, url(p)},
				envVar{pre + "_PROTO", strings.ToLower(proto)},
				envVar{pre + "_PORT", strconv.Itoa(int(p.Port))},
				envVar{pre + "_ADDR", s.Host})
		}
	}
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}

// expandEnv expands $(VAR) references in s as the kubelet does: lookup
// returns a variable's value; an unknown reference is left as written, "$$"
// is a literal "$" (so "$$(VAR)" stays "$(VAR)"), and a "$" not followed by
// "(" or "$", or a "$(" without a closing ")", is kept as is.
func expandEnv(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// hostMount maps a container path to a host path (a hostPath volume).
type hostMount struct{ MountPath, HostPath string }

// hostMounts returns the container's hostPath mounts, longest path first.
func hostMounts(pod *corev1.Pod, c *corev1.Container) []hostMount {
	vols := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.HostPath != nil {
			vols[v.Name] = v.HostPath.Path
		}
	}
	var out []hostMount
	for _, m := range c.VolumeMounts {
		if hp, ok := vols[m.Name]; ok && m.MountPath != "" {
			out = append(out, hostMount{strings.TrimRight(m.MountPath, "/"), filepath.Join(hp, m.SubPath)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].MountPath) > len(out[j].MountPath) })
	return out
}

// mapHostPath replaces a leading mount path in s with its host path: a
// process has no mount namespace, so a path in the container's view is
// rewritten to the host's.
func mapHostPath(s string, mounts []hostMount) string {
	for _, m := range mounts {
		if m.MountPath == "" {
			continue
		}
		if s == m.MountPath {
			return m.HostPath
		}
		if rest, ok := strings.CutPrefix(s, m.MountPath+"/"); ok {
			return filepath.Join(m.HostPath, rest)
		}
	}
	return s
}

// processSpec is what a container's process is started with.
type processSpec struct {
	Argv []string
	Env  []string
	Dir  string
}

// containerProcess computes the process of container c of pod: argv
// (the mapped executable, then command[1:] and args, $(VAR)-expanded), the
// environment (base entries, then the Service variables, then the
// container's env with kubelet expansion and fieldRefs, then POD_IP and
// PORT=<first containerPort> unless the container sets them) with hostPath
// mount paths mapped, and the working directory. localIP, the pod IP's
// loopback twin, stands for the pod IP.
func containerProcess(pod *corev1.Pod, c *corev1.Container, exe, dir, localIP string, base []string, svcVars []envVar) (processSpec, error) {
	mounts := hostMounts(pod, c)
	svc := map[string]string{}
	for _, v := range svcVars {
		svc[v.Name] = v.Value
	}
	defined := map[string]string{}
	var own []envVar
	lookup := func(name string) (string, bool) {
		if v, ok := defined[name]; ok {
			return v, true
		}
		v, ok := svc[name]
		return v, ok
	}
	for _, ev := range c.Env {
		var val string
		switch {
		case ev.ValueFrom == nil:
			val = expandEnv(ev.Value, lookup)
		case ev.ValueFrom.FieldRef != nil:
			v, err := podField(pod, ev.ValueFrom.FieldRef.FieldPath, localIP)
			if err != nil {
				return processSpec{}, fmt.Errorf("env %s: %w", ev.Name, err)
			}
			val = v
		default:
			return processSpec{}, fmt.Errorf("env %s: only value and valueFrom.fieldRef are supported by the exec runner", ev.Name)
		}
		val = mapHostPath(val, mounts)
		defined[ev.Name] = val
		own = append(own, envVar{ev.Name, val})
	}
	if len(c.EnvFrom) > 0 {
		return processSpec{}, errors.New("envFrom is not supported by the exec runner")
	}
	if _, ok := defined["POD_IP"]; !ok {
		own = append(own, envVar{"POD_IP", localIP})
	}
	if _, ok := defined["PORT"]; !ok && len(c.Ports) > 0 {
		own = append(own, envVar{"PORT", strconv.Itoa(int(c.Ports[0].ContainerPort))})
	}
	// Later entries win: base < Service variables < the container's own.
	final := map[string]int{}
	var env []string
	add := func(name, val string) {
		kv := name + "=" + val
		if i, ok := final[name]; ok {
			env[i] = kv
			return
		}
		final[name] = len(env)
		env = append(env, kv)
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			add(k, v)
		}
	}
	for _, v := range svcVars {
		add(v.Name, v.Value)
	}
	for _, v := range own {
		add(v.Name, v.Value)
	}

	argv := []string{exe}
	if len(c.Command) > 1 {
		argv = append(argv, c.Command[1:]...)
	}
	argv = append(argv, c.Args...)
	for i := 1; i < len(argv); i++ {
		argv[i] = mapHostPath(expandEnv(argv[i], lookup), mounts)
	}
	wd := dir
	if c.WorkingDir != "" {
		if m := mapHostPath(c.WorkingDir, mounts); m != c.WorkingDir {
			wd = m
		}
	}
	return processSpec{Argv: argv, Env: env, Dir: wd}, nil
}

// podField resolves the fieldRef paths the exec runner supports;
// status.podIP is the pod IP's loopback twin, the address the process can
// listen on.
func podField(pod *corev1.Pod, path, localIP string) (string, error) {
	switch path {
	case "status.podIP":
		return localIP, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	return "", fmt.Errorf("fieldRef %q is not supported by the exec runner", path)
}

// --- the runner's own log ---

type runnerLog struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openRunnerLog(path string) (*runnerLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("exec runner log: %w", err)
	}
	return &runnerLog{path: path, f: f}, nil
}

func (l *runnerLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	fmt.Fprintf(l.f, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (l *runnerLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}

// deletePod deletes an exec pod whose process has stopped, at once (grace 0,
// this UID only), as the kubelet does once the containers are gone.
func (x *Exec) deletePod(ns, name string, uid types.UID) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := x.env.Clientset.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		x.log.logf("%s/%s: delete: %v", ns, name, err)
	}
}
