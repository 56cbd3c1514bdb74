package kube

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/faultline-dev/faultline/internal/engine"
)

// Defaults of Options.
const (
	// DefaultOptInAnnotation is the annotation a namespace must carry
	// (key=value) before faultline touches anything in it.
	DefaultOptInAnnotation = "faultline.dev/chaos=enabled"
	// DefaultJournalNamespace holds the journal Leases.
	DefaultJournalNamespace = "default"
	// DefaultLease is how long a journal Lease stays held without renewal;
	// it is renewed every third of it.
	DefaultLease = 30 * time.Second
	// DefaultPauseImage replaces a pod's images during pod-failure.
	DefaultPauseImage = "registry.k8s.io/pause:3.10"
	// DefaultRecoveryTimeout bounds how long a pod-kill waits to see its
	// workload available again.
	DefaultRecoveryTimeout = 2 * time.Minute
	// DefaultChaosMeshTimeout bounds the wait for Chaos Mesh to report a
	// delegated fault injected, and to finish deleting it.
	DefaultChaosMeshTimeout = time.Minute
	// DefaultDrainTimeout bounds a node drain (evictions blocked by a
	// PodDisruptionBudget are retried until then).
	DefaultDrainTimeout = 2 * time.Minute
)

// Options tune an Engine. The zero value is the documented default.
type Options struct {
	// Namespaces the environment may touch (Environment spec.kube.namespaces).
	// Each must also carry the opt-in annotation. Empty: any opted-in
	// namespace. A selector without namespaces and a fault without one
	// search all of them.
	Namespaces []string
	// OptInAnnotation is "key=value" (or "key", any value) a namespace must
	// carry. "" is DefaultOptInAnnotation.
	OptInAnnotation string
	// MaxPods refuses a fault that would hit more pods (a drained node's
	// pods and a scale-down's removed pods count). 0: no cap.
	MaxPods int
	// MaxPercent refuses a fault that would hit more than this share of one
	// workload's pods (0 < MaxPercent <= 100). 0: no cap.
	MaxPercent float64
	// QPS and Burst of the client (0: client-go's 5 and 10 are too low for
	// a drain, so 50 and 100).
	QPS   float32
	Burst int
	// Rand draws selector modes' random choices; nil: seeded at random.
	// Seed, when set, seeds it instead (a reproducible run).
	Rand *mrand.Rand
	Seed *uint64
	// JournalNamespace holds the journal Leases; "" is DefaultJournalNamespace.
	// It needs no opt-in: faultline only creates its own Leases there.
	JournalNamespace string
	// Lease is the journal's TTL; 0 is DefaultLease.
	Lease time.Duration
	// PauseImage replaces images during pod-failure; "" is DefaultPauseImage.
	PauseImage string
	// RecoveryTimeout bounds pod-kill's wait for the workload to be
	// available again (0: DefaultRecoveryTimeout; negative: do not wait).
	RecoveryTimeout time.Duration
	// DrainTimeout bounds a node drain; 0 is DefaultDrainTimeout.
	DrainTimeout time.Duration
	// ChaosMeshTimeout bounds waits on delegated Chaos Mesh objects; 0 is
	// DefaultChaosMeshTimeout.
	ChaosMeshTimeout time.Duration
	// Environment names the environment in journal entries.
	Environment string
}

// Engine is the Kubernetes fault engine.
type Engine struct {
	client  kubernetes.Interface
	dynamic dynamic.Interface // Chaos Mesh objects
	opts    Options
	optKey  string
	optVal  string // "" with optAny: any value
	optAny  bool
	journal *leaseJournal
	owner   engine.Owner

	rngMu sync.Mutex
	rng   *mrand.Rand

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	active engine.Registry[*injection]
}

var _ engine.Engine = (*Engine)(nil)

// New returns an engine on the cluster cfg points at. It starts renewing the
// leases of its injections until Close.
func New(cfg *rest.Config, opts Options) (*Engine, error) {
	if cfg == nil {
		return nil, errors.New("kube engine: no cluster configuration")
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	if cfg.QPS <= 0 {
		cfg.QPS = 50
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 100
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "faultline"
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube engine: client for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube engine: dynamic client for %s: %w", cfg.Host, err)
	}
	return newEngine(client, dyn, opts)
}

func newEngine(client kubernetes.Interface, dyn dynamic.Interface, opts Options) (*Engine, error) {
	if opts.OptInAnnotation == "" {
		opts.OptInAnnotation = DefaultOptInAnnotation
	}
	key, val, hasVal := strings.Cut(opts.OptInAnnotation, "=")
	if strings.TrimSpace(key) == "" {
		return nil, fmt.Errorf("kube engine: opt-in annotation %q has no key", opts.OptInAnnotation)
	}
	if opts.MaxPods < 0 {
		return nil, fmt.Errorf("kube engine: maxPods %d is negative", opts.MaxPods)
	}
	if opts.MaxPercent < 0 || opts.MaxPercent > 100 {
		return nil, fmt.Errorf("kube engine: maxPercent %g is not between 0 and 100", opts.MaxPercent)
	}
	if opts.JournalNamespace == "" {
		opts.JournalNamespace = DefaultJournalNamespace
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.PauseImage == "" {
		opts.PauseImage = DefaultPauseImage
	}
	if opts.RecoveryTimeout == 0 {
		opts.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if opts.ChaosMeshTimeout <= 0 {
		opts.ChaosMeshTimeout = DefaultChaosMeshTimeout
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	rng := opts.Rand
	switch {
	case opts.Seed != nil:
		rng = mrand.New(mrand.NewPCG(*opts.Seed, *opts.Seed))
	case rng == nil:
		rng = mrand.New(mrand.NewPCG(randomSeed(), randomSeed()))
	}
	e := &Engine{client: client, dynamic: dyn, opts: opts, optKey: strings.TrimSpace(key), optVal: val, optAny: !hasVal,
		journal: &leaseJournal{client: client, ns: opts.JournalNamespace}, owner: engine.Self(), rng: rng}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.renewLoop()
	}()
	return e, nil
}

// Name is "kube".
func (e *Engine) Name() string { return "kube" }

// Client is the engine's clientset (probes and the runner may share it).
func (e *Engine) Client() kubernetes.Interface { return e.client }

// Targets lists the pods of every namespace the engine may touch.
func (e *Engine) Targets(ctx context.Context) ([]engine.Target, error) {
	nss, err := e.allowedNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := e.nodeLabels(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.Target
	for _, ns := range nss {
		ts, err := e.listPods(ctx, ns, podQuery{}, nodes)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// Select resolves the fault's targets without acting (--dry-run): the exact
// pods (or nodes, or workload) it would hit, after every safety check.
func (e *Engine) Select(ctx context.Context, f engine.Fault) ([]engine.Target, error) {
	p, err := e.plan(ctx, f)
	if err != nil {
		return nil, err
	}
	return p.targets, nil
}

// Inject plans f (selection and safety checks), journals it in the cluster,
// applies it and returns once every target was acted on. A fault with a
// duration reverts on its own when it ends; pod-kill is Done once its
// workloads are available again (or RecoveryTimeout passed). Targets that
// fail are Failed events; only when all fail is it an error, and nothing is
// left injected. When ctx ends first, what was applied is reverted.
func (e *Engine) Inject(ctx context.Context, f engine.Fault) (engine.Injection, error) {
	p, err := e.plan(ctx, f)
	if err != nil {
		return nil, err
	}
	inj, err := e.start(ctx, f, p)
	if err != nil {
		return nil, err
	}
	if err := inj.AwaitApplied(ctx); err != nil {
		return nil, err
	}
	return inj, nil
}

// revertTimeout bounds a revert the engine starts itself.
const revertTimeout = 60 * time.Second

func (e *Engine) start(ctx context.Context, f engine.Fault, p *faultPlan) (*injection, error) {
	if e.active.Closed() {
		return nil, fmt.Errorf("inject %s %s: the kube engine is closed", f.Kind, f.Name)
	}
	now := time.Now()
	entry := &engine.Entry{ID: newInjectionID(f), Engine: "kube", Environment: e.opts.Environment, Kind: f.Kind,
		Name: f.Name, Owner: e.owner, Created: now, LeaseUntil: now.Add(e.opts.Lease)}
	// Target names are kept in the entry only while small: the per-target
	// record lives in this process, and undo steps name many pods by label.
	if len(p.targets) <= maxJournalTargets {
		for _, t := range p.targets {
			entry.Targets = append(entry.Targets, targetKey(t))
		}
	}
	// The journal is written before anything acts.
	if err := e.journal.create(ctx, entry, e.opts.Lease); err != nil {
		return nil, fmt.Errorf("inject %s %s: %w", f.Kind, f.Name, err)
	}
	inj := newInjection(e, f, p, entry)
	if !e.active.Add(inj) {
		_ = inj.held.Remove(context.Background())
		return nil, fmt.Errorf("inject %s %s: the kube engine is closed", f.Kind, f.Name)
	}
	go inj.Run()
	return inj, nil
}

// maxJournalTargets caps the target names copied into a journal Lease's
// annotation (256 KiB for all annotations together).
const maxJournalTargets = 200

// Injections lists the active injections, oldest first.
func (e *Engine) Injections() []engine.Injection { return e.active.Injections() }

// StopAll reverts every active injection in parallel and returns how many.
func (e *Engine) StopAll(ctx context.Context) (int, error) { return e.active.StopAll(ctx) }

// Close reverts every active injection, refuses new ones and stops
// renewing leases.
func (e *Engine) Close(ctx context.Context) error {
	e.active.Close()
	_, err := e.StopAll(ctx)
	e.cancel()
	e.wg.Wait()
	return err
}

func (e *Engine) renewLoop() {
	engine.RenewEvery(e.ctx, max(e.opts.Lease/3, 100*time.Millisecond), func() {
		for _, inj := range e.active.List() {
			inj.renew()
		}
	})
}

// withRand runs fn with the engine's random source, serialised.
func (e *Engine) withRand(fn func(*mrand.Rand) error) error {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return fn(e.rng)
}

func newInjectionID(f engine.Fault) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return '-'
	}, f.Name)
	if len(name) > 40 {
		name = name[:40]
	}
	name = strings.Trim(name, "-")
	if name == "" {
		name = "fault"
	}
	kind := strings.ToLower(f.Kind)
	if kind == "" {
		kind = "fault"
	}
	// A Lease name and a label value: DNS-1123, at most 63 characters.
	id := kind + "-" + name + "-" + hex.EncodeToString(b[:])
	if len(id) > 63 {
		id = strings.Trim(id[:54], "-") + "-" + hex.EncodeToString(b[:])
	}
	return id
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// noChaosMesh says why a data-plane kind cannot run: Chaos Mesh is missing
// (or could not be looked for).
func (e *Engine) noChaosMesh(ctx context.Context, kind string) error {
	has, err := e.hasChaosMesh(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("%s needs Chaos Mesh on this cluster, and looking for its API failed: %w", kind, err)
	case !has:
		return fmt.Errorf("%s is a data-plane fault: the kube engine runs it through Chaos Mesh, which is not installed in this cluster (no %s API); install Chaos Mesh, or run it on the local engine", kind, chaosMeshGroupVersion)
	}
	return nil
}

// unsupported says why a kind is refused and what runs it.
func (e *Engine) unsupported(ctx context.Context, f engine.Fault) error {
	kind := f.Kind
	if kind == "" {
		kind = fmt.Sprintf("a fault with spec %T", f.Spec)
	}
	return fmt.Errorf("%s %s: the kube engine cannot run %s (spec %T); it runs PodChaos, NodeChaos and ScaleChaos", kind, f.Name, kind, f.Spec)
}

// hasChaosMesh reports whether the cluster serves Chaos Mesh's API group.
func (e *Engine) hasChaosMesh(ctx context.Context) (bool, error) {
	_, err := e.client.Discovery().ServerResourcesForGroupVersionWithContext(ctx, "chaos-mesh.org/v1alpha1")
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, err
}
