package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/measure"
)

// Formatting shared by the text outputs (Markdown, JUnit messages, HTML
// tables), so the same figure reads the same everywhere.

const dash = "—"

// fmtDur formats a duration at a precision that suits its size: latencies
// of a few milliseconds keep their decimals, recovery times of minutes do
// not. Negative durations are measure's "did not happen" and print as a
// dash.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return dash
	case d == 0:
		return "0 s"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// fmtStep formats a chart bucket width, always a round number of
// seconds, minutes or hours (see chooseStep).
func fmtStep(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	default:
		return trimZeros(strconv.FormatFloat(d.Seconds(), 'f', 3, 64)) + " s"
	}
}

// fmtOffset formats an offset from the start of the run as m:ss.s, the way
// the charts label their time axis.
func fmtOffset(d time.Duration) string {
	if d < 0 {
		return dash
	}
	tenths := int64(d.Round(100*time.Millisecond) / (100 * time.Millisecond))
	return fmt.Sprintf("%d:%02d.%d", tenths/600, tenths/10%60, tenths%10)
}

// fmtWindow is a fault's or phase's interval.
func fmtWindow(start, end time.Duration) string {
	if end <= start {
		return fmtOffset(start)
	}
	return fmtOffset(start) + "–" + fmtOffset(end)
}

// fmtPct formats a percentage. Values just below 100 are truncated rather
// than rounded: 99.996% availability must not print as "100%", which
// would hide that requests failed.
func fmtPct(v float64) string {
	switch {
	case math.IsNaN(v) || v < 0:
		return dash
	case v >= 100:
		return "100%"
	case v >= 99:
		return trimZeros(strconv.FormatFloat(math.Floor(v*1000)/1000, 'f', 3, 64)) + "%"
	default:
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64)) + "%"
	}
}

// fmtRate formats a per-second rate.
func fmtRate(v float64) string {
	if math.IsNaN(v) || v < 0 {
		return dash
	}
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64) + "/s"
	}
	return trimZeros(strconv.FormatFloat(v, 'f', 1, 64)) + "/s"
}

// fmtScore formats the resilience score (0–100).
func fmtScore(v float64) string {
	if math.IsNaN(v) {
		return dash
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// fmtFloat formats an aggregate figure compactly.
func fmtFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dash
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// mark is the pass/fail marker: plain Unicode check and cross, not emoji,
// so it renders the same in terminals, CI logs and pull requests.
func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// verdictWord is the verdict in capitals, as the headline shows it.
func verdictWord(v measure.Verdict) string {
	switch v {
	case measure.VerdictPass:
		return "PASS"
	case measure.VerdictFail:
		return "FAIL"
	case measure.VerdictAborted:
		return "ABORTED"
	case "":
		return "UNKNOWN"
	default:
		return strings.ToUpper(string(v))
	}
}

// sloName names an objective stably across runs (CI trend views key on
// it): the configured name, else metric and phase.
func sloName(s measure.SLOResult) string {
	if s.Name != "" {
		return s.Name
	}
	n := s.Metric
	if s.Phase != "" {
		n += " (" + s.Phase + ")"
	}
	if n == "" {
		n = "slo"
	}
	return n
}

// sloDetail is why an objective failed: the objective next to what was
// observed.
func sloDetail(s measure.SLOResult) string {
	msg := "objective " + orDash(s.Objective) + ", observed " + orDash(s.Observed)
	if s.Phase != "" {
		msg = s.Metric + " in phase " + s.Phase + ": " + msg
	} else if s.Metric != "" {
		msg = s.Metric + ": " + msg
	}
	if s.Message != "" {
		msg += " (" + s.Message + ")"
	}
	return msg
}

// fidelityRatio is measured over asked, as a percentage, when both numbers
// are known; ok is false when the deviation is large enough to point out.
func fidelityRatio(f engine.Fidelity) (ratio string, ok bool) {
	if f.AskedValue == 0 || math.IsNaN(f.AskedValue) || math.IsNaN(f.MeasuredValue) {
		return dash, true
	}
	r := f.MeasuredValue / f.AskedValue * 100
	return strconv.FormatFloat(r, 'f', 1, 64) + "%", math.Abs(r-100) <= fidelityTolerance
}

// fidelityTolerance is how far (percentage points) measured may stray from
// asked before a report flags it: engines hit delays and loss within a
// few percent, so more than this points at a fault not honoured.
const fidelityTolerance = 10

// worstRecovery is the longest time from a revert to recovery over the
// faults that impacted the service, and whether every one recovered.
func worstRecovery(res *measure.Result) (worst time.Duration, allRecovered, any bool) {
	allRecovered = true
	for _, rc := range res.Recovery {
		if !rc.Impacted || rc.Unmeasured != "" {
			continue
		}
		any = true
		if !rc.Recovered || rc.FromRevert < 0 {
			allRecovered = false
			continue
		}
		worst = max(worst, rc.FromRevert)
	}
	return worst, allRecovered, any
}

// fmtRecovery is worstRecovery in words.
func fmtRecovery(res *measure.Result) string {
	worst, all, any := worstRecovery(res)
	switch {
	case !any:
		return "not impacted"
	case !all:
		return "not recovered"
	default:
		return fmtDur(worst)
	}
}

// countPassed counts SLOs and probes that passed.
func countPassed(res *measure.Result) (slos, probes int) {
	for _, s := range res.SLOs {
		if s.Pass {
			slos++
		}
	}
	for _, p := range res.Probes {
		if p.OK {
			probes++
		}
	}
	return slos, probes
}

// recoveryOK is whether a fault's recovery row counts as good: it did not
// hurt the service, or the service came back. An unmeasured recovery is
// neither good nor bad; measured says which.
func recoveryOK(rc measure.Recovery) (ok, measured bool) {
	if rc.Unmeasured != "" {
		return false, false
	}
	return !rc.Impacted || (rc.Recovered && rc.FromRevert >= 0), true
}

// recoveryMark is the ✓/✗ of a recovery row, a dash when unmeasured.
func recoveryMark(rc measure.Recovery) string {
	ok, measured := recoveryOK(rc)
	if !measured {
		return dash
	}
	return mark(ok)
}

// recoveryDefinition says what "recovered" meant for this result, when
// measure recorded it.
func recoveryDefinition(res *measure.Result) string {
	if res.RecoveryWindow <= 0 && len(res.RecoveryCriteria) == 0 {
		return ""
	}
	s := "Recovered means the service holds "
	if len(res.RecoveryCriteria) > 0 {
		s += strings.Join(res.RecoveryCriteria, ", ")
	} else {
		s += "its SLOs"
	}
	if res.RecoveryWindow > 0 {
		s += " over a whole " + fmtDur(res.RecoveryWindow) + " window"
	}
	return s + "."
}

// errorPhases are the rows of an errors-by-kind table: each phase, or the
// whole run when it had no phases (the phases already add up to it).
func errorPhases(res *measure.Result) []measure.PhaseStats {
	if len(res.Phases) == 0 {
		return []measure.PhaseStats{res.Overall}
	}
	return res.Phases
}

// mismatchCount is every mismatch of a result, kept or capped away.
func mismatchCount(res *measure.Result) (kept, omitted int) {
	for _, c := range res.Consistency {
		kept += len(c.Mismatches)
		omitted += c.MismatchesOmitted
	}
	return kept, omitted
}

func orDash(s string) string {
	if s == "" {
		return dash
	}
	return s
}

// phaseOrder lists the phase names of a consistency's per-phase map in the
// run's phase order, then any others sorted, so columns line up.
func phaseOrder(res *measure.Result, byPhase map[string]float64) []string {
	var names []string
	seen := map[string]bool{}
	for _, p := range res.Phases {
		if _, ok := byPhase[p.Phase]; ok && !seen[p.Phase] {
			names = append(names, p.Phase)
			seen[p.Phase] = true
		}
	}
	var rest []string
	for k := range byPhase {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(names, rest...)
}
