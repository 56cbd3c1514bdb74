package local

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// RemoteEngine is the local engine of an environment whose supervisor runs
// in another process (`faultline env up --detach`), driven through its
// control socket: what an experiment uses when it attaches to a running
// environment. Each injection holds a connection to the supervisor, which
// is its lease: if this process dies, the supervisor reverts the fault.
type RemoteEngine struct {
	c *Client
	// networkBackend is the default of InjectOptions.NetworkBackend.
	networkBackend string
}

var _ engine.Engine = (*RemoteEngine)(nil)

// NewRemoteEngine returns the engine behind a supervisor's client.
func NewRemoteEngine(c *Client) *RemoteEngine { return &RemoteEngine{c: c} }

// WithNetworkBackend sets the network backend of injections that do not
// choose one ("", auto, proxy or packet) and returns r.
func (r *RemoteEngine) WithNetworkBackend(b string) *RemoteEngine {
	r.networkBackend = b
	return r
}

func (r *RemoteEngine) request(f engine.Fault, o InjectOptions) (InjectRequest, error) {
	if o.NetworkBackend == "" {
		o.NetworkBackend = r.networkBackend
	}
	return NewInjectRequestWith(f, o)
}

// Name is "local".
func (r *RemoteEngine) Name() string { return "local" }

// Targets lists the environment's replicas.
func (r *RemoteEngine) Targets(ctx context.Context) ([]engine.Target, error) {
	return r.c.Targets(ctx)
}

// Nodes lists the environment's nodes.
func (r *RemoteEngine) Nodes(ctx context.Context) ([]engine.Node, error) { return r.c.Nodes(ctx) }

// Select resolves the fault's targets without injecting it.
func (r *RemoteEngine) Select(ctx context.Context, f engine.Fault) ([]engine.Target, error) {
	return r.SelectWith(ctx, f, InjectOptions{})
}

// SelectWith is Select with the chaos object's namespace and a seed.
func (r *RemoteEngine) SelectWith(ctx context.Context, f engine.Fault, o InjectOptions) ([]engine.Target, error) {
	req, err := r.request(f, o)
	if err != nil {
		return nil, err
	}
	return r.c.DryRun(ctx, req)
}

// Inject injects f; see InjectWith.
func (r *RemoteEngine) Inject(ctx context.Context, f engine.Fault) (engine.Injection, error) {
	return r.InjectWith(ctx, f, InjectOptions{})
}

// InjectWith injects f through the supervisor and returns once it is
// applied to every target, as Engine.InjectWith does. The injection's
// connection outlives ctx; ctx only bounds the wait for the fault to be
// applied (when it ends first, the fault is reverted).
func (r *RemoteEngine) InjectWith(ctx context.Context, f engine.Fault, o InjectOptions) (engine.Injection, error) {
	req, err := r.request(f, o)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	ri := &remoteInjection{c: r.c, fault: f, cancel: cancel, started: make(chan struct{}),
		applied: make(chan struct{}), done: make(chan struct{})}
	go func() {
		st, err := r.c.Inject(sctx, req, ri.onLine)
		ri.finish(st, err)
	}()
	select {
	case <-ri.applied:
	case <-ri.done:
	case <-ctx.Done():
		// Closing the connection makes the supervisor revert.
		cancel()
		<-ri.done
		return nil, fmt.Errorf("inject %s %s: %w", f.Kind, f.Name, ctx.Err())
	}
	select {
	case <-ri.done:
		ri.mu.Lock()
		defer ri.mu.Unlock()
		if ri.err != nil {
			return nil, ri.err
		}
		if ri.final != nil && ri.final.Error != "" {
			return nil, errors.New(ri.final.Error)
		}
	default:
	}
	return ri, nil
}

// remoteInjection is an injection held by a supervisor in another process.
type remoteInjection struct {
	c      *Client
	fault  engine.Fault
	cancel context.CancelFunc

	started    chan struct{} // the first line arrived
	applied    chan struct{}
	done       chan struct{}
	startOnce  sync.Once
	applyOnce  sync.Once
	revertOnce sync.Once

	mu      sync.Mutex
	id      string
	targets []engine.Target
	events  []engine.Event
	final   *InjectionStatus
	err     error
}

func (ri *remoteInjection) onLine(l InjectStreamLine) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	switch {
	case l.Injection != nil:
		ri.id, ri.targets = l.Injection.ID, l.Injection.Targets
		ri.startOnce.Do(func() { close(ri.started) })
	case l.Event != nil:
		ri.events = append(ri.events, *l.Event)
	case l.Applied:
		ri.applyOnce.Do(func() { close(ri.applied) })
	}
}

func (ri *remoteInjection) finish(st *InjectionStatus, err error) {
	ri.mu.Lock()
	ri.final, ri.err = st, err
	if st != nil {
		ri.events = st.Events
	}
	ri.mu.Unlock()
	ri.cancel()
	close(ri.done)
}

func (ri *remoteInjection) ID() string {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.id
}

func (ri *remoteInjection) Fault() engine.Fault { return ri.fault }

func (ri *remoteInjection) Targets() []engine.Target {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return append([]engine.Target(nil), ri.targets...)
}

func (ri *remoteInjection) Done() <-chan struct{} { return ri.done }

func (ri *remoteInjection) Events() []engine.Event {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return append([]engine.Event(nil), ri.events...)
}

// Fidelity is the final figures once the injection is over, else the
// supervisor's current ones.
func (ri *remoteInjection) Fidelity() []engine.Fidelity {
	ri.mu.Lock()
	final, id := ri.final, ri.id
	ri.mu.Unlock()
	if final != nil {
		return final.Fidelity
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := ri.c.InjectionStatus(ctx, id)
	if err != nil {
		return nil
	}
	return st.Fidelity
}

// Revert asks the supervisor to revert the injection and waits until its
// stream reports it over.
func (ri *remoteInjection) Revert(ctx context.Context) error {
	var rerr error
	ri.revertOnce.Do(func() {
		select {
		case <-ri.done:
			return
		case <-ri.started:
		}
		_, rerr = ri.c.RevertInjection(ctx, ri.ID())
		if errors.Is(rerr, ErrNotFound) {
			rerr = nil // over meanwhile
		}
	})
	if rerr != nil {
		// The supervisor did not answer: dropping the connection makes it
		// revert on its own, if it still can.
		ri.cancel()
	}
	select {
	case <-ri.done:
	case <-ctx.Done():
		return fmt.Errorf("revert %s %s: %w", ri.fault.Kind, ri.fault.Name, ctx.Err())
	}
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if ri.final != nil && ri.final.Error != "" {
		return errors.New(ri.final.Error)
	}
	if ri.final == nil && ri.err != nil {
		return fmt.Errorf("revert %s %s: lost the supervisor (run 'faultline recover'): %w", ri.fault.Kind, ri.fault.Name, ri.err)
	}
	return rerr
}
