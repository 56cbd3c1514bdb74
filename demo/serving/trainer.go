package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline-dev/faultline/demo/recsys"
)

// TrainerConfig configures a Trainer.
type TrainerConfig struct {
	// Dir holds the checkpoints (CHECKPOINT_DIR). Required; created.
	Dir string
	// Every is the number of steps between checkpoints. Default 20.
	Every int
	// Keep is the number of checkpoints kept. Default 3.
	Keep int
	// Steps is the number of steps to train in all; the trainer then idles,
	// done. Default 3000.
	Steps int
	// StepDelay paces the steps, so that a run lasts long enough to be
	// killed mid-way (a real step would be a real batch). Default 0.
	StepDelay time.Duration
	// LogEvery logs every n-th step's loss. Default 1.
	LogEvery int
	// Data and Train are the data and training configuration; a
	// checkpoint of another configuration is refused.
	Data  recsys.DataConfig
	Train recsys.TrainConfig
	// Logger; nil discards.
	Logger *slog.Logger
}

// TrainerStatus is the answer of GET /status.
type TrainerStatus struct {
	Step  int     `json:"step"`
	Loss  float64 `json:"loss"`
	Steps int     `json:"steps"`
	Done  bool    `json:"done"`
	// ResumedFrom is the step of the checkpoint this process resumed from;
	// null when it started from scratch.
	ResumedFrom *int `json:"resumedFrom"`
	// ResumedFromFile is that checkpoint's path.
	ResumedFromFile string `json:"resumedFromFile,omitempty"`
	// Skipped are the checkpoints refused at start (corrupt), with why.
	Skipped []string `json:"skipped,omitempty"`
	// LastCheckpoint is the step of the newest checkpoint this process
	// wrote; null before the first.
	LastCheckpoint *int `json:"lastCheckpoint"`
}

// Trainer is the demo's training job as a service:
//
//	GET /healthz → 200
//	GET /ready   → 200 once resumed (or started fresh)
//	GET /status  → TrainerStatus
//	GET /metrics → Prometheus
//
// Run resumes from the newest checkpoint in Dir that verifies, logging and
// skipping corrupt ones, then trains step by step, writing an atomic
// checkpoint every Every steps and one more when it is stopped gracefully.
// Every step's loss is logged as `msg=step step=N loss=L`.
type Trainer struct {
	cfg     TrainerConfig
	log     *slog.Logger
	reg     *prometheus.Registry
	handler http.Handler

	mu     sync.Mutex
	status TrainerStatus
	ready  bool

	stepGauge, lossGauge prometheus.Gauge
	checkpoints          prometheus.Counter
	skipped              prometheus.Counter
}

// NewTrainer builds a Trainer; Run does the work.
func NewTrainer(cfg TrainerConfig) (*Trainer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("trainer: no checkpoint directory")
	}
	if cfg.Every <= 0 {
		cfg.Every = 20
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 3
	}
	if cfg.Steps <= 0 {
		cfg.Steps = 3000
	}
	if cfg.LogEvery <= 0 {
		cfg.LogEvery = 1
	}
	if cfg.StepDelay < 0 {
		return nil, fmt.Errorf("trainer: step delay %v is negative", cfg.StepDelay)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Trainer{cfg: cfg, log: cfg.Logger, reg: newRegistry()}
	t.status.Steps = cfg.Steps
	t.stepGauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "recsys_trainer_step", Help: "Training steps taken."})
	t.lossGauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "recsys_trainer_loss", Help: "The last step's mean BPR loss."})
	t.checkpoints = prometheus.NewCounter(prometheus.CounterOpts{Name: "recsys_trainer_checkpoints_total", Help: "Checkpoints written by this process."})
	t.skipped = prometheus.NewCounter(prometheus.CounterOpts{Name: "recsys_trainer_corrupt_checkpoints_total", Help: "Corrupt checkpoints skipped at start."})
	t.reg.MustRegister(t.stepGauge, t.lossGauge, t.checkpoints, t.skipped)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) })
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		ready := t.ready
		t.mu.Unlock()
		if !ready {
			writeError(w, http.StatusServiceUnavailable, "trainer is still looking for a checkpoint")
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, t.Status()) })
	mux.Handle("GET /metrics", metricsHandler(t.reg))
	t.handler = mux
	return t, nil
}

// Handler serves the routes.
func (t *Trainer) Handler() http.Handler { return t.handler }

// Status is a copy of the trainer's status.
func (t *Trainer) Status() TrainerStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.status
	s.Skipped = append([]string(nil), s.Skipped...)
	return s
}

// Run trains until Steps are done or ctx is cancelled; on cancellation it
// writes a last checkpoint (a graceful stop loses nothing) and returns nil.
func (t *Trainer) Run(ctx context.Context) error {
	if err := os.MkdirAll(t.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	data, err := recsys.Generate(t.cfg.Data)
	if err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	ckpt, path, skipped, err := recsys.LatestCheckpoint(t.cfg.Dir)
	if err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	var notes []string
	for _, s := range skipped {
		t.log.Warn("skipping corrupt checkpoint", "path", s.Path, "err", s.Err)
		notes = append(notes, s.Path+": "+s.Err.Error())
		t.skipped.Inc()
	}
	var tr *recsys.Trainer
	var resumed *int
	if ckpt != nil {
		if tr, err = recsys.Resume(data, t.cfg.Train, ckpt); err != nil {
			return fmt.Errorf("trainer: resume from %s: %w", path, err)
		}
		step := tr.StepCount()
		resumed = &step
	} else if tr, err = recsys.NewTrainer(data, t.cfg.Train); err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	t.mu.Lock()
	t.status.Step, t.status.Loss, t.status.ResumedFrom, t.status.Skipped = tr.StepCount(), tr.Loss(), resumed, notes
	if resumed != nil {
		t.status.ResumedFromFile = path
	}
	t.status.Done = tr.StepCount() >= t.cfg.Steps
	t.ready = true
	t.mu.Unlock()
	// Logged once /status says the same: a reader of the log can rely on it.
	if resumed != nil {
		t.log.Info("resumed from checkpoint", "path", path, "step", *resumed, "loss", tr.Loss())
	} else {
		t.log.Info("no checkpoint; training from scratch", "dir", t.cfg.Dir)
	}
	t.stepGauge.Set(float64(tr.StepCount()))
	t.lossGauge.Set(tr.Loss())

	lastSaved := tr.StepCount()
	var tick *time.Ticker
	if t.cfg.StepDelay > 0 {
		tick = time.NewTicker(t.cfg.StepDelay)
		defer tick.Stop()
	}
	for tr.StepCount() < t.cfg.Steps {
		if tick != nil {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		loss := tr.Step()
		step := tr.StepCount()
		if step%t.cfg.LogEvery == 0 {
			t.log.Info("step", "step", step, "loss", loss)
		}
		t.mu.Lock()
		t.status.Step, t.status.Loss = step, loss
		t.mu.Unlock()
		t.stepGauge.Set(float64(step))
		t.lossGauge.Set(loss)
		if step%t.cfg.Every == 0 || step == t.cfg.Steps {
			if err := t.save(tr); err != nil {
				return err
			}
			lastSaved = step
		}
	}
	if tr.StepCount() > lastSaved {
		// Stopped gracefully between checkpoints: keep the progress.
		if err := t.save(tr); err != nil {
			return err
		}
	}
	t.mu.Lock()
	t.status.Done = tr.StepCount() >= t.cfg.Steps
	t.mu.Unlock()
	if tr.StepCount() >= t.cfg.Steps {
		t.log.Info("training done", "step", tr.StepCount(), "loss", tr.Loss())
	}
	return nil
}

func (t *Trainer) save(tr *recsys.Trainer) error {
	path, err := recsys.WriteCheckpoint(t.cfg.Dir, tr)
	if err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	if err := recsys.PruneCheckpoints(t.cfg.Dir, t.cfg.Keep); err != nil {
		t.log.Warn("pruning checkpoints failed", "err", err)
	}
	step := tr.StepCount()
	t.mu.Lock()
	t.status.LastCheckpoint = &step
	t.mu.Unlock()
	t.checkpoints.Inc()
	t.log.Info("checkpoint written", "path", path, "step", step, "loss", tr.Loss())
	return nil
}
