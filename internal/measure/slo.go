package measure

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// sloInputs is what SLO evaluation reads besides the SLO itself.
type sloInputs struct {
	phases   map[string]*phaseAcc // by phase name, plus "all"
	aborted  bool
	hasLoad  bool // the spec has a load, or the timeline has requests
	checks   []checkRef
	recovery []Recovery
	faults   int // faults in the timeline (injected or not)
}

// checkRef is a consistency check with its phase.
type checkRef struct {
	probe, phase string
	match        bool
}

// evaluateSLO measures one SLO and compares it with its bounds. Bounds are
// inclusive (validation documents them so): availability min 99.5 passes
// at exactly 99.5%. A figure that cannot be measured (no load, no checks,
// phase missing) fails with a message saying why — an objective nobody
// could check has not been met, and a CI gate must not pass on it.
func evaluateSLO(s *v1alpha1.SLO, in *sloInputs) SLOResult {
	phase := s.Phase
	if phase == "" {
		phase = v1alpha1.SLOPhaseAll
	}
	res := SLOResult{Name: s.Name, Metric: string(s.Metric), Phase: string(phase)}
	if s.Metric == v1alpha1.SLORecoveryTime {
		res.Phase = ""
		return evaluateRecoverySLO(s, in, res)
	}
	if s.Metric == v1alpha1.SLOConsistency {
		return evaluateConsistencySLO(s, in, res)
	}

	acc, ok := in.phases[string(phase)]
	fail := func(msg string) SLOResult {
		res.Observed, res.Message = "n/a", msg
		return res
	}
	switch {
	case !ok && in.aborted:
		return fail(fmt.Sprintf("the run was aborted before the %s phase", phase))
	case !ok:
		return fail(fmt.Sprintf("the run has no %s phase", phase))
	case !in.hasLoad:
		return fail(fmt.Sprintf("no load: the experiment drives no requests, so %s cannot be measured", s.Metric))
	case acc.requests == 0:
		return fail(fmt.Sprintf("no load: the %s phase had no requests, so %s cannot be measured", phase, s.Metric))
	}

	switch s.Metric {
	case v1alpha1.SLOAvailability, v1alpha1.SLOErrorRate:
		v := percentOf(acc.ok, acc.requests)
		if s.Metric == v1alpha1.SLOErrorRate {
			v = percentOf(acc.requests-acc.ok, acc.requests)
		}
		res.Value, res.Observed = v, formatPercent(v)
		return numberBounds(s, res)
	case v1alpha1.SLOThroughput:
		v := rate(acc.ok, acc.span.End-acc.span.Start)
		res.Value, res.Observed = v, formatRate(v)
		return numberBounds(s, res)
	case v1alpha1.SLOLatency:
		pct, ok := parsePercentile(s.Percentile)
		if !ok {
			return fail(fmt.Sprintf("%q is not a percentile", s.Percentile))
		}
		d := acc.percentile(pct)
		res.Value, res.Observed = d.Seconds(), formatDuration(d)
		res = durationBoundsCheck(s, d, res)
		if res.Objective != "" {
			// The result has no percentile field; the objective names it.
			res.Objective = percentileName(s.Percentile) + " " + res.Objective
		}
		return res
	}
	return fail(fmt.Sprintf("unknown metric %q", s.Metric))
}

func evaluateRecoverySLO(s *v1alpha1.SLO, in *sloInputs, res SLOResult) SLOResult {
	res.Observed = "n/a"
	from := s.From
	if from == "" {
		from = v1alpha1.RecoveryFromRevert
	}
	var worst time.Duration
	measured := 0
	var never []string
	for _, r := range in.recovery {
		if r.Unmeasured != "" {
			continue
		}
		measured++
		d := r.FromRevert
		if from == v1alpha1.RecoveryFromInjection {
			d = r.FromStart
		}
		if d < 0 {
			never = append(never, r.Fault)
			continue
		}
		worst = max(worst, d)
	}
	switch {
	case measured == 0 && !in.hasLoad:
		res.Message = "no load: without requests there is nothing to measure recovery on"
		return res
	case measured == 0 && in.faults > 0:
		res.Message = "no fault was injected, so there was nothing to recover from"
		return res
	case measured == 0:
		res.Message = "the run injected no fault, so there was nothing to recover from"
		return res
	case len(never) > 0:
		res.Value, res.Observed = -1, "never recovered"
		res.Message = strings.Join(never, ", ") + " never recovered before the run ended"
		// The objective is still shown, so the reader knows what was asked.
		if o, err := durationObjective(s); err == nil {
			res.Objective = o
			if from == v1alpha1.RecoveryFromInjection {
				res.Objective += " from injection"
			}
		}
		return res
	}
	res.Value, res.Observed = worst.Seconds(), formatDuration(worst)
	res = durationBoundsCheck(s, worst, res)
	if res.Objective != "" && from == v1alpha1.RecoveryFromInjection {
		res.Objective += " from injection"
	}
	return res
}

func evaluateConsistencySLO(s *v1alpha1.SLO, in *sloInputs, res SLOResult) SLOResult {
	res.Observed = "n/a"
	var n, matched int64
	for _, c := range in.checks {
		if s.Probe != "" && c.probe != s.Probe {
			continue
		}
		if res.Phase != string(v1alpha1.SLOPhaseAll) && c.phase != res.Phase {
			continue
		}
		n++
		if c.match {
			matched++
		}
	}
	if n == 0 {
		who := "the inference probes"
		if s.Probe != "" {
			who = "inference probe " + s.Probe
		}
		where := "in the run"
		if res.Phase != string(v1alpha1.SLOPhaseAll) {
			where = "in the " + res.Phase + " phase"
		}
		res.Message = fmt.Sprintf("no consistency checks: %s recorded none %s", who, where)
		return res
	}
	v := percentOf(matched, n)
	res.Value, res.Observed = v, formatPercent(v)
	return numberBounds(s, res)
}

// numberBounds checks a number against min/max (inclusive).
func numberBounds(s *v1alpha1.SLO, res SLOResult) SLOResult {
	if s.Min == nil && s.Max == nil {
		res.Message = "the SLO has no bound (min or max)"
		return res
	}
	res.Objective = objectiveNumbers(s.Metric, s.Min, s.Max)
	res.Pass = within(res.Value, s.Min, s.Max)
	return res
}

// durationBoundsCheck checks a duration against minDuration/maxDuration
// (inclusive).
func durationBoundsCheck(s *v1alpha1.SLO, d time.Duration, res SLOResult) SLOResult {
	lo, hi, err := durationBounds(s)
	switch {
	case err != nil:
		res.Message = err.Error()
		return res
	case lo == nil && hi == nil:
		res.Message = "the SLO has no bound (minDuration or maxDuration)"
		return res
	}
	res.Objective = objectiveDurations(lo, hi)
	res.Pass = (lo == nil || d >= *lo) && (hi == nil || d <= *hi)
	return res
}

func durationObjective(s *v1alpha1.SLO) (string, error) {
	lo, hi, err := durationBounds(s)
	if err != nil {
		return "", err
	}
	return objectiveDurations(lo, hi), nil
}

// within reports lo ≤ v ≤ hi for the bounds that are set.
func within(v float64, lo, hi *float64) bool {
	return (lo == nil || v >= *lo) && (hi == nil || v <= *hi)
}

func durationBounds(s *v1alpha1.SLO) (lo, hi *time.Duration, err error) {
	parse := func(field, v string) (*time.Duration, error) {
		if v == "" {
			return nil, nil
		}
		d, err := parseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return &d, nil
	}
	if lo, err = parse("minDuration", s.MinDuration); err != nil {
		return nil, nil, err
	}
	hi, err = parse("maxDuration", s.MaxDuration)
	return lo, hi, err
}

// objectiveNumbers writes numeric bounds: "≥ 99.5%", "≤ 1%", "≥ 45 rps",
// "≥ 10 rps and ≤ 50 rps".
func objectiveNumbers(m v1alpha1.SLOMetric, lo, hi *float64) string {
	unit := "%"
	if m == v1alpha1.SLOThroughput {
		unit = " rps"
	}
	var parts []string
	if lo != nil {
		parts = append(parts, "≥ "+formatNumber(*lo)+unit)
	}
	if hi != nil {
		parts = append(parts, "≤ "+formatNumber(*hi)+unit)
	}
	return strings.Join(parts, " and ")
}

// objectiveDurations writes duration bounds: "≤ 500ms", "≥ 1ms and ≤ 2s".
func objectiveDurations(lo, hi *time.Duration) string {
	var parts []string
	if lo != nil {
		parts = append(parts, "≥ "+formatDuration(*lo))
	}
	if hi != nil {
		parts = append(parts, "≤ "+formatDuration(*hi))
	}
	return strings.Join(parts, " and ")
}

// parsePercentile reads an SLO percentile as validation accepts it: "p99",
// "p99.9", "99.5" or "max"; empty is the default p99. It returns 0 < p ≤ 100.
func parsePercentile(s string) (float64, bool) {
	switch s {
	case "":
		return 99, true
	case "max":
		return 100, true
	}
	f, err := strconv.ParseFloat(strings.TrimPrefix(s, "p"), 64)
	if err != nil || !(f > 0 && f <= 100) {
		return 0, false
	}
	return f, true
}

// percentileName is how a percentile reads in a criterion: "p99", "max".
func percentileName(s string) string {
	switch {
	case s == "":
		return "p99"
	case s == "max" || strings.HasPrefix(s, "p"):
		return s
	}
	return "p" + s
}

// parseDuration parses a manifest duration as validation does.
func parseDuration(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return 0, errors.New("empty duration")
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}
