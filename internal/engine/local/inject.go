package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// The fault engine's control-socket routes, added by AttachEngine:
//
//	POST   /v1/inject            InjectRequest → newline-delimited InjectStreamLine until the injection is over
//	POST   /v1/dry-run           InjectRequest → DryRunResponse (the targets, nothing injected)
//	GET    /v1/injections        []InjectionStatus of the active injections
//	GET    /v1/injections/{id}   InjectionStatus
//	DELETE /v1/injections/{id}   revert one; InjectionStatus once reverted
//	POST   /v1/stop              revert every active injection; StopResponse
//
// The connection of POST /v1/inject is the injection's lease: when the
// client goes away (Ctrl-C, SIGKILL, a crashed experiment) the supervisor
// reverts the fault at once, on top of the journal's lease that covers a
// supervisor that dies.

// InjectRequest asks for one fault: a chaos object's kind, name, namespace
// and spec (the spec type of the kind, as JSON), its duration, and an
// optional seed for the selector modes' random choices.
type InjectRequest struct {
	Kind      string          `json:"kind"`
	Name      string          `json:"name"`
	Namespace string          `json:"namespace,omitempty"`
	Spec      json.RawMessage `json:"spec"`
	// Duration is a Go duration ("30s"); "" holds the fault until it is
	// reverted (instantaneous faults ignore it).
	Duration string  `json:"duration,omitempty"`
	Seed     *uint64 `json:"seed,omitempty"`
	// NetworkBackend is InjectOptions.NetworkBackend ("" is the engine's
	// default).
	NetworkBackend string `json:"networkBackend,omitempty"`
}

// NewInjectRequestWith encodes a fault and its options for the control
// socket.
func NewInjectRequestWith(f engine.Fault, o InjectOptions) (InjectRequest, error) {
	req, err := NewInjectRequest(f, o.Namespace, o.Seed)
	req.NetworkBackend = o.NetworkBackend
	return req, err
}

// NewInjectRequest encodes a fault for the control socket.
func NewInjectRequest(f engine.Fault, namespace string, seed *uint64) (InjectRequest, error) {
	spec, err := json.Marshal(f.Spec)
	if err != nil {
		return InjectRequest{}, fmt.Errorf("encode %s %s: %w", f.Kind, f.Name, err)
	}
	req := InjectRequest{Kind: f.Kind, Name: f.Name, Namespace: namespace, Spec: spec, Seed: seed}
	if f.Duration > 0 {
		req.Duration = f.Duration.String()
	}
	return req, nil
}

// Fault decodes the request into the fault and its options.
func (r InjectRequest) Fault() (engine.Fault, InjectOptions, error) {
	spec, ok := newSpec(r.Kind)
	if !ok {
		return engine.Fault{}, InjectOptions{}, fmt.Errorf("kind %q is not a fault kind (PodChaos, NetworkChaos, StressChaos, HTTPChaos, IOChaos, DNSChaos, TimeChaos, NodeChaos, ScaleChaos, ModelChaos)", r.Kind)
	}
	if len(r.Spec) > 0 {
		dec := json.NewDecoder(bytes.NewReader(r.Spec))
		dec.DisallowUnknownFields()
		if err := dec.Decode(spec); err != nil {
			return engine.Fault{}, InjectOptions{}, fmt.Errorf("%s %s: bad spec: %w", r.Kind, r.Name, err)
		}
	}
	f := engine.Fault{Kind: r.Kind, Name: r.Name, Spec: spec}
	if r.Duration != "" {
		d, err := time.ParseDuration(r.Duration)
		if err != nil || d < 0 {
			return engine.Fault{}, InjectOptions{}, fmt.Errorf("%s %s: bad duration %q", r.Kind, r.Name, r.Duration)
		}
		f.Duration = d
	}
	if _, err := ParseNetworkBackend(r.NetworkBackend); err != nil {
		return engine.Fault{}, InjectOptions{}, fmt.Errorf("%s %s: %w", r.Kind, r.Name, err)
	}
	return f, InjectOptions{Namespace: r.Namespace, Seed: r.Seed, NetworkBackend: r.NetworkBackend}, nil
}

// newSpec returns a new spec value of a fault kind.
func newSpec(kind string) (any, bool) {
	return v1alpha1.NewChaosSpec(kind)
}

// InjectionStatus describes an injection: what was asked, what it hit and
// what happened to each target.
type InjectionStatus struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Name     string            `json:"name"`
	Duration time.Duration     `json:"duration,omitempty"`
	Started  time.Time         `json:"started"`
	Targets  []engine.Target   `json:"targets"`
	Events   []engine.Event    `json:"events"`
	Fidelity []engine.Fidelity `json:"fidelity"`
	// Done is true once the injection is over (reverted, complete or
	// failed); Error says why it failed or could not be reverted.
	Done  bool   `json:"done"`
	Error string `json:"error,omitempty"`
}

// InjectStreamLine is one line of POST /v1/inject's answer: first
// Injection (its id and targets), then an Event per line as they happen,
// Applied once every target was acted on, and last Done (the final status,
// with the fidelity).
type InjectStreamLine struct {
	Injection *InjectionStatus `json:"injection,omitempty"`
	Event     *engine.Event    `json:"event,omitempty"`
	Applied   bool             `json:"applied,omitempty"`
	Done      *InjectionStatus `json:"done,omitempty"`
}

// DryRunResponse answers POST /v1/dry-run.
type DryRunResponse struct {
	Targets []engine.Target `json:"targets"`
}

// StopResponse answers POST /v1/stop.
type StopResponse struct {
	Reverted int      `json:"reverted"`
	Errors   []string `json:"errors,omitempty"`
}

func (e *Engine) registerRoutes(srv *Server) {
	srv.Handle("POST /v1/inject", http.HandlerFunc(e.handleInject))
	srv.Handle("POST /v1/dry-run", http.HandlerFunc(e.handleDryRun))
	srv.Handle("GET /v1/injections", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := []InjectionStatus{}
		for _, inj := range e.Injections() {
			out = append(out, inj.(*injection).status())
		}
		writeJSON(w, http.StatusOK, out)
	}))
	srv.Handle("GET /v1/injections/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inj, ok := e.Injection(r.PathValue("id"))
		if !ok {
			writeError(w, notFoundf("no active injection %q in environment %s", r.PathValue("id"), e.sup.Name()))
			return
		}
		writeJSON(w, http.StatusOK, inj.(*injection).status())
	}))
	srv.Handle("DELETE /v1/injections/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inj, ok := e.Injection(r.PathValue("id"))
		if !ok {
			writeError(w, notFoundf("no active injection %q in environment %s", r.PathValue("id"), e.sup.Name()))
			return
		}
		// The revert goes on even if this client leaves.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), revertTimeout)
		defer cancel()
		err := inj.Revert(ctx)
		st := inj.(*injection).status()
		if err != nil && st.Error == "" {
			st.Error = err.Error()
		}
		writeJSON(w, http.StatusOK, st)
	}))
	srv.Handle("POST /v1/stop", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), revertTimeout)
		defer cancel()
		n, err := e.StopAll(ctx)
		resp := StopResponse{Reverted: n}
		if err != nil {
			resp.Errors = strings.Split(err.Error(), "\n")
		}
		writeJSON(w, http.StatusOK, resp)
	}))
}

func (e *Engine) handleDryRun(w http.ResponseWriter, r *http.Request) {
	var req InjectRequest
	if !readJSON(w, r, &req) {
		return
	}
	f, o, err := req.Fault()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	ts, err := e.SelectWith(r.Context(), f, o)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	if ts == nil {
		ts = []engine.Target{}
	}
	writeJSON(w, http.StatusOK, DryRunResponse{Targets: ts})
}

func (e *Engine) handleInject(w http.ResponseWriter, r *http.Request) {
	var req InjectRequest
	if !readJSON(w, r, &req) {
		return
	}
	f, o, err := req.Fault()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	inj, err := e.start(f, o)
	if err != nil {
		code := http.StatusBadRequest
		if e.ctx.Err() != nil || e.stopping() {
			code = http.StatusConflict
		}
		writeJSON(w, code, apiError{Error: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(l InjectStreamLine) {
		// A write error means the client is gone; the context below
		// notices and reverts.
		_ = enc.Encode(l)
		if fl != nil {
			fl.Flush()
		}
	}
	st := inj.status()
	send(InjectStreamLine{Injection: &st})
	applied := inj.applied
	n := 0
	for {
		// Applied is looked at before the events: apply's events are all
		// recorded before it closes, so the Applied line follows them.
		appliedNow := false
		if applied != nil {
			select {
			case <-applied:
				applied, appliedNow = nil, true
			default:
			}
		}
		evs, changed, done := inj.since(n)
		for i := range evs {
			send(InjectStreamLine{Event: &evs[i]})
		}
		n += len(evs)
		if appliedNow {
			send(InjectStreamLine{Applied: true})
		}
		if done {
			st := inj.status()
			send(InjectStreamLine{Done: &st})
			return
		}
		select {
		case <-changed:
		case <-applied:
		case <-r.Context().Done():
			// The client's connection was the fault's lease.
			ctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
			_ = inj.Revert(ctx)
			cancel()
			return
		}
	}
}

// noFaultRoutes explains a 404 on the fault routes: the supervisor runs
// without the fault engine.
func noFaultRoutes(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && strings.Contains(ae.Message, "page not found") {
		return fmt.Errorf("the environment's supervisor does not serve faults (it was started without the fault engine; restart it with a faultline that has one): %w", err)
	}
	return err
}

// DryRun resolves a fault's targets without injecting it.
func (c *Client) DryRun(ctx context.Context, req InjectRequest) ([]engine.Target, error) {
	var resp DryRunResponse
	if err := c.Do(ctx, http.MethodPost, "/v1/dry-run", req, &resp); err != nil {
		return nil, noFaultRoutes(err)
	}
	return resp.Targets, nil
}

// Inject injects a fault and follows it until it is over, calling onLine
// (if not nil) for every line of the stream as it arrives. It returns the
// final status. The connection is the fault's lease: when ctx ends the
// connection closes and the supervisor reverts the fault; to revert and
// wait for the final status instead, call RevertInjection.
func (c *Client) Inject(ctx context.Context, req InjectRequest, onLine func(InjectStreamLine)) (*InjectionStatus, error) {
	resp, err := c.send(ctx, http.MethodPost, "/v1/inject", req)
	if err != nil {
		return nil, noFaultRoutes(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l InjectStreamLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("inject %s %s: bad answer line %q: %w", req.Kind, req.Name, sc.Bytes(), err)
		}
		if onLine != nil {
			onLine(l)
		}
		if l.Done != nil {
			return l.Done, nil
		}
	}
	err = sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return nil, fmt.Errorf("inject %s %s: the stream ended before the injection was over (the supervisor reverts a fault whose client left): %w", req.Kind, req.Name, err)
}

// Injections lists the active injections.
func (c *Client) Injections(ctx context.Context) ([]InjectionStatus, error) {
	var out []InjectionStatus
	if err := c.Do(ctx, http.MethodGet, "/v1/injections", nil, &out); err != nil {
		return nil, noFaultRoutes(err)
	}
	return out, nil
}

// InjectionStatus returns one active injection's status.
func (c *Client) InjectionStatus(ctx context.Context, id string) (*InjectionStatus, error) {
	var st InjectionStatus
	if err := c.Do(ctx, http.MethodGet, "/v1/injections/"+url.PathEscape(id), nil, &st); err != nil {
		return nil, noFaultRoutes(err)
	}
	return &st, nil
}

// RevertInjection reverts one injection and returns its final status.
func (c *Client) RevertInjection(ctx context.Context, id string) (*InjectionStatus, error) {
	var st InjectionStatus
	if err := c.Do(ctx, http.MethodDelete, "/v1/injections/"+url.PathEscape(id), nil, &st); err != nil {
		return nil, noFaultRoutes(err)
	}
	return &st, nil
}

// StopFaults reverts every active injection of the environment.
func (c *Client) StopFaults(ctx context.Context) (*StopResponse, error) {
	var resp StopResponse
	if err := c.Do(ctx, http.MethodPost, "/v1/stop", nil, &resp); err != nil {
		return nil, noFaultRoutes(err)
	}
	return &resp, nil
}
