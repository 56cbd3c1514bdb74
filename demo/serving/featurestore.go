package serving

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline-dev/faultline/demo/recsys"
)

// FeatureStoreConfig configures a FeatureStore.
type FeatureStoreConfig struct {
	// Data is what the store serves: the interaction set the model was
	// trained on. Required.
	Data *recsys.Dataset
	// Replica names this replica in X-Replica.
	Replica string
	// Logger; nil discards.
	Logger *slog.Logger
}

// FeatureStore serves users' features and item facts:
//
//	GET /v1/users/{id}/features  → recsys.Features, 404 for an unknown user
//	GET /v1/items/{id}           → {"item_id", "genre", "popularity"}
//	GET /healthz, /ready         → 200
//	GET /metrics                 → Prometheus
type FeatureStore struct {
	cfg      FeatureStoreConfig
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	handler  http.Handler
}

// NewFeatureStore builds a FeatureStore.
func NewFeatureStore(cfg FeatureStoreConfig) *FeatureStore {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &FeatureStore{cfg: cfg, reg: newRegistry()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "recsys_feature_store_requests_total", Help: "Feature store requests by route and status code.",
	}, []string{"route", "code"})
	s.reg.MustRegister(s.requests)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users/{id}/features", s.userFeatures)
	mux.HandleFunc("GET /v1/items/{id}", s.item)
	ok := func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /ready", ok)
	mux.Handle("GET /metrics", metricsHandler(s.reg))
	s.handler = withReplica(cfg.Replica, mux)
	return s
}

// Handler serves the store's routes.
func (s *FeatureStore) Handler() http.Handler { return s.handler }

func (s *FeatureStore) count(route string, code int) {
	s.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

func (s *FeatureStore) userFeatures(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.count("features", http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "user id %q is not an integer", r.PathValue("id"))
		return
	}
	f, ok := s.cfg.Data.Features(id)
	if !ok {
		s.count("features", http.StatusNotFound)
		writeError(w, http.StatusNotFound, "user %d is unknown (ids run from 0 to %d)", id, s.cfg.Data.Config.Users-1)
		return
	}
	s.count("features", http.StatusOK)
	writeJSON(w, http.StatusOK, f)
}

// ItemFacts is what the store knows about an item.
type ItemFacts struct {
	ItemID     int32  `json:"item_id"`
	Genre      string `json:"genre"`
	Popularity int    `json:"popularity"`
}

func (s *FeatureStore) item(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
	if err != nil {
		s.count("item", http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "item id %q is not an integer", r.PathValue("id"))
		return
	}
	d := s.cfg.Data
	if id < 0 || int(id) >= d.Config.Items {
		s.count("item", http.StatusNotFound)
		writeError(w, http.StatusNotFound, "item %d is unknown (ids run from 0 to %d)", id, d.Config.Items-1)
		return
	}
	s.count("item", http.StatusOK)
	writeJSON(w, http.StatusOK, ItemFacts{ItemID: int32(id), Genre: "genre-" + strconv.Itoa(d.ItemGenre[id]), Popularity: d.Popularity(int32(id))})
}
