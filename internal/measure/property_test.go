package measure

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// TestProperties checks invariants over random synthetic timelines (fixed
// seeds, so a failure reproduces): percentages within [0, 100],
// percentiles monotone and within HdrHistogram precision of the exact
// order statistic, recovery times ≥ 0 or -1 consistently with the flags,
// score components within [0, 100], and a Result that encodes to JSON (no
// NaN or Inf anywhere).
func TestProperties(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			tl, spec := randomTimeline(seed)
			res := Measure(tl, spec)
			checkInvariants(t, tl, res)
		})
	}
}

func randomTimeline(seed uint64) (*timeline.Timeline, *v1alpha1.ExperimentSpec) {
	rng := newRand(seed)
	b := ms(int64(rng.IntN(5000)))
	f := b + ms(int64(1+rng.IntN(10000)))
	end := f + ms(int64(rng.IntN(10000)))
	tl := &timeline.Timeline{Duration: end, Phases: phases3(b, f, end)}

	// Load: sometimes none, sometimes sparse, with random outages and slow
	// stretches; latencies spread over six orders of magnitude.
	if rng.IntN(8) != 0 {
		step := ms(int64(1 + rng.IntN(200)))
		failP := rng.Float64() * rng.Float64()
		for at := time.Duration(0); at < end; at += step {
			lat := time.Duration(math.Exp(rng.Float64()*14)) * time.Microsecond
			r := timeline.Request{At: at, Latency: lat, OK: rng.Float64() >= failP}
			if !r.OK {
				r.Error = "timeout"
			}
			tl.Requests = append(tl.Requests, r)
		}
	}
	for i := range rng.IntN(4) {
		s := ms(int64(rng.IntN(int(end/time.Millisecond) + 1)))
		e := s
		if rng.IntN(3) != 0 {
			e += ms(int64(rng.IntN(5000)))
		}
		flt := fault(fmt.Sprint("f", i), s, e)
		if rng.IntN(6) == 0 {
			flt.Error = "injection failed"
		}
		tl.Faults = append(tl.Faults, flt)
	}
	for range rng.IntN(50) {
		tl.Checks = append(tl.Checks, timeline.Check{Probe: fmt.Sprint("p", rng.IntN(2)), At: ms(int64(rng.IntN(int(end/time.Millisecond) + 1))), Match: rng.IntN(4) != 0})
	}
	// Shuffle: Measure must not rely on the recorder's ordering.
	rng.Shuffle(len(tl.Requests), func(i, j int) { tl.Requests[i], tl.Requests[j] = tl.Requests[j], tl.Requests[i] })
	if rng.IntN(10) == 0 {
		tl.Aborted = &timeline.Abort{At: end, Reason: "stop condition"}
	}

	spec := specWithLoad(
		v1alpha1.SLO{Name: "a", Metric: v1alpha1.SLOAvailability, Phase: v1alpha1.SLOPhaseFault, Min: f64(rng.Float64() * 100)},
		v1alpha1.SLO{Name: "l", Metric: v1alpha1.SLOLatency, Percentile: "p99.9", MaxDuration: "300ms"},
		v1alpha1.SLO{Name: "r", Metric: v1alpha1.SLORecoveryTime, MaxDuration: "5s"},
		v1alpha1.SLO{Name: "c", Metric: v1alpha1.SLOConsistency, Min: f64(50)},
	)
	spec.Recovery = &v1alpha1.ExperimentRecovery{Window: (ms(int64(100 + rng.IntN(3000)))).String()}
	return tl, spec
}

func checkInvariants(t *testing.T, tl *timeline.Timeline, res Result) {
	t.Helper()
	inPct := func(what string, v float64) {
		if !(v >= 0 && v <= 100) {
			t.Errorf("%s = %v, outside [0, 100]", what, v)
		}
	}
	for _, p := range append(slices.Clone(res.Phases), res.Overall) {
		inPct(p.Phase+" availability", p.Availability)
		inPct(p.Phase+" error rate", p.ErrorRate)
		if p.Requests > 0 && math.Abs(p.Availability+p.ErrorRate-100) > 1e-9 {
			t.Errorf("%s: availability %v + error rate %v ≠ 100", p.Phase, p.Availability, p.ErrorRate)
		}
		if p.Consistency != -1 {
			inPct(p.Phase+" consistency", p.Consistency)
		}
		if p.Throughput < 0 || p.OK+p.Errors != p.Requests {
			t.Errorf("%s: %+v", p.Phase, p)
		}
		l := p.Latency
		if !(0 <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
			t.Errorf("%s: percentiles not monotone: %+v", p.Phase, l)
		}
		if p.Requests > 0 && (l.Mean > l.Max || l.Mean <= 0 && l.Max > 0) {
			t.Errorf("%s: mean %v, max %v", p.Phase, l.Mean, l.Max)
		}
	}
	// Percentiles against the exact order statistic of the whole run.
	if n := len(tl.Requests); n > 0 {
		lats := make([]time.Duration, n)
		for i, r := range tl.Requests {
			lats[i] = r.Latency
		}
		slices.Sort(lats)
		l := res.Overall.Latency
		for _, c := range []struct {
			p   float64
			got time.Duration
		}{{50, l.P50}, {90, l.P90}, {99, l.P99}, {99.9, l.P999}} {
			exact := lats[percentileRank(c.p, int64(n))-1]
			if c.got < exact.Truncate(time.Microsecond) || float64(c.got-exact) > float64(exact)/1000+float64(time.Microsecond) {
				t.Errorf("p%v = %v, exact %v", c.p, c.got, exact)
			}
		}
		if l.Max != lats[n-1] {
			t.Errorf("max %v, exact %v", l.Max, lats[n-1])
		}
	}
	for _, r := range res.Recovery {
		for _, d := range []time.Duration{r.FromRevert, r.FromStart, r.TimeToFirstError} {
			if d < 0 && d != -1 {
				t.Errorf("%s: negative duration other than -1: %+v", r.Fault, r)
			}
		}
		switch {
		case r.Unmeasured != "":
			if r.Impacted || r.Recovered || r.FromRevert != -1 || r.FromStart != -1 {
				t.Errorf("unmeasured %+v", r)
			}
		case !r.Impacted:
			if !r.Recovered || r.FromRevert != 0 || r.FromStart != 0 {
				t.Errorf("not impacted %+v", r)
			}
		case r.Recovered:
			if r.FromRevert < 0 {
				t.Errorf("recovered with %+v", r)
			}
		default:
			if r.FromRevert != -1 {
				t.Errorf("not recovered with %+v", r)
			}
		}
	}
	for k, v := range res.Score.Components {
		inPct("component "+k, v)
	}
	inPct("score", res.Score.Value)
	for _, s := range res.SLOs {
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) || s.Observed == "" {
			t.Errorf("SLO %+v", s)
		}
	}
	switch {
	case tl.Aborted != nil && res.Verdict != VerdictAborted,
		tl.Aborted == nil && (res.Verdict == VerdictPass) != (len(res.Reasons) == 0):
		t.Errorf("verdict %s with reasons %q", res.Verdict, res.Reasons)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("JSON: %v", err)
	}
}

// BenchmarkMeasure: a 1000 s run at 1000 requests per second (a million
// requests) with 20 faults and an outage.
func BenchmarkMeasure(b *testing.B) {
	end := 1000 * time.Second
	tl := &timeline.Timeline{Duration: end, Phases: phases3(100*time.Second, 600*time.Second, end),
		Requests: load(0, end, time.Millisecond, outage(300*time.Second, 310*time.Second))}
	for i := range 20 {
		s := 100*time.Second + time.Duration(i)*25*time.Second
		tl.Faults = append(tl.Faults, fault(fmt.Sprint("f", i), s, s+10*time.Second))
	}
	spec := specWithLoad(v1alpha1.SLO{Name: "l", Metric: v1alpha1.SLOLatency, MaxDuration: "50ms"})
	b.ResetTimer()
	for range b.N {
		Measure(tl, spec)
	}
}
