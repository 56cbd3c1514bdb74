package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline-dev/faultline/demo/recsys"
)

// DefaultUpstreamTimeout bounds each of the gateway's upstream calls.
const DefaultUpstreamTimeout = 5 * time.Second

// GatewayConfig configures a Gateway.
type GatewayConfig struct {
	// FeatureStoreURL and ModelServerURL are the upstreams' base URLs.
	// Required.
	FeatureStoreURL, ModelServerURL string
	// Timeout bounds each upstream call. Default 5s.
	Timeout time.Duration
	// Replica names this replica in X-Replica.
	Replica string
	// Logger; nil discards.
	Logger *slog.Logger
}

// Gateway is the demo's user-facing API:
//
//	GET  /recommend?user=42[&k=10]     (or POST /recommend {"user": 42, "k": 10})
//	  → 200 {"user", "segment", "model_version", "replica", "items": [{"item", "score"}]}
//	GET  /healthz, /ready → 200
//	GET  /metrics         → Prometheus
//
// It fetches the user's features from the feature store (404 there is 404
// here), then asks the model server for the top k with the history as an
// input. An upstream failure is 502 (504 on a timeout) with the upstream
// named in the error, so a fault on either hop shows in the answer.
type Gateway struct {
	cfg      GatewayConfig
	log      *slog.Logger
	client   *http.Client
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	upstream *prometheus.HistogramVec
	handler  http.Handler
}

// NewGateway builds a Gateway.
func NewGateway(cfg GatewayConfig) (*Gateway, error) {
	for _, up := range []struct{ name, url string }{{"feature store", cfg.FeatureStoreURL}, {"model server", cfg.ModelServerURL}} {
		name, u := up.name, up.url
		p, err := url.Parse(u)
		if u == "" || err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("gateway: %s URL %q: want http://host:port", name, u)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultUpstreamTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, client: newUpstreamClient(), reg: newRegistry()}
	g.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "recsys_gateway_requests_total", Help: "Recommendation requests by status code."}, []string{"code"})
	g.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "recsys_gateway_upstream_seconds", Help: "Upstream call latency by upstream and outcome.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"upstream", "outcome"})
	g.reg.MustRegister(g.requests, g.upstream)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /recommend", g.recommend)
	mux.HandleFunc("POST /recommend", g.recommend)
	ok := func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /ready", ok)
	mux.Handle("GET /metrics", metricsHandler(g.reg))
	g.handler = withReplica(cfg.Replica, mux)
	return g, nil
}

// Handler serves the routes.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Recommendation is the gateway's answer.
type Recommendation struct {
	User         int64        `json:"user"`
	Segment      string       `json:"segment"`
	ModelVersion string       `json:"model_version"`
	Replica      string       `json:"replica,omitempty"`
	Items        []ScoredItem `json:"items"`
}

// ScoredItem is one recommended item.
type ScoredItem struct {
	Item  int64   `json:"item"`
	Score float32 `json:"score"`
}

type recommendRequest struct {
	User *int64 `json:"user"`
	K    *int   `json:"k"`
}

func (g *Gateway) recommend(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() { g.requests.WithLabelValues(strconv.Itoa(rec.status)).Inc() }()
	user, k, err := parseRecommend(r)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(rec, status, "%v", err)
		return
	}
	ans, err := g.answer(r.Context(), user, k)
	var uerr *upstreamError
	switch {
	case errors.As(err, &uerr) && uerr.status == http.StatusNotFound && uerr.service == "feature store":
		writeError(rec, http.StatusNotFound, "%v", err)
	case errors.As(err, &uerr) && uerr.status == http.StatusBadRequest && uerr.service == "model server":
		writeError(rec, http.StatusBadRequest, "%v", err)
	case errors.As(err, &uerr):
		g.log.Warn("upstream failed", "user", user, "err", err)
		writeError(rec, uerr.httpStatus(), "%v", err)
	case err != nil:
		writeError(rec, http.StatusInternalServerError, "%v", err)
	default:
		writeJSON(rec, http.StatusOK, ans)
	}
}

func parseRecommend(r *http.Request) (user int64, k int, err error) {
	k = DefaultTopK
	if r.Method == http.MethodPost {
		b, err := readBody(r)
		if err != nil {
			return 0, 0, err
		}
		var req recommendRequest
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return 0, 0, fmt.Errorf(`body: want {"user": <id>, "k": <n>}: %w`, err)
		}
		if req.User == nil {
			return 0, 0, errors.New(`body: "user" is required`)
		}
		user = *req.User
		if req.K != nil {
			k = *req.K
		}
	} else {
		q := r.URL.Query()
		if user, err = strconv.ParseInt(q.Get("user"), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("query parameter user=%q: want an integer user id", q.Get("user"))
		}
		if s := q.Get("k"); s != "" {
			if k, err = strconv.Atoi(s); err != nil {
				return 0, 0, fmt.Errorf("query parameter k=%q: want an integer", s)
			}
		}
	}
	if k < 1 || k > MaxTopK {
		return 0, 0, fmt.Errorf("k %d: want 1 to %d", k, MaxTopK)
	}
	return user, k, nil
}

// answer calls the feature store, then the model server.
func (g *Gateway) answer(ctx context.Context, user int64, k int) (*Recommendation, error) {
	fctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	var f recsys.Features
	start := time.Now()
	err := getJSON(fctx, g.client, "feature store", featuresURL(g.cfg.FeatureStoreURL, user), &f)
	g.observe("feature-store", start, err)
	if err != nil {
		return nil, err
	}
	history := make([]int64, len(f.History))
	for i, h := range f.History {
		history[i] = int64(h)
	}
	body, err := json.Marshal(InferRequest{
		ID:         "gateway-user-" + strconv.FormatInt(user, 10),
		Parameters: map[string]json.RawMessage{recsys.ParameterTopK: json.RawMessage(strconv.Itoa(k))},
		Inputs: []Tensor{
			{Name: recsys.InputUserID, Shape: []int64{1}, Datatype: "INT64", Data: []int64{user}},
			{Name: recsys.InputHistory, Shape: []int64{int64(len(history))}, Datatype: "INT64", Data: history},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encode infer request: %w", err)
	}
	mctx, cancel2 := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel2()
	req, err := http.NewRequestWithContext(mctx, http.MethodPost, strings.TrimRight(g.cfg.ModelServerURL, "/")+"/v2/models/"+recsys.ModelName+"/infer", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build infer request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var resp struct {
		ModelVersion string         `json:"model_version"`
		Parameters   map[string]any `json:"parameters"`
		Outputs      []outputTensor `json:"outputs"`
	}
	start = time.Now()
	err = doJSON(g.client, "model server", req, &resp)
	g.observe("model-server", start, err)
	if err != nil {
		return nil, err
	}
	var items []int64
	var scores []float32
	for _, o := range resp.Outputs {
		switch o.Name {
		case recsys.OutputItems:
			if err := json.Unmarshal(o.Data, &items); err != nil {
				return nil, &upstreamError{service: "model server", status: http.StatusOK, err: fmt.Errorf("output items: %w", err)}
			}
		case recsys.OutputScores:
			if err := json.Unmarshal(o.Data, &scores); err != nil {
				return nil, &upstreamError{service: "model server", status: http.StatusOK, err: fmt.Errorf("output scores: %w", err)}
			}
		}
	}
	if len(items) != len(scores) {
		return nil, &upstreamError{service: "model server", status: http.StatusOK, err: fmt.Errorf("answered %d items but %d scores", len(items), len(scores))}
	}
	out := &Recommendation{User: user, Segment: f.Segment, ModelVersion: resp.ModelVersion, Items: make([]ScoredItem, len(items))}
	if rep, ok := resp.Parameters["replica"].(string); ok {
		out.Replica = rep
	}
	for i := range items {
		out.Items[i] = ScoredItem{Item: items[i], Score: scores[i]}
	}
	return out, nil
}

type outputTensor struct {
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
}

func (g *Gateway) observe(upstream string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	g.upstream.WithLabelValues(upstream, outcome).Observe(time.Since(start).Seconds())
}
