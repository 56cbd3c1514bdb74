package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure an environment. The zero value is one kwok node.
type Options struct {
	// Nodes is the number of kwok nodes made Ready before Start returns
	// (default 1; a negative value means none).
	Nodes int
	// NodeCPU, NodeMemory and NodePods are each node's capacity (defaults
	// "32", "256Gi", 250): room for a thousand pods on a few nodes.
	NodeCPU, NodeMemory string
	NodePods            int
	// StartTimeout bounds starting everything and waiting for the nodes
	// (default 2 minutes). Building the binaries is bounded separately by
	// BuildTimeout.
	StartTimeout time.Duration
	// BuildTimeout bounds running hack/kube-testenv.sh build when the
	// binaries are not cached (default 8 minutes, less than go test's default
	// 10 minute timeout; a cold build takes ~13 minutes, so `make test` builds
	// them beforehand).
	BuildTimeout time.Duration
	// QPS and Burst of the clients of kube-controller-manager,
	// kube-scheduler, kwok and Env.Config (defaults 500 and 1000): the
	// client-go defaults (5-50 QPS) make a thousand-pod Deployment take
	// minutes for no reason but throttling.
	QPS   float32
	Burst int
}

func (o Options) withDefaults() Options {
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.Nodes < 0 {
		o.Nodes = 0
	}
	if o.NodeCPU == "" {
		o.NodeCPU = "32"
	}
	if o.NodeMemory == "" {
		o.NodeMemory = "256Gi"
	}
	if o.NodePods <= 0 {
		o.NodePods = 250
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if o.BuildTimeout <= 0 {
		o.BuildTimeout = 8 * time.Minute
	}
	if o.QPS <= 0 {
		o.QPS = 500
	}
	if o.Burst <= 0 {
		o.Burst = 1000
	}
	return o
}

// Env is a running control plane.
type Env struct {
	// Config reaches the apiserver as cluster admin (client certificate in
	// system:masters), verifying its serving certificate against the CA.
	Config *rest.Config
	// Clientset is built from Config.
	Clientset kubernetes.Interface
	// Kubeconfig is the path of a kubeconfig file with the same credentials,
	// for processes (a faultline binary under test, kubectl).
	Kubeconfig string
	// Dir holds certificates, etcd data, kubeconfig and the logs/<component>.log files.
	Dir string
	// Nodes are the names of the kwok nodes Start made Ready.
	Nodes []string
	// BinDir holds the binaries used.
	BinDir string
	// Host is the apiserver URL (https://127.0.0.1:<port>).
	Host string

	opts     Options
	net      *netBlock  // pod IPs, their loopback twins, Service addresses (netblock.go)
	procs    []*process // start order; stopped in reverse
	ownDir   string     // made by StartEnv (Dir's parent), removed by Stop
	stopOnce sync.Once
	stopErr  error
}

// Start builds the binaries if needed (cached), starts etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok in t.TempDir(), waits until
// the API is healthy and opts.Nodes kwok nodes are Ready, and stops
// everything in t.Cleanup. Without binaries it skips the test (fails when CI
// is set); a control plane that does not come up fails the test.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	opts = opts.withDefaults()
	bctx, cancel := context.WithTimeout(context.Background(), opts.BuildTimeout)
	defer cancel()
	bin, err := Build(bctx)
	if err != nil {
		skipOrFail(t, err)
		return nil
	}
	env, err := startIn(t.TempDir(), bin, opts)
	if err != nil {
		t.Fatalf("kube testenv: %v", err)
		return nil
	}
	t.Cleanup(func() {
		if t.Failed() {
			env.logTails(t, 20)
		}
		if err := env.Stop(); err != nil {
			t.Errorf("kube testenv stop: %v", err)
		}
	})
	return env
}

// skipOrFail skips on missing binaries outside CI and fails otherwise.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrUnavailable) && !inCI() {
		t.Skipf("kube testenv: %v (CI unset, skipping)", err)
		return
	}
	t.Fatalf("kube testenv: %v", err)
}

func inCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// StartEnv is Start without a testing.TB, for TestMain: it makes its own
// temporary directory, and the caller must call Stop, which removes it.
// Errors wrap ErrUnavailable when the binaries could not be obtained.
func StartEnv(opts Options) (*Env, error) {
	opts = opts.withDefaults()
	bctx, cancel := context.WithTimeout(context.Background(), opts.BuildTimeout)
	defer cancel()
	bin, err := Build(bctx)
	if err != nil {
		return nil, err
	}
	sweepStale(os.TempDir())
	dir, err := os.MkdirTemp("", sharedDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	// The owner's pid lets a later StartEnv remove this directory if this
	// process dies without Stop (killed test binary; the components die with
	// it through Pdeathsig).
	if err := writeFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid()))); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	env, err := startIn(dir, bin, opts)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	env.ownDir = dir
	return env, nil
}

const (
	sharedDirPrefix = "faultline-kube-testenv-"
	ownerFile       = "owner.pid"
)

// sweepStale removes StartEnv directories whose owning process is gone.
// Directories without an owner file are left alone (another process may be
// between MkdirTemp and writing it).
func sweepStale(tmp string) {
	dirs, err := filepath.Glob(filepath.Join(tmp, sharedDirPrefix+"*"))
	if err != nil {
		return
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

// startIn retries with fresh ports when a component lost a port race against
// another process (several test binaries start environments in parallel).
func startIn(dir, bin string, opts Options) (*Env, error) {
	var err error
	for attempt := range 3 {
		sub := filepath.Join(dir, fmt.Sprintf("kube-%d", attempt))
		var env *Env
		env, err = start(sub, bin, opts)
		if err == nil {
			return env, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
		_ = os.RemoveAll(sub)
	}
	return nil, err
}

var errPortTaken = errors.New("port taken")

func start(dir, bin string, opts Options) (_ *Env, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("env dir: %w", err)
	}
	env := &Env{Dir: dir, BinDir: bin, opts: opts}
	defer func() {
		if err != nil {
			_ = env.Stop()
		}
	}()
	pk, err := newPKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	env.Host = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	env.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(env.Kubeconfig, env.Host, pk); err != nil {
		return nil, err
	}
	env.Config = &rest.Config{
		Host: env.Host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: pk.caPEM, CertData: pk.adminCertPEM, KeyData: pk.adminKeyPEM,
		},
		QPS: opts.QPS, Burst: opts.Burst,
		UserAgent: "faultline-testenv",
	}
	if env.Clientset, err = kubernetes.NewForConfig(env.Config); err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}

	// etcd. --unsafe-no-fsync: the data dir is thrown away, durability buys
	// nothing and fsync dominates write latency on small VMs.
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	if err := env.run("etcd", []string{
		"--name", "testenv", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "testenv=" + peerURL,
		"--unsafe-no-fsync", "--log-level", "warn",
	}); err != nil {
		return nil, err
	}

	if err := env.run("kube-apiserver", []string{
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		// The endpoint reconcilers refuse a loopback advertise address; no
		// pod here needs the "kubernetes" Service's endpoints.
		"--endpoint-reconciler-type", "none",
		"--secure-port", strconv.Itoa(apiPort),
		"--tls-cert-file", pk.ServingCert, "--tls-private-key-file", pk.ServingKey,
		"--client-ca-file", pk.CACert,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", pk.SAPub, "--service-account-signing-key-file", pk.SAKey,
		"--service-cluster-ip-range", serviceCIDR,
		"--authorization-mode", "RBAC",
		// The apiserver dials no kubelets (kwok has none), and the test
		// environment has no cloud: nothing else to configure.
		"--cert-dir", filepath.Join(dir, "apiserver-certs"),
	}); err != nil {
		return nil, err
	}
	if err := env.waitHealthy(ctx, "kube-apiserver", "/readyz"); err != nil {
		return nil, err
	}

	compKubeconfig := env.Kubeconfig
	qps, burst := strconv.FormatFloat(float64(opts.QPS), 'f', -1, 32), strconv.Itoa(opts.Burst)
	if err := env.run("kube-controller-manager", []string{
		"--kubeconfig", compKubeconfig,
		"--leader-elect=false", "--secure-port=0",
		"--service-account-private-key-file", pk.SAKey, "--root-ca-file", pk.CACert,
		"--use-service-account-credentials=false",
		"--kube-api-qps", qps, "--kube-api-burst", burst,
	}); err != nil {
		return nil, err
	}
	schedConfig := filepath.Join(dir, "scheduler.yaml")
	if err := writeFile(schedConfig, fmt.Appendf(nil, `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: %s
  burst: %s
leaderElection:
  leaderElect: false
`, compKubeconfig, qps, burst)); err != nil {
		return nil, err
	}
	if err := env.run("kube-scheduler", []string{
		"--config", schedConfig, "--secure-port=0",
	}); err != nil {
		return nil, err
	}
	// Pod IPs from a block no other environment uses, each with a loopback
	// twin exec pods (exec.go) listen on; kwok's stages are copied with exec
	// pods taken out of pod-ready, pod-complete and pod-delete.
	if env.net, err = allocNetBlock(); err != nil {
		return nil, err
	}
	stages := filepath.Join(dir, "kwok-stages.yaml")
	if err := writeKwokStages(filepath.Join(bin, "kwok-stages.yaml"), stages); err != nil {
		return nil, err
	}
	// kwok manages only nodes carrying its annotation, so tests may also
	// create plain Nodes that nothing keeps alive (a "dead" node).
	if err := env.run("kwok", []string{
		"--kubeconfig", compKubeconfig,
		"--config", stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector", KwokAnnotation + "=fake",
		"--node-lease-duration-seconds", "40",
		"--cidr", env.net.podCIDR.String(), "--node-ip", env.net.nodeIP.String(),
	}); err != nil {
		return nil, err
	}

	names := make([]string, opts.Nodes)
	for i := range names {
		names[i] = fmt.Sprintf("kwok-node-%d", i)
	}
	if err := env.AddNodes(ctx, names...); err != nil {
		return nil, err
	}
	env.Nodes = names
	// Pods are refused until their namespace's "default" ServiceAccount exists
	// (made by kube-controller-manager), so wait for it in "default".
	if err := env.poll(ctx, "default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := env.Clientset.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}); err != nil {
		return nil, err
	}
	return env, nil
}

// KwokAnnotation marks the nodes kwok manages (with value "fake").
const KwokAnnotation = "kwok.x-k8s.io/node"

// AddNodes creates kwok nodes with the given names and waits until they are
// Ready. They have no taints, carry the labels type=kwok and
// kubernetes.io/hostname=<name>, and the capacity from Options.
func (e *Env) AddNodes(ctx context.Context, names ...string) error {
	for _, name := range names {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{KwokAnnotation: "fake"},
				Labels: map[string]string{
					"type":                   "kwok",
					"kubernetes.io/hostname": name,
					"kubernetes.io/os":       "linux",
					"kubernetes.io/arch":     "amd64",
				},
			},
			Status: corev1.NodeStatus{
				Capacity:    e.capacity(),
				Allocatable: e.capacity(),
			},
		}
		if _, err := e.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", name, err)
		}
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	return e.poll(ctx, fmt.Sprintf("%d kwok nodes Ready", len(names)), func(ctx context.Context) (bool, error) {
		list, err := e.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for i := range list.Items {
			if want[list.Items[i].Name] && NodeReady(&list.Items[i]) {
				ready++
			}
		}
		return ready == len(want), nil
	})
}

func (e *Env) capacity() corev1.ResourceList {
	// Parsing cannot fail for the defaults; a bad user value is reported by
	// the apiserver on create rather than a panic here.
	rl := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{
		corev1.ResourceCPU:    e.opts.NodeCPU,
		corev1.ResourceMemory: e.opts.NodeMemory,
		corev1.ResourcePods:   strconv.Itoa(e.opts.NodePods),
	} {
		if q, err := resource.ParseQuantity(v); err == nil {
			rl[name] = q
		}
	}
	return rl
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// run starts a component and fails fast if it exits right away.
func (e *Env) run(name string, args []string) error {
	p, err := startProcess(e.Dir, name, filepath.Join(e.BinDir, name), args)
	if err != nil {
		return err
	}
	e.procs = append(e.procs, p)
	return nil
}

// checkAlive reports a component that has exited, with its log tail.
func (e *Env) checkAlive() error {
	for _, p := range e.procs {
		if done, werr := p.exited(); done {
			tail := p.logTail(15)
			err := fmt.Errorf("%s exited (%v); log %s:\n%s", p.name, werr, p.logPath, tail)
			if portInUse(tail) {
				return fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		}
	}
	return nil
}

// waitHealthy polls an apiserver health endpoint until it answers "ok".
func (e *Env) waitHealthy(ctx context.Context, what, path string) error {
	rc := e.Clientset.Discovery().RESTClient()
	return e.poll(ctx, what+" "+path, func(ctx context.Context) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		body, err := rc.Get().AbsPath(path).DoRaw(rctx)
		// Not ready yet is the normal state while it starts: keep polling.
		return err == nil && strings.TrimSpace(string(body)) == "ok", nil
	})
}

// poll calls cond every 100ms until it is true, ctx ends, or a component dies.
func (e *Env) poll(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	return e.pollEvery(ctx, func() time.Duration { return 100 * time.Millisecond }, what, cond)
}

// pollEvery is poll with an interval asked for before each wait: callers
// listing ten thousand pods poll less often than ten times a second, which
// would itself load the apiserver being measured.
func (e *Env) pollEvery(ctx context.Context, interval func() time.Duration, what string, cond func(context.Context) (bool, error)) error {
	var last error
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		if err := e.checkAlive(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		timer.Reset(interval())
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
		case <-timer.C:
		}
	}
}

// Stop stops all components (reverse start order, SIGTERM then SIGKILL) and,
// for environments made by StartEnv, removes the directory. Safe to call
// more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		for i := len(e.procs) - 1; i >= 0; i-- {
			if err := e.procs[i].stop(5 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		e.net.release()
		if e.ownDir != "" {
			if err := os.RemoveAll(e.ownDir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", e.ownDir, err))
			}
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

// LogPath returns the log file of a component ("etcd", "kube-apiserver",
// "kube-controller-manager", "kube-scheduler", "kwok").
func (e *Env) LogPath(component string) string {
	return filepath.Join(e.Dir, "logs", component+".log")
}

// logTails logs the end of every component log, to explain a failed test.
func (e *Env) logTails(t testing.TB, n int) {
	t.Helper()
	for _, p := range e.procs {
		t.Logf("--- %s (%s), last %d lines:\n%s", p.name, p.logPath, n, p.logTail(n))
	}
}
