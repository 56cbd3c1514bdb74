package local

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/selector"
)

// DefaultLease is how long a journaled injection stays held without
// renewal. The engine renews every lease/3, so a supervisor that hangs or
// dies leaves its faults to `faultline recover` after at most this long.
const DefaultLease = 10 * time.Second

// EngineOptions tune an Engine. The zero value is the production behaviour.
type EngineOptions struct {
	// Rand draws the random choices of selector modes (one, fixed,
	// fixed-percent, random-max-percent). nil: a source seeded at random.
	// Pass a seeded source for a reproducible run; a per-injection seed
	// (InjectOptions.Seed) overrides it.
	Rand *mrand.Rand
	// JournalDir is where injections are journaled; "" is
	// <supervisor state dir>/journal, where `faultline recover` looks.
	JournalDir string
	// Lease is how long a journal entry is held without renewal; 0 is
	// DefaultLease.
	Lease time.Duration
	// NetworkBackend is the network backend of injections that do not
	// choose one (InjectOptions.NetworkBackend ""): "" or "auto" picks per
	// action, "proxy" or "packet" forces one (see faults_network.go).
	NetworkBackend string
}

// Engine is the local environment's fault engine: it implements
// engine.Engine on a Supervisor. Every injection is journaled before it
// acts, holds a lease renewed while it runs, and is reverted when its
// duration ends, on Revert, StopAll or Close, and when the supervisor shuts
// down.
type Engine struct {
	sup     *Supervisor
	journal *engine.Journal
	lease   time.Duration
	owner   engine.Owner

	rngMu sync.Mutex
	rng   *mrand.Rand

	// hops is the Interceptor installed on the supervisor: it routes
	// proxied connections to the active network (and HTTP) faults.
	hops           *hopRouter
	networkBackend string

	// ctx ends with Close; injections hold contexts derived from it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	active engine.Registry[*injection]

	// scales are the ScaleChaos holds per service (faults_scale.go).
	scales scaleHolds
}

var _ engine.Engine = (*Engine)(nil)

// NewEngine returns the fault engine of sup. It renews the leases of its
// injections until Close, and reverts every injection when the supervisor
// begins to shut down (the shutdown would kill frozen or stressed replicas
// anyway; reverting first keeps the journal truthful).
func NewEngine(sup *Supervisor, opts EngineOptions) (*Engine, error) {
	if sup == nil {
		return nil, errors.New("fault engine: no supervisor")
	}
	dir := opts.JournalDir
	if dir == "" {
		dir = filepath.Join(sup.opts.StateDir, "journal")
	}
	j, err := engine.OpenJournal(dir)
	if err != nil {
		return nil, fmt.Errorf("fault engine of %s: %w", sup.Name(), err)
	}
	lease := opts.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	rng := opts.Rand
	if rng == nil {
		rng = mrand.New(mrand.NewPCG(randomSeed(), randomSeed()))
	}
	if _, err := ParseNetworkBackend(opts.NetworkBackend); err != nil {
		return nil, fmt.Errorf("fault engine of %s: %w", sup.Name(), err)
	}
	e := &Engine{sup: sup, journal: j, lease: lease, owner: engine.Self(), rng: rng,
		hops: newHopRouter(), networkBackend: opts.NetworkBackend}
	e.installHopRouter()
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		e.renewLoop()
	}()
	go func() {
		defer e.wg.Done()
		e.watchSupervisor()
	}()
	return e, nil
}

// AttachEngine creates the fault engine of a started supervisor and serves
// its routes on the supervisor's control socket (see routes in inject.go),
// so `faultline inject`, `faultline stop` and experiments in other processes
// can use it. A supervisor started by `faultline env up` must call it right
// after Start.
func AttachEngine(sup *Supervisor, opts EngineOptions) (*Engine, error) {
	srv := sup.Server()
	if srv == nil {
		return nil, errors.New("fault engine: the supervisor is not started (no control socket)")
	}
	e, err := NewEngine(sup, opts)
	if err != nil {
		return nil, err
	}
	e.registerRoutes(srv)
	return e, nil
}

// Name is "local".
func (e *Engine) Name() string { return "local" }

// Supervisor is the environment the engine acts on.
func (e *Engine) Supervisor() *Supervisor { return e.sup }

// JournalDir is where the engine journals its injections.
func (e *Engine) JournalDir() string { return e.journal.Dir() }

// Targets lists the environment's replicas.
func (e *Engine) Targets(ctx context.Context) ([]engine.Target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return e.sup.Targets(), nil
}

// Nodes lists the environment's nodes.
func (e *Engine) Nodes(ctx context.Context) ([]engine.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return e.sup.Nodes(), nil
}

// InjectOptions are what a chaos object carries beyond engine.Fault.
type InjectOptions struct {
	// Namespace is the chaos object's metadata.namespace: the selector's
	// default namespace, as in Chaos Mesh. "" means the environment's
	// namespace.
	Namespace string
	// Seed, when set, draws this injection's random choices from a source
	// seeded with it, so the same seed on the same environment picks the
	// same targets (--seed, and --dry-run followed by the real run).
	Seed *uint64
	// NetworkBackend chooses where a NetworkChaos runs (--network-backend):
	// "" or "auto" picks per action (loss, duplicate and corrupt need the
	// packet backend; delay, bandwidth and partition run in the proxy),
	// "proxy" or "packet" forces one, and an action the forced backend
	// cannot honour is an error naming the one that can. "" falls back to
	// EngineOptions.NetworkBackend.
	NetworkBackend string
}

// Select resolves the fault's targets without acting (--dry-run). It
// checks everything Inject checks before acting, so a fault Select accepts
// only fails at injection time for reasons of the moment (a replica that
// stopped meanwhile).
func (e *Engine) Select(ctx context.Context, f engine.Fault) ([]engine.Target, error) {
	return e.SelectWith(ctx, f, InjectOptions{})
}

// SelectWith is Select with the chaos object's namespace and a seed.
func (e *Engine) SelectWith(ctx context.Context, f engine.Fault, o InjectOptions) ([]engine.Target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := e.plan(f, o)
	if err != nil {
		return nil, err
	}
	return p.targets, nil
}

// Inject selects the fault's targets, journals the injection and applies
// it; see InjectWith.
func (e *Engine) Inject(ctx context.Context, f engine.Fault) (engine.Injection, error) {
	return e.InjectWith(ctx, f, InjectOptions{})
}

// InjectWith injects f and returns once it is applied to every target (a
// node drain returns once the node is drained). A fault with a duration
// reverts on its own when the duration ends (measured from the moment the
// first target was hit, to ~100 ms); without one it holds until Revert. An
// instantaneous fault (pod-kill, container-kill) is complete when
// InjectWith returns: its Done is closed. Targets that fail are reported
// as Failed events; only when every target fails is it an error (and
// nothing is left injected). When ctx ends before the fault is applied,
// what was applied is reverted.
func (e *Engine) InjectWith(ctx context.Context, f engine.Fault, o InjectOptions) (engine.Injection, error) {
	inj, err := e.start(f, o)
	if err != nil {
		return nil, err
	}
	if err := inj.AwaitApplied(ctx); err != nil {
		return nil, err
	}
	return inj, nil
}

// Injections lists the injections that are active (not yet reverted), oldest first.
func (e *Engine) Injections() []engine.Injection { return e.active.Injections() }

// Injection returns an active injection by id.
func (e *Engine) Injection(id string) (engine.Injection, bool) {
	inj, ok := e.active.Get(id)
	if !ok {
		return nil, false
	}
	return inj, true
}

// StopAll reverts every active injection at once, in parallel (`faultline
// stop`), and returns how many it reverted. Errors name the injections
// that could not be reverted; their journal entries stay for `faultline
// recover`.
func (e *Engine) StopAll(ctx context.Context) (int, error) { return e.active.StopAll(ctx) }

// Close reverts every active injection, refuses new ones and stops renewing
// leases. Call it before the supervisor's Shutdown when the engine runs in
// the supervisor's process.
func (e *Engine) Close(ctx context.Context) error {
	e.active.Close()
	_, err := e.StopAll(ctx)
	e.closeHopRouter()
	e.cancel()
	e.wg.Wait()
	return err
}

// revertTimeout bounds a revert started by the engine itself (duration
// over, client gone, supervisor stopping): long enough for a graceful stop
// of stress-ng and a thaw on a loaded machine, short enough not to hang.
const revertTimeout = 30 * time.Second

// start plans f, journals it, registers it and begins applying it in the
// background; it returns at once so a stream can report events as they
// happen.
func (e *Engine) start(f engine.Fault, o InjectOptions) (*injection, error) {
	if e.active.Closed() {
		return nil, fmt.Errorf("inject %s %s: the fault engine of %s is closed", f.Kind, f.Name, e.sup.Name())
	}
	if err := e.ctx.Err(); err != nil {
		return nil, fmt.Errorf("inject %s %s: the fault engine of %s is closed", f.Kind, f.Name, e.sup.Name())
	}
	p, err := e.plan(f, o)
	if err != nil {
		return nil, err
	}
	spec, err := json.Marshal(f.Spec)
	if err != nil {
		return nil, fmt.Errorf("inject %s %s: encode spec for the journal: %w", f.Kind, f.Name, err)
	}
	now := time.Now()
	names := make([]string, len(p.targets))
	for i, t := range p.targets {
		names[i] = t.Name
	}
	entry := &engine.Entry{ID: newInjectionID(f), Engine: e.Name(), Environment: e.sup.Name(), Kind: f.Kind, Name: f.Name,
		Spec: spec, Targets: names, Owner: e.owner, Created: now, LeaseUntil: now.Add(e.lease)}
	// The entry is on disk before anything is touched: a crash from here
	// on is found by `faultline recover`.
	if err := e.journal.Write(entry); err != nil {
		return nil, fmt.Errorf("inject %s %s: %w", f.Kind, f.Name, err)
	}
	inj := newInjection(e, f, p, entry)
	if !e.active.Add(inj) {
		_ = inj.held.Remove(context.Background())
		return nil, fmt.Errorf("inject %s %s: the fault engine of %s is closed", f.Kind, f.Name, e.sup.Name())
	}
	go inj.Run()
	return inj, nil
}

// withRand runs fn with the random source of one injection: its own when
// seeded, else the engine's (shared, so guarded).
func (e *Engine) withRand(o InjectOptions, fn func(*mrand.Rand) error) error {
	if o.Seed != nil {
		return fn(mrand.New(mrand.NewPCG(*o.Seed, *o.Seed)))
	}
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return fn(e.rng)
}

// selectReplicas resolves a pod selector against the environment's
// replicas; the chaos object's namespace (else the environment's) is the
// default namespace.
func (e *Engine) selectReplicas(kind string, sel v1alpha1.Selectable, o InjectOptions) ([]engine.Target, error) {
	if sel == nil || sel.GetSelector() == nil {
		return nil, fmt.Errorf("%s: no selector given", kind)
	}
	ns := o.Namespace
	if ns == "" {
		ns = e.sup.Namespace()
	}
	var out []engine.Target
	err := e.withRand(o, func(rng *mrand.Rand) error {
		var err error
		out, err = selector.Select(e.sup.Targets(), sel.GetSelector(), ns, rng)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s in environment %s: %w", kind, e.sup.Name(), err)
	}
	return out, nil
}

// renewLoop extends the lease of every active injection every lease/3, so
// a missed renewal or two (a slow disk) does not orphan a held fault.
func (e *Engine) renewLoop() {
	engine.RenewEvery(e.ctx, e.lease/3, func() {
		for _, inj := range e.active.List() {
			inj.renew()
		}
	})
}

// watchSupervisor reverts every injection as soon as the supervisor starts
// to shut down, and closes the engine once it has stopped.
func (e *Engine) watchSupervisor() {
	events, cancel := e.sup.Subscribe()
	defer cancel()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.sup.Done():
			e.stopForShutdown()
			return
		case ev, ok := <-events:
			if !ok {
				e.stopForShutdown()
				return
			}
			if ev.Kind == EventEnvironment && ev.Reason == "Stopping" {
				e.stopForShutdown()
				return
			}
		}
	}
}

func (e *Engine) stopForShutdown() {
	e.active.Close()
	ctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
	defer cancel()
	_, _ = e.StopAll(ctx)
	// Nothing is left to hold or renew; Close may still be called.
	e.cancel()
}

// stopping reports whether the supervisor is shutting down or gone: its
// shutdown then ends every fault (it thaws and kills every replica and
// deletes the cgroups), so a revert that finds it so has nothing left to do.
func (e *Engine) stopping() bool {
	s := e.sup
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase == phaseStopping || s.phase == phaseStopped
}

func newInjectionID(f engine.Fault) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return '-'
	}, f.Name)
	if len(name) > 60 {
		name = name[:60]
	}
	if name == "" {
		name = "fault"
	}
	return strings.ToLower(f.Kind) + "-" + name + "-" + hex.EncodeToString(b[:])
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
