package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline-dev/faultline/demo/recsys"
)

// Defaults of a ModelServer.
const (
	DefaultTopK           = 10
	MaxTopK               = 100
	DefaultFeatureTimeout = 2 * time.Second
)

// ModelServerConfig configures a ModelServer.
type ModelServerConfig struct {
	// Dir holds the model files, recsys-<version>.model. Required.
	Dir string
	// Version to load; "" loads the newest in Dir (MODEL_VERSION).
	Version string
	// LoadDelay is added before the model file is read, so that loading
	// takes a realistic moment (MODEL_LOAD_DELAY).
	LoadDelay time.Duration
	// FeatureStoreURL is the feature store's base URL; "" serves only
	// requests that carry a history input.
	FeatureStoreURL string
	// FeatureTimeout bounds one feature store call. Default 2s.
	FeatureTimeout time.Duration
	// Replica names this replica in X-Replica and parameters.replica.
	Replica string
	// Logger; nil discards.
	Logger *slog.Logger
}

// loadState is the server's model: loading, loaded or failed for good.
type loadState struct {
	model   *recsys.Model // nil unless loaded
	version string
	path    string
	err     error // why it is not loaded (loading, or the load's error)
}

// ModelServer serves the recsys model over the Open Inference Protocol:
//
//	GET  /v2                                    server metadata
//	GET  /v2/health/live                        200 while the process runs
//	GET  /v2/health/ready                       200 once the model is loaded
//	GET  /v2/models/recsys[/versions/{v}]       model metadata
//	GET  /v2/models/recsys[/versions/{v}]/ready model readiness
//	POST /v2/models/recsys[/versions/{v}]/infer top-k items with scores
//	GET  /metrics                               Prometheus
//
// infer takes input user_id (INT64, shape [1]) and optionally history
// (INT64, the user's features; without it they are fetched from the
// feature store) and parameters.top_k (default 10, at most 100), and
// answers outputs items (INT64) and scores (FP32), best first, with
// parameters.replica and parameters.features (where the history came
// from: "request", "feature-store" or "none" for a user the store does
// not know).
type ModelServer struct {
	cfg     ModelServerConfig
	log     *slog.Logger
	state   atomic.Pointer[loadState]
	client  *http.Client
	reg     *prometheus.Registry
	handler http.Handler

	ready        prometheus.Gauge
	info         *prometheus.GaugeVec
	loadSeconds  prometheus.Gauge
	loadFailures prometheus.Counter
	requests     *prometheus.CounterVec
	latency      prometheus.Histogram
	features     *prometheus.CounterVec
}

// NewModelServer builds a server; it is not ready until Load succeeds.
func NewModelServer(cfg ModelServerConfig) (*ModelServer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("model server: no model directory")
	}
	if cfg.LoadDelay < 0 {
		return nil, fmt.Errorf("model server: load delay %v is negative", cfg.LoadDelay)
	}
	if cfg.FeatureTimeout <= 0 {
		cfg.FeatureTimeout = DefaultFeatureTimeout
	}
	if cfg.FeatureStoreURL != "" {
		if u, err := url.Parse(cfg.FeatureStoreURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("model server: feature store URL %q: want http://host:port", cfg.FeatureStoreURL)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &ModelServer{cfg: cfg, log: cfg.Logger, client: newUpstreamClient(), reg: newRegistry()}
	s.state.Store(&loadState{version: cfg.Version, err: errors.New("model is loading")})
	s.ready = prometheus.NewGauge(prometheus.GaugeOpts{Name: "recsys_model_ready", Help: "1 when the model is loaded and verified."})
	s.info = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "recsys_model_info", Help: "The loaded model's version and checksum (value 1)."}, []string{"version", "sha256"})
	s.loadSeconds = prometheus.NewGauge(prometheus.GaugeOpts{Name: "recsys_model_load_seconds", Help: "How long the last model load took, delay included."})
	s.loadFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "recsys_model_load_failures_total", Help: "Model loads that failed (missing or corrupt file)."})
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "recsys_inference_requests_total", Help: "Infer requests by status code."}, []string{"code"})
	s.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "recsys_inference_duration_seconds", Help: "Infer latency, feature store call included.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	s.features = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "recsys_feature_store_requests_total", Help: "Feature store calls by outcome."}, []string{"outcome"})
	s.reg.MustRegister(s.ready, s.info, s.loadSeconds, s.loadFailures, s.requests, s.latency, s.features)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2", s.serverMetadata)
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	mux.HandleFunc("GET /v2/health/ready", s.serverReady)
	for _, prefix := range []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"} {
		mux.HandleFunc("GET "+prefix, s.modelMetadata)
		mux.HandleFunc("GET "+prefix+"/ready", s.modelReady)
		mux.HandleFunc("POST "+prefix+"/infer", s.infer)
	}
	mux.Handle("GET /metrics", metricsHandler(s.reg))
	s.handler = withReplica(cfg.Replica, mux)
	return s, nil
}

// Handler serves the routes.
func (s *ModelServer) Handler() http.Handler { return s.handler }

// Ready reports whether the model is loaded.
func (s *ModelServer) Ready() bool { return s.state.Load().model != nil }

// Load waits LoadDelay, then reads and verifies the model file. On error
// the server stays unready for good: a corrupt or missing model is not
// retried, it needs a restart with a good file (as a pod would).
func (s *ModelServer) Load(ctx context.Context) error {
	start := time.Now()
	err := s.load(ctx)
	s.loadSeconds.Set(time.Since(start).Seconds())
	if err != nil {
		s.loadFailures.Inc()
		s.state.Store(&loadState{version: s.cfg.Version, err: err})
		s.log.Error("model not loaded; staying unready", "err", err)
		return err
	}
	st := s.state.Load()
	s.log.Info("model loaded; ready", "version", st.version, "path", st.path, "sha256", st.model.Header.SHA256, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (s *ModelServer) load(ctx context.Context) error {
	if s.cfg.LoadDelay > 0 {
		t := time.NewTimer(s.cfg.LoadDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("load cancelled: %w", ctx.Err())
		}
	}
	version := s.cfg.Version
	if version == "" {
		entries, err := os.ReadDir(s.cfg.Dir)
		if err != nil {
			return fmt.Errorf("find the newest model version: %w", err)
		}
		var versions []string
		for _, e := range entries {
			if v, ok := recsys.VersionOf(e.Name()); ok {
				versions = append(versions, v)
			}
		}
		var ok bool
		if version, ok = recsys.NewestVersion(versions); !ok {
			return fmt.Errorf("no %s files in %s (build them with `recsys model build`)", recsys.FileName("<version>"), s.cfg.Dir)
		}
	}
	if strings.ContainsAny(version, `/\`) || version == "." || version == ".." {
		return fmt.Errorf("model version %q is not a plain name", version)
	}
	path := filepath.Join(s.cfg.Dir, recsys.FileName(version))
	m, err := recsys.ReadFile(path)
	if err != nil {
		return err
	}
	h := m.Header
	if h.Kind != recsys.KindModel || h.Model != recsys.ModelName || h.Version != version {
		return fmt.Errorf("model %s: %w: it holds %s %s %q, want model %s %q", path, recsys.ErrCorrupt, h.Kind, h.Model, h.Version, recsys.ModelName, version)
	}
	s.state.Store(&loadState{model: m, version: version, path: path})
	s.ready.Set(1)
	s.info.WithLabelValues(version, h.SHA256).Set(1)
	return nil
}

func (s *ModelServer) serverMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "faultline-recsys", "version": "1", "extensions": []string{}})
}

func (s *ModelServer) serverReady(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	if st.model == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": st.err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "model_version": st.version})
}

// resolve checks the URL's model and version against the loaded model;
// it answers the request itself (and returns nil) when they do not match.
func (s *ModelServer) resolve(w http.ResponseWriter, r *http.Request) *loadState {
	if name := r.PathValue("model"); name != recsys.ModelName {
		writeError(w, http.StatusNotFound, "model %q is not served here; this server serves %q", name, recsys.ModelName)
		return nil
	}
	st := s.state.Load()
	if st.model == nil {
		writeError(w, http.StatusServiceUnavailable, "model %s is not ready: %v", recsys.ModelName, st.err)
		return nil
	}
	if v := r.PathValue("version"); v != "" && v != st.version {
		writeError(w, http.StatusNotFound, "model %s version %q is not served here; this replica serves %q", recsys.ModelName, v, st.version)
		return nil
	}
	return st
}

func (s *ModelServer) modelMetadata(w http.ResponseWriter, r *http.Request) {
	st := s.resolve(w, r)
	if st == nil {
		return
	}
	writeJSON(w, http.StatusOK, ModelMetadata{
		Name: recsys.ModelName, Versions: []string{st.version}, Platform: "faultline-recsys",
		Inputs: []TensorMeta{
			{Name: recsys.InputUserID, Datatype: "INT64", Shape: []int64{1}},
			{Name: recsys.InputHistory, Datatype: "INT64", Shape: []int64{-1}},
		},
		Outputs: []TensorMeta{
			{Name: recsys.OutputItems, Datatype: "INT64", Shape: []int64{-1}},
			{Name: recsys.OutputScores, Datatype: "FP32", Shape: []int64{-1}},
		},
	})
}

func (s *ModelServer) modelReady(w http.ResponseWriter, r *http.Request) {
	if st := s.resolve(w, r); st != nil {
		writeJSON(w, http.StatusOK, map[string]any{"name": recsys.ModelName, "version": st.version, "ready": true})
	}
}

// statusRecorder remembers the status written, for the metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *ModelServer) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.requests.WithLabelValues(strconv.Itoa(rec.status)).Inc()
		s.latency.Observe(time.Since(start).Seconds())
	}()
	st := s.resolve(rec, r)
	if st == nil {
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(rec, bodyStatus(err), "%v", err)
		return
	}
	req, err := decodeInferRequest(body)
	if err != nil {
		writeError(rec, http.StatusBadRequest, "%v", err)
		return
	}
	in, err := parseInfer(req, st.model.Header.Items)
	if err != nil {
		writeError(rec, http.StatusBadRequest, "%v", err)
		return
	}
	source := "request"
	if !in.hasHistory {
		var uerr *upstreamError
		in.history, source, err = s.fetchHistory(r.Context(), in.user)
		if errors.As(err, &uerr) {
			writeError(rec, uerr.httpStatus(), "%v", err)
			return
		}
		if err != nil {
			writeError(rec, http.StatusServiceUnavailable, "%v", err)
			return
		}
	}
	top, err := st.model.Recommend(in.user, in.history, in.k)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, recsys.ErrBadRequest) {
			status = http.StatusBadRequest
		}
		writeError(rec, status, "%v", err)
		return
	}
	items, scores := recsys.Split(top)
	outputs := []Tensor{
		{Name: recsys.OutputItems, Shape: []int64{int64(len(items))}, Datatype: "INT64", Data: items},
		{Name: recsys.OutputScores, Shape: []int64{int64(len(scores))}, Datatype: "FP32", Data: scores},
	}
	if len(in.outputs) > 0 {
		var picked []Tensor
		for _, name := range in.outputs {
			for _, o := range outputs {
				if o.Name == name {
					picked = append(picked, o)
				}
			}
		}
		outputs = picked
	}
	params := map[string]any{"features": source}
	if s.cfg.Replica != "" {
		params["replica"] = s.cfg.Replica
	}
	writeJSON(rec, http.StatusOK, InferResponse{ModelName: recsys.ModelName, ModelVersion: st.version, ID: req.ID, Parameters: params, Outputs: outputs})
}

// inferInput is a checked infer request.
type inferInput struct {
	user       int64
	history    []int32
	hasHistory bool
	k          int
	outputs    []string
}

func parseInfer(req InferRequest, items int) (inferInput, error) {
	in := inferInput{k: DefaultTopK}
	var haveUser bool
	for _, t := range req.Inputs {
		v, err := t.ints()
		if err != nil {
			return in, err
		}
		switch t.Name {
		case recsys.InputUserID:
			if len(v) != 1 {
				return in, fmt.Errorf("input %s: want exactly one user id, got %d (send one request per user)", t.Name, len(v))
			}
			in.user, haveUser = v[0], true
		case recsys.InputHistory:
			in.hasHistory = true
			in.history = make([]int32, len(v))
			for i, x := range v {
				if x < 0 || x >= int64(items) {
					return in, fmt.Errorf("input %s: item %d is outside 0 to %d", t.Name, x, items-1)
				}
				in.history[i] = int32(x)
			}
		default:
			return in, fmt.Errorf("unknown input %q; inputs are %s and %s", t.Name, recsys.InputUserID, recsys.InputHistory)
		}
	}
	if !haveUser {
		return in, fmt.Errorf("input %s is required", recsys.InputUserID)
	}
	if raw, ok := req.Parameters[recsys.ParameterTopK]; ok {
		var k json.Number
		if err := json.Unmarshal(raw, &k); err != nil {
			return in, fmt.Errorf("parameters.%s: %s is not a number", recsys.ParameterTopK, raw)
		}
		n, err := k.Int64()
		if err != nil || n < 1 || n > int64(min(MaxTopK, items)) {
			return in, fmt.Errorf("parameters.%s: %s, want an integer from 1 to %d", recsys.ParameterTopK, k, min(MaxTopK, items))
		}
		in.k = int(n)
	}
	for _, o := range req.Outputs {
		if o.Name != recsys.OutputItems && o.Name != recsys.OutputScores {
			return in, fmt.Errorf("unknown output %q; outputs are %s and %s", o.Name, recsys.OutputItems, recsys.OutputScores)
		}
		in.outputs = append(in.outputs, o.Name)
	}
	return in, nil
}

// fetchHistory asks the feature store for the user's history. A user the
// store does not know has none (the model then ranks by popularity).
func (s *ModelServer) fetchHistory(ctx context.Context, user int64) ([]int32, string, error) {
	if s.cfg.FeatureStoreURL == "" {
		return nil, "", errors.New("no feature store configured (FEATURE_STORE_URL) and the request has no history input")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FeatureTimeout)
	defer cancel()
	var f recsys.Features
	err := getJSON(ctx, s.client, "feature store", featuresURL(s.cfg.FeatureStoreURL, user), &f)
	var uerr *upstreamError
	switch {
	case err == nil:
		s.features.WithLabelValues("ok").Inc()
		return f.History, "feature-store", nil
	case errors.As(err, &uerr) && uerr.status == http.StatusNotFound:
		s.features.WithLabelValues("unknown-user").Inc()
		return nil, "none", nil
	}
	s.features.WithLabelValues("error").Inc()
	return nil, "", err
}

func featuresURL(base string, user int64) string {
	return strings.TrimRight(base, "/") + "/v1/users/" + strconv.FormatInt(user, 10) + "/features"
}
