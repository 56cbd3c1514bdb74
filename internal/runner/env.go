package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
	"github.com/faultline-dev/faultline/internal/manifest"
)

// environment is where a run's targets live, ready for faults and load.
type environment struct {
	engine engine.Engine
	// resolve maps a service name to its gateway's base URL.
	resolve func(service string) (string, error)
	// services names every service (cmd probes get each one's URL).
	services []string
	// waitReady blocks until every replica is ready again (between repeats).
	waitReady func(ctx context.Context) error
	close     func(ctx context.Context) error
}

// loadEnvironment reads the Environment manifest an experiment names.
func loadEnvironment(ref *v1alpha1.ExperimentEnvironment, baseDir string) (*v1alpha1.Environment, string, error) {
	if ref == nil {
		return nil, "", errors.New("the experiment names no environment; set spec.environment")
	}
	if ref.File == "" {
		env := &v1alpha1.Environment{
			TypeMeta:   v1alpha1.TypeMeta{APIVersion: v1alpha1.FaultlineAPIVersion, Kind: "Environment"},
			ObjectMeta: v1alpha1.ObjectMeta{Name: ref.Name},
			Spec:       ref.EnvironmentSpec,
		}
		if env.Name == "" {
			env.Name = "inline"
		}
		return env, baseDir, nil
	}
	objs, dir, err := loadManifests(baseDir, ref.File, "environment")
	if err != nil {
		return nil, "", err
	}
	for _, o := range objs {
		if env, ok := o.(*v1alpha1.Environment); ok {
			return env, dir, nil
		}
	}
	return nil, "", fmt.Errorf("environment file %s: %w", ref.File, ErrNoEnvironment)
}

// ErrNoEnvironment: a manifest file named as an environment holds none.
var ErrNoEnvironment = errors.New("the file holds no Environment")

// EnvironmentFile reads the Environment a manifest file holds. An invalid
// file is an error carrying every diagnostic (file:line:col).
func EnvironmentFile(path string) (*v1alpha1.Environment, error) {
	env, _, err := loadEnvironment(&v1alpha1.ExperimentEnvironment{File: path}, ".")
	return env, err
}

// loadManifests reads a manifest file named relative to dir (the
// experiment's directory) and returns its objects and its own directory.
// An invalid file is an error carrying every diagnostic.
func loadManifests(dir, file, what string) ([]v1alpha1.Object, string, error) {
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	srcs, err := manifest.ReadSources([]string{path}, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	res := manifest.Load(srcs)
	if res.Diagnostics.HasErrors() {
		return nil, "", fmt.Errorf("%s file %s is invalid:\n%w", what, file, res.Diagnostics)
	}
	objs := make([]v1alpha1.Object, len(res.Documents))
	for i, d := range res.Documents {
		objs[i] = d.Object
	}
	return objs, filepath.Dir(path), nil
}

// needsNamespaces reports whether one of the experiment's faults runs on
// the packet network backend. Files that cannot be read are skipped here:
// the run reports them when it reaches them.
func needsNamespaces(exp *v1alpha1.Experiment, opts Options) bool {
	for _, c := range experimentChaos(exp, opts.BaseDir) {
		if c.err == nil && local.NeedsNamespaces(c.fault, opts.NetworkBackend) {
			return true
		}
	}
	return false
}

// startEnvironment starts (or attaches to) the experiment's environment.
func startEnvironment(ctx context.Context, exp *v1alpha1.Experiment, opts Options) (*environment, error) {
	ref := exp.Spec.Environment
	if ref != nil && ref.Attach {
		return attachEnvironment(ctx, ref, opts)
	}
	env, dir, err := loadEnvironment(ref, opts.BaseDir)
	if err != nil {
		return nil, err
	}
	if env.Spec.Kube != nil {
		return startKubeEnvironment(ctx, env, opts)
	}
	sopts := opts.Supervisor
	sopts.StateDir = opts.StateDir
	if needsNamespaces(exp, opts) {
		// The packet backend acts on each replica's own network
		// namespace: they are made when the replicas start.
		sopts.NetworkNamespaces = true
	}
	if sopts.BaseDir == "" {
		sopts.BaseDir = dir
	}
	sup, err := local.New(env, sopts)
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	if err := sup.Start(ctx); err != nil {
		return nil, fmt.Errorf("start environment %s: %w", env.Name, err)
	}
	shutdown := func(ctx context.Context) error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		return sup.Shutdown(sctx)
	}
	rctx, cancel := context.WithTimeout(ctx, opts.readyTimeout())
	defer cancel()
	if err := sup.WaitReady(rctx); err != nil {
		_ = shutdown(ctx)
		return nil, fmt.Errorf("environment %s did not become ready within %s: %w", env.Name, opts.readyTimeout(), err)
	}
	eng, err := local.NewEngine(sup, local.EngineOptions{Rand: opts.rand(), NetworkBackend: opts.NetworkBackend})
	if err != nil {
		_ = shutdown(ctx)
		return nil, err
	}
	var services []string
	for _, s := range sup.Status().Services {
		services = append(services, s.Name)
	}
	return &environment{
		engine:   eng,
		services: services,
		resolve: func(service string) (string, error) {
			addr, err := sup.GatewayAddr(service)
			if err != nil {
				return "", err
			}
			return "http://" + addr, nil
		},
		waitReady: func(ctx context.Context) error {
			rctx, cancel := context.WithTimeout(ctx, opts.readyTimeout())
			defer cancel()
			return sup.WaitReady(rctx)
		},
		close: func(ctx context.Context) error {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			errE := eng.Close(cctx)
			return errors.Join(errE, shutdown(ctx))
		},
	}, nil
}

// attachEnvironment uses an environment already running under a detached
// supervisor (`faultline env up --detach`), through its control socket.
func attachEnvironment(ctx context.Context, ref *v1alpha1.ExperimentEnvironment, opts Options) (*environment, error) {
	name := ref.Name
	if name == "" && ref.File != "" {
		env, _, err := loadEnvironment(ref, opts.BaseDir)
		if err != nil {
			return nil, err
		}
		name = env.Name
	}
	stateDir := opts.StateDir
	if stateDir == "" {
		stateDir = engine.StateDir()
	}
	if name == "" {
		envs, err := local.ListEnvironments(stateDir)
		if err != nil {
			return nil, err
		}
		var running []string
		for _, e := range envs {
			if e.Running {
				running = append(running, e.Name)
			}
		}
		if len(running) != 1 {
			return nil, fmt.Errorf("attach: name the environment (running: %s)", strings.Join(running, ", "))
		}
		name = running[0]
	}
	client, err := local.Dial(stateDir, name)
	if err != nil {
		return nil, fmt.Errorf("attach to environment %s: %w (start it with `faultline env up --detach`)", name, err)
	}
	st, err := client.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("attach to environment %s: %w", name, err)
	}
	gateways := map[string]string{}
	var services []string
	for _, s := range st.Services {
		gateways[s.Name] = s.Gateway
		services = append(services, s.Name)
	}
	return &environment{
		engine:   local.NewRemoteEngine(client).WithNetworkBackend(opts.NetworkBackend),
		services: services,
		resolve: func(service string) (string, error) {
			addr, ok := gateways[service]
			if !ok || addr == "" {
				return "", fmt.Errorf("environment %s has no service %q", name, service)
			}
			return "http://" + addr, nil
		},
		waitReady: func(context.Context) error { return nil },
		close:     func(context.Context) error { return nil },
	}, nil
}

// resolveTarget turns a load or probe target (a service name or a URL)
// into a base URL.
func (e *environment) resolveTarget(target string) (string, error) {
	if strings.Contains(target, "://") {
		return strings.TrimRight(target, "/"), nil
	}
	return e.resolve(target)
}

// readFileFrom returns a reader of files relative to dir.
func readFileFrom(dir string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return os.ReadFile(p)
	}
}
