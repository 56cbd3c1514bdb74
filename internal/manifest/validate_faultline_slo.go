package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

var (
	flSLOMetrics = []string{string(v1alpha1.SLOAvailability), string(v1alpha1.SLOErrorRate), string(v1alpha1.SLOLatency),
		string(v1alpha1.SLORecoveryTime), string(v1alpha1.SLOConsistency), string(v1alpha1.SLOThroughput)}
	flSLOPhases = []string{string(v1alpha1.SLOPhaseBaseline), string(v1alpha1.SLOPhaseFault),
		string(v1alpha1.SLOPhaseRecovery), string(v1alpha1.SLOPhaseAll)}
	flRecoveryFroms = []string{string(v1alpha1.RecoveryFromRevert), string(v1alpha1.RecoveryFromInjection)}
)

// flPercentile parses an SLO percentile: "p99", "p99.9", "99.5" or "max".
// It returns the percentile as a number from above 0 to 100.
func flPercentile(s string) (float64, bool) {
	if s == "max" {
		return 100, true
	}
	f, err := strconv.ParseFloat(strings.TrimPrefix(s, "p"), 64)
	if err != nil || !(f > 0 && f <= 100) {
		return 0, false
	}
	return f, true
}

func validateSLO(p Path, s *v1alpha1.SLO, sc *experimentScope, ps *Problems) {
	if s.Metric == "" {
		ps.Required(p.Child("metric"), "valid values: "+strings.Join(flSLOMetrics, ", "))
		return
	}
	if !validateEnum(p.Child("metric"), string(s.Metric), flSLOMetrics, ps) {
		return
	}
	m := s.Metric

	if s.Percentile != "" {
		if m != v1alpha1.SLOLatency {
			ps.Add(p.Child("percentile"), fmt.Sprintf("percentile is only for latency, not %s", m), "remove percentile")
		} else if _, ok := flPercentile(s.Percentile); !ok {
			ps.Add(p.Child("percentile"), fmt.Sprintf("%q is not a percentile", s.Percentile),
				`write p50, p90, p95, p99, p99.9, max, or any p<n> with n above 0 and at most 100`)
		}
	}
	if m == v1alpha1.SLORecoveryTime {
		if s.Phase != "" {
			ps.Add(p.Child("phase"), "recoveryTime is measured per fault, not over a phase",
				"remove phase; use from: revert or from: injection to choose where it starts")
		}
	} else {
		validateEnum(p.Child("phase"), string(s.Phase), flSLOPhases, ps)
	}
	if s.From != "" {
		if m != v1alpha1.SLORecoveryTime {
			ps.Add(p.Child("from"), fmt.Sprintf("from is only for recoveryTime, not %s", m), "remove from")
		} else {
			validateEnum(p.Child("from"), string(s.From), flRecoveryFroms, ps)
		}
	}
	if s.Probe != "" {
		if m != v1alpha1.SLOConsistency {
			ps.Add(p.Child("probe"), fmt.Sprintf("probe is only for consistency, not %s", m), "remove probe")
		} else {
			flReference(p.Child("probe"), s.Probe, "inference probe", sc.inferenceProbes, ps)
		}
	}

	switch m {
	case v1alpha1.SLOConsistency:
		if len(sc.inferenceProbes) == 0 {
			ps.Add(p.Child("metric"), "consistency is measured by inference probes, and the experiment has none",
				"add a probe of type inference with a golden set")
		}
	default:
		if !sc.hasLoad {
			ps.Add(p.Child("metric"), fmt.Sprintf("%s is measured on the load's requests, and the experiment has no load", m),
				"add spec.load with a target and a rate")
		}
	}

	switch m {
	case v1alpha1.SLOLatency, v1alpha1.SLORecoveryTime:
		for _, f := range []flField{{"min", s.Min != nil}, {"max", s.Max != nil}} {
			if f.set {
				ps.Add(p.Child(f.name), fmt.Sprintf("%s is a duration: its bounds are %sDuration, not %s", m, f.name, f.name),
					fmt.Sprintf("write %sDuration: 500ms instead", f.name))
			}
		}
		lo, lok := flDuration(p.Child("minDuration"), s.MinDuration, false, true, ps)
		hi, hok := flDuration(p.Child("maxDuration"), s.MaxDuration, false, false, ps)
		if s.MinDuration == "" && s.MaxDuration == "" && s.Min == nil && s.Max == nil {
			ps.Required(p.Child("maxDuration"), fmt.Sprintf("write the highest passing %s, e.g. maxDuration: %s", m, map[v1alpha1.SLOMetric]string{v1alpha1.SLOLatency: "500ms", v1alpha1.SLORecoveryTime: "30s"}[m]))
		}
		if lok && hok && lo > hi {
			ps.Add(p.Child("minDuration"), fmt.Sprintf("minDuration %s is above maxDuration %s", s.MinDuration, s.MaxDuration), "no value could pass; swap them")
		}
	default:
		for _, f := range []flField{{"minDuration", s.MinDuration != ""}, {"maxDuration", s.MaxDuration != ""}} {
			if f.set {
				name := strings.TrimSuffix(f.name, "Duration")
				ps.Add(p.Child(f.name), fmt.Sprintf("%s is not a duration: its bounds are %s and %s", m, "min", "max"),
					fmt.Sprintf("write %s: %s instead", name, flExampleBound(m)))
			}
		}
		limit, unit := 100.0, "a percentage from 0 to 100"
		if m == v1alpha1.SLOThroughput {
			limit, unit = 0, "requests per second, 0 or more"
		}
		check := func(name string, v *float64) bool {
			if v == nil {
				return false
			}
			if !flFinite(*v) || *v < 0 || (limit > 0 && *v > limit) {
				ps.Add(p.Child(name), fmt.Sprintf("%v is out of range for %s", *v, m), "write "+unit)
				return false
			}
			return true
		}
		lok, hok := check("min", s.Min), check("max", s.Max)
		if s.Min == nil && s.Max == nil && s.MinDuration == "" && s.MaxDuration == "" {
			bound := "min"
			if m == v1alpha1.SLOErrorRate {
				bound = "max"
			}
			ps.Required(p.Child(bound), fmt.Sprintf("write the %s passing %s, e.g. %s: %s",
				map[string]string{"min": "lowest", "max": "highest"}[bound], m, bound, flExampleBound(m)))
		}
		if lok && hok && *s.Min > *s.Max {
			ps.Add(p.Child("min"), fmt.Sprintf("min %v is above max %v", *s.Min, *s.Max), "no value could pass; swap them")
		}
	}
}

func flExampleBound(m v1alpha1.SLOMetric) string {
	switch m {
	case v1alpha1.SLOErrorRate:
		return "1"
	case v1alpha1.SLOThroughput:
		return "45"
	}
	return "99.5"
}
