package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ErrNotFound is matched (errors.Is) by errors about a replica, node,
// service or container that does not exist, locally and through the
// control socket.
var ErrNotFound = errors.New("not found")

// notFound is an error whose message names what is missing and which
// matches ErrNotFound.
type notFound struct{ msg string }

func (e *notFound) Error() string        { return e.msg }
func (e *notFound) Is(target error) bool { return target == ErrNotFound }

func notFoundf(format string, a ...any) error { return &notFound{msg: fmt.Sprintf(format, a...)} }

// Server is the supervisor's control socket: HTTP with JSON bodies over a
// unix socket (mode 0600, so only the user who started the environment can
// drive it).
//
// Routes (all under /v1):
//
//	GET  /v1/status                          Status
//	GET  /v1/targets                         []engine.Target
//	GET  /v1/nodes                           []engine.Node
//	GET  /v1/replicas/{name}                 ReplicaStatus
//	GET  /v1/replicas/{name}/logs            text; ?container= &previous=1 &follow=1
//	GET  /v1/replicas/{name}/cgroup          CgroupInfo
//	POST /v1/replicas/{name}/kill            KillRequest
//	POST /v1/replicas/{name}/failed          FailedRequest
//	POST /v1/nodes/{name}/{action}           action: down, up, cordon, uncordon, drain (?timeout=30s)
//	POST /v1/services/{name}/scale           ScaleRequest → ScaleResponse
//	GET  /v1/events                          newline-delimited JSON Events until the client leaves
//	POST /v1/down                            202; graceful shutdown begins
//
// Errors are {"error": "..."} with 404 for unknown names, 409 when the
// environment's state forbids the action, 400 for bad requests. Other
// packages add routes with Handle (the fault engine's inject and stop).
type Server struct {
	sup  *Supervisor
	mux  *http.ServeMux
	hs   *http.Server
	ln   net.Listener
	path string
}

// KillRequest is the body of POST /v1/replicas/{name}/kill.
type KillRequest struct {
	// Container names the containers to signal (comma-separated); "" is all.
	Container string `json:"container,omitempty"`
	// Signal number; 0 means SIGKILL.
	Signal int `json:"signal,omitempty"`
}

// FailedRequest is the body of POST /v1/replicas/{name}/failed.
type FailedRequest struct {
	Failed bool `json:"failed"`
}

// ScaleRequest is the body of POST /v1/services/{name}/scale.
type ScaleRequest struct {
	Replicas int `json:"replicas"`
}

// ScaleResponse answers a scale request.
type ScaleResponse struct {
	Previous int `json:"previous"`
}

// CgroupInfo answers GET /v1/replicas/{name}/cgroup: the cgroup's path,
// relative to the cgroup mount (open it with the cgroup package).
type CgroupInfo struct {
	Path string `json:"path"`
}

func listenControl(s *Supervisor, path string) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create control socket directory: %w", err)
	}
	// A socket file left by a dead supervisor would make bind fail.
	_ = os.Remove(path)
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("open control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict control socket %s: %w", path, err)
	}
	srv := &Server{sup: s, mux: http.NewServeMux(), ln: ln, path: path}
	srv.routes()
	srv.hs = &http.Server{Handler: srv.mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return s.streamCtx }}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.hs.Serve(ln)
	}()
	return srv, nil
}

// Handle adds a route to the control socket (Go ServeMux patterns, e.g.
// "POST /v1/inject").
func (srv *Server) Handle(pattern string, h http.Handler) { srv.mux.Handle(pattern, h) }

// Supervisor is the supervisor the server controls.
func (srv *Server) Supervisor() *Supervisor { return srv.sup }

// Path is the socket's path.
func (srv *Server) Path() string { return srv.path }

func (srv *Server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// Streams (logs -f, events) end with the supervisor's context; give
	// plain requests a moment, then cut.
	if err := srv.hs.Shutdown(ctx); err != nil {
		srv.hs.Close()
	}
	_ = os.Remove(srv.path)
}

func (srv *Server) routes() {
	s := srv.sup
	srv.mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Status())
	})
	srv.mux.HandleFunc("GET /v1/targets", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Targets())
	})
	srv.mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Nodes())
	})
	srv.mux.HandleFunc("GET /v1/replicas/{name}", func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.Replica(r.PathValue("name"))
		if !ok {
			writeError(w, notFoundf("environment %s has no replica %q", s.Name(), r.PathValue("name")))
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	srv.mux.HandleFunc("GET /v1/replicas/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		opts := LogOptions{Container: q.Get("container"), Previous: boolParam(q.Get("previous")), Follow: boolParam(q.Get("follow"))}
		path, err := s.LogPath(r.PathValue("name"), opts)
		if err != nil {
			writeError(w, err)
			return
		}
		if _, err := os.Stat(path); err != nil {
			writeError(w, notFoundf("no log for %s yet (%s)", r.PathValue("name"), path))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_ = copyLog(r.Context(), w, path, opts.Follow)
	})
	srv.mux.HandleFunc("GET /v1/replicas/{name}/cgroup", func(w http.ResponseWriter, r *http.Request) {
		g, err := s.ReplicaCgroup(r.PathValue("name"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, CgroupInfo{Path: g.Path()})
	})
	srv.mux.HandleFunc("POST /v1/replicas/{name}/kill", func(w http.ResponseWriter, r *http.Request) {
		var req KillRequest
		if !readJSON(w, r, &req) {
			return
		}
		sig := syscall.SIGKILL
		if req.Signal != 0 {
			sig = syscall.Signal(req.Signal)
		}
		writeResult(w, s.KillContainer(r.PathValue("name"), req.Container, sig))
	})
	srv.mux.HandleFunc("POST /v1/replicas/{name}/failed", func(w http.ResponseWriter, r *http.Request) {
		var req FailedRequest
		if !readJSON(w, r, &req) {
			return
		}
		writeResult(w, s.SetReplicaFailed(r.PathValue("name"), req.Failed))
	})
	srv.mux.HandleFunc("POST /v1/nodes/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var err error
		switch r.PathValue("action") {
		case "down":
			err = s.NodeDown(name)
		case "up":
			err = s.NodeUp(name)
		case "cordon":
			err = s.Cordon(name)
		case "uncordon":
			err = s.Uncordon(name)
		case "drain":
			ctx := r.Context()
			if t := r.URL.Query().Get("timeout"); t != "" {
				d, perr := time.ParseDuration(t)
				if perr != nil {
					writeJSON(w, http.StatusBadRequest, apiError{Error: "bad timeout: " + perr.Error()})
					return
				}
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
			err = s.Drain(ctx, name)
		default:
			writeError(w, notFoundf("unknown node action %q (valid: down, up, cordon, uncordon, drain)", r.PathValue("action")))
			return
		}
		writeResult(w, err)
	})
	srv.mux.HandleFunc("POST /v1/services/{name}/scale", func(w http.ResponseWriter, r *http.Request) {
		var req ScaleRequest
		if !readJSON(w, r, &req) {
			return
		}
		prev, err := s.Scale(r.PathValue("name"), req.Replicas)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, ScaleResponse{Previous: prev})
	})
	srv.mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		ch, cancel := s.Subscribe()
		defer cancel()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		if fl != nil {
			fl.Flush()
		}
		enc := json.NewEncoder(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case e, ok := <-ch:
				if !ok {
					return
				}
				if err := enc.Encode(e); err != nil {
					return
				}
				if fl != nil {
					fl.Flush()
				}
			}
		}
	})
	srv.mux.HandleFunc("POST /v1/down", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "stopping"})
		// The shutdown closes this server, so it runs on its own.
		go func() { _ = s.Shutdown(context.Background()) }()
	})
}

// LogPath is the log file of a replica's container (its main container
// when opts.Container is ""), or of its previous run.
func (s *Supervisor) LogPath(replicaName string, opts LogOptions) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.replicaLocked(replicaName)
	if err != nil {
		return "", err
	}
	c := r.containers[0]
	if opts.Container != "" {
		cs, err := r.selectContainers(opts.Container)
		if err != nil {
			return "", err
		}
		c = cs[0]
	}
	if opts.Previous {
		return c.logPath + ".1", nil
	}
	return c.logPath, nil
}

func boolParam(v string) bool {
	b, _ := strconv.ParseBool(v)
	return b
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeResult(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusConflict
	if errors.Is(err, ErrNotFound) {
		code = http.StatusNotFound
	}
	writeJSON(w, code, apiError{Error: err.Error()})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "bad request body: " + err.Error()})
		return false
	}
	return true
}
