package measure

import (
	"math"
	"time"

	"github.com/faultline-dev/faultline/internal/timeline"
)

// AggregateRuns summarises repeated runs of one experiment (`--repeat N`):
// how many passed, and the mean, sample standard deviation, min and max of
// the main figures (see Aggregate for the keys and units). A figure a run
// could not measure is left out of that figure rather than counted as 0,
// so one run without load does not drag the mean availability down.
func AggregateRuns(results []Result) Aggregate {
	agg := Aggregate{Runs: len(results), Metrics: map[string]Spread{}}
	samples := map[string][]float64{}
	for i := range results {
		r := &results[i]
		switch r.Verdict {
		case VerdictPass:
			agg.Passed++
		case VerdictAborted:
			agg.Aborted++
		}
		if f, ok := phaseNamed(r.Phases, timeline.PhaseFault); ok && f.Requests > 0 {
			samples[MetricAvailability] = append(samples[MetricAvailability], f.Availability)
			samples[MetricP99] = append(samples[MetricP99], float64(f.Latency.P99)/float64(time.Millisecond))
		}
		if worst, measured, recovered := worstRecovery(r.Recovery); measured {
			if recovered {
				samples[MetricRecoverySeconds] = append(samples[MetricRecoverySeconds], worst.Seconds())
			} else {
				agg.Unrecovered++
			}
		}
		if r.Overall.Consistency >= 0 {
			samples[MetricConsistency] = append(samples[MetricConsistency], r.Overall.Consistency)
		}
		samples[MetricScore] = append(samples[MetricScore], r.Score.Value)
	}
	for k, xs := range samples {
		agg.Metrics[k] = spreadOf(xs)
	}
	return agg
}

func phaseNamed(phases []PhaseStats, name string) (PhaseStats, bool) {
	for _, p := range phases {
		if p.Phase == name {
			return p, true
		}
	}
	return PhaseStats{}, false
}

// worstRecovery is the longest recovery from revert over the measured
// faults; recovered is false when one of them never recovered.
func worstRecovery(rs []Recovery) (worst time.Duration, measured, recovered bool) {
	recovered = true
	for _, r := range rs {
		if r.Unmeasured != "" {
			continue
		}
		measured = true
		if r.FromRevert < 0 {
			recovered = false
			continue
		}
		worst = max(worst, r.FromRevert)
	}
	return worst, measured, recovered
}

// spreadOf computes mean and sample standard deviation with Welford's
// update, which stays accurate when the values are large and close
// together (p99s of 812.3 ms ± 0.4).
func spreadOf(xs []float64) Spread {
	s := Spread{Samples: len(xs)}
	if len(xs) == 0 {
		return s
	}
	s.Min, s.Max = xs[0], xs[0]
	var mean, m2 float64
	for i, x := range xs {
		d := x - mean
		mean += d / float64(i+1)
		m2 += d * (x - mean)
		s.Min, s.Max = math.Min(s.Min, x), math.Max(s.Max, x)
	}
	s.Mean = mean
	if len(xs) > 1 {
		s.StdDev = math.Sqrt(m2 / float64(len(xs)-1))
	}
	return s
}
