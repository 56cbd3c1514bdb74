package cli

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
)

// injectRevertTimeout bounds the wait for the supervisor to revert on
// Ctrl-C: far above the second a revert takes, so that only a hung
// supervisor hits it.
const injectRevertTimeout = 30 * time.Second

// injectFault is one chaos object of the -f inputs.
type injectFault struct {
	where     string // file:line
	fault     engine.Fault
	namespace string
	req       local.InjectRequest
	targets   []engine.Target
}

// injectReport is the -o json|yaml form of `faultline inject`.
type injectReport struct {
	Environment string `json:"environment"`
	Seed        uint64 `json:"seed"`
	DryRun      bool   `json:"dryRun"`
	// Faults lists the targets of each fault (--dry-run).
	Faults []dryRunFault `json:"faults,omitempty"`
	// Injections are the final statuses: targets, events, fidelity.
	Injections []local.InjectionStatus `json:"injections,omitempty"`
	// Interrupted is true when SIGINT or SIGTERM reverted the faults early.
	Interrupted bool `json:"interrupted,omitempty"`
}

type dryRunFault struct {
	Kind    string          `json:"kind"`
	Name    string          `json:"name"`
	Targets []engine.Target `json:"targets"`
}

func newInjectCmd(stdio IO) *cobra.Command {
	var ff fileFlags
	var envName, envFile, output string
	var dryRun bool
	var seed uint64
	var backend string
	c := &cobra.Command{
		Use:   "inject -f FAULT.yaml [--env NAME | -e KUBE-ENV.yaml]",
		Short: "Inject chaos objects into a running local environment or a cluster",
		Long: `Inject every chaos object (PodChaos, StressChaos, NodeChaos, ScaleChaos …)
of the -f inputs into a running local environment, hold each for its
duration, then revert it. Events are printed per target as they happen
(Injected, Recovered, Failed, like Chaos Mesh records), and what each fault
actually did next to what was asked (the fidelity table) at the end.

Every fault is checked first — selector, mode, kind, containers — and if
any is refused nothing is injected. --dry-run prints the exact targets and
stops there; the seed (--seed, else a random one, printed) makes the choice
of modes like one or fixed reproducible: the same seed on the same
environment picks the same targets.

NetworkChaos runs on the proxy backend (delay, bandwidth, partition on the
environment's hops, unprivileged) or the packet backend (loss, duplicate,
corrupt with nftables, root); --network-backend auto picks per action, proxy
or packet forces one, and an action the forced backend cannot honour is
refused, naming the backend that can.

With -e KUBE-ENV.yaml (an Environment with spec.kube) the faults go to that
cluster through the Kubernetes engine, with its safety checks: opted-in
namespaces only, the blast-radius caps, a journal Lease per injection
('faultline recover -e KUBE-ENV.yaml' reverts a crashed run's faults).
--dry-run lists the exact pods (or nodes) each fault would hit.

SIGINT or SIGTERM (Ctrl-C) reverts every fault at once; the exit status is
0 once they are reverted. Orphans of a crashed faultline are recovered
first (see 'faultline recover').
Exit status: 0 every fault ran and was reverted, 1 a fault was refused or
failed, 2 usage error.`,
		Example: `  faultline inject -f pod-kill.yaml
  faultline inject -f faults/ --env shop --dry-run --seed 7
  faultline inject -f stress.yaml -o json
  faultline inject -f pod-kill.yaml -e demo/kube/environment.yaml --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			var seedp *uint64
			if c.Flags().Changed("seed") {
				seedp = &seed
			}
			nb, err := local.ParseNetworkBackend(backend)
			if err != nil {
				return usageErr("--network-backend: %v", err)
			}
			if envFile != "" {
				if envName != "" {
					return usageErr("--env names a local environment and -e a cluster's Environment file: give one")
				}
				faults, err := loadFaults(stdio, &ff)
				if err != nil {
					return err
				}
				s := randomSeed()
				if seedp != nil {
					s = *seedp
				}
				return runInjectKube(c.Context(), stdio, faults, envFile, output, dryRun, s)
			}
			return runInject(c.Context(), stdio, &ff, envName, output, dryRun, seedp, nb)
		},
	}
	ff.add(c)
	addOutputFlag(c, &output)
	c.Flags().StringVar(&envName, "env", "", "environment to inject into (default: the only one running)")
	c.Flags().StringVarP(&envFile, "environment", "e", "", "a kube Environment file: inject into that cluster instead of a local environment")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "list the targets each fault would hit, inject nothing")
	c.Flags().Uint64Var(&seed, "seed", 0, "seed of the random target choice (default: random, printed)")
	c.Flags().StringVar(&backend, "network-backend", "auto", "where NetworkChaos runs: auto, proxy (unprivileged, per hop) or packet (root, nftables)")
	return c
}

func runInject(ctx context.Context, stdio IO, ff *fileFlags, envName, output string, dryRun bool, seedp *uint64, networkBackend string) error {
	faults, err := loadFaults(stdio, ff)
	if err != nil {
		return err
	}
	stateDir := engine.StateDir()
	// A crashed faultline's faults are reverted before new ones go in.
	if rep, err := local.Recover(ctx, stateDir, local.RecoverOptions{}); len(rep.Injections)+len(rep.Environments) > 0 || err != nil {
		printRecoverSummary(stdio.Err, rep, err)
	}
	client, env, err := dialEnvironment(stateDir, envName)
	if err != nil {
		return &exitError{code: ExitInvalid, err: err}
	}
	defer client.Close()

	seed := randomSeed()
	if seedp != nil {
		seed = *seedp
	}
	// Every fault is checked (and its targets chosen) before any is
	// injected: one bad fault means nothing is injected.
	rep := injectReport{Environment: env, Seed: seed, DryRun: dryRun}
	done, err := selectAll(stdio, faults, output, rep, func(f *injectFault) (err error) {
		f.req, err = local.NewInjectRequestWith(f.fault, local.InjectOptions{Namespace: f.namespace, Seed: &seed, NetworkBackend: networkBackend})
		if err == nil {
			f.targets, err = client.DryRun(ctx, f.req)
		}
		return err
	})
	if done {
		return err
	}
	return injectAndFollow(ctx, stdio, client, faults, output, rep)
}

// selectAll chooses every fault's targets with sel before any fault is
// injected: one refused fault means nothing is injected (exit 1). With
// rep.DryRun it prints the targets and is done; done is false when the
// caller goes on to inject.
func selectAll(stdio IO, faults []*injectFault, output string, rep injectReport, sel func(*injectFault) error) (done bool, err error) {
	var problems []string
	for _, f := range faults {
		if err := sel(f); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s", f.where, err))
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stdio.Err, "error:", p)
		}
		fmt.Fprintln(stdio.Err, "nothing was injected")
		return true, silentExit(ExitInvalid)
	}
	if !rep.DryRun {
		return false, nil
	}
	for _, f := range faults {
		rep.Faults = append(rep.Faults, dryRunFault{Kind: f.fault.Kind, Name: f.fault.Name, Targets: f.targets})
	}
	if output != outTable {
		return true, writeStructured(stdio.Out, output, rep)
	}
	printDryRun(stdio, rep)
	return true, nil
}

// loadFaults reads the -f inputs and keeps their chaos objects; invalid
// manifests and objects that are not faults are refused (exit 1).
func loadFaults(stdio IO, ff *fileFlags) ([]*injectFault, error) {
	res, err := ff.load(stdio)
	if err != nil {
		return nil, err
	}
	for _, x := range res.Diagnostics {
		fmt.Fprintln(stdio.Err, x.String())
	}
	if res.Diagnostics.HasErrors() {
		fmt.Fprintln(stdio.Err, "nothing was injected")
		return nil, silentExit(ExitInvalid)
	}
	var faults []*injectFault
	var problems []string
	for _, d := range res.Documents {
		where := fmt.Sprintf("%s:%d", d.File, d.Pos.Line)
		f, ok := engine.FaultFromObject(d.Object)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: %s %s is not a fault; 'faultline inject' takes chaos objects (PodChaos, StressChaos, NodeChaos, ScaleChaos, …); run experiments and workflows with 'faultline run'",
				where, d.Kind(), d.Name()))
			continue
		}
		faults = append(faults, &injectFault{where: where, fault: f, namespace: d.Object.GetObjectMeta().Namespace})
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stdio.Err, "error:", p)
		}
		fmt.Fprintln(stdio.Err, "nothing was injected")
		return nil, silentExit(ExitInvalid)
	}
	if len(faults) == 0 {
		return nil, &exitError{code: ExitInvalid, err: errors.New("the given manifests hold no chaos object to inject")}
	}
	return faults, nil
}

// dialEnvironment connects to the named environment's supervisor, or to
// the only one running when no name is given.
func dialEnvironment(stateDir, name string) (*local.Client, string, error) {
	if name != "" {
		c, err := local.Dial(stateDir, name)
		if err != nil {
			return nil, "", err
		}
		return c, name, nil
	}
	running, err := runningEnvironments(stateDir)
	if err != nil {
		return nil, "", err
	}
	switch len(running) {
	case 0:
		return nil, "", fmt.Errorf("no local environment is running in %s; start one with 'faultline env up -f ENV.yaml --detach'", stateDir)
	case 1:
		c, err := local.Dial(stateDir, running[0])
		if err != nil {
			return nil, "", err
		}
		return c, running[0], nil
	}
	return nil, "", fmt.Errorf("%d environments are running (%s); choose one with --env", len(running), strings.Join(running, ", "))
}

func runningEnvironments(stateDir string) ([]string, error) {
	envs, err := local.ListEnvironments(stateDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range envs {
		if e.Running {
			out = append(out, e.Name)
		}
	}
	return out, nil
}

func printDryRun(stdio IO, rep injectReport) {
	tw := newTable(stdio.Out)
	fmt.Fprintln(tw, "FAULT\tNAME\tNAMESPACE\tNODE")
	for _, f := range rep.Faults {
		for _, t := range f.Targets {
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\n", f.Kind, f.Name, t.Name, dash(t.Namespace), dash(t.Node))
		}
	}
	tw.Flush()
	fmt.Fprintf(stdio.Err, "dry run on environment %s, seed %d: nothing injected (--seed %d picks these targets again)\n", rep.Environment, rep.Seed, rep.Seed)
}

// injectAndFollow injects every fault at once, prints their events as they
// arrive and the fidelity table at the end. SIGINT/SIGTERM (ctx) reverts
// them all and waits until they are reverted.
func injectAndFollow(ctx context.Context, stdio IO, client *local.Client, faults []*injectFault, output string, rep injectReport) error {
	table := output == outTable
	var mu sync.Mutex // serialises output and the fields below
	ids := make([]string, len(faults))
	finals := make([]*local.InjectionStatus, len(faults))
	errs := make([]error, len(faults))
	if table {
		fmt.Fprintf(stdio.Err, "injecting %d %s into environment %s (seed %d); Ctrl-C reverts\n", len(faults), pluralWord(len(faults), "fault", "faults"), rep.Environment, rep.Seed)
		printEventHeader(stdio.Out)
	}
	// The streams do not end with ctx: on a signal the faults are reverted
	// explicitly, and the streams then end with their final status.
	streams, cancelStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStreams()
	var wg sync.WaitGroup
	for i, f := range faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := client.Inject(streams, f.req, func(l local.InjectStreamLine) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case l.Injection != nil:
					ids[i] = l.Injection.ID
				case l.Event != nil && table:
					e := l.Event
					printEvent(stdio.Out, f, *e)
				}
			})
			mu.Lock()
			finals[i], errs[i] = st, err
			mu.Unlock()
		}()
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()
	select {
	case <-allDone:
	case <-ctx.Done():
		rep.Interrupted = true
		if table {
			fmt.Fprintln(stdio.Err, "interrupted: reverting every fault")
		}
		revertAll(client, &mu, ids)
		select {
		case <-allDone:
		case <-time.After(injectRevertTimeout):
			// Closing the streams makes the supervisor revert on its own.
			cancelStreams()
			<-allDone
		}
	}

	sts := make([]*local.InjectionStatus, len(faults))
	for i := range faults {
		if errs[i] == nil {
			sts[i] = finals[i]
		}
	}
	return finishInject(stdio, faults, sts, errs, output, rep)
}

func printEventHeader(w io.Writer) {
	fmt.Fprintf(w, "%-12s  %-28s  %-20s  %-9s  %s\n", "TIME", "FAULT", "TARGET", "EVENT", "MESSAGE")
}

// printEvent prints one per-target event of a fault as it happens.
func printEvent(w io.Writer, f *injectFault, e engine.Event) {
	fmt.Fprintf(w, "%-12s  %-28s  %-20s  %-9s  %s\n", e.Time.Local().Format("15:04:05.000"),
		f.fault.Kind+"/"+f.fault.Name, dash(e.Target), e.Type, e.Message)
}

// finishInject reports how each fault ended — an error for a fault that
// could not be injected, failed, or failed on some targets (a CI gate must
// see those) — then the fidelity table or the structured report. sts[i] is
// nil when fault i never started; errs[i] says why.
func finishInject(stdio IO, faults []*injectFault, sts []*local.InjectionStatus, errs []error, output string, rep injectReport) error {
	failed := false
	for i, f := range faults {
		if sts[i] == nil {
			failed = true
			fmt.Fprintf(stdio.Err, "error: %s: %s %s: %v\n", f.where, f.fault.Kind, f.fault.Name, errs[i])
			continue
		}
		rep.Injections = append(rep.Injections, *sts[i])
		if sts[i].Error != "" {
			failed = true
			fmt.Fprintf(stdio.Err, "error: %s: %s\n", f.where, sts[i].Error)
			continue
		}
		for _, e := range sts[i].Events {
			if e.Type == engine.EventFailed {
				failed = true
				fmt.Fprintf(stdio.Err, "error: %s: %s %s: target %s: %s\n", f.where, f.fault.Kind, f.fault.Name, e.Target, e.Message)
			}
		}
	}
	if output == outTable {
		printFidelity(stdio.Out, rep.Injections)
	} else if err := writeStructured(stdio.Out, output, rep); err != nil {
		return err
	}
	if failed {
		return silentExit(ExitInvalid)
	}
	return nil
}

// revertAll asks the supervisor to revert every injection whose id is
// known; one whose stream has not begun yet ends when its stream is cut.
func revertAll(client *local.Client, mu *sync.Mutex, ids []string) {
	mu.Lock()
	known := append([]string(nil), ids...)
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), injectRevertTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range known {
		if id == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = client.RevertInjection(ctx, id)
		}()
	}
	wg.Wait()
}

func printFidelity(w io.Writer, sts []local.InjectionStatus) {
	n := 0
	for _, st := range sts {
		n += len(st.Fidelity)
	}
	if n == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := newTable(w)
	fmt.Fprintln(tw, "FAULT\tTARGET\tQUANTITY\tASKED\tMEASURED")
	for _, st := range sts {
		for _, f := range st.Fidelity {
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\n", st.Kind, st.Name, dash(f.Target), f.Quantity, f.Asked, f.Measured)
		}
	}
	tw.Flush()
}

func newStopCmd(stdio IO) *cobra.Command {
	var envName, output, envFile string
	c := &cobra.Command{
		Use:   "stop [--env NAME | -e KUBE-ENV.yaml]",
		Short: "Revert every active fault at once",
		Long: `Revert every fault active in a running local environment — or in every
running environment when none is named — at once; the local engine does it
in well under a second. The 'faultline inject' commands holding the faults
print their Recovered events and end.

With -e KUBE-ENV.yaml it stops every fault journaled in that cluster,
whoever holds it (like 'faultline recover --force -e'): each is undone and
its journal Lease deleted.
Exit status: 0 everything was reverted, 1 something could not be (see
'faultline recover').`,
		Example: `  faultline stop
  faultline stop --env shop
  faultline stop -e demo/kube/environment.yaml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if envFile != "" {
				if envName != "" {
					return usageErr("--env names a local environment and -e a cluster's Environment file: give one")
				}
				return recoverKube(c.Context(), stdio, envFile, output, true)
			}
			return runStop(c.Context(), stdio, envName, output)
		},
	}
	addOutputFlag(c, &output)
	c.Flags().StringVar(&envName, "env", "", "environment to stop the faults of (default: every running one)")
	c.Flags().StringVarP(&envFile, "environment", "e", "", "a kube Environment file: stop every fault journaled in that cluster")
	return c
}

type stopResult struct {
	Environment string   `json:"environment"`
	Reverted    int      `json:"reverted"`
	Errors      []string `json:"errors,omitempty"`
}

func runStop(ctx context.Context, stdio IO, envName, output string) error {
	stateDir := engine.StateDir()
	envs := []string{envName}
	if envName == "" {
		var err error
		if envs, err = runningEnvironments(stateDir); err != nil {
			return &exitError{code: ExitInvalid, err: err}
		}
	}
	results := make([]stopResult, len(envs))
	var wg sync.WaitGroup
	for i, name := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = stopResult{Environment: name}
			c, err := local.Dial(stateDir, name)
			if err != nil {
				results[i].Errors = []string{err.Error()}
				return
			}
			defer c.Close()
			resp, err := c.StopFaults(ctx)
			if err != nil {
				results[i].Errors = []string{err.Error()}
				return
			}
			results[i].Reverted, results[i].Errors = resp.Reverted, resp.Errors
		}()
	}
	wg.Wait()
	failed := false
	for _, r := range results {
		failed = failed || len(r.Errors) > 0
	}
	if output != outTable {
		if err := writeStructured(stdio.Out, output, map[string]any{"environments": results}); err != nil {
			return err
		}
	} else {
		if len(envs) == 0 {
			fmt.Fprintln(stdio.Out, "no local environment is running: no fault to stop")
		}
		for _, r := range results {
			fmt.Fprintf(stdio.Out, "environment %s: %d %s reverted\n", r.Environment, r.Reverted, pluralWord(r.Reverted, "fault", "faults"))
			for _, e := range r.Errors {
				fmt.Fprintf(stdio.Err, "error: environment %s: %s\n", r.Environment, e)
			}
		}
	}
	if failed {
		return silentExit(ExitInvalid)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	// Small enough to type back in with --seed.
	return binary.LittleEndian.Uint64(b[:]) % 1_000_000
}
