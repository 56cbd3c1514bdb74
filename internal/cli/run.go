package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine/local"
	"github.com/faultline-dev/faultline/internal/manifest"
	"github.com/faultline-dev/faultline/internal/report"
	"github.com/faultline-dev/faultline/internal/runner"
)

type runFlags struct {
	ff       fileFlags
	output   string
	junit    string
	markdown string
	html     string
	jsonFile string
	repeat   int
	seed     uint64
	quiet    bool
	backend  string
	envFile  string
	phases   string
	dryRun   bool
}

func newRunCmd(stdio IO) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run -f EXPERIMENT",
		Short: "Run an experiment: load, probes and faults over phases, then a verdict",
		Long: `Run an Experiment: start (or attach to) its environment, drive open-loop
load and probes through the baseline, fault and recovery phases, inject the
faults, revert everything, and measure availability, latency, recovery time
and consistency against the SLOs.

Every fault is reverted when the run ends, fails, is interrupted (Ctrl-C,
SIGTERM) or a stop condition fires.

Exit status: 0 every SLO and probe passed, 1 the verdict failed (or the
input is invalid), 2 usage error, 3 aborted by a stop condition.`,
		Example: `  faultline run -f experiment.yaml
  faultline run -f experiment.yaml --html report.html --junit junit.xml
  faultline run -f experiment.yaml --repeat 5 -o json > result.json
  faultline run -f demo/experiments/pod-kill.yaml -e demo/kube/environment.yaml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runExperiments(c.Context(), stdio, &f)
		},
	}
	f.ff.add(c)
	addOutputFlag(c, &f.output)
	c.Flags().StringVar(&f.junit, "junit", "", "write a JUnit XML report (each SLO and probe a testcase)")
	c.Flags().StringVar(&f.markdown, "markdown", "", "write a Markdown summary (for a pull-request comment)")
	c.Flags().StringVar(&f.html, "html", "", "write a self-contained HTML report with charts")
	c.Flags().StringVar(&f.jsonFile, "json", "", "write the whole result as JSON to a file")
	c.Flags().IntVar(&f.repeat, "repeat", 0, "run the experiment N times and report mean and spread (overrides spec.repeat)")
	c.Flags().Uint64Var(&f.seed, "seed", 0, "seed for target selection, for a reproducible run (0: random)")
	c.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no live progress")
	c.Flags().StringVarP(&f.envFile, "environment", "e", "", "run against this Environment file instead of the experiment's spec.environment (e.g. a kube environment: the same experiment against a cluster)")
	c.Flags().BoolVar(&f.dryRun, "dry-run", false, "list the targets every fault, workflow template and schedule would hit now, after every safety check; inject nothing, drive no load")
	c.Flags().StringVar(&f.phases, "phases", "", "override spec.phases for a quick run, e.g. baseline=3s,fault=7s,recovery=5s (any of the three); faults are cut when the shorter fault phase ends")
	c.Flags().StringVar(&f.backend, "network-backend", "auto", "where NetworkChaos runs: auto, proxy (unprivileged, per hop) or packet (root, nftables)")
	return c
}

func runExperiments(ctx context.Context, stdio IO, f *runFlags) error {
	if err := checkOutput(f.output); err != nil {
		return err
	}
	if f.repeat < 0 {
		return usageErr("--repeat must be at least 1")
	}
	backend, err := local.ParseNetworkBackend(f.backend)
	if err != nil {
		return usageErr("--network-backend: %v", err)
	}
	var phases v1alpha1.ExperimentPhases
	if f.phases != "" {
		if phases, err = parseDemoPhases(f.phases); err != nil {
			return usageErr("--phases: %v", err)
		}
	}
	envFile := f.envFile
	if envFile != "" {
		abs, err := filepath.Abs(envFile)
		if err != nil {
			return usageErr("--environment: %v", err)
		}
		if _, err := os.Stat(abs); err != nil {
			return usageErr("--environment: %v", err)
		}
		envFile = abs
	}
	res, err := f.ff.load(stdio)
	if err != nil {
		return err
	}
	for _, x := range res.Diagnostics {
		fmt.Fprintln(stdio.Err, x.String())
	}
	if res.Diagnostics.HasErrors() {
		return silentExit(ExitInvalid)
	}
	var exps []*v1alpha1.Experiment
	var dirs []string
	for _, d := range res.Documents {
		if e, ok := d.Object.(*v1alpha1.Experiment); ok {
			exps = append(exps, e)
			dir := "."
			if d.File != "-" {
				dir = filepath.Dir(d.File)
			}
			dirs = append(dirs, dir)
		}
	}
	if len(exps) == 0 {
		return usageErr("no Experiment among the manifests given; `faultline inject` runs a single chaos object")
	}
	if f.phases != "" {
		for i, exp := range exps {
			cp := *exp
			if phases.Baseline != "" {
				cp.Spec.Phases.Baseline = phases.Baseline
			}
			if phases.Fault != "" {
				cp.Spec.Phases.Fault = phases.Fault
			}
			if phases.Recovery != "" {
				cp.Spec.Phases.Recovery = phases.Recovery
			}
			if ps := manifest.ValidateObject(&cp); hasErrors(ps) {
				return &exitError{code: ExitInvalid, err: fmt.Errorf("experiment %s with --phases %s: %s: %s", exp.Name, f.phases, ps[0].Path, ps[0].Message)}
			}
			exps[i] = &cp
		}
	}
	if f.dryRun {
		return dryRunExperiments(ctx, stdio, f, exps, dirs, envFile, backend)
	}
	var reports []report.Report
	aborted, failed := false, false
	for i, exp := range exps {
		opts := runner.Options{BaseDir: dirs[i], Seed: f.seed, Repeat: f.repeat, NetworkBackend: backend, Environment: envFile}
		if !f.quiet && f.output == outTable {
			opts.Live = stdio.Err
			opts.Interactive = isTerminal(stdio.Err)
			fmt.Fprintf(stdio.Err, "running experiment %s\n", exp.Name)
		}
		out, err := runner.Run(ctx, exp, opts)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				fmt.Fprintln(stdio.Err, "interrupted: every fault was reverted")
				return silentExit(ExitAborted)
			}
			return &exitError{code: ExitInvalid, err: fmt.Errorf("experiment %s: %w", exp.Name, err)}
		}
		if len(out.Runs) == 0 {
			return &exitError{code: ExitInvalid, err: fmt.Errorf("experiment %s: no run completed", exp.Name)}
		}
		last := out.Runs[len(out.Runs)-1]
		rep := report.Report{Result: last.Result, Timeline: last.Timeline, Aggregate: out.Aggregate}
		for _, r := range out.Runs {
			rep.Runs = append(rep.Runs, r.Result)
		}
		reports = append(reports, rep)
		aborted = aborted || out.Aborted()
		failed = failed || !out.Passed()
		if ctx.Err() != nil {
			fmt.Fprintln(stdio.Err, "interrupted: every fault was reverted")
			aborted = true
			break
		}
	}
	if err := writeRunOutputs(stdio, f, reports); err != nil {
		return err
	}
	switch {
	case aborted:
		return silentExit(ExitAborted)
	case failed:
		return silentExit(ExitInvalid)
	}
	return nil
}

// dryRunResult is the -o json|yaml form of `faultline run --dry-run`.
type dryRunResult struct {
	Experiment string               `json:"experiment"`
	Seed       uint64               `json:"seed,omitempty"`
	Faults     []runner.DryRunFault `json:"faults"`
}

// dryRunExperiments resolves every fault of every experiment against its
// environment and prints the targets; exit 1 when a fault would be refused.
func dryRunExperiments(ctx context.Context, stdio IO, f *runFlags, exps []*v1alpha1.Experiment, dirs []string, envFile, backend string) error {
	var results []dryRunResult
	refused := false
	for i, exp := range exps {
		faults, err := runner.DryRun(ctx, exp, runner.Options{BaseDir: dirs[i], Seed: f.seed, NetworkBackend: backend, Environment: envFile})
		if err != nil {
			return &exitError{code: ExitInvalid, err: fmt.Errorf("experiment %s: %w", exp.Name, err)}
		}
		for _, d := range faults {
			if d.Error != "" {
				refused = true
				fmt.Fprintf(stdio.Err, "error: experiment %s: %s %s %s: %s\n", exp.Name, d.Source, d.Kind, d.Name, d.Error)
			}
		}
		results = append(results, dryRunResult{Experiment: exp.Name, Seed: f.seed, Faults: faults})
	}
	if f.output != outTable {
		var v any = results
		if len(results) == 1 {
			v = results[0]
		}
		if err := writeStructured(stdio.Out, f.output, v); err != nil {
			return err
		}
	} else {
		tw := newTable(stdio.Out)
		fmt.Fprintln(tw, "EXPERIMENT\tSOURCE\tFAULT\tTARGET\tNAMESPACE\tNODE")
		for _, r := range results {
			for _, d := range r.Faults {
				if len(d.Targets) == 0 {
					what := "(none)"
					if d.Error != "" {
						what = "(refused)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t-\t-\n", r.Experiment, d.Source, d.Kind, d.Name, what)
				}
				for _, t := range d.Targets {
					fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%s\n", r.Experiment, d.Source, d.Kind, d.Name, t.Name, dash(t.Namespace), dash(t.Node))
				}
			}
		}
		tw.Flush()
		fmt.Fprintln(stdio.Err, "dry run: nothing injected; modes such as one or fixed draw again when the run injects")
	}
	if refused {
		return silentExit(ExitInvalid)
	}
	return nil
}

func writeRunOutputs(stdio IO, f *runFlags, reports []report.Report) error {
	writeFile := func(path string, write func(io.Writer) error) error {
		if path == "" {
			return nil
		}
		fh, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := write(fh); err != nil {
			fh.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := fh.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Fprintf(stdio.Err, "wrote %s\n", path)
		return nil
	}
	if err := writeFile(f.junit, func(w io.Writer) error { return report.WriteJUnit(w, reports...) }); err != nil {
		return err
	}
	if err := writeFile(f.markdown, func(w io.Writer) error { return report.WriteMarkdown(w, reports...) }); err != nil {
		return err
	}
	if err := writeFile(f.html, func(w io.Writer) error { return report.WriteHTML(w, reports...) }); err != nil {
		return err
	}
	if f.jsonFile != "" && len(reports) > 0 {
		if err := writeFile(f.jsonFile, func(w io.Writer) error { return report.WriteJSON(w, reports[len(reports)-1]) }); err != nil {
			return err
		}
	}
	switch f.output {
	case outJSON, outYAML:
		var docs []json.RawMessage
		for _, r := range reports {
			var buf bytes.Buffer
			if err := report.WriteJSON(&buf, r); err != nil {
				return err
			}
			docs = append(docs, buf.Bytes())
		}
		if len(docs) == 1 {
			return writeStructured(stdio.Out, f.output, docs[0])
		}
		return writeStructured(stdio.Out, f.output, map[string]any{"experiments": docs})
	}
	for _, r := range reports {
		printSummary(stdio.Out, r)
	}
	return nil
}

// printSummary is the final table of `faultline run`.
func printSummary(w io.Writer, r report.Report) {
	res := r.Result
	fmt.Fprintf(w, "\nExperiment %s: %s", res.Experiment, strings.ToUpper(string(res.Verdict)))
	if res.Aborted != "" {
		fmt.Fprintf(w, " (%s)", res.Aborted)
	}
	fmt.Fprintf(w, "   resilience score %.0f/100\n\n", res.Score.Value)
	tw := newTable(w)
	fmt.Fprintln(tw, "PHASE\tREQUESTS\tAVAILABILITY\tP50\tP99\tTHROUGHPUT\tERRORS\tCONSISTENCY")
	for _, p := range res.Phases {
		cons := "-"
		if p.Consistency >= 0 {
			cons = fmt.Sprintf("%.1f%%", p.Consistency)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f%%\t%s\t%s\t%.1f/s\t%d\t%s\n", p.Phase, p.Requests, p.Availability,
			fmtDur(p.Latency.P50), fmtDur(p.Latency.P99), p.Throughput, p.Errors, cons)
	}
	tw.Flush()
	if len(res.Recovery) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "FAULT\tWINDOW\tFIRST ERROR\tRECOVERED AFTER REVERT\tFROM START")
		for _, rc := range res.Recovery {
			fmt.Fprintf(tw, "%s\t%s–%s\t%s\t%s\t%s\n", rc.Fault, fmtDur(rc.FaultStart), fmtDur(rc.FaultEnd),
				orNone(rc.TimeToFirstError, "none"), orNone(rc.FromRevert, "never"), orNone(rc.FromStart, "never"))
		}
		tw.Flush()
	}
	if len(res.Fidelity) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "FAULT\tTARGETS\tASKED\tMEASURED")
		for _, f := range res.Fidelity {
			if f.Error != "" {
				fmt.Fprintf(tw, "%s\t-\terror\t%s\n", f.Fault, f.Error)
				continue
			}
			if len(f.Items) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\n", f.Fault, strings.Join(f.Targets, ","), f.Kind)
			}
			for _, it := range f.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Fault, it.Target, it.Asked, it.Measured)
			}
		}
		tw.Flush()
	}
	if len(res.SLOs) > 0 || len(res.Probes) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "CHECK\tOBJECTIVE\tOBSERVED\tRESULT")
		for _, s := range res.SLOs {
			ph := s.Phase
			if ph == "" {
				ph = "all"
			}
			fmt.Fprintf(tw, "slo %s\t%s %s (%s)\t%s\t%s\n", s.Name, s.Metric, s.Objective, ph, s.Observed, passFail(s.Pass))
		}
		for _, p := range res.Probes {
			fmt.Fprintf(tw, "probe %s\t%s\t%d/%d passed\t%s\n", p.Probe, p.Mode, p.Passed, p.Runs, passFail(p.OK))
		}
		tw.Flush()
	}
	if r.Aggregate != nil {
		fmt.Fprintf(w, "\n%d runs, %d passed\n", r.Aggregate.Runs, r.Aggregate.Passed)
		tw = newTable(w)
		fmt.Fprintln(tw, "METRIC\tMEAN\tSTDDEV\tMIN\tMAX")
		for _, k := range sortedKeys(r.Aggregate.Metrics) {
			s := r.Aggregate.Metrics[k]
			fmt.Fprintf(tw, "%s\t%.3g\t%.3g\t%.3g\t%.3g\n", k, s.Mean, s.StdDev, s.Min, s.Max)
		}
		tw.Flush()
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

func orNone(d time.Duration, none string) string {
	if d < 0 {
		return none
	}
	return fmtDur(d)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.String()
}

// isTerminal reports whether w is a character device (a terminal), so the
// live view can redraw one line instead of printing many.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}
