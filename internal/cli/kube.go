package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/kube"
	"github.com/faultline-dev/faultline/internal/engine/local"
	"github.com/faultline-dev/faultline/internal/runner"
)

// loadKubeEnvironment reads the Environment of an -e/--environment file;
// it must be a kube environment (local environments are named with --env).
func loadKubeEnvironment(path string) (*v1alpha1.Environment, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usageErr("--environment: %v", err)
	}
	env, err := runner.EnvironmentFile(path)
	if errors.Is(err, runner.ErrNoEnvironment) {
		return nil, usageErr("--environment: %v", err)
	}
	if err != nil {
		return nil, &exitError{code: ExitInvalid, err: err}
	}
	if env.Spec.Kube == nil {
		return nil, usageErr("environment %s in %s is a local environment; -e takes a Kubernetes one (spec.kube). A local environment runs with 'faultline env up -f %s --detach' and is named with --env %s ('faultline recover' without -e recovers local environments)", env.Name, path, path, env.Name)
	}
	return env, nil
}

// newKubeEngine connects the Kubernetes engine to a kube environment's
// cluster; rng (nil: random) draws the selector modes' choices.
func newKubeEngine(env *v1alpha1.Environment, rng *mrand.Rand) (*kube.Engine, error) {
	cfg, err := kube.RESTConfig(env.Spec.Kube.Kubeconfig, env.Spec.Kube.Context)
	if err != nil {
		return nil, &exitError{code: ExitInvalid, err: fmt.Errorf("environment %s: %w", env.Name, err)}
	}
	opts := kube.OptionsFor(env.Name, env.Spec.Kube)
	opts.Rand = rng
	eng, err := kube.New(cfg, opts)
	if err != nil {
		return nil, &exitError{code: ExitInvalid, err: fmt.Errorf("environment %s: %w", env.Name, err)}
	}
	return eng, nil
}

func closeKubeEngine(eng *kube.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = eng.Close(ctx)
}

// runInjectKube is `faultline inject -e KUBE-ENV.yaml`: every fault is
// selected (and checked: opt-in, blast radius) before any is injected, then
// all are injected, their events printed as they happen, and held until
// their durations end or Ctrl-C reverts them.
func runInjectKube(ctx context.Context, stdio IO, faults []*injectFault, envFile, output string, dryRun bool, seed uint64) error {
	env, err := loadKubeEnvironment(envFile)
	if err != nil {
		return err
	}
	pcg := mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	eng, err := newKubeEngine(env, mrand.New(pcg))
	if err != nil {
		return err
	}
	defer closeKubeEngine(eng)
	if !dryRun {
		if rep, err := eng.Recover(ctx, kube.RecoverOptions{}); err != nil || len(rep.Injections) > 0 {
			printKubeRecover(stdio.Err, rep, err)
		}
	}
	rep := injectReport{Environment: env.Name, Seed: seed, DryRun: dryRun}
	done, err := selectAll(stdio, faults, output, rep, func(f *injectFault) (err error) {
		if f.fault.Namespace == "" {
			f.fault.Namespace = f.namespace
		}
		f.targets, err = eng.Select(ctx, f.fault)
		return err
	})
	if done {
		return err
	}
	// The selection above consumed random draws: start again from the
	// seed so the injection picks what the dry run with this seed shows.
	pcg.Seed(seed, seed^0x9e3779b97f4a7c15)
	return injectKubeAndFollow(ctx, stdio, eng, faults, output, rep)
}

func injectKubeAndFollow(ctx context.Context, stdio IO, eng *kube.Engine, faults []*injectFault, output string, rep injectReport) error {
	table := output == outTable
	var mu sync.Mutex
	if table {
		fmt.Fprintf(stdio.Err, "injecting %d %s into cluster environment %s (seed %d); Ctrl-C reverts\n", len(faults), pluralWord(len(faults), "fault", "faults"), rep.Environment, rep.Seed)
		printEventHeader(stdio.Out)
	}
	printEvents := func(f *injectFault, evs []engine.Event, from int) int {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs[from:] {
			if table {
				printEvent(stdio.Out, f, e)
			}
		}
		return len(evs)
	}
	sts := make([]*local.InjectionStatus, len(faults))
	errs := make([]error, len(faults))
	injs := make([]engine.Injection, len(faults))
	starts := make([]time.Time, len(faults))
	// Injected one after the other, in the order of the inputs, so the
	// seeded choices are the ones the dry run shows.
	for i, f := range faults {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		starts[i] = time.Now()
		injs[i], errs[i] = eng.Inject(ctx, f.fault)
	}
	var wg sync.WaitGroup
	for i, f := range faults {
		inj := injs[i]
		if inj == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := 0
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
		follow:
			for {
				seen = printEvents(f, inj.Events(), seen)
				select {
				case <-inj.Done():
					break follow
				case <-ctx.Done():
					rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), injectRevertTimeout)
					errs[i] = inj.Revert(rctx)
					cancel()
					break follow
				case <-tick.C:
				}
			}
			printEvents(f, inj.Events(), seen)
			sts[i] = &local.InjectionStatus{ID: inj.ID(), Kind: f.fault.Kind, Name: f.fault.Name, Duration: f.fault.Duration,
				Started: starts[i], Targets: inj.Targets(), Events: inj.Events(), Fidelity: inj.Fidelity(), Done: true}
			if errs[i] != nil {
				sts[i].Error = errs[i].Error()
			}
		}()
	}
	wg.Wait()
	rep.Interrupted = ctx.Err() != nil
	if rep.Interrupted && table {
		fmt.Fprintln(stdio.Err, "interrupted: every fault was reverted")
	}
	return finishInject(stdio, faults, sts, errs, output, rep)
}

// recoverKube is `faultline recover -e KUBE-ENV.yaml` (and `stop -e`, with
// all): it reverts the journaled injections in the cluster that nobody
// holds any more, or every one with all.
func recoverKube(ctx context.Context, stdio IO, envFile, output string, all bool) error {
	env, err := loadKubeEnvironment(envFile)
	if err != nil {
		return err
	}
	eng, err := newKubeEngine(env, nil)
	if err != nil {
		return err
	}
	defer closeKubeEngine(eng)
	rep, err := eng.Recover(ctx, kube.RecoverOptions{All: all})
	if rep == nil {
		return &exitError{code: ExitInvalid, err: fmt.Errorf("environment %s: %w", env.Name, err)}
	}
	if output != outTable {
		if werr := writeStructured(stdio.Out, output, rep); werr != nil {
			return werr
		}
	} else {
		printKubeRecover(stdio.Out, rep, nil)
	}
	if err != nil || !rep.OK() {
		if err != nil {
			fmt.Fprintln(stdio.Err, "error:", err)
		}
		return silentExit(ExitInvalid)
	}
	return nil
}

func printKubeRecover(w io.Writer, rep *kube.RecoverReport, err error) {
	if rep == nil {
		rep = &kube.RecoverReport{}
	}
	if len(rep.Injections) == 0 && len(rep.Errors) == 0 {
		fmt.Fprint(w, "nothing to recover in the cluster")
		if n := len(rep.Held); n > 0 {
			fmt.Fprintf(w, " (%d %s held by running faultline processes; --force reverts them too)", n, pluralWord(n, "fault", "faults"))
		}
		fmt.Fprintln(w)
	}
	for _, i := range rep.Injections {
		result := "reverted"
		if i.Error != "" {
			result = "NOT reverted: " + i.Error
		}
		fmt.Fprintf(w, "injection %s (%s %s): %s; %s\n", i.ID, i.Kind, i.Name, i.Reason, result)
		for _, s := range i.Steps {
			if s.Error != "" {
				fmt.Fprintf(w, "  %-14s failed: %s\n", s.Action, s.Error)
			} else {
				fmt.Fprintf(w, "  %-14s %s\n", s.Action, s.Message)
			}
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "journal lease unreadable: %s\n", e)
	}
	if len(rep.Injections) > 0 && len(rep.Held) > 0 {
		fmt.Fprintf(w, "%d %s held by running faultline processes left alone\n", len(rep.Held), pluralWord(len(rep.Held), "fault", "faults"))
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(w, "warning: recovery incomplete (run 'faultline recover -e ENV'): %v\n", err)
	}
}
