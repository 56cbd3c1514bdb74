package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/internal/measure"
)

// maxMismatchRows caps the mismatches listed in a pull-request comment:
// GitHub truncates long comments, and the first few say what went wrong.
const maxMismatchRows = 20

// WriteMarkdown writes a pull-request comment (GitHub-flavoured Markdown):
// a verdict line per experiment marked ✓ or ✗, then tables of SLOs,
// phases, recovery, consistency and fault fidelity, and the rest (probes,
// errors by kind, mismatches, score, repeats) collapsed under <details>.
func WriteMarkdown(w io.Writer, reports ...Report) error {
	if err := check(reports); err != nil {
		return err
	}
	var b strings.Builder
	if len(reports) > 1 {
		passed := 0
		for _, r := range reports {
			if r.Result.Verdict == measure.VerdictPass {
				passed++
			}
		}
		fmt.Fprintf(&b, "## %s faultline: %d of %d experiments passed\n\n", mark(passed == len(reports)), passed, len(reports))
	}
	for i, r := range reports {
		if i > 0 {
			b.WriteString("\n---\n\n")
		}
		markdownExperiment(&b, r)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: writing Markdown: %w", err)
	}
	return nil
}

func markdownExperiment(b *strings.Builder, r Report) {
	res := r.Result
	pass := res.Verdict == measure.VerdictPass
	fmt.Fprintf(b, "### %s %s — %s\n\n", mark(pass), mdText(r.name()), verdictWord(res.Verdict))

	slos, probes := countPassed(res)
	parts := []string{
		fmt.Sprintf("**%s %s**", mark(pass), verdictWord(res.Verdict)),
		fmt.Sprintf("score **%s**/100", fmtScore(res.Score.Value)),
		fmt.Sprintf("%d of %d SLOs met", slos, len(res.SLOs)),
		fmt.Sprintf("%d of %d probes passed", probes, len(res.Probes)),
		"availability " + fmtPct(res.Overall.Availability),
		"p99 " + fmtDur(res.Overall.Latency.P99),
		"recovery " + fmtRecovery(res),
		"duration " + fmtDur(res.Duration),
	}
	if a := r.Aggregate; a != nil {
		parts = append(parts, fmt.Sprintf("%d of %d repeats passed", a.Passed, a.Runs))
	}
	b.WriteString(strings.Join(parts, " · ") + "\n\n")
	switch {
	case len(res.Reasons) > 0 && !pass:
		// measure's reasons already lead with the abort, when there was one.
		b.WriteString("Why it did not pass:\n\n")
		for _, reason := range res.Reasons {
			b.WriteString("- " + mdText(reason) + "\n")
		}
		b.WriteString("\n")
	case res.Aborted != "":
		fmt.Fprintf(b, "> **✗ Aborted by a stop condition** at %s: %s\n\n", fmtOffset(res.AbortedAt), mdText(res.Aborted))
	}

	if len(res.SLOs) > 0 {
		b.WriteString("#### SLOs\n\n")
		t := mdTable{head: []string{"", "SLO", "phase", "objective", "observed"}, right: []bool{false, false, false, true, true}}
		for _, s := range res.SLOs {
			t.add(mark(s.Pass), sloName(s), orDash(s.Phase), orDash(s.Objective), orDash(s.Observed))
		}
		t.write(b)
	}

	if len(res.Phases) > 0 {
		b.WriteString("#### Phases\n\n")
		t := mdTable{
			head:  []string{"phase", "window", "requests", "availability", "p50", "p99", "throughput", "errors"},
			right: []bool{false, false, true, true, true, true, true, true},
		}
		rows := append(slices.Clone(res.Phases), res.Overall)
		for i, p := range rows {
			name := p.Phase
			if i == len(rows)-1 {
				name = "**overall**"
			}
			t.add(name, fmtWindow(p.Start, p.End), strconv.FormatInt(p.Requests, 10), fmtPct(p.Availability),
				fmtDur(p.Latency.P50), fmtDur(p.Latency.P99), fmtRate(p.Throughput), strconv.FormatInt(p.Errors, 10))
		}
		t.write(b)
	}

	if len(res.Recovery) > 0 {
		b.WriteString("#### Recovery\n\n")
		if def := recoveryDefinition(res); def != "" {
			b.WriteString(mdText(def) + "\n\n")
		}
		t := mdTable{
			head:  []string{"", "fault", "window", "first error", "recovered after revert", "from fault start"},
			right: []bool{false, false, false, true, true, true},
		}
		for _, rc := range res.Recovery {
			from := dash
			if rc.Impacted && rc.Recovered {
				from = fmtDur(rc.FromStart)
			}
			t.add(recoveryMark(rc), rc.Fault, fmtWindow(rc.FaultStart, rc.FaultEnd), fmtDur(rc.TimeToFirstError), recoveredText(rc), from)
		}
		t.write(b)
	}

	if len(res.Consistency) > 0 {
		b.WriteString("#### Consistency\n\n")
		phases := consistencyPhases(res)
		head := append([]string{"", "probe", "matched"}, phases...)
		right := make([]bool, len(head))
		for i := 2; i < len(right); i++ {
			right[i] = true
		}
		t := mdTable{head: head, right: right}
		for _, c := range res.Consistency {
			row := []string{mark(c.Matched == c.Checks), c.Probe, fmt.Sprintf("%d / %d", c.Matched, c.Checks)}
			for _, ph := range phases {
				v, ok := c.ByPhase[ph]
				if !ok {
					v = -1
				}
				row = append(row, fmtPct(v))
			}
			t.add(row...)
		}
		t.write(b)
	}

	if hasFidelity(res) {
		b.WriteString("#### Fault fidelity (asked vs measured)\n\n")
		t := mdTable{
			head:  []string{"", "fault", "kind", "target", "quantity", "asked", "measured", "measured/asked"},
			right: []bool{false, false, false, false, false, true, true, true},
		}
		for _, f := range res.Fidelity {
			if f.Error != "" {
				t.add(mark(false), f.Fault, f.Kind, strings.Join(f.Targets, ", "), "error", dash, f.Error, dash)
			}
			for _, it := range f.Items {
				ratio, ok := fidelityRatio(it)
				t.add(mark(ok), f.Fault, f.Kind, orDash(it.Target), it.Quantity, orDash(it.Asked), orDash(it.Measured), ratio)
			}
			if f.Error == "" && len(f.Items) == 0 && f.Asked != "" {
				t.add(dash, f.Fault, f.Kind, strings.Join(f.Targets, ", "), dash, f.Asked, "not reported", dash)
			}
		}
		t.write(b)
	}

	markdownDetails(b, r)
}

// markdownDetails is the collapsed part: useful when digging, noise when
// skimming a pull request.
func markdownDetails(b *strings.Builder, r Report) {
	res := r.Result
	b.WriteString("<details><summary>Details: probes, errors, mismatches, score")
	if len(r.Runs) > 0 || r.Aggregate != nil {
		b.WriteString(", repeats")
	}
	// A blank line after </summary> is what makes GitHub render the
	// Markdown inside <details>.
	b.WriteString("</summary>\n\n")

	if len(res.Probes) > 0 {
		b.WriteString("**Probes**\n\n")
		t := mdTable{head: []string{"", "probe", "mode", "runs", "passed", "failed", "first failure"}, right: []bool{false, false, false, true, true, true, false}}
		for _, p := range res.Probes {
			t.add(mark(p.OK), p.Probe, orDash(p.Mode), strconv.Itoa(p.Runs), strconv.Itoa(p.Passed), strconv.Itoa(p.Failed), orDash(p.Message))
		}
		t.write(b)
	}

	var errRows [][]string
	for _, p := range errorPhases(res) {
		for _, k := range slices.Sorted(maps.Keys(p.ErrorsByKind)) {
			errRows = append(errRows, []string{orDash(p.Phase), k, strconv.FormatInt(p.ErrorsByKind[k], 10)})
		}
	}
	if len(errRows) > 0 {
		b.WriteString("**Errors by kind**\n\n")
		t := mdTable{head: []string{"phase", "error", "count"}, right: []bool{false, false, true}}
		for _, row := range errRows {
			t.add(row...)
		}
		t.write(b)
	}

	var mm []measure.Mismatch
	var probeOf []string
	for _, c := range res.Consistency {
		for _, m := range c.Mismatches {
			mm = append(mm, m)
			probeOf = append(probeOf, c.Probe)
		}
	}
	if len(mm) > 0 {
		b.WriteString("**Consistency mismatches**\n\n")
		t := mdTable{head: []string{"at", "phase", "probe", "request", "replica", "detail"}}
		for i, m := range mm[:min(len(mm), maxMismatchRows)] {
			t.add(fmtOffset(m.At), orDash(m.Phase), probeOf[i], m.Request, orDash(m.Replica), m.Detail)
		}
		t.write(b)
		if _, omitted := mismatchCount(res); len(mm) > maxMismatchRows || omitted > 0 {
			fmt.Fprintf(b, "…and %d more.\n\n", len(mm)-min(len(mm), maxMismatchRows)+omitted)
		}
	}

	b.WriteString("**Resilience score**: " + fmtScore(res.Score.Value) + "/100")
	if res.Score.Formula != "" {
		b.WriteString(" — " + mdText(res.Score.Formula))
	}
	b.WriteString("\n\n")
	if len(res.Score.Components) > 0 {
		t := mdTable{head: []string{"component", "value"}, right: []bool{false, true}}
		for _, k := range slices.Sorted(maps.Keys(res.Score.Components)) {
			t.add(k, fmtFloat(res.Score.Components[k]))
		}
		t.write(b)
	}

	if a := r.Aggregate; a != nil {
		fmt.Fprintf(b, "**Repeats**: %d of %d runs passed\n\n", a.Passed, a.Runs)
		t := mdTable{head: []string{"figure", "mean", "std dev", "min", "max"}, right: []bool{false, true, true, true, true}}
		for _, k := range slices.Sorted(maps.Keys(a.Metrics)) {
			s := a.Metrics[k]
			t.add(k, fmtFloat(s.Mean), fmtFloat(s.StdDev), fmtFloat(s.Min), fmtFloat(s.Max))
		}
		t.write(b)
	}
	if len(r.Runs) > 0 {
		t := mdTable{head: []string{"run", "verdict", "score", "availability", "p99"}, right: []bool{true, false, true, true, true}}
		for i, run := range r.Runs {
			if run == nil {
				continue
			}
			t.add(strconv.Itoa(i+1), mark(run.Verdict == measure.VerdictPass)+" "+verdictWord(run.Verdict),
				fmtScore(run.Score.Value), fmtPct(run.Overall.Availability), fmtDur(run.Overall.Latency.P99))
		}
		t.write(b)
	}
	b.WriteString("</details>\n")
}

// consistencyPhases are the phase columns of the consistency table: every
// phase any probe has a figure for, in run order.
func consistencyPhases(res *measure.Result) []string {
	all := map[string]float64{}
	for _, c := range res.Consistency {
		for k, v := range c.ByPhase {
			all[k] = v
		}
	}
	return phaseOrder(res, all)
}

func hasFidelity(res *measure.Result) bool {
	for _, f := range res.Fidelity {
		if f.Error != "" || len(f.Items) > 0 || f.Asked != "" {
			return true
		}
	}
	return false
}

// mdTable is a GitHub-flavoured Markdown table.
type mdTable struct {
	head  []string
	right []bool // right-aligned columns (numbers)
	rows  [][]string
}

func (t *mdTable) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *mdTable) write(b *strings.Builder) {
	line := func(cells []string) {
		b.WriteString("|")
		for i := range t.head {
			c := ""
			if i < len(cells) {
				c = mdCell(cells[i])
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	line(t.head)
	b.WriteString("|")
	for i := range t.head {
		if i < len(t.right) && t.right[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
	b.WriteString("\n")
}

// mdText makes untrusted text (experiment, probe and fault names, error
// messages) inert in Markdown: no HTML, no table breaks, no line breaks.
// Bold markers added by the writer itself are left alone because they
// never pass through here.
func mdText(s string) string {
	return mdReplacer.Replace(s)
}

// mdCell is mdText for a table cell; the writer's own ** bold markers are
// kept (cells are built from formatted figures and mdText'd names).
func mdCell(s string) string {
	if strings.HasPrefix(s, "**") && strings.HasSuffix(s, "**") && len(s) > 4 {
		return "**" + mdText(s[2:len(s)-2]) + "**"
	}
	return mdText(s)
}

var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "&", "&amp;",
	"*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
	"\r\n", " ", "\n", " ", "\r", " ",
)
