package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReplicaHeader names the replica that answered, as faultline's inference
// probe reads it.
const ReplicaHeader = "X-Replica"

// maxRequestBody bounds every request body read.
const maxRequestBody = 1 << 20

// maxUpstreamBody bounds every upstream response body read.
const maxUpstreamBody = 4 << 20

// errorBody is every error answer: {"error": "why"}.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, errorBody{Error: fmt.Sprintf(format, args...)})
}

// readBody reads a bounded request body; a larger one is an error the
// caller answers with 413.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(b) > maxRequestBody {
		return nil, errTooLarge
	}
	return b, nil
}

var errTooLarge = fmt.Errorf("request body exceeds %d bytes", maxRequestBody)

// bodyStatus is the status for a readBody error.
func bodyStatus(err error) int {
	if errors.Is(err, errTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// newRegistry is a registry with the process and Go collectors, one per
// server so that in-process tests do not share metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// withReplica sets the X-Replica header on every answer.
func withReplica(replica string, h http.Handler) http.Handler {
	if replica == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(ReplicaHeader, replica)
		h.ServeHTTP(w, r)
	})
}

// ShutdownGrace is how long Serve waits for requests in flight after ctx
// is cancelled (SIGTERM), below faultline's default grace period.
const ShutdownGrace = 3 * time.Second

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully:
// no new connections, requests in flight get ShutdownGrace to finish.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// upstreamError is a failed call to another service, answered as 502 (or
// 504 on a timeout) with the service named.
type upstreamError struct {
	service string
	status  int // the upstream's status; 0 when there was no answer
	err     error
}

func (e *upstreamError) Error() string { return e.service + ": " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// httpStatus is the status a caller answers with for e.
func (e *upstreamError) httpStatus() int {
	var ne net.Error
	if errors.Is(e.err, context.DeadlineExceeded) || errors.As(e.err, &ne) && ne.Timeout() {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// getJSON GETs url and decodes a 200 answer into v. A non-200 answer is
// an *upstreamError carrying the status and the answer's error text.
func getJSON(ctx context.Context, c *http.Client, service, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &upstreamError{service: service, err: err}
	}
	return doJSON(c, service, req, v)
}

// doJSON sends req and decodes a 200 answer into v. A request that got no
// answer at all (connection refused or reset, EOF: the replica behind the
// proxy died) is sent once more on a fresh connection, as a resilient
// client of an idempotent read does; a timeout is not retried, it already
// used the caller's patience.
func doJSON(c *http.Client, service string, req *http.Request, v any) error {
	resp, err := c.Do(req)
	if err != nil && retryable(req, err) {
		if retry, rerr := rewind(req); rerr == nil {
			resp, err = c.Do(retry)
		}
	}
	if err != nil {
		return &upstreamError{service: service, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	if err != nil {
		return &upstreamError{service: service, status: resp.StatusCode, err: fmt.Errorf("status %d, reading body: %w", resp.StatusCode, err)}
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		msg := string(b)
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			msg = eb.Error
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return &upstreamError{service: service, status: resp.StatusCode, err: fmt.Errorf("status %d: %s", resp.StatusCode, msg)}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &upstreamError{service: service, status: resp.StatusCode, err: fmt.Errorf("undecodable answer: %w", err)}
	}
	return nil
}

// newUpstreamClient is a client for calls between services. Keep-alive
// stays on, as real services do, so a connection-level fault shows on
// the pooled connections too.
func newUpstreamClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	t.Proxy = nil
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func retryable(req *http.Request, err error) bool {
	var ne net.Error
	if req.Context().Err() != nil || errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return req.Body == nil || req.GetBody != nil
}

// rewind is req ready to be sent again, with a fresh body and a fresh
// connection (Close asks the transport not to reuse the pooled one).
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("rewind body: %w", err)
		}
		r.Body = b
	}
	r.Close = true
	return r, nil
}
