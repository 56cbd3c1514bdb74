package measure

import (
	"math"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// docsExample is the worked example of docs/measurement.md: a single-
// replica model server, 100 requests per second, killed 14 s into a 20 s
// fault phase; it takes 6 s to restart, and every request meanwhile times
// out at the gateway after 100 ms (normal latency 40 ms). A golden-set
// probe checks once a second and gets no valid answer during the restart.
func docsExample() (*timeline.Timeline, *v1alpha1.ExperimentSpec) {
	down := func(at time.Duration) bool { return at >= ms(24000) && at < ms(30000) }
	reqs := load(0, ms(60000), ms(10), func(at time.Duration, r *timeline.Request) {
		r.Latency = ms(40)
		if down(at) {
			failWith(r, "status 504")
			r.Latency = ms(100)
		}
	})
	var checks []timeline.Check
	for at := ms(500); at < ms(60000); at += ms(1000) {
		checks = append(checks, timeline.Check{Probe: "golden", At: at, Request: "q1", Match: !down(at)})
	}
	tl := &timeline.Timeline{
		Experiment: "docs-example",
		Duration:   ms(60000),
		Phases:     phases3(ms(10000), ms(30000), ms(60000)),
		Requests:   reqs,
		Checks:     checks,
		Faults:     []timeline.Fault{{Name: "kill-model", Kind: "PodChaos", Start: ms(24000), End: ms(24000)}},
	}
	spec := specWithLoad(
		v1alpha1.SLO{Name: "recovers", Metric: v1alpha1.SLORecoveryTime, MaxDuration: "10s"},
		v1alpha1.SLO{Name: "consistent", Metric: v1alpha1.SLOConsistency, Min: f64(99)},
	)
	spec.Probes = []v1alpha1.ExperimentProbe{{Name: "golden", Type: v1alpha1.ProbeInferenceType}}
	return tl, spec
}

// TestScoreDocsExample recomputes docs/measurement.md's worked example:
// every figure quoted there is asserted here.
func TestScoreDocsExample(t *testing.T) {
	res := Measure(docsExample())

	f := findPhase(res, "fault")
	if f.Availability != 70 || f.Latency.P99 != ms(100) || findPhase(res, "baseline").Latency.P99 != ms(40) {
		t.Errorf("fault availability %v, p99 %v; baseline p99 %v", f.Availability, f.Latency.P99, findPhase(res, "baseline").Latency.P99)
	}
	r := res.Recovery[0]
	if r.FromRevert != ms(6000) || r.FromStart != ms(6000) || r.TimeToFirstError != 0 || !r.Impacted || !r.Recovered {
		t.Errorf("recovery = %+v", r)
	}
	want := map[string]float64{ComponentAvailability: 70, ComponentLatency: 40, ComponentRecovery: 40, ComponentConsistency: 90}
	for k, v := range want {
		if got := res.Score.Components[k]; got != v {
			t.Errorf("component %s = %v, want %v", k, got, v)
		}
	}
	// (40·70 + 20·40 + 25·40 + 15·90) / 100 = 59.5
	if res.Score.Value != 59.5 {
		t.Errorf("score = %v, want 59.5", res.Score.Value)
	}
	if s := findSLO(res, "recovers"); !s.Pass || s.Observed != "6s" || s.Value != 6 {
		t.Errorf("recovers = %+v", s)
	}
	if s := findSLO(res, "consistent"); s.Pass || s.Observed != "90%" {
		t.Errorf("consistent = %+v", s)
	}
	if res.Verdict != VerdictFail {
		t.Errorf("verdict = %s", res.Verdict)
	}
	if got := res.RecoveryCriteria; len(got) != 1 || got[0] != "availability ≥ 100% (baseline)" || res.RecoveryWindow != 2*time.Second {
		t.Errorf("recovery definition %v %q", res.RecoveryWindow, got)
	}
}

func TestScoreComponents(t *testing.T) {
	acc := func(name string, ok, fail int, lat time.Duration) *phaseAcc {
		a := newPhaseAcc(timeline.Span{Name: name, End: 10 * time.Second})
		for i := range ok + fail {
			a.addRequest(&timeline.Request{OK: i < ok, Latency: lat})
		}
		return a
	}
	rec := func(from time.Duration) []Recovery {
		return []Recovery{{Fault: "f", FromRevert: from, FromStart: from, Recovered: from >= 0, Impacted: from != 0}}
	}
	cases := []struct {
		name  string
		in    scoreInputs
		comps map[string]float64
		value float64
	}{
		{
			name:  "weights renormalised without consistency",
			in:    scoreInputs{fault: acc("fault", 70, 30, ms(100)), baseline: acc("baseline", 10, 0, ms(40)), recovery: rec(ms(6000)), budget: ms(10000)},
			comps: map[string]float64{ComponentAvailability: 70, ComponentLatency: 40, ComponentRecovery: 40},
			value: math.Round((40*70+20*40+25*40)/85.0*10) / 10, // 54.1
		},
		{
			name:  "faster under fault is capped at 100",
			in:    scoreInputs{fault: acc("fault", 10, 0, ms(10)), baseline: acc("baseline", 10, 0, ms(40)), recovery: rec(0), budget: ms(10000)},
			comps: map[string]float64{ComponentAvailability: 100, ComponentLatency: 100, ComponentRecovery: 100},
			value: 100,
		},
		{
			name:  "recovery past the budget is 0, never recovered is 0",
			in:    scoreInputs{recovery: append(rec(ms(12000)), rec(-1)...), budget: ms(10000)},
			comps: map[string]float64{ComponentRecovery: 0},
			value: 0,
		},
		{
			name:  "recovery from injection when the SLO says so",
			in:    scoreInputs{recovery: []Recovery{{FromRevert: ms(1000), FromStart: ms(5000), Recovered: true, Impacted: true}}, budget: ms(20000), from: v1alpha1.RecoveryFromInjection},
			comps: map[string]float64{ComponentRecovery: 75},
			value: 75,
		},
		{
			name:  "unmeasured recovery and no budget leave the component out",
			in:    scoreInputs{recovery: []Recovery{{Unmeasured: "no load", FromRevert: -1}, {FromRevert: ms(1000), Impacted: true, Recovered: true}}, checks: 4, matched: 3},
			comps: map[string]float64{ComponentConsistency: 75},
			value: 75,
		},
		{
			name:  "nothing measured",
			in:    scoreInputs{},
			comps: map[string]float64{},
			value: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := computeScore(tc.in)
			if len(s.Components) != len(tc.comps) || len(s.Weights) != len(tc.comps) {
				t.Errorf("components %v weights %v, want %v", s.Components, s.Weights, tc.comps)
			}
			for k, v := range tc.comps {
				if s.Components[k] != v {
					t.Errorf("%s = %v, want %v", k, s.Components[k], v)
				}
			}
			if s.Value != tc.value || s.Formula != ScoreFormula {
				t.Errorf("score = %v, want %v", s.Value, tc.value)
			}
		})
	}
}

func TestAggregateRuns(t *testing.T) {
	run := func(v Verdict, score, avail float64, p99, rec time.Duration, consistency float64) Result {
		r := Result{Verdict: v, Score: Score{Value: score},
			Phases:   []PhaseStats{{Phase: "fault", Requests: 100, Availability: avail, Latency: Latency{P99: p99}}},
			Overall:  PhaseStats{Consistency: consistency},
			Recovery: []Recovery{{Fault: "f", FromRevert: rec, Recovered: rec >= 0, Impacted: true}, {Fault: "g", Unmeasured: "not injected", FromRevert: -1}},
		}
		return r
	}
	runs := []Result{
		run(VerdictPass, 60, 99, ms(100), ms(1000), 100),
		run(VerdictFail, 70, 98, ms(200), ms(3000), -1),
		run(VerdictPass, 80, 97, ms(300), -1, 90),
		run(VerdictAborted, 90, 96, ms(400), ms(2000), 80),
	}
	a := AggregateRuns(runs)
	if a.Runs != 4 || a.Passed != 2 || a.Aborted != 1 || a.Unrecovered != 1 {
		t.Errorf("aggregate counts %+v", a)
	}
	// Sample standard deviations worked by hand:
	// score 60,70,80,90: mean 75, Σd² = 500, s = √(500/3).
	// recovery 1,3,2 s: mean 2, Σd² = 2, s = 1.
	// consistency 100,90,80: mean 90, s = 10.
	want := map[string]Spread{
		MetricScore:           {Mean: 75, StdDev: math.Sqrt(500.0 / 3), Min: 60, Max: 90, Samples: 4},
		MetricAvailability:    {Mean: 97.5, StdDev: math.Sqrt(5.0 / 3), Min: 96, Max: 99, Samples: 4},
		MetricP99:             {Mean: 250, StdDev: math.Sqrt(50000.0 / 3), Min: 100, Max: 400, Samples: 4},
		MetricRecoverySeconds: {Mean: 2, StdDev: 1, Min: 1, Max: 3, Samples: 3},
		MetricConsistency:     {Mean: 90, StdDev: 10, Min: 80, Max: 100, Samples: 3},
	}
	if len(a.Metrics) != len(want) {
		t.Errorf("metrics %v", a.Metrics)
	}
	for k, w := range want {
		g := a.Metrics[k]
		if math.Abs(g.Mean-w.Mean) > 1e-9 || math.Abs(g.StdDev-w.StdDev) > 1e-9 || g.Min != w.Min || g.Max != w.Max || g.Samples != w.Samples {
			t.Errorf("%s = %+v, want %+v", k, g, w)
		}
	}

	one := AggregateRuns(runs[:1])
	if s := one.Metrics[MetricScore]; s.StdDev != 0 || s.Mean != 60 {
		t.Errorf("single run spread %+v", s)
	}
	if empty := AggregateRuns(nil); empty.Runs != 0 || len(empty.Metrics) != 0 {
		t.Errorf("empty aggregate %+v", empty)
	}
}
