package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
	"github.com/faultline-dev/faultline/internal/manifest"
	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/report"
	"github.com/faultline-dev/faultline/internal/runner"
)

// The demo's scenarios are demo/experiments/<name>.yaml. defaultScenarios
// is what `faultline demo` runs, in this order: the cheap, well-behaved
// faults first (pod-kill also kills the trainer while it is still
// training), then the ones that hurt. Any other file there (smoke) runs
// only when named with --scenario.
var defaultScenarios = []string{
	"pod-kill",
	"node-failure",
	"network-latency",
	"cpu-stress",
	"gateway-feature-delay",
	"http-abort",
	"workflow",
	"scale",
	"stale-model",
}

const (
	// demoModule is the module whose clone `faultline demo` must run in:
	// it builds the demo system from its source.
	demoModule = "github.com/faultline-dev/faultline"
	// annotationDemoPhases holds a scenario's short phases, e.g.
	// "baseline=3s,fault=7s,recovery=5s". The experiment's own phases are
	// the seed's (what `faultline run -f` and `faultline demo --full` use).
	annotationDemoPhases = "experiment.faultline.dev/demo-phases"
	// annotationDemoTitle is the one-line description shown while it runs.
	annotationDemoTitle = "experiment.faultline.dev/demo-title"
	// demoNetworkBackend: the demo runs unprivileged-compatible network
	// faults on the proxy backend (docs/network.md), so it needs no
	// network namespaces and starts its environment once for every
	// scenario.
	demoNetworkBackend = "proxy"
	demoReadyTimeout   = 90 * time.Second
	// demoEnvName names the demo's environment (state directory, cgroups,
	// control socket) apart from a recsys environment a user started with
	// `faultline env up -f demo/environment.yaml`.
	demoEnvName = "recsys-demo"
)

type demoFlags struct {
	full      bool
	scenarios []string
	html      string
	keepGoing bool
	output    string
	quiet     bool
}

func newDemoCmd(stdio IO) *cobra.Command {
	var f demoFlags
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the seed scenarios against the demo AI recommendation system",
		Long: `Build the demo system (demo/: a recommendation model served over KServe v2 by
three replicas, a feature store, a gateway and a trainer on three nodes),
start it once, run every scenario of demo/experiments under load — pod kill,
node failure, network latency, CPU stress, a delay between gateway and
feature store, HTTP aborts, a workflow, scaling, a stale model replica —
and print one summary table and one HTML report for all of them.

Scenarios run with short phases (about 15 s each, the
experiment.faultline.dev/demo-phases annotation of each file); --full runs
the phases and fault durations the seed studies used. Between scenarios the
demo waits until every replica is ready and every node is up again.

Run it inside a clone of the repository: it builds demo/bin/recsys and the
model files from source (skipped when up to date). Everything it started is
stopped when it ends, Ctrl-C included.

Exit status: 0 the demo ran (scenarios may still have failed their verdict —
that is a result), 1 the demo itself broke, 2 usage error, 3 interrupted.`,
		Example: `  faultline demo
  faultline demo --scenario pod-kill --scenario stale-model
  faultline demo --full --html /tmp/report.html
  faultline demo -o json > demo.json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDemo(c.Context(), stdio, &f)
		},
	}
	c.Flags().BoolVar(&f.full, "full", false, "run the seed studies' durations instead of the short demo phases")
	c.Flags().StringArrayVar(&f.scenarios, "scenario", nil, "run only this scenario (a file name in demo/experiments without .yaml); repeatable")
	c.Flags().StringVar(&f.html, "html", "demo-report.html", "where to write the HTML report of every scenario")
	c.Flags().BoolVar(&f.keepGoing, "keep-going", false, "when a scenario cannot run, report it and go on with the next")
	c.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no live progress")
	addOutputFlag(c, &f.output)
	return c
}

// demoScenario is one experiment of demo/experiments.
type demoScenario struct {
	name  string
	file  string
	title string
	exp   *v1alpha1.Experiment
}

// demoRow is one line of the summary (and of -o json).
type demoRow struct {
	Scenario string `json:"scenario"`
	Title    string `json:"title,omitempty"`
	Phases   string `json:"phases"`
	// Availability is the fault phase's, in percent; -1 without load.
	Availability float64 `json:"availability"`
	// P99Fault is the fault phase's p99 latency.
	P99Fault time.Duration `json:"p99Fault"`
	// Recovery is the slowest fault's time from revert to recovered: 0 when
	// no fault hurt, -1 when one never recovered, nil when none was
	// measured.
	Recovery *time.Duration `json:"recovery"`
	// RecoveryHow says what Recovery counts from: "none" (no fault hurt
	// the service), "after-revert", "under-fault" (it healed while the
	// fault was still active: the time from the fault's start) or "never".
	RecoveryHow string `json:"recoveryHow,omitempty"`
	// Consistency pools every golden-set check, in percent; -1 without one.
	Consistency float64 `json:"consistency"`
	// StaleReplicas name the replicas whose answers differed from the
	// golden set, with how many.
	StaleReplicas map[string]int `json:"staleReplicas,omitempty"`
	Verdict       string         `json:"verdict"`
	Reasons       []string       `json:"reasons,omitempty"`
	// Error is why the scenario could not run at all (--keep-going).
	Error  string          `json:"error,omitempty"`
	Result *measure.Result `json:"result,omitempty"`
}

// Values of demoRow.RecoveryHow.
const (
	recoveryNone        = "none"
	recoveryAfterRevert = "after-revert"
	recoveryUnderFault  = "under-fault"
	recoveryNever       = "never"
)

type demoOutput struct {
	Scenarios []demoRow `json:"scenarios"`
	Report    string    `json:"report"`
	Wall      string    `json:"wallTime"`
}

func runDemo(ctx context.Context, stdio IO, f *demoFlags) error {
	if err := checkOutput(f.output); err != nil {
		return err
	}
	if f.html == "" {
		return usageErr("--html must name a file")
	}
	began := time.Now()
	cwd, err := os.Getwd()
	if err != nil {
		return demoBroke(fmt.Errorf("working directory: %w", err))
	}
	root, err := findModuleRoot(cwd)
	if err != nil {
		return demoBroke(err)
	}
	demoDir := filepath.Join(root, "demo")
	all, err := loadScenarios(filepath.Join(demoDir, "experiments"))
	if err != nil {
		return demoBroke(err)
	}
	picked, err := pickScenarios(all, f.scenarios)
	if err != nil {
		return err
	}
	for _, s := range picked {
		if err := setDemoPhases(s, f.full); err != nil {
			return demoBroke(err)
		}
	}
	htmlPath, err := filepath.Abs(f.html)
	if err != nil {
		return demoBroke(err)
	}
	progress := stdio.Err
	if f.quiet {
		progress = io.Discard
	}

	if err := buildDemo(ctx, progress, root, demoDir); err != nil {
		return demoBroke(err)
	}
	// The trainer keeps its checkpoints between runs (as on a volume); the
	// demo starts training over, so the trainer is mid-run when pod-kill
	// kills it.
	if err := os.RemoveAll(filepath.Join(demoDir, "run", "checkpoints")); err != nil {
		return demoBroke(fmt.Errorf("reset the trainer's checkpoints: %w", err))
	}

	env, err := startDemoEnvironment(ctx, progress, demoDir)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stdio.Err, "interrupted: nothing is left running")
			return silentExit(ExitAborted)
		}
		return demoBroke(err)
	}
	rows, reports, runErr := env.runAll(ctx, stdio, f, picked)
	if err := env.stop(ctx); err != nil {
		runErr = errors.Join(runErr, err)
	} else {
		fmt.Fprintf(progress, "environment %s stopped: nothing is left running\n", env.sup.Name())
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stdio.Err, "interrupted: every fault was reverted and the environment stopped")
		return silentExit(ExitAborted)
	}
	if len(reports) > 0 {
		if err := writeHTMLFile(htmlPath, reports); err != nil {
			return demoBroke(err)
		}
	} else {
		htmlPath = ""
	}
	wall := time.Since(began).Round(100 * time.Millisecond)
	switch f.output {
	case outJSON, outYAML:
		if err := writeStructured(stdio.Out, f.output, demoOutput{Scenarios: rows, Report: htmlPath, Wall: wall.String()}); err != nil {
			return err
		}
	default:
		printDemoSummary(stdio.Out, rows)
		if htmlPath != "" {
			fmt.Fprintf(stdio.Out, "\nreport: %s\n", htmlPath)
		}
		fmt.Fprintf(stdio.Out, "%d scenarios in %s\n", len(rows), wall)
	}
	if runErr != nil {
		return demoBroke(runErr)
	}
	return nil
}

// demoBroke is the exit of a demo that could not run (not a failed
// verdict, which is a result).
func demoBroke(err error) error {
	return &exitError{code: ExitInvalid, err: fmt.Errorf("demo: %w", err)}
}

// findModuleRoot walks up from dir to the go.mod of faultline's module.
func findModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for d := dir; ; {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && goModModule(data) == demoModule {
			if _, err := os.Stat(filepath.Join(d, "demo", "environment.yaml")); err == nil {
				return d, nil
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("run it inside a clone of %s: no go.mod of that module (with demo/environment.yaml) in %s or above; the demo builds its services from source", demoModule, dir)
		}
		d = parent
	}
}

// goModModule is the module path a go.mod declares.
func goModModule(data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// loadScenarios reads every experiment of dir, keyed by file name.
func loadScenarios(dir string) (map[string]*demoScenario, error) {
	srcs, err := manifest.ReadSources([]string{dir}, nil)
	if err != nil {
		return nil, fmt.Errorf("read scenarios: %w", err)
	}
	res := manifest.Load(srcs)
	if res.Diagnostics.HasErrors() {
		return nil, fmt.Errorf("scenarios in %s are invalid:\n%w", dir, res.Diagnostics)
	}
	out := map[string]*demoScenario{}
	for _, d := range res.Documents {
		e, ok := d.Object.(*v1alpha1.Experiment)
		if !ok {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(d.File), ".yaml"), ".yml")
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s holds more than one experiment; a scenario is one file with one experiment", d.File)
		}
		out[name] = &demoScenario{name: name, file: d.File, title: e.Annotations[annotationDemoTitle], exp: e}
	}
	return out, nil
}

// pickScenarios is the --scenario list, or the default list.
func pickScenarios(all map[string]*demoScenario, names []string) ([]*demoScenario, error) {
	var known []string
	for n := range all {
		known = append(known, n)
	}
	sort.Strings(known)
	if len(names) == 0 {
		names = defaultScenarios
	}
	var out []*demoScenario
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSuffix(filepath.Base(n), ".yaml")
		s, ok := all[n]
		if !ok {
			return nil, usageErr("no scenario %q; known: %s", n, strings.Join(known, ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// setDemoPhases switches a scenario to its short phases unless full is
// set. Faults longer than the short fault phase are cut when it ends (the
// runner never lets a fault outlive its phase).
func setDemoPhases(s *demoScenario, full bool) error {
	if full {
		return nil
	}
	v, ok := s.exp.Annotations[annotationDemoPhases]
	if !ok {
		return nil
	}
	ph, err := parseDemoPhases(v)
	if err != nil {
		return fmt.Errorf("%s: annotation %s: %w", s.file, annotationDemoPhases, err)
	}
	exp := *s.exp
	exp.Spec.Phases = ph
	if ps := manifest.ValidateObject(&exp); hasErrors(ps) {
		return fmt.Errorf("%s with the short phases %q: %s: %s", s.file, v, ps[0].Path, ps[0].Message)
	}
	s.exp = &exp
	return nil
}

// parseDemoPhases reads "baseline=3s,fault=7s,recovery=5s".
func parseDemoPhases(v string) (v1alpha1.ExperimentPhases, error) {
	var ph v1alpha1.ExperimentPhases
	for _, part := range strings.Split(v, ",") {
		k, d, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ph, fmt.Errorf("%q: write phase=duration, e.g. fault=7s", part)
		}
		if _, err := time.ParseDuration(d); err != nil {
			return ph, fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "baseline":
			ph.Baseline = d
		case "fault":
			ph.Fault = d
		case "recovery":
			ph.Recovery = d
		default:
			return ph, fmt.Errorf("unknown phase %q (baseline, fault, recovery)", k)
		}
	}
	return ph, nil
}

func hasErrors(ps []manifest.Problem) bool {
	for _, p := range ps {
		if !p.Warning {
			return true
		}
	}
	return false
}

// buildDemo builds demo/bin/recsys (go build is incremental: nothing is
// relinked when it is up to date) and the model files when they are older
// than the binary or missing.
func buildDemo(ctx context.Context, progress io.Writer, root, demoDir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("the demo builds its services from source and needs the go command in PATH")
	}
	t0 := time.Now()
	fmt.Fprintf(progress, "building demo/bin/recsys … ")
	bin := filepath.Join(demoDir, "bin", "recsys")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./demo/cmd/recsys")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintln(progress, "failed")
		return fmt.Errorf("go build ./demo/cmd/recsys: %w\n%s", err, out)
	}
	fmt.Fprintf(progress, "ok (%s)\n", time.Since(t0).Round(100*time.Millisecond))
	binInfo, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("demo binary: %w", err)
	}
	models := []string{"recsys-v1.model", "recsys-v2.model", "golden.golden", "golden-items.golden"}
	fresh := true
	for _, m := range models {
		st, err := os.Stat(filepath.Join(demoDir, "models", m))
		if err != nil || st.ModTime().Before(binInfo.ModTime()) {
			fresh = false
			break
		}
	}
	if fresh {
		fmt.Fprintln(progress, "model files: up to date")
		return nil
	}
	t0 = time.Now()
	fmt.Fprintf(progress, "building model files (v1, v2, golden sets) … ")
	cmd = exec.CommandContext(ctx, bin, "model", "build")
	cmd.Dir = demoDir
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintln(progress, "failed")
		return fmt.Errorf("recsys model build: %w\n%s", err, out)
	}
	fmt.Fprintf(progress, "ok (%s)\n", time.Since(t0).Round(10*time.Millisecond))
	return nil
}

// demoEnv is the one environment every scenario attaches to.
type demoEnv struct {
	sup      *local.Supervisor
	eng      *local.Engine
	stateDir string
	progress io.Writer
}

// startDemoEnvironment starts demo/environment.yaml in this process, with
// the fault engine on its control socket: scenarios attach to it (as to
// `faultline env up --detach`), so the environment starts once.
func startDemoEnvironment(ctx context.Context, progress io.Writer, demoDir string) (*demoEnv, error) {
	spec, err := runner.EnvironmentFile(filepath.Join(demoDir, "environment.yaml"))
	if err != nil {
		return nil, err
	}
	stateDir := engine.StateDir()
	// Faults a crashed faultline left behind are reverted first, and a dead
	// supervisor's leftovers cleaned up, before anything starts.
	if rep, err := local.Recover(ctx, stateDir, local.RecoverOptions{}); err != nil {
		return nil, fmt.Errorf("recover faults left by an earlier run: %w", err)
	} else if rep != nil && !rep.OK() {
		return nil, errors.New("faults left by an earlier run could not all be reverted; run `faultline recover`")
	}
	sup, err := local.New(spec, local.Options{
		Name:     demoEnvName,
		StateDir: stateDir,
		BaseDir:  demoDir,
		// A started replica joins its gateway as soon as it answers, so
		// recovery is measured on the service, not on a 1 s probe period.
		ReadinessPollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", spec.Name, err)
	}
	t0 := time.Now()
	fmt.Fprintf(progress, "starting environment %s (%s) … ", sup.Name(), describeEnv(spec))
	if err := sup.Start(ctx); err != nil {
		fmt.Fprintln(progress, "failed")
		return nil, fmt.Errorf("start environment %s: %w (is one running? `faultline env down %s`)", sup.Name(), err, sup.Name())
	}
	d := &demoEnv{sup: sup, stateDir: stateDir, progress: progress}
	eng, err := local.AttachEngine(sup, local.EngineOptions{NetworkBackend: demoNetworkBackend})
	if err != nil {
		fmt.Fprintln(progress, "failed")
		return nil, errors.Join(err, d.stop(ctx))
	}
	d.eng = eng
	rctx, cancel := context.WithTimeout(ctx, demoReadyTimeout)
	defer cancel()
	if err := sup.WaitReady(rctx); err != nil {
		fmt.Fprintln(progress, "failed")
		return nil, errors.Join(fmt.Errorf("environment %s did not become ready: %w", sup.Name(), err), d.stop(ctx))
	}
	fmt.Fprintf(progress, "ready in %s\n", time.Since(t0).Round(100*time.Millisecond))
	return d, nil
}

func describeEnv(e *v1alpha1.Environment) string {
	var parts []string
	for _, s := range e.Spec.Services {
		n := int32(1)
		if s.Replicas != nil {
			n = *s.Replicas
		}
		parts = append(parts, fmt.Sprintf("%s×%d", s.Name, n))
	}
	return fmt.Sprintf("%s on %d nodes", strings.Join(parts, " "), len(e.Spec.Nodes))
}

// stop reverts every fault still held and stops every process, cgroup and
// socket of the environment, whatever ctx says.
func (d *demoEnv) stop(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errE error
	if d.eng != nil {
		errE = d.eng.Close(sctx)
	}
	if err := d.sup.Shutdown(sctx); err != nil {
		return errors.Join(errE, fmt.Errorf("stop environment %s: %w", d.sup.Name(), err))
	}
	return errE
}

// settle waits until the environment is as the scenarios expect it: every
// desired replica ready (a scaled-down service is back at full size, a
// killed replica restarted and loaded) and every node Ready and
// schedulable.
func (d *demoEnv) settle(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, demoReadyTimeout)
	defer cancel()
	for {
		err := d.sup.WaitReady(wctx)
		if err == nil {
			down := d.downNodes()
			if len(down) == 0 {
				return nil
			}
			err = fmt.Errorf("nodes not back: %s", strings.Join(down, ", "))
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("the environment did not settle after the last scenario within %s: %w", demoReadyTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d *demoEnv) downNodes() []string {
	var out []string
	for _, n := range d.sup.Nodes() {
		if !n.Ready || !n.Schedulable {
			out = append(out, n.Name)
		}
	}
	return out
}

// runAll runs the scenarios one after the other against the environment.
// The error is what broke the demo (a scenario that could not run, unless
// --keep-going); a failed verdict is a row, not an error.
func (d *demoEnv) runAll(ctx context.Context, stdio IO, f *demoFlags, scenarios []*demoScenario) ([]demoRow, []report.Report, error) {
	var (
		rows    []demoRow
		reports []report.Report
		errs    []error
	)
	for i, s := range scenarios {
		if ctx.Err() != nil {
			break
		}
		if err := d.settle(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			return rows, reports, err
		}
		exp := *s.exp
		// Attach to the environment already running, whatever the file
		// says: it is started once for every scenario.
		exp.Spec.Environment = &v1alpha1.ExperimentEnvironment{Attach: true, Name: d.sup.Name()}
		ph := describePhases(exp.Spec.Phases)
		title := s.title
		if title == "" {
			title = s.exp.Name
		}
		fmt.Fprintf(d.progress, "\n[%d/%d] %s — %s (%s)\n", i+1, len(scenarios), s.name, title, ph)
		opts := runner.Options{
			BaseDir:        filepath.Dir(s.file),
			StateDir:       d.stateDir,
			NetworkBackend: demoNetworkBackend,
		}
		if !f.quiet {
			opts.Live = stdio.Err
			opts.Interactive = isTerminal(stdio.Err)
			opts.LiveEvery = 2 * time.Second
		}
		out, err := runner.Run(ctx, &exp, opts)
		if err == nil && (out == nil || len(out.Runs) == 0) {
			err = errors.New("no run completed")
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			err = fmt.Errorf("scenario %s: %w", s.name, err)
			fmt.Fprintf(d.progress, "error: %v\n", err)
			rows = append(rows, demoRow{Scenario: s.name, Title: s.title, Phases: ph, Verdict: "error", Error: err.Error(),
				Availability: -1, Consistency: -1})
			if !f.keepGoing {
				return rows, reports, err
			}
			errs = append(errs, err)
			continue
		}
		last := out.Runs[len(out.Runs)-1]
		rep := report.Report{Result: last.Result, Timeline: last.Timeline, Aggregate: out.Aggregate}
		for _, r := range out.Runs {
			rep.Runs = append(rep.Runs, r.Result)
		}
		reports = append(reports, rep)
		row := summarize(s, ph, last.Result)
		fmt.Fprintf(d.progress, "%s: %s\n", s.name, strings.ToUpper(row.Verdict))
		rows = append(rows, row)
	}
	return rows, reports, errors.Join(errs...)
}

func describePhases(p v1alpha1.ExperimentPhases) string {
	fault := p.Fault
	if fault == "" {
		fault = "workflow"
	}
	b, r := p.Baseline, p.Recovery
	if b == "" {
		b = v1alpha1.DefaultBaselinePhase
	}
	if r == "" {
		r = v1alpha1.DefaultRecoveryPhase
	}
	return fmt.Sprintf("baseline %s, fault %s, recovery %s", b, fault, r)
}

// summarize turns one result into a summary row.
func summarize(s *demoScenario, phases string, res *measure.Result) demoRow {
	row := demoRow{Scenario: s.name, Title: s.title, Phases: phases, Verdict: string(res.Verdict),
		Reasons: res.Reasons, Result: res, Availability: -1, Consistency: -1}
	for _, p := range res.Phases {
		if p.Phase == "fault" && p.Requests > 0 {
			row.Availability = p.Availability
			row.P99Fault = p.Latency.P99
		}
	}
	// The slowest measured fault: never recovered beats any time; a fault
	// the service healed from while it was still active (failover) counts
	// its time from the fault's start, one it healed from after the revert
	// its time from the revert.
	for _, rc := range res.Recovery {
		if rc.Unmeasured != "" {
			continue
		}
		d, how := time.Duration(0), recoveryNone
		switch {
		case !rc.Recovered:
			d, how = -1, recoveryNever
		case !rc.Impacted:
		case rc.FromRevert > 0:
			d, how = rc.FromRevert, recoveryAfterRevert
		default:
			d, how = rc.FromStart, recoveryUnderFault
		}
		switch {
		case row.Recovery == nil, *row.Recovery >= 0 && (d < 0 || d > *row.Recovery):
			row.Recovery, row.RecoveryHow = &d, how
		}
	}
	checks, matched := 0, 0
	for _, c := range res.Consistency {
		checks += c.Checks
		matched += c.Matched
		for _, m := range c.Mismatches {
			if m.Replica == "" {
				continue
			}
			if row.StaleReplicas == nil {
				row.StaleReplicas = map[string]int{}
			}
			row.StaleReplicas[m.Replica]++
		}
	}
	if checks > 0 {
		row.Consistency = 100 * float64(matched) / float64(checks)
	}
	return row
}

// printDemoSummary is the demo's table, then why each failing scenario
// failed.
func printDemoSummary(w io.Writer, rows []demoRow) {
	fmt.Fprintln(w)
	tw := newTable(w)
	fmt.Fprintln(tw, "SCENARIO\tAVAILABILITY\tP99 (FAULT)\tRECOVERY\tCONSISTENCY\tVERDICT")
	for _, r := range rows {
		avail, p99, cons, rec := "-", "-", "-", "-"
		if r.Availability >= 0 {
			avail = fmt.Sprintf("%.2f%%", r.Availability)
			p99 = demoDur(r.P99Fault)
		}
		if r.Consistency >= 0 {
			cons = fmt.Sprintf("%.1f%%", r.Consistency)
		}
		if r.Recovery != nil {
			switch r.RecoveryHow {
			case recoveryNever:
				rec = "never"
			case recoveryNone:
				rec = "no impact"
			case recoveryUnderFault:
				rec = demoDur(*r.Recovery) + " (failover)"
			default:
				rec = demoDur(*r.Recovery) + " after revert"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, avail, p99, rec, cons, strings.ToUpper(r.Verdict))
	}
	tw.Flush()
	fmt.Fprintln(w, "(availability and p99 of the fault phase; recovery: until the load met the SLOs again over a whole window —")
	fmt.Fprintln(w, " from the revert, or from the fault's start when the service failed over while it lasted; consistency: golden-set answers)")
	for _, r := range rows {
		if r.Verdict == string(measure.VerdictPass) {
			continue
		}
		fmt.Fprintf(w, "\n%s: %s\n", r.Scenario, strings.ToUpper(r.Verdict))
		if r.Error != "" {
			fmt.Fprintf(w, "  - could not run: %s\n", r.Error)
		}
		for _, why := range r.Reasons {
			// The whole message is in the HTML report and -o json.
			if rs := []rune(why); len(rs) > 240 {
				why = string(rs[:240]) + " …"
			}
			fmt.Fprintf(w, "  - %s\n", why)
		}
		if len(r.StaleReplicas) > 0 {
			var names []string
			for n := range r.StaleReplicas {
				names = append(names, n)
			}
			slices.Sort(names)
			var parts []string
			for _, n := range names {
				parts = append(parts, fmt.Sprintf("%s (%d)", n, r.StaleReplicas[n]))
			}
			fmt.Fprintf(w, "  - golden-set answers that differed came from: %s\n", strings.Join(parts, ", "))
		}
	}
}

// demoDur rounds a duration for the summary: three significant digits
// are what a reader compares.
func demoDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}

func writeHTMLFile(path string, reports []report.Report) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := report.WriteHTML(fh, reports...); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
