package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// Options tune a Supervisor. The zero value is the production behaviour.
type Options struct {
	// StateDir is faultline's state directory; "" is engine.StateDir().
	// The environment keeps its files in <StateDir>/envs/<name>/.
	StateDir string
	// Name overrides the environment's metadata.name.
	Name string
	// BackoffBase and BackoffMax are the restart back-off's first delay and
	// cap (kubelet: 10 s and 5 min); BackoffReset is how long a container
	// must run for its back-off to start over (kubelet: 10 min). Tests and
	// demos use e.g. 200 ms / 2 s.
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	BackoffReset time.Duration
	// EvictionDelay overrides the environment's eviction delay (0: the
	// spec's value or DefaultEvictionDelay).
	EvictionDelay time.Duration
	// DisableCgroups runs replicas without cgroups even when they are
	// available.
	DisableCgroups bool
	// BaseDir is where relative working directories and commands start
	// from: the environment file's directory. "" is the current directory.
	BaseDir string
	// ReadinessPollInterval, when set, checks a container's readiness
	// probe at this interval (instead of periodSeconds) until it first
	// passes, so a started replica joins its gateway as soon as it
	// answers. Kubelet has no such thing (0 keeps its behaviour); tests
	// and demos use it because periodSeconds cannot go below 1 s.
	ReadinessPollInterval time.Duration
	// NetworkNamespaces runs every replica in its own network namespace
	// (fl-… under /run/netns), joined to the host by a veth pair, so the
	// packet network backend (nftables, tbf) can fault one replica's
	// traffic without touching the others. It needs root; off, replicas
	// share the host's network and listen on 127.0.0.1 as before.
	NetworkNamespaces bool
}

func (o *Options) defaults() {
	if o.StateDir == "" {
		o.StateDir = engine.StateDir()
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = o.BackoffBase
	}
	if o.BackoffReset <= 0 {
		o.BackoffReset = DefaultBackoffReset
	}
}

// Supervisor runs one local environment: its replicas as real processes,
// their probes and restarts, the nodes they are placed on, the gateways in
// front of them and the control socket. Every exported method is safe for
// concurrent use.
type Supervisor struct {
	plan  *envPlan
	opts  Options
	dir   string // <state>/envs/<name>
	owner engine.Owner

	sp  *spawner
	px  *proxy
	cg  *cgroupSupport
	srv *Server

	// ctx lives as long as the supervisor; probes and timers end with it.
	ctx    context.Context
	cancel context.CancelFunc
	// streamCtx is the base of control requests; it ends first at
	// shutdown, so that streams (events, logs -f) let the server close.
	streamCtx    context.Context
	streamCancel context.CancelFunc
	wg           sync.WaitGroup

	persistKick chan struct{}
	done        chan struct{}
	stopOnce    sync.Once
	stopErr     error

	mu        sync.Mutex
	phase     supervisorPhase
	started   time.Time
	nodes     []*node
	services  []*service
	replicas  map[string]*replica
	ports     map[int]bool // ports handed out to replicas and listeners
	changed   chan struct{}
	subs      map[*subscriber]struct{}
	evictWait time.Duration
	// startingServices guards startServicesLocked against recursion.
	startingServices bool
	// subsClosed is set once the subscriptions ended at shutdown.
	subsClosed bool
}

type supervisorPhase int

const (
	phaseNew supervisorPhase = iota
	phaseRunning
	phaseStopping
	phaseStopped
)

type node struct {
	name        string
	labels      map[string]string
	ready       bool
	schedulable bool
}

func (n *node) engineNode() engine.Node {
	return engine.Node{Name: n.name, Labels: copyMap(n.labels), Ready: n.ready, Schedulable: n.schedulable}
}

type service struct {
	plan    *servicePlan
	desired int
	bal     *balancer
	gw      *listener
	// started is false while the service waits for its dependencies to
	// have a ready replica (initial start only, like compose's
	// service_healthy).
	started bool
}

type subscriber struct {
	ch chan Event
}

// New checks env and prepares a supervisor for it; nothing is started and
// nothing on disk changes. Bad input — a non-local environment, a command
// that cannot be found, a dependency cycle — is an error here.
func New(env *v1alpha1.Environment, opts Options) (*Supervisor, error) {
	if env == nil {
		return nil, errors.New("no environment given")
	}
	plan, err := planEnvironment(env, opts.Name, opts.BaseDir)
	if err != nil {
		return nil, err
	}
	return newSupervisor(plan, opts), nil
}

func newSupervisor(plan *envPlan, opts Options) *Supervisor {
	opts.defaults()
	s := &Supervisor{
		plan:        plan,
		opts:        opts,
		dir:         EnvDir(opts.StateDir, plan.name),
		persistKick: make(chan struct{}, 1),
		done:        make(chan struct{}),
		replicas:    map[string]*replica{},
		ports:       map[int]bool{},
		changed:     make(chan struct{}),
		subs:        map[*subscriber]struct{}{},
		evictWait:   plan.evictionDelay,
	}
	if opts.EvictionDelay > 0 {
		s.evictWait = opts.EvictionDelay
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.streamCtx, s.streamCancel = context.WithCancel(s.ctx)
	for _, np := range plan.nodes {
		s.nodes = append(s.nodes, &node{name: np.name, labels: copyMap(np.labels), ready: true, schedulable: !np.unschedulable})
	}
	for _, sp := range plan.services {
		s.services = append(s.services, &service{plan: sp, desired: sp.replicas, bal: newBalancer(sp.name)})
	}
	return s
}

// EnvDir is the directory of environment name under stateDir.
func EnvDir(stateDir, name string) string { return filepath.Join(stateDir, "envs", name) }

// Name is the environment's name.
func (s *Supervisor) Name() string { return s.plan.name }

// Namespace is the namespace of every replica.
func (s *Supervisor) Namespace() string { return s.plan.namespace }

// Dir is the environment's state directory.
func (s *Supervisor) Dir() string { return s.dir }

// SocketPath is the control socket's path.
func (s *Supervisor) SocketPath() string { return filepath.Join(s.dir, "control.sock") }

// Server is the control socket's server, for adding routes.
func (s *Supervisor) Server() *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// proxy returns the data-path proxy, nil before Start.
func (s *Supervisor) proxy() *proxy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.px
}

// EvictionDelay is how long replicas of a NotReady node wait before they
// are rescheduled.
func (s *Supervisor) EvictionDelay() time.Duration { return s.evictWait }

// Done is closed once the supervisor has stopped (Shutdown, or `env down`
// through the control socket).
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Start brings the environment up: it takes over the environment's state
// directory (cleaning up after a previous supervisor that died), opens the
// gateways and the control socket and starts every replica. It returns once
// the processes are started, not when they are ready (see WaitReady). On
// error everything it started is stopped again.
func (s *Supervisor) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	if s.phase != phaseNew {
		s.mu.Unlock()
		return errors.New("supervisor already started")
	}
	s.phase = phaseRunning
	s.started = time.Now()
	s.mu.Unlock()

	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.takeOver(); err != nil {
		s.markStopped()
		return err
	}
	if s.opts.NetworkNamespaces {
		if err := checkNetworkNamespaces(s.plan.name); err != nil {
			s.markStopped()
			return err
		}
	}
	s.owner = engine.Self()
	s.mu.Lock()
	s.sp = newSpawner()
	s.px = newProxy()
	s.cg = newCgroupSupport(s.plan.name, s.opts.DisableCgroups)
	s.mu.Unlock()
	defer func() {
		if err != nil {
			// Nothing is left half-way: stop whatever was started.
			_ = s.shutdown(context.Background(), false)
		}
	}()

	if err := s.checkPorts(); err != nil {
		return err
	}
	s.mu.Lock()
	for _, svc := range s.services {
		gw, err := s.px.listen(svc.plan.gatewayPort, svc.bal, HopIngress, "", "")
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("service %s: open gateway on 127.0.0.1:%d: %w", svc.plan.name, svc.plan.gatewayPort, err)
		}
		svc.gw = gw
		s.ports[gw.port()] = true
	}
	s.mu.Unlock()

	srv, err := listenControl(s, s.SocketPath())
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	// The state (owner, socket) is on disk before the first process
	// starts, so a crash from here on can be cleaned up.
	if err := s.writeStateNow(); err != nil {
		return err
	}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.persistLoop()
	}()

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svc := range s.services {
		for i := 0; i < svc.desired; i++ {
			if _, err := s.addReplicaLocked(svc, i); err != nil {
				return err
			}
		}
	}
	s.emitLocked(Event{Kind: EventEnvironment, Name: s.plan.name, Reason: "Starting",
		Message: fmt.Sprintf("%d services, %d nodes, cgroups: %s", len(s.services), len(s.nodes), s.cgroupsNote())})
	s.startServicesLocked()
	s.persistLocked()
	return nil
}

// takeOver prepares the state directory: a live supervisor of the same
// environment is an error; a dead one's leftovers are cleaned up first.
func (s *Supervisor) takeOver() error {
	if len(s.SocketPath()) > 107 {
		return fmt.Errorf("control socket path %s is longer than a unix socket allows (107 bytes); use a shorter state directory (FAULTLINE_STATE_DIR)", s.SocketPath())
	}
	if st, err := readState(s.dir); err == nil {
		if st.Owner.Alive() {
			return fmt.Errorf("environment %s is already running (supervisor pid %d); stop it with 'faultline env down --name %s'", s.plan.name, st.Owner.PID, s.plan.name)
		}
		if err := CleanupDir(s.opts.StateDir, s.plan.name); err != nil {
			return fmt.Errorf("clean up after the previous supervisor of %s: %w", s.plan.name, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "logs"), 0o755); err != nil {
		return fmt.Errorf("create environment directory: %w", err)
	}
	return nil
}

// checkPorts refuses fixed ports that are already taken, naming the service
// and replica, before anything starts.
func (s *Supervisor) checkPorts() error {
	for _, svc := range s.plan.services {
		if svc.gatewayPort != 0 {
			if err := checkPort(svc.gatewayPort); err != nil {
				return fmt.Errorf("service %s: gateway: %w", svc.name, err)
			}
		}
		if svc.replicaPort != 0 {
			for i := 0; i < svc.replicas; i++ {
				if err := checkPort(svc.replicaPort + i); err != nil {
					return fmt.Errorf("service %s: replica %s: %w", svc.name, replicaName(svc.name, i), err)
				}
			}
		}
	}
	return nil
}

func (s *Supervisor) cgroupsNote() string {
	if s.cg.available() {
		return "yes (" + s.cg.parent + ")"
	}
	return "no (" + s.cg.err.Error() + ")"
}

// Shutdown stops the environment gracefully: every container gets SIGTERM,
// then SIGKILL after its grace period (or at once when ctx ends); then the
// gateways, the control socket, the cgroups and the state file go. It is
// idempotent; later calls wait for the first and return its result.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	return s.shutdown(ctx, true)
}

func (s *Supervisor) shutdown(ctx context.Context, graceful bool) error {
	s.stopOnce.Do(func() {
		// On its own goroutine, so that every caller — not only the
		// first — can give up waiting when its context ends; the first
		// caller's context bounds the graceful part.
		go func() {
			s.stopErr = s.doShutdown(ctx, graceful)
			close(s.done)
		}()
	})
	select {
	case <-s.done:
		return s.stopErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Supervisor) markStopped() {
	s.mu.Lock()
	s.phase = phaseStopped
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.done) })
}

func (s *Supervisor) doShutdown(ctx context.Context, graceful bool) error {
	s.mu.Lock()
	if s.phase == phaseNew {
		s.phase = phaseStopped
		s.mu.Unlock()
		return nil
	}
	s.phase = phaseStopping
	s.emitLocked(Event{Kind: EventEnvironment, Name: s.plan.name, Reason: "Stopping"})
	var waits []<-chan struct{}
	for _, r := range s.sortedReplicasLocked() {
		r.deleting = true
		if graceful {
			waits = append(waits, s.stopReplicaLocked(r, r.svc.plan.grace, "environment is shutting down"))
		} else {
			waits = append(waits, s.killReplicaLocked(r, "environment start failed"))
		}
	}
	s.mu.Unlock()

	var errs []error
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			// Out of time: SIGKILL whatever still runs.
			s.mu.Lock()
			for _, r := range s.replicas {
				s.killReplicaLocked(r, "shutdown deadline reached")
			}
			s.mu.Unlock()
			select {
			case <-w:
			case <-time.After(5 * time.Second):
				errs = append(errs, errors.New("some replica processes did not exit after SIGKILL"))
			}
		}
	}

	// Streams (events, logs -f) end first, so that closing the server
	// does not wait for them.
	s.mu.Lock()
	s.emitLocked(Event{Kind: EventEnvironment, Name: s.plan.name, Reason: "Stopped", Message: "every replica has stopped"})
	for sub := range s.subs {
		close(sub.ch)
		delete(s.subs, sub)
	}
	s.subsClosed = true
	s.mu.Unlock()
	s.streamCancel()
	if s.srv != nil {
		s.srv.close()
	}
	if s.px != nil {
		s.px.close()
	}
	s.mu.Lock()
	for _, r := range s.replicas {
		if r.cg != nil {
			if err := r.cg.remove(); err != nil {
				errs = append(errs, fmt.Errorf("replica %s: %w", r.name, err))
			}
		}
		// The listeners are closed: the namespace can go.
		if err := s.removeNetnsLocked(r); err != nil {
			errs = append(errs, err)
		}
	}
	s.phase = phaseStopped
	s.notifyLocked()
	s.mu.Unlock()

	s.cancel()
	s.wg.Wait()
	if s.sp != nil {
		s.sp.close()
	}
	if s.cg != nil {
		if err := s.cg.removeAll(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeState(s.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// WaitReady waits until every desired replica is ready, or ctx ends; the
// error then names the replicas that are not.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	err := s.waitFor(ctx, func() bool { return s.allReadyLocked() })
	if err != nil {
		s.mu.Lock()
		var notReady []string
		for _, r := range s.sortedReplicasLocked() {
			if !r.ready {
				notReady = append(notReady, fmt.Sprintf("%s (%s)", r.name, r.status))
			}
		}
		s.mu.Unlock()
		hint := ""
		if s.opts.NetworkNamespaces && len(notReady) > 0 {
			// The usual cause: a program that listens on 127.0.0.1, which
			// no one outside its namespace can reach.
			hint = " (replicas run in network namespaces: each must listen on $POD_IP or 0.0.0.0, not 127.0.0.1)"
		}
		return fmt.Errorf("environment %s not ready: %s%s: %w", s.plan.name, joinMax(notReady, 10), hint, err)
	}
	return nil
}

func (s *Supervisor) allReadyLocked() bool {
	if s.phase != phaseRunning {
		return false
	}
	n := 0
	for _, svc := range s.services {
		n += svc.desired
	}
	ready := 0
	for _, r := range s.replicas {
		if r.ready && !r.deleting {
			ready++
		}
	}
	return ready == n
}

// waitFor waits until cond (called with s.mu held) holds, the supervisor
// stops, or ctx ends.
func (s *Supervisor) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		stopped := s.phase == phaseStopped
		s.mu.Unlock()
		if ok {
			return nil
		}
		if stopped {
			return errors.New("the environment has stopped")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes every waitFor.
func (s *Supervisor) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Subscribe returns a channel of state changes and a function that ends the
// subscription. Events are dropped for a subscriber that does not keep up
// (the channel holds 1024), rather than slowing the supervisor down. The
// channel is closed when the supervisor stops or cancel is called.
func (s *Supervisor) Subscribe() (<-chan Event, func()) {
	sub := &subscriber{ch: make(chan Event, 1024)}
	s.mu.Lock()
	if s.phase == phaseStopped || s.subsClosed {
		s.mu.Unlock()
		close(sub.ch)
		return sub.ch, func() {}
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return sub.ch, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, ok := s.subs[sub]; ok {
				delete(s.subs, sub)
				close(sub.ch)
			}
		})
	}
}

func (s *Supervisor) emitLocked(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for sub := range s.subs {
		select {
		case sub.ch <- e:
		default:
		}
	}
}

// Targets lists every replica as a fault target, by service and ordinal.
func (s *Supervisor) Targets() []engine.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []engine.Target
	for _, r := range s.sortedReplicasLocked() {
		out = append(out, r.statusLocked().Target(s.nodeLabelsLocked(r.node)))
	}
	return out
}

// Nodes lists the environment's nodes in the order the spec declares them.
func (s *Supervisor) Nodes() []engine.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]engine.Node, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n.engineNode())
	}
	return out
}

// Replica returns one replica's status.
func (s *Supervisor) Replica(name string) (ReplicaStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.replicas[name]
	if !ok {
		return ReplicaStatus{}, false
	}
	return r.statusLocked(), true
}

// Status describes the whole environment.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Name: s.plan.name, Namespace: s.plan.namespace, Owner: s.owner, Started: s.started,
		Socket: s.SocketPath(), StateDir: s.dir, Ready: s.allReadyLocked(), EvictionDelay: s.evictWait,
		Replicas: []ReplicaStatus{}}
	if s.cg != nil {
		st.Cgroups = s.cgroupsNote()
	}
	for _, r := range s.sortedReplicasLocked() {
		st.Replicas = append(st.Replicas, r.statusLocked())
	}
	for _, svc := range s.services {
		ss := ServiceStatus{Name: svc.plan.name, Replicas: svc.desired, Ready: len(svc.bal.ready()),
			DependsOn: svc.plan.dependsOn}
		if svc.gw != nil {
			ss.Gateway = svc.gw.addr()
			ss.URL = "http://" + ss.Gateway
			ss.Stats = svc.gw.stats.snapshot()
		}
		st.Services = append(st.Services, ss)
	}
	for _, n := range s.nodes {
		st.Nodes = append(st.Nodes, n.engineNode())
	}
	return st
}

// GatewayAddr returns the address of a service's gateway.
func (s *Supervisor) GatewayAddr(service string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.serviceLocked(service)
	if err != nil {
		return "", err
	}
	if svc.gw == nil {
		return "", fmt.Errorf("service %s has no gateway yet (the environment is not started)", service)
	}
	return svc.gw.addr(), nil
}

// SetInterceptor installs the network fault hook on every gateway and
// egress hop (nil removes it); live connections are re-examined at once.
func (s *Supervisor) SetInterceptor(i Interceptor) {
	if px := s.proxy(); px != nil {
		px.setInterceptor(i)
	}
}

// Reintercept asks the interceptor again about every live connection, for
// an interceptor whose rules changed.
func (s *Supervisor) Reintercept() {
	if px := s.proxy(); px != nil {
		px.reintercept()
	}
}

// Hops lists the connections the gateways proxy right now.
func (s *Supervisor) Hops() []Hop {
	if px := s.proxy(); px != nil {
		return px.hops()
	}
	return nil
}

func (s *Supervisor) serviceLocked(name string) (*service, error) {
	for _, svc := range s.services {
		if svc.plan.name == name {
			return svc, nil
		}
	}
	names := make([]string, 0, len(s.services))
	for _, svc := range s.services {
		names = append(names, svc.plan.name)
	}
	return nil, notFoundf("environment %s has no service %q (services: %s)", s.plan.name, name, joinMax(names, 20))
}

func (s *Supervisor) replicaLocked(name string) (*replica, error) {
	r, ok := s.replicas[name]
	if !ok {
		names := make([]string, 0, len(s.replicas))
		for _, r := range s.sortedReplicasLocked() {
			names = append(names, r.name)
		}
		return nil, notFoundf("environment %s has no replica %q (replicas: %s)", s.plan.name, name, joinMax(names, 20))
	}
	return r, nil
}

func (s *Supervisor) nodeLocked(name string) (*node, error) {
	for _, n := range s.nodes {
		if n.name == name {
			return n, nil
		}
	}
	names := make([]string, 0, len(s.nodes))
	for _, n := range s.nodes {
		names = append(names, n.name)
	}
	return nil, notFoundf("environment %s has no node %q (nodes: %s)", s.plan.name, name, joinMax(names, 20))
}

func (s *Supervisor) nodeLabelsLocked(name string) map[string]string {
	for _, n := range s.nodes {
		if n.name == name {
			return copyMap(n.labels)
		}
	}
	return nil
}

// sortedReplicasLocked lists replicas by service (spec order) and ordinal.
func (s *Supervisor) sortedReplicasLocked() []*replica {
	order := map[string]int{}
	for i, svc := range s.services {
		order[svc.plan.name] = i
	}
	out := make([]*replica, 0, len(s.replicas))
	for _, r := range s.replicas {
		out = append(out, r)
	}
	sort.Slice(out, func(a, b int) bool {
		if oa, ob := order[out[a].svc.plan.name], order[out[b].svc.plan.name]; oa != ob {
			return oa < ob
		}
		return out[a].ordinal < out[b].ordinal
	})
	return out
}

func (s *Supervisor) running() error {
	switch s.phase {
	case phaseNew:
		return errors.New("the environment is not started")
	case phaseStopping, phaseStopped:
		return fmt.Errorf("environment %s is shutting down", s.plan.name)
	}
	return nil
}

func replicaName(service string, ordinal int) string { return fmt.Sprintf("%s-%d", service, ordinal) }

func newUID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func joinMax(items []string, max int) string {
	if len(items) == 0 {
		return "none"
	}
	if len(items) > max {
		return fmt.Sprintf("%s and %d more", joinComma(items[:max]), len(items)-max)
	}
	return joinComma(items)
}

func joinComma(items []string) string {
	out := ""
	for i, it := range items {
		if i > 0 {
			out += ", "
		}
		out += it
	}
	return out
}

// signalGroup sends sig to a container's process group (its pgid is the
// process's pid, see spawner.start). ESRCH means the group is already gone.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
