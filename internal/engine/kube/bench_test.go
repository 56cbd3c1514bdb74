package kube

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/kube/testenv"
)

// Environment variables of BenchmarkPodKill.
const (
	// benchSizesEnv lists the pod counts (default 100,1000,10000).
	benchSizesEnv = "FAULTLINE_BENCH_SIZES"
	// benchQPSEnv and benchBurstEnv list the engine client's QPS and burst
	// to run at, pairwise (default "0,1000" and "0,2000": the engine's
	// defaults, 50 and 100, then a high setting).
	benchQPSEnv   = "FAULTLINE_BENCH_QPS"
	benchBurstEnv = "FAULTLINE_BENCH_BURST"
	// benchControllerQPSEnv is the QPS of kube-controller-manager,
	// kube-scheduler and kwok (burst twice it; default 1000).
	benchControllerQPSEnv = "FAULTLINE_BENCH_CONTROLLER_QPS"
)

// Bounds of the benchmark's waits.
const (
	benchSetupTimeout   = 10 * time.Minute // a Deployment of N pods Available
	benchInjectTimeout  = 15 * time.Minute // select + delete N pods at the lowest QPS
	benchRecoverTimeout = 10 * time.Minute // the Deployment available again
)

// BenchmarkPodKill measures the kube engine's pod-kill of a whole
// Deployment (mode all) on 100, 1,000 and 10,000 kwok pods: time to the
// last DELETE acknowledged, to the killed pods gone and to the Deployment
// available again, and the API requests faultline made, at each client
// QPS/burst setting. Then, on the same cluster and pods, a bare client-go
// loop with no client-side limit and the same concurrency deletes as many
// pods: the API server's own delete rate, which faultline's is reported
// against. See docs/BENCHMARKS.md.
//
//	go test ./internal/engine/kube -run '^$' -bench PodKill -benchtime 1x -timeout 60m -v
func BenchmarkPodKill(b *testing.B) {
	sizes := benchInts(b, benchSizesEnv, "100,1000,10000")
	qps := benchInts(b, benchQPSEnv, "0,1000")
	burst := benchInts(b, benchBurstEnv, "0,2000")
	if len(burst) != len(qps) {
		b.Fatalf("%s and %s list %d and %d values; they pair up", benchQPSEnv, benchBurstEnv, len(qps), len(burst))
	}
	ctrlQPS := benchInts(b, benchControllerQPSEnv, "1000")[0]
	maxSize := 0
	for _, n := range sizes {
		maxSize = max(maxSize, n)
	}
	// 1,200 pods a node: a tenth of the nodes kwok would need at 110 a node,
	// with room for a size's pods while the previous namespace goes.
	nodes := max(1, (maxSize+maxSize/5+1199)/1200)
	env := testenv.Start(b, testenv.Options{Nodes: nodes, NodePods: 1200, StartTimeout: 5 * time.Minute,
		QPS: float32(ctrlQPS), Burst: 2 * ctrlQPS})
	if env == nil {
		return
	}
	b.Logf("control plane: %d kwok nodes x 1200 pods; controller-manager, scheduler and kwok at QPS %d burst %d",
		nodes, ctrlQPS, 2*ctrlQPS)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			if n > 1000 && testing.Short() {
				b.Skip("more than 1,000 pods: skipped under -short")
			}
			benchPodKillSize(b, env, n, qps, burst)
		})
	}
}

// benchPodKillSize runs every QPS setting, then the reference, on one
// Deployment of n pods.
func benchPodKillSize(b *testing.B, env *testenv.Env, n int, qps, burst []int) {
	bc := newBenchCluster(b, env, n)
	rates := map[string]float64{}
	var names, units []string
	for i := range qps {
		q, bu := float32(qps[i]), burst[i]
		eq, ebu := q, bu
		if eq <= 0 {
			eq = 50
		}
		if ebu <= 0 {
			ebu = 100
		}
		name := fmt.Sprintf("qps=%g-burst=%d", eq, ebu)
		names = append(names, name)
		units = append(units, fmt.Sprintf("ratio-qps%g", eq))
		b.Run(name, func(b *testing.B) {
			b.StopTimer()
			var sum benchKill
			for range b.N {
				bc.waitAvailable(b)
				r := bc.killWithEngine(b, Options{QPS: q, Burst: bu})
				sum.add(r)
			}
			sum.report(b, b.N)
			b.ReportMetric(float64(eq), "client-qps")
			b.ReportMetric(float64(ebu), "client-burst")
			rates[name] = sum.deleteRate / float64(b.N)
		})
	}
	b.Run("reference-unlimited", func(b *testing.B) {
		b.StopTimer()
		var sum benchKill
		for range b.N {
			bc.waitAvailable(b)
			sum.add(bc.killWithClient(b))
		}
		sum.report(b, b.N)
		ref := sum.deleteRate / float64(b.N)
		var rows []string
		for i, name := range names {
			if r, ok := rates[name]; ok && ref > 0 {
				b.ReportMetric(r/ref, units[i])
				rows = append(rows, fmt.Sprintf("%s: %.0f deletes/s = %.2f of the server's %.0f/s", name, r, r/ref, ref))
			}
		}
		b.Logf("pods=%d delete rate against the unlimited client: %s", n, strings.Join(rows, "; "))
	})
}

// benchKill is what one kill measured (summed over iterations).
type benchKill struct {
	toSelected  float64 // Inject call (or start) to the first DELETE sent
	toDeleted   float64 // to the last DELETE answered
	toGone      float64 // to the last killed pod gone from the API
	toAvailable float64 // to the Deployment available again (observer)
	engineRec   float64 // the engine's recovery fidelity (from its first kill)
	deleteRate  float64 // DELETEs answered / (last answer - first sent)
	reqs        map[string]float64
	reqRate     float64 // requests / (Inject call to Done)
	deleted     float64
}

func (k *benchKill) add(o benchKill) {
	k.toSelected += o.toSelected
	k.toDeleted += o.toDeleted
	k.toGone += o.toGone
	k.toAvailable += o.toAvailable
	k.engineRec += o.engineRec
	k.deleteRate += o.deleteRate
	k.reqRate += o.reqRate
	k.deleted += o.deleted
	if k.reqs == nil {
		k.reqs = map[string]float64{}
	}
	for v, c := range o.reqs {
		k.reqs[v] += c
	}
}

func (k *benchKill) report(b *testing.B, n int) {
	f := float64(n)
	b.ReportMetric(k.toSelected/f, "s-to-first-delete")
	b.ReportMetric(k.toDeleted/f, "s-to-last-delete")
	b.ReportMetric(k.toGone/f, "s-to-pods-gone")
	b.ReportMetric(k.toAvailable/f, "s-to-available")
	if k.engineRec > 0 {
		b.ReportMetric(k.engineRec/f, "s-recovery-engine")
	}
	b.ReportMetric(k.deleteRate/f, "deletes/s")
	b.ReportMetric(k.deleted/f, "pods-deleted")
	total := 0.0
	var parts []string
	for _, v := range requestVerbs {
		if c := k.reqs[v]; c > 0 {
			b.ReportMetric(c/f, "req-"+v)
			total += c
			parts = append(parts, fmt.Sprintf("%s %.0f", v, c/f))
		}
	}
	b.ReportMetric(total/f, "req-total")
	if k.reqRate > 0 {
		b.ReportMetric(k.reqRate/f, "req/s")
	}
	b.Logf("requests per kill: %s (total %.0f)", strings.Join(parts, ", "), total/f)
	// ns/op is not a figure of its own here: the metrics above are.
}

// benchCluster is one size's namespace and Deployment.
type benchCluster struct {
	env  *testenv.Env
	c    kubernetes.Interface // the benchmark's own client, not counted
	ns   string
	name string
	n    int
}

func newBenchCluster(b *testing.B, env *testenv.Env, n int) *benchCluster {
	b.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst, cfg.UserAgent = -1, 0, "faultline-bench-observer"
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	bc := &benchCluster{env: env, c: c, ns: fmt.Sprintf("bench-podkill-%d", n), name: "web", n: n}
	ctx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: bc.ns,
		Annotations: map[string]string{"faultline.dev/chaos": "enabled"}}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bc.deleteNamespace(b) })
	// The "default" ServiceAccount must exist before pods are admitted.
	bc.poll(b, ctx, "default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(bc.ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	replicas := int32(n)
	labels := map[string]string{"app": bc.name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: bc.name, Namespace: bc.ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.invalid/web:1"}},
					TerminationGracePeriodSeconds: ptr(int64(0))}}}}
	start := time.Now()
	if _, err := c.AppsV1().Deployments(bc.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	bc.waitAvailable(b)
	b.Logf("setup: Deployment of %d pods Available in %s", n, time.Since(start).Round(time.Millisecond))
	return bc
}

func (bc *benchCluster) deleteNamespace(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if err := bc.c.CoreV1().Namespaces().Delete(ctx, bc.ns, metav1.DeleteOptions{}); err != nil {
		b.Logf("delete namespace %s: %v", bc.ns, err)
		return
	}
	// Waited for, so the next size does not run while these pods go.
	err := pollUntil(ctx, time.Second, func(ctx context.Context) (bool, error) {
		_, err := bc.c.CoreV1().Namespaces().Get(ctx, bc.ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		b.Logf("namespace %s not gone after %s: %v", bc.ns, time.Since(start).Round(time.Second), err)
	}
}

func (bc *benchCluster) poll(b *testing.B, ctx context.Context, what string, cond func(context.Context) (bool, error)) {
	b.Helper()
	if err := pollUntil(ctx, 200*time.Millisecond, cond); err != nil {
		b.Fatalf("%s: %v", what, err)
	}
}

func pollUntil(ctx context.Context, every time.Duration, cond func(context.Context) (bool, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last error: %w)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// waitAvailable waits until the Deployment has all its pods available,
// its status caught up.
func (bc *benchCluster) waitAvailable(b *testing.B) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchSetupTimeout)
	defer cancel()
	n := int32(bc.n)
	bc.poll(b, ctx, fmt.Sprintf("deployment %s/%s has %d available replicas", bc.ns, bc.name, n), func(ctx context.Context) (bool, error) {
		d, err := bc.c.AppsV1().Deployments(bc.ns).Get(ctx, bc.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.AvailableReplicas == n && d.Status.Replicas == n && d.Status.ObservedGeneration >= d.Generation, nil
	})
}

// livePods lists the Deployment's pods that are not terminating.
func (bc *benchCluster) livePods(ctx context.Context) ([]corev1.Pod, error) {
	var out []corev1.Pod
	opts := metav1.ListOptions{LabelSelector: "app=" + bc.name, Limit: listPage}
	for {
		list, err := bc.c.CoreV1().Pods(bc.ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				out = append(out, p)
			}
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// observer follows the Deployment's pods from outside faultline (its own
// client) and notes when the pods alive at its start are all gone and when
// as many other pods are Ready again.
type observer struct {
	tally   *podTally
	start   time.Time
	goneAt  chan time.Time
	availAt chan time.Time
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	pods    []corev1.Pod
}

func (bc *benchCluster) observe(b *testing.B) *observer {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchInjectTimeout+benchRecoverTimeout)
	pods, err := bc.livePods(ctx)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	if len(pods) != bc.n {
		cancel()
		b.Fatalf("%d live pods, want %d", len(pods), bc.n)
	}
	kills := make([]*podKill, len(pods))
	for i := range pods {
		kills[i] = &podKill{uid: pods[i].UID}
	}
	o := &observer{tally: newPodTally("Deployment/"+bc.name, kills), goneAt: make(chan time.Time, 1),
		availAt: make(chan time.Time, 1), cancel: cancel, pods: pods}
	rv, err := o.tally.list(ctx, bc.c.CoreV1().Pods(bc.ns), "app="+bc.name)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	o.wg.Add(2)
	go func() {
		defer o.wg.Done()
		pods := bc.c.CoreV1().Pods(bc.ns)
		for ctx.Err() == nil {
			if err := o.tally.follow(ctx, pods, "app="+bc.name, rv); err != nil && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			if ctx.Err() != nil {
				return
			}
			if rv, err = o.tally.list(ctx, pods, "app="+bc.name); err != nil {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	go func() {
		defer o.wg.Done()
		gone := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-o.tally.changed:
			}
			now := time.Now()
			o.tally.mu.Lock()
			left, ready := len(o.tally.present), len(o.tally.ready)
			o.tally.mu.Unlock()
			if !gone && left == 0 {
				gone = true
				o.goneAt <- now
			}
			if gone && ready >= bc.n {
				o.availAt <- now
				return
			}
		}
	}()
	return o
}

func (o *observer) stop() {
	o.cancel()
	o.wg.Wait()
}

// wait returns the times since o's start (set by the caller) to the pods
// gone and the Deployment available again.
func (o *observer) wait(b *testing.B) (gone, avail float64) {
	b.Helper()
	timeout := time.NewTimer(benchRecoverTimeout)
	defer timeout.Stop()
	select {
	case t := <-o.goneAt:
		gone = t.Sub(o.start).Seconds()
	case <-timeout.C:
		b.Fatalf("killed pods not gone after %s", benchRecoverTimeout)
	}
	select {
	case t := <-o.availAt:
		avail = t.Sub(o.start).Seconds()
	case <-timeout.C:
		b.Fatalf("deployment not available again after %s", benchRecoverTimeout)
	}
	return gone, avail
}

// killWithEngine kills every pod of the Deployment through the engine,
// counting its requests by verb.
func (bc *benchCluster) killWithEngine(b *testing.B, opts Options) benchKill {
	b.Helper()
	counter := newRequestCounter()
	cfg := rest.CopyConfig(bc.env.Config)
	cfg.WrapTransport = counter.wrap
	cfg.UserAgent = "faultline-bench"
	seed := uint64(1)
	opts.Seed = &seed
	opts.Namespaces = []string{bc.ns}
	opts.RecoveryTimeout = benchRecoverTimeout
	e, err := New(cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			b.Errorf("close engine: %v", err)
		}
	}()
	obs := bc.observe(b)
	defer obs.stop()
	spec := &v1alpha1.PodChaosSpec{Action: v1alpha1.PodKill}
	spec.Mode = v1alpha1.ModeAll
	spec.Selector.LabelSelectors = map[string]string{"app": bc.name}
	f := engine.Fault{Kind: "PodChaos", Name: "bench-kill-all", Namespace: bc.ns, Spec: spec}

	ctx, cancel := context.WithTimeout(context.Background(), benchInjectTimeout)
	defer cancel()
	counter.reset()
	b.StartTimer()
	start := time.Now()
	obs.start = start
	inj, err := e.Inject(ctx, f)
	if err != nil {
		b.Fatalf("inject: %v", err)
	}
	injected := time.Since(start)
	select {
	case <-inj.Done():
	case <-time.After(benchRecoverTimeout):
		b.Fatalf("pod-kill of %d pods not done after %s", bc.n, benchRecoverTimeout)
	}
	done := time.Since(start)
	b.StopTimer()
	gone, avail := obs.wait(b)
	var k benchKill
	k.reqs = counter.snapshot()
	first, last, deletes := counter.deleteSpan()
	k.toSelected = first.Sub(start).Seconds()
	k.toDeleted = last.Sub(start).Seconds()
	if span := last.Sub(first).Seconds(); span > 0 {
		k.deleteRate = float64(deletes) / span
	}
	k.deleted = float64(deletes)
	k.toGone, k.toAvailable = gone, avail
	total := 0.0
	for _, c := range k.reqs {
		total += c
	}
	k.reqRate = total / done.Seconds()
	var failed int
	for _, ev := range inj.Events() {
		if ev.Type == engine.EventFailed {
			failed++
		}
	}
	for _, fi := range inj.Fidelity() {
		if fi.Quantity == "recovery" {
			k.engineRec = fi.MeasuredValue
		}
	}
	if k.engineRec == 0 {
		b.Errorf("the engine measured no recovery; last events: %v", lastEvents(inj.Events(), 3))
	}
	if deletes != bc.n || failed > 0 {
		b.Errorf("%d pod DELETEs sent, %d failed; want %d, 0", deletes, failed, bc.n)
	}
	b.Logf("Inject returned after %s (%d pod DELETEs); Done after %s; pods gone %.3fs, available %.3fs; engine recovery %.3fs",
		injected.Round(time.Millisecond), deletes, done.Round(time.Millisecond), gone, avail, k.engineRec)
	return k
}

func lastEvents(evs []engine.Event, n int) []engine.Event {
	return evs[max(0, len(evs)-n):]
}

// killWithClient deletes the Deployment's pods the way faultline does
// (grace 0, UID precondition, applyParallelism at once) with a bare
// client-go clientset without a client-side rate limit: what the API
// server itself sustains.
func (bc *benchCluster) killWithClient(b *testing.B) benchKill {
	b.Helper()
	counter := newRequestCounter()
	cfg := rest.CopyConfig(bc.env.Config)
	cfg.WrapTransport = counter.wrap
	cfg.QPS, cfg.Burst, cfg.UserAgent = -1, 0, "faultline-bench-reference"
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	obs := bc.observe(b)
	defer obs.stop()
	ctx, cancel := context.WithTimeout(context.Background(), benchInjectTimeout)
	defer cancel()
	counter.reset()
	b.StartTimer()
	start := time.Now()
	obs.start = start
	pods := obs.pods
	sem := make(chan struct{}, applyParallelism)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range pods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			uid := pods[i].UID
			err := c.CoreV1().Pods(bc.ns).Delete(ctx, pods[i].Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0)),
				Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if len(errs) > 0 {
		b.Fatalf("%d of %d deletes failed, first: %v", len(errs), len(pods), errs[0])
	}
	gone, avail := obs.wait(b)
	var k benchKill
	k.reqs = counter.snapshot()
	first, last, deletes := counter.deleteSpan()
	k.toSelected = first.Sub(start).Seconds()
	k.toDeleted = last.Sub(start).Seconds()
	if span := last.Sub(first).Seconds(); span > 0 {
		k.deleteRate = float64(deletes) / span
	}
	k.deleted = float64(deletes)
	k.toGone, k.toAvailable = gone, avail
	b.Logf("unlimited client: %d DELETEs in %.3fs; pods gone %.3fs, available %.3fs", deletes, k.toDeleted, gone, avail)
	return k
}

// requestVerbs are the verbs requestCounter tells apart, in report order.
var requestVerbs = []string{"delete", "list", "watch", "get", "create", "update", "patch", "other"}

// requestCounter counts a client's requests by verb through
// rest.Config.WrapTransport, and when its pod DELETEs went out and came
// back.
type requestCounter struct {
	mu          sync.Mutex
	counts      map[string]float64
	firstDelete time.Time
	lastDelete  time.Time
	deletes     int
}

func newRequestCounter() *requestCounter { return &requestCounter{counts: map[string]float64{}} }

func (c *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		verb := requestVerb(req)
		sent := time.Now()
		resp, err := rt.RoundTrip(req)
		c.mu.Lock()
		c.counts[verb]++
		if verb == "delete" && strings.Contains(req.URL.Path, "/pods/") {
			if c.firstDelete.IsZero() || sent.Before(c.firstDelete) {
				c.firstDelete = sent
			}
			if now := time.Now(); now.After(c.lastDelete) {
				c.lastDelete = now
			}
			c.deletes++
		}
		c.mu.Unlock()
		return resp, err
	})
}

func (c *requestCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[string]float64{}
	c.firstDelete, c.lastDelete, c.deletes = time.Time{}, time.Time{}, 0
}

func (c *requestCounter) snapshot() map[string]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]float64, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

func (c *requestCounter) deleteSpan() (first, last time.Time, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstDelete, c.lastDelete, c.deletes
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// requestVerb names a Kubernetes API request's verb from its method and
// path: a GET of a collection is a list (a watch with ?watch=true).
func requestVerb(req *http.Request) string {
	switch req.Method {
	case http.MethodDelete:
		return "delete"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodGet:
	default:
		return "other"
	}
	if w := req.URL.Query().Get("watch"); w == "true" || w == "1" {
		return "watch"
	}
	segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// /api/v1/... or /apis/<group>/<version>/...
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		segs = segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		segs = segs[3:]
	default:
		return "other" // discovery, /healthz
	}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		segs = segs[2:] // a namespaced resource
	}
	switch len(segs) {
	case 0:
		return "other" // discovery of a group version
	case 1:
		return "list"
	}
	return "get"
}

// benchInts parses a comma-separated list of integers from env, else def.
func benchInts(b *testing.B, env, def string) []int {
	b.Helper()
	s := os.Getenv(env)
	if s == "" {
		s = def
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			b.Fatalf("%s=%q: %q is not a count", env, s, f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		b.Fatalf("%s=%q lists nothing", env, s)
	}
	return out
}

func TestRequestVerb(t *testing.T) {
	for _, c := range []struct{ method, url, want string }{
		{"DELETE", "/api/v1/namespaces/a/pods/p", "delete"},
		{"GET", "/api/v1/namespaces/a/pods?limit=500", "list"},
		{"GET", "/api/v1/namespaces/a/pods?watch=true&labelSelector=app%3Dx", "watch"},
		{"GET", "/api/v1/namespaces/a/pods/p", "get"},
		{"GET", "/api/v1/namespaces/a", "get"},
		{"GET", "/api/v1/namespaces", "list"},
		{"GET", "/api/v1/nodes", "list"},
		{"GET", "/apis/apps/v1/namespaces/a/deployments/web", "get"},
		{"POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", "create"},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/default/leases/l", "update"},
		{"GET", "/apis/chaos-mesh.org/v1alpha1", "other"},
		{"GET", "/healthz", "other"},
	} {
		req, err := http.NewRequest(c.method, "https://127.0.0.1:6443"+c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := requestVerb(req); got != c.want {
			t.Errorf("%s %s = %s, want %s", c.method, c.url, got, c.want)
		}
	}
}
