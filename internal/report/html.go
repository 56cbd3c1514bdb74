package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/version"
)

// assets holds uPlot (vendored by hack/vendor-uplot.sh; see
// assets/uPlot.VERSION) and the report's own template, script and
// stylesheet. They are inlined into every HTML report, which is why the
// report needs no network: no CDN, no web fonts.
//
//go:embed assets/uPlot.iife.min.js assets/uPlot.min.css assets/uPlot.LICENSE assets/uPlot.VERSION
//go:embed assets/report.html.tmpl assets/report.js assets/report.css
var assets embed.FS

// Caps on the rows the HTML lists; the charts and JSON carry the rest.
const (
	maxHTMLMismatches = 200
	maxHTMLEvents     = 500
)

// faultColors tell overlapping fault windows apart; the same color marks
// a fault in the legend, the charts and the fidelity table.
func faultColor(i int) string {
	palette := [...]string{"#f76707", "#ae3ec9", "#1098ad", "#f59f00", "#d6336c", "#0ca678", "#4263eb", "#868e96"}
	return palette[i%len(palette)]
}

// WriteHTML writes one self-contained HTML file reporting every given
// experiment (the demo's scenarios side by side, or a single run): the
// verdict, charts over time of latency percentiles, throughput, error rate
// and probe states with fault windows shaded and phase boundaries marked,
// and the tables of SLOs, phases, recovery, consistency and fault
// fidelity. It works offline: uPlot, the script and the styles are inlined.
func WriteHTML(w io.Writer, reports ...Report) error {
	if err := check(reports); err != nil {
		return err
	}
	page, err := buildPage(reports)
	if err != nil {
		return err
	}
	tmplText, err := assets.ReadFile("assets/report.html.tmpl")
	if err != nil {
		return fmt.Errorf("report: reading embedded template: %w", err)
	}
	// Parsed per call rather than once into a package variable: it takes
	// well under a millisecond, and keeps the package free of global state.
	tmpl, err := template.New("report").Parse(string(tmplText))
	if err != nil {
		return fmt.Errorf("report: parsing HTML template: %w", err)
	}
	// Render into memory first so a template error never leaves a
	// half-written report behind on w.
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return fmt.Errorf("report: rendering HTML: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: writing HTML: %w", err)
	}
	return nil
}

// htmlPage is everything the template shows. Figures are formatted here,
// in Go, so the template stays layout only.
type htmlPage struct {
	Title       string
	Version     string
	Multi       bool
	Passed      int
	Experiments []htmlExperiment
	// Data is the charts' input: JSON that json.Marshal produced, whose
	// '<', '>' and '&' are \u-escaped, so it cannot close the <script>
	// element it sits in whatever the experiment names contain. That is
	// why it may be trusted as template.JS.
	Data         template.JS
	UPlotJS      template.JS
	UPlotCSS     template.CSS
	ReportJS     template.JS
	ReportCSS    template.CSS
	UPlotVersion string
}

type htmlExperiment struct {
	ID          string
	Name        string
	Verdict     string // pass, fail, aborted: a CSS class and data attribute
	VerdictWord string
	Mark        string
	Score       string
	// Availability, P99, Recovered and SLOsMet are the multi-experiment
	// summary's columns.
	Availability, P99, Recovered, SLOsMet string
	Start                                 string
	Duration                              string
	Aborted                               string
	AbortedAt                             string
	Reasons                               []string
	RecoveryDef                           string
	Figures                               []htmlFigure
	Charts                                bool
	HasProbes                             bool
	Step                                  string
	Faults                                []htmlFault
	SLOs                                  []htmlSLO
	Phases                                []htmlPhase
	Recovery                              []htmlRecovery
	ConsPhases                            []string
	Consistency                           []htmlConsistency
	Mismatches                            []htmlMismatch
	MoreMM                                int
	Probes                                []measure.ProbeStats
	Fidelity                              []htmlFidelity
	Errors                                []htmlErrorKind
	ScoreParts                            []htmlKV
	Formula                               string
	Aggregate                             *measure.Aggregate
	Spreads                               []htmlSpread
	Runs                                  []htmlRun
	Events                                []htmlEvent
	MoreEvents                            int
}

type htmlFigure struct {
	Label, Value, Sub string
	Bad               bool
}

type htmlFault struct {
	Name, Kind, Window, Color, Targets, Asked, Error string
}

type htmlSLO struct {
	measure.SLOResult
	Label, Mark string
}

type htmlPhase struct {
	Name, Window, Requests, Availability, P50, P90, P99, Max, Throughput, Errors string
	Overall, Bad                                                                 bool
}

type htmlRecovery struct {
	Fault, Window, FirstError, FromRevert, FromStart, Mark, Color string
	OK, Unmeasured                                                bool
}

type htmlConsistency struct {
	Probe, Matched, Mark string
	ByPhase              []string
	OK                   bool
}

type htmlFidelity struct {
	Fault, Kind, Target, Quantity, Asked, Measured, Ratio, Mark, Color string
	OK, Error                                                          bool
}

type htmlErrorKind struct {
	Phase, Kind string
	Count       int64
}

type htmlMismatch struct {
	At, Phase, Probe, Request, Replica, Detail string
}

type htmlKV struct{ Key, Value string }

type htmlSpread struct {
	Name, Mean, StdDev, Min, Max string
}

type htmlRun struct {
	N                                          int
	Verdict, VerdictWord, Score, Avail, P99, M string
}

type htmlEvent struct {
	At, Source, Type, Target, Message string
}

// chartData is one experiment's input to the charts (report.js), in
// seconds from the start of the run.
type chartData struct {
	ID     string       `json:"id"`
	Name   string       `json:"name"`
	EndSec float64      `json:"endSec"`
	Series *Series      `json:"series"`
	Phases []chartSpan  `json:"phases"`
	Faults []chartFault `json:"faults"`
	Abort  *chartMark   `json:"abort,omitempty"`
}

type chartSpan struct {
	Name     string  `json:"name"`
	StartSec float64 `json:"startSec"`
	EndSec   float64 `json:"endSec"`
}

type chartFault struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	StartSec float64 `json:"startSec"`
	EndSec   float64 `json:"endSec"`
	Color    string  `json:"color"`
}

type chartMark struct {
	AtSec  float64 `json:"atSec"`
	Reason string  `json:"reason"`
}

func buildPage(reports []Report) (*htmlPage, error) {
	page := &htmlPage{Version: version.Get().Version, Multi: len(reports) > 1}
	var charts []chartData
	for i, r := range reports {
		id := "exp-" + strconv.Itoa(i+1)
		var series *Series
		if r.Timeline != nil {
			series = BuildSeries(r.Timeline)
		}
		e := buildExperiment(id, r, series)
		if e.Verdict == string(measure.VerdictPass) {
			page.Passed++
		}
		page.Experiments = append(page.Experiments, e)
		if r.Timeline != nil {
			charts = append(charts, buildChartData(id, r, series))
		}
	}
	if page.Multi {
		page.Title = fmt.Sprintf("faultline · %d experiments · %d passed", len(reports), page.Passed)
	} else {
		e := page.Experiments[0]
		page.Title = "faultline · " + e.Name + " · " + e.VerdictWord
	}
	if charts == nil {
		charts = []chartData{}
	}
	data, err := json.Marshal(charts)
	if err != nil {
		return nil, fmt.Errorf("report: encoding chart data: %w", err)
	}
	page.Data = template.JS(data)

	// The embedded files are our own build's; they are trusted as JS and
	// CSS because hack/vendor-uplot.sh and this package put them there.
	var license string
	for _, a := range []struct {
		name string
		set  func(string)
	}{
		{"uPlot.LICENSE", func(s string) { license = s }},
		// uPlot is MIT: its notice travels with every copy, as a comment
		// ahead of the code (the text holds no "*/" or "</script").
		{"uPlot.iife.min.js", func(s string) { page.UPlotJS = template.JS("/*\n" + license + "*/\n" + s) }},
		{"uPlot.min.css", func(s string) { page.UPlotCSS = template.CSS(s) }},
		{"report.js", func(s string) { page.ReportJS = template.JS(s) }},
		{"report.css", func(s string) { page.ReportCSS = template.CSS(s) }},
		{"uPlot.VERSION", func(s string) {
			page.UPlotVersion = strings.TrimPrefix(strings.SplitN(s, "\n", 2)[0], "uplot ")
		}},
	} {
		b, err := assets.ReadFile("assets/" + a.name)
		if err != nil {
			return nil, fmt.Errorf("report: reading embedded %s: %w", a.name, err)
		}
		a.set(string(b))
	}
	return page, nil
}

// buildExperiment formats one experiment for the template; series is nil
// when there is no timeline to chart.
func buildExperiment(id string, r Report, series *Series) htmlExperiment {
	res := r.Result
	pass := res.Verdict == measure.VerdictPass
	verdict := string(res.Verdict)
	if verdict == "" {
		verdict = "unknown"
	}
	e := htmlExperiment{
		ID: id, Name: r.name(), Verdict: verdict, VerdictWord: verdictWord(res.Verdict), Mark: mark(pass),
		Score: fmtScore(res.Score.Value), Duration: fmtDur(res.Duration), Aborted: res.Aborted,
		Formula: res.Score.Formula, Aggregate: r.Aggregate, RecoveryDef: recoveryDefinition(res),
	}
	if res.Aborted != "" {
		e.AbortedAt = fmtOffset(res.AbortedAt)
	}
	if !pass {
		e.Reasons = res.Reasons
	}
	if !res.Start.IsZero() {
		e.Start = res.Start.UTC().Format("2006-01-02 15:04:05 UTC")
	}

	slos, probes := countPassed(res)
	_, allRec, impacted := worstRecovery(res)
	e.Availability, e.P99, e.Recovered = fmtPct(res.Overall.Availability), fmtDur(res.Overall.Latency.P99), fmtRecovery(res)
	e.SLOsMet = fmt.Sprintf("%d / %d", slos, len(res.SLOs))
	e.Figures = []htmlFigure{
		{Label: "Resilience score", Value: fmtScore(res.Score.Value), Sub: "of 100"},
		{Label: "SLOs met", Value: fmt.Sprintf("%d / %d", slos, len(res.SLOs)), Bad: slos < len(res.SLOs)},
		{Label: "Availability", Value: fmtPct(res.Overall.Availability), Sub: fmt.Sprintf("%d of %d requests", res.Overall.OK, res.Overall.Requests)},
		{Label: "Latency p99", Value: fmtDur(res.Overall.Latency.P99), Sub: "p50 " + fmtDur(res.Overall.Latency.P50)},
		recoveryFigure(res, impacted, allRec),
		{Label: "Probes passed", Value: fmt.Sprintf("%d / %d", probes, len(res.Probes)), Bad: probes < len(res.Probes)},
	}
	if cons := overallConsistency(res); cons >= 0 {
		e.Figures = append(e.Figures, htmlFigure{Label: "Consistency", Value: fmtPct(cons), Sub: "golden responses matched", Bad: cons < 100})
	}
	if a := r.Aggregate; a != nil {
		e.Figures = append(e.Figures, htmlFigure{Label: "Repeats passed", Value: fmt.Sprintf("%d / %d", a.Passed, a.Runs), Bad: a.Passed < a.Runs})
	}

	// Fault colors: by position in the timeline, the same order the charts
	// use; faults only the result knows of get the next colors.
	colorOf := map[string]string{}
	if tl := r.Timeline; tl != nil && series != nil {
		e.Charts = true
		e.Step = fmtStep(series.Step)
		e.HasProbes = len(series.Probes) > 0
		for i, f := range tl.Faults {
			c := faultColor(i)
			if _, ok := colorOf[f.Name]; !ok {
				colorOf[f.Name] = c
			}
			e.Faults = append(e.Faults, htmlFault{
				Name: f.Name, Kind: f.Kind, Window: fmtWindow(f.Start, f.End), Color: c,
				Targets: strings.Join(f.Targets, ", "), Asked: f.Asked, Error: f.Error,
			})
		}
		for i, ev := range tl.Events {
			if i == maxHTMLEvents {
				e.MoreEvents = len(tl.Events) - i
				break
			}
			e.Events = append(e.Events, htmlEvent{At: fmtOffset(ev.At), Source: ev.Source, Type: ev.Type, Target: ev.Target, Message: ev.Message})
		}
	}
	color := func(fault string) string {
		if c, ok := colorOf[fault]; ok {
			return c
		}
		c := faultColor(len(colorOf))
		colorOf[fault] = c
		return c
	}

	for _, s := range res.SLOs {
		e.SLOs = append(e.SLOs, htmlSLO{SLOResult: s, Label: sloName(s), Mark: mark(s.Pass)})
	}
	for i, p := range append(slices.Clone(res.Phases), res.Overall) {
		overall := i == len(res.Phases)
		name := p.Phase
		if overall {
			name = "overall"
		}
		e.Phases = append(e.Phases, htmlPhase{
			Name: name, Window: fmtWindow(p.Start, p.End), Requests: strconv.FormatInt(p.Requests, 10),
			Availability: fmtPct(p.Availability), P50: fmtDur(p.Latency.P50), P90: fmtDur(p.Latency.P90),
			P99: fmtDur(p.Latency.P99), Max: fmtDur(p.Latency.Max), Throughput: fmtRate(p.Throughput),
			Errors: strconv.FormatInt(p.Errors, 10), Overall: overall, Bad: p.Errors > 0,
		})
	}
	for _, p := range errorPhases(res) {
		for _, k := range slices.Sorted(maps.Keys(p.ErrorsByKind)) {
			e.Errors = append(e.Errors, htmlErrorKind{Phase: orDash(p.Phase), Kind: k, Count: p.ErrorsByKind[k]})
		}
	}
	for _, rc := range res.Recovery {
		ok, measured := recoveryOK(rc)
		from := dash
		if rc.Impacted && rc.Recovered {
			from = fmtDur(rc.FromStart)
		}
		e.Recovery = append(e.Recovery, htmlRecovery{
			Fault: rc.Fault, Window: fmtWindow(rc.FaultStart, rc.FaultEnd), FirstError: fmtDur(rc.TimeToFirstError),
			FromRevert: recoveredText(rc), FromStart: from, Mark: recoveryMark(rc), OK: ok, Unmeasured: !measured,
			Color: color(rc.Fault),
		})
	}
	e.ConsPhases = consistencyPhases(res)
	for _, c := range res.Consistency {
		row := htmlConsistency{Probe: c.Probe, Matched: fmt.Sprintf("%d / %d", c.Matched, c.Checks), OK: c.Matched == c.Checks}
		row.Mark = mark(row.OK)
		for _, ph := range e.ConsPhases {
			v, ok := c.ByPhase[ph]
			if !ok {
				v = -1
			}
			row.ByPhase = append(row.ByPhase, fmtPct(v))
		}
		e.Consistency = append(e.Consistency, row)
		e.MoreMM += c.MismatchesOmitted
		for _, m := range c.Mismatches {
			if len(e.Mismatches) == maxHTMLMismatches {
				e.MoreMM++
				continue
			}
			e.Mismatches = append(e.Mismatches, htmlMismatch{At: fmtOffset(m.At), Phase: m.Phase, Probe: c.Probe,
				Request: m.Request, Replica: m.Replica, Detail: m.Detail})
		}
	}
	e.Probes = res.Probes
	for _, f := range res.Fidelity {
		if f.Error != "" {
			e.Fidelity = append(e.Fidelity, htmlFidelity{Fault: f.Fault, Kind: f.Kind, Target: strings.Join(f.Targets, ", "),
				Quantity: "injection", Asked: dash, Measured: f.Error, Ratio: dash, Mark: mark(false), Error: true, Color: color(f.Fault)})
		}
		for _, it := range f.Items {
			ratio, ok := fidelityRatio(it)
			e.Fidelity = append(e.Fidelity, htmlFidelity{Fault: f.Fault, Kind: f.Kind, Target: orDash(it.Target),
				Quantity: it.Quantity, Asked: orDash(it.Asked), Measured: orDash(it.Measured), Ratio: ratio,
				Mark: mark(ok), OK: ok, Color: color(f.Fault)})
		}
		if f.Error == "" && len(f.Items) == 0 && f.Asked != "" {
			e.Fidelity = append(e.Fidelity, htmlFidelity{Fault: f.Fault, Kind: f.Kind, Target: orDash(strings.Join(f.Targets, ", ")),
				Quantity: dash, Asked: f.Asked, Measured: "not reported", Ratio: dash, Mark: dash, OK: true, Color: color(f.Fault)})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(res.Score.Components)) {
		e.ScoreParts = append(e.ScoreParts, htmlKV{Key: k, Value: fmtFloat(res.Score.Components[k])})
	}
	if a := r.Aggregate; a != nil {
		for _, k := range slices.Sorted(maps.Keys(a.Metrics)) {
			s := a.Metrics[k]
			e.Spreads = append(e.Spreads, htmlSpread{Name: k, Mean: fmtFloat(s.Mean), StdDev: fmtFloat(s.StdDev), Min: fmtFloat(s.Min), Max: fmtFloat(s.Max)})
		}
	}
	for i, run := range r.Runs {
		if run == nil {
			continue
		}
		e.Runs = append(e.Runs, htmlRun{N: i + 1, Verdict: string(run.Verdict), VerdictWord: verdictWord(run.Verdict),
			M: mark(run.Verdict == measure.VerdictPass), Score: fmtScore(run.Score.Value),
			Avail: fmtPct(run.Overall.Availability), P99: fmtDur(run.Overall.Latency.P99)})
	}
	return e
}

// recoveryFigure is the "worst recovery" card, worded to fit a card.
func recoveryFigure(res *measure.Result, impacted, allRecovered bool) htmlFigure {
	f := htmlFigure{Label: "Worst recovery", Value: fmtRecovery(res), Sub: "after revert"}
	switch {
	case !impacted:
		f.Value, f.Sub = dash, "service not impacted"
	case !allRecovered:
		f.Value, f.Sub, f.Bad = "never", "a fault's impact outlasted the run", true
	}
	return f
}

// overallConsistency is the share of all golden checks that matched, -1
// when there were none.
func overallConsistency(res *measure.Result) float64 {
	checks, matched := 0, 0
	for _, c := range res.Consistency {
		checks += c.Checks
		matched += c.Matched
	}
	if checks == 0 {
		return -1
	}
	return float64(matched) / float64(checks) * 100
}

func buildChartData(id string, r Report, s *Series) chartData {
	tl := r.Timeline
	sec := func(d time.Duration) float64 { return round3(d.Seconds()) }
	d := chartData{
		ID: id, Name: r.name(), Series: s,
		EndSec: sec(time.Duration(len(s.TSec)) * s.Step),
		Phases: []chartSpan{}, Faults: []chartFault{},
	}
	if end := timelineEnd(tl); end > 0 {
		d.EndSec = sec(end)
	}
	for _, p := range tl.Phases {
		d.Phases = append(d.Phases, chartSpan{Name: p.Name, StartSec: sec(p.Start), EndSec: sec(p.End)})
	}
	for i, f := range tl.Faults {
		d.Faults = append(d.Faults, chartFault{Name: f.Name, Kind: f.Kind, StartSec: sec(f.Start), EndSec: sec(f.End), Color: faultColor(i)})
	}
	if a := tl.Aborted; a != nil {
		d.Abort = &chartMark{AtSec: sec(a.At), Reason: a.Reason}
	}
	return d
}
