// Command recsys is faultline's demo: a distributed recommendation system
// in one binary (one build for every service of demo/environment.yaml).
//
//	recsys model build [--out models]   write recsys-v1.model, recsys-v2.model and the golden sets
//	recsys serve-model                  the OIP model server
//	recsys feature-store                the feature store
//	recsys gateway                      the user-facing API
//	recsys trainer                      the checkpointing trainer
//
// The servers are configured through the environment, as faultline's local
// environment (or a pod spec) sets it; see demo/README.md for every
// variable. Each listens on 127.0.0.1:$PORT and stops gracefully on
// SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/demo/recsys"
	"github.com/faultline-dev/faultline/demo/serving"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "recsys:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "recsys",
		Short:         "faultline's demo recommendation system",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	model := &cobra.Command{Use: "model", Short: "Build the demo's model files"}
	model.AddCommand(newBuild())
	root.AddCommand(model, newServeModel(), newFeatureStore(), newGateway(), newTrainer())
	return root
}

// env reads the environment of the servers, collecting every bad value so
// a misconfigured replica says everything that is wrong at once.
type env struct{ errs []error }

func (e *env) str(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func (e *env) int(name string, def int) int {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want an integer", name, v))
	}
	return n
}

func (e *env) uint(name string, def uint64) uint64 {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a non-negative integer", name, v))
	}
	return n
}

func (e *env) duration(name string, def time.Duration) time.Duration {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a duration such as 1500ms", name, v))
	}
	return d
}

func (e *env) err() error { return errors.Join(e.errs...) }

// dataConfig is the data set's configuration: the default, with DATA_SEED.
func (e *env) dataConfig() recsys.DataConfig {
	c := recsys.DefaultDataConfig()
	c.Seed = e.uint("DATA_SEED", c.Seed)
	return c
}

func newLogger(component string) *slog.Logger {
	l := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l = l.With("component", component)
	if r := os.Getenv("REPLICA_NAME"); r != "" {
		l = l.With("replica", r)
	}
	return l
}

// listen opens $POD_IP:$PORT — the replica's address, which faultline sets;
// 127.0.0.1 without it (LISTEN_HOST overrides both); PORT 0 or unset picks a
// free port, which is logged.
func listen(e *env, log *slog.Logger) (net.Listener, error) {
	port := e.int("PORT", 0)
	if port < 0 || port > 65535 {
		e.errs = append(e.errs, fmt.Errorf("PORT=%d: want 0 to 65535", port))
	}
	if err := e.err(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(e.str("LISTEN_HOST", e.str("POD_IP", "127.0.0.1")), strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String())
	return ln, nil
}

func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
}

func newBuild() *cobra.Command {
	var out string
	var users, k int
	var seed uint64
	c := &cobra.Command{
		Use:   "build",
		Short: "Train the demo's model versions and write them with the probe's golden sets",
		Long: `build generates the interaction set from --seed, trains every version
(v1: small and short, v2: the served model), and writes into --out:

  recsys-v1.model, recsys-v2.model   model files (header + checksum + payload)
  golden.golden                      golden set of v2: items and scores (compare: exact)
  golden-items.golden                golden set of v2: items only (compare: topk)

The same seed always writes the same bytes. The golden sets' extension is
not .json so that 'faultline validate -f demo/' does not take them for
manifests; their content is JSON, as the inference probe reads it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			cfg := recsys.DefaultDataConfig()
			cfg.Seed = seed
			d, err := recsys.Generate(cfg)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", out, err)
			}
			pop, err := recsys.EvaluatePopularity(d, 10)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "data: %d users, %d items, seed %d; popularity baseline %v\n", cfg.Users, cfg.Items, cfg.Seed, pop)
			var newest *recsys.Model
			for _, b := range recsys.Builds() {
				m, err := b.Run(d)
				if err != nil {
					return err
				}
				path := filepath.Join(out, recsys.FileName(b.Version))
				if err := m.WriteFile(path); err != nil {
					return err
				}
				e, err := recsys.Evaluate(m, d, 10)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s: %s, dims %d, %d steps, loss %.4f, %v, sha256 %s\n", b.Version, path, m.Header.Dims, m.Header.Step, m.Header.Loss, e, m.Header.SHA256[:16])
				newest = m
			}
			for _, g := range []struct {
				name   string
				scores bool
			}{{"golden.golden", true}, {"golden-items.golden", false}} {
				gs, err := recsys.GoldenSet(newest, d, recsys.GoldenUsers(d, users), k, g.scores)
				if err != nil {
					return err
				}
				data, err := json.MarshalIndent(gs, "", " ")
				if err != nil {
					return fmt.Errorf("encode golden set: %w", err)
				}
				path := filepath.Join(out, g.name)
				if err := recsys.WriteAtomic(path, append(data, '\n')); err != nil {
					return err
				}
				fmt.Fprintf(w, "golden set: %s, %d requests of the top %d (%s)\n", path, len(gs), k, newest.Header.Version)
			}
			fmt.Fprintf(w, "built in %v\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "models", "directory to write the model files and golden sets into")
	c.Flags().Uint64Var(&seed, "seed", recsys.DefaultDataConfig().Seed, "seed of the synthetic interaction set")
	c.Flags().IntVar(&users, "golden-users", 24, "number of users in the golden set")
	c.Flags().IntVar(&k, "k", 10, "length of each golden top-k list")
	return c
}

func newServeModel() *cobra.Command {
	return &cobra.Command{
		Use:   "serve-model",
		Short: "Serve the model over the Open Inference Protocol",
		Long: `Environment: PORT, MODEL_DIR (default models), MODEL_VERSION (default: the
newest file in MODEL_DIR), MODEL_LOAD_DELAY (default 1500ms), FEATURE_STORE_URL,
FEATURE_STORE_TIMEOUT (default 2s), REPLICA_NAME.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := newLogger("model-server")
			e := &env{}
			cfg := serving.ModelServerConfig{
				Dir:             e.str("MODEL_DIR", "models"),
				Version:         e.str("MODEL_VERSION", ""),
				LoadDelay:       e.duration("MODEL_LOAD_DELAY", 1500*time.Millisecond),
				FeatureStoreURL: e.str("FEATURE_STORE_URL", ""),
				FeatureTimeout:  e.duration("FEATURE_STORE_TIMEOUT", serving.DefaultFeatureTimeout),
				Replica:         os.Getenv("REPLICA_NAME"),
				Logger:          log,
			}
			ln, err := listen(e, log)
			if err != nil {
				return err
			}
			s, err := serving.NewModelServer(cfg)
			if err != nil {
				ln.Close()
				return err
			}
			if cfg.FeatureStoreURL == "" {
				log.Warn("FEATURE_STORE_URL is not set: only requests with a history input can be answered")
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			log.Info("loading model", "dir", cfg.Dir, "version", cfg.Version, "delay", cfg.LoadDelay)
			// The load runs beside the server so that liveness answers
			// (and readiness says "loading") while it takes its time.
			go func() { _ = s.Load(ctx) }()
			return serving.Serve(ctx, ln, s.Handler(), log)
		},
	}
}

func newFeatureStore() *cobra.Command {
	return &cobra.Command{
		Use:   "feature-store",
		Short: "Serve users' features",
		Long:  `Environment: PORT, DATA_SEED (default 7; must match the model's), REPLICA_NAME.`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := newLogger("feature-store")
			e := &env{}
			dc := e.dataConfig()
			ln, err := listen(e, log)
			if err != nil {
				return err
			}
			d, err := recsys.Generate(dc)
			if err != nil {
				ln.Close()
				return err
			}
			s := serving.NewFeatureStore(serving.FeatureStoreConfig{Data: d, Replica: os.Getenv("REPLICA_NAME"), Logger: log})
			ctx, stop := signalContext(cmd)
			defer stop()
			return serving.Serve(ctx, ln, s.Handler(), log)
		},
	}
}

func newGateway() *cobra.Command {
	return &cobra.Command{
		Use:   "gateway",
		Short: "Serve the user-facing recommendation API",
		Long:  `Environment: PORT, FEATURE_STORE_URL and MODEL_SERVER_URL (required), UPSTREAM_TIMEOUT (default 5s), REPLICA_NAME.`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := newLogger("gateway")
			e := &env{}
			cfg := serving.GatewayConfig{
				FeatureStoreURL: e.str("FEATURE_STORE_URL", ""),
				ModelServerURL:  e.str("MODEL_SERVER_URL", ""),
				Timeout:         e.duration("UPSTREAM_TIMEOUT", serving.DefaultUpstreamTimeout),
				Replica:         os.Getenv("REPLICA_NAME"),
				Logger:          log,
			}
			g, err := serving.NewGateway(cfg)
			if err != nil {
				return err
			}
			ln, err := listen(e, log)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			return serving.Serve(ctx, ln, g.Handler(), log)
		},
	}
}

func newTrainer() *cobra.Command {
	return &cobra.Command{
		Use:   "trainer",
		Short: "Train in steps with atomic checkpoints, resuming from the last good one",
		Long: `Environment: PORT, CHECKPOINT_DIR (default checkpoints), CHECKPOINT_EVERY
(default 20), CHECKPOINT_KEEP (default 3), TRAIN_STEPS (default 3000),
STEP_DELAY (default 20ms), LOG_EVERY (default 1), DATA_SEED, TRAIN_SEED.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := newLogger("trainer")
			e := &env{}
			train := recsys.DefaultTrainConfig()
			train.Seed = e.uint("TRAIN_SEED", train.Seed)
			cfg := serving.TrainerConfig{
				Dir:       e.str("CHECKPOINT_DIR", "checkpoints"),
				Every:     e.int("CHECKPOINT_EVERY", 20),
				Keep:      e.int("CHECKPOINT_KEEP", 3),
				Steps:     e.int("TRAIN_STEPS", 3000),
				StepDelay: e.duration("STEP_DELAY", 20*time.Millisecond),
				LogEvery:  e.int("LOG_EVERY", 1),
				Data:      e.dataConfig(),
				Train:     train,
				Logger:    log,
			}
			ln, err := listen(e, log)
			if err != nil {
				return err
			}
			t, err := serving.NewTrainer(cfg)
			if err != nil {
				ln.Close()
				return err
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			served := make(chan error, 1)
			go func() { served <- serving.Serve(ctx, ln, t.Handler(), log) }()
			if err := t.Run(ctx); err != nil {
				stop()
				<-served
				return err
			}
			// Done (or stopped): keep answering /status until stopped.
			return <-served
		},
	}
}
