package measure

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/timeline"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func sortDurations(d []time.Duration) { slices.Sort(d) }

// TestPlantedErrorRate: every 4th request fails → 75% availability, 25%
// error rate, 75 successful requests per second at 100 rps.
func TestPlantedErrorRate(t *testing.T) {
	i := 0
	reqs := load(0, ms(10000), ms(10), func(_ time.Duration, r *timeline.Request) {
		if i%4 == 3 {
			failWith(r, "status 503")
		}
		i++
	})
	tl := &timeline.Timeline{Duration: ms(10000), Phases: phases3(ms(2000), ms(6000), ms(10000)), Requests: reqs}
	res := Measure(tl, specWithLoad())
	for _, p := range append(res.Phases, res.Overall) {
		secs := (p.End - p.Start).Seconds()
		if p.Availability != 75 || p.ErrorRate != 25 {
			t.Errorf("%s: availability %v, error rate %v; want 75, 25", p.Phase, p.Availability, p.ErrorRate)
		}
		if p.Requests != int64(secs*100+0.5) || p.OK != p.Requests*3/4 || p.Errors != p.Requests/4 {
			t.Errorf("%s: requests %d ok %d errors %d", p.Phase, p.Requests, p.OK, p.Errors)
		}
		if math.Abs(p.Throughput-75) > 1e-9 {
			t.Errorf("%s: throughput %v, want 75", p.Phase, p.Throughput)
		}
		if p.ErrorsByKind["status 503"] != p.Errors || len(p.ErrorsByKind) != 1 {
			t.Errorf("%s: errors by kind %v", p.Phase, p.ErrorsByKind)
		}
		if p.Consistency != -1 {
			t.Errorf("%s: consistency %v without checks, want -1", p.Phase, p.Consistency)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	reqs := []timeline.Request{
		{At: ms(1), OK: false, Error: "timeout"},
		{At: ms(2), OK: false, Status: 500},
		{At: ms(3), OK: false},
		{At: ms(4), OK: false, Error: "timeout"},
		{At: ms(5), OK: true, Status: 200},
	}
	res := Measure(&timeline.Timeline{Duration: ms(10), Requests: reqs}, nil)
	want := map[string]int64{"timeout": 2, "status 500": 1, "failed": 1}
	if got := res.Overall.ErrorsByKind; len(got) != len(want) || got["timeout"] != 2 || got["status 500"] != 1 || got["failed"] != 1 {
		t.Errorf("errors by kind = %v, want %v", got, want)
	}
}

// TestLatencyPercentiles checks percentiles against values computed by
// hand (rank round(p/100·n) of the sorted latencies), within
// HdrHistogram's three significant digits, and the exact max and mean.
func TestLatencyPercentiles(t *testing.T) {
	cases := []struct {
		name                          string
		lats                          []time.Duration
		p50, p90, p99, p999, max, avg time.Duration
	}{
		{
			// 1..1000 ms: rank 500, 900, 990, 999.
			name: "1 to 1000 ms",
			lats: func() []time.Duration {
				var d []time.Duration
				for i := int64(1); i <= 1000; i++ {
					d = append(d, ms(i))
				}
				return d
			}(),
			p50: ms(500), p90: ms(900), p99: ms(990), p999: ms(999), max: ms(1000), avg: 500500 * time.Microsecond,
		},
		{
			// 7 values: ranks round(3.5)=4, round(6.3)=6, round(6.93)=7, 7.
			name: "seven values",
			lats: []time.Duration{ms(5), ms(1), ms(3), ms(2), ms(4), ms(7), ms(6)},
			p50:  ms(4), p90: ms(6), p99: ms(7), p999: ms(7), max: ms(7), avg: ms(4),
		},
		{
			// 98 fast, 2 slow: p99 (rank 99) is slow, p90 fast.
			name: "tail",
			lats: append(slices.Repeat([]time.Duration{ms(20)}, 98), 3*time.Second, 5*time.Second),
			p50:  ms(20), p90: ms(20), p99: 3 * time.Second, p999: 5 * time.Second, max: 5 * time.Second,
			avg: (98*ms(20) + 8*time.Second) / 100,
		},
		{
			name: "sub-millisecond", lats: []time.Duration{250 * time.Microsecond, 750 * time.Microsecond},
			p50: 250 * time.Microsecond, p90: 750 * time.Microsecond, p99: 750 * time.Microsecond,
			p999: 750 * time.Microsecond, max: 750 * time.Microsecond, avg: 500 * time.Microsecond,
		},
		{
			// Above the histogram's hour: recorded as an hour, max exact.
			name: "beyond an hour", lats: []time.Duration{ms(10), 2 * time.Hour},
			p50: ms(10), p90: time.Hour, p99: time.Hour, p999: time.Hour, max: 2 * time.Hour, avg: time.Hour + ms(5),
		},
	}
	rng := newRand(1)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lats := slices.Clone(tc.lats)
			rng.Shuffle(len(lats), func(i, j int) { lats[i], lats[j] = lats[j], lats[i] })
			var reqs []timeline.Request
			for i, l := range lats {
				reqs = append(reqs, timeline.Request{At: ms(int64(i)), Latency: l, OK: true})
			}
			got := Measure(&timeline.Timeline{Requests: reqs}, nil).Overall.Latency
			for _, c := range []struct {
				name      string
				got, want time.Duration
			}{{"p50", got.P50, tc.p50}, {"p90", got.P90, tc.p90}, {"p99", got.P99, tc.p99}, {"p99.9", got.P999, tc.p999}} {
				// HdrHistogram reports the highest value equivalent to the
				// recorded one: never below it, at most 0.1% above.
				if c.got < c.want || float64(c.got-c.want) > float64(c.want)/1000+float64(time.Microsecond) {
					t.Errorf("%s = %v, want %v (+0.1%%)", c.name, c.got, c.want)
				}
			}
			if got.Max != tc.max || got.Mean != tc.avg {
				t.Errorf("max %v mean %v, want exactly %v and %v", got.Max, got.Mean, tc.max, tc.avg)
			}
		})
	}
}

func TestConsistencyPerPhase(t *testing.T) {
	var checks []timeline.Check
	// golden probe: every 500 ms; mismatches at 5.0–6.5 s (4 checks) from
	// replica web-1. other probe: 2 checks, 1 mismatch in recovery.
	for at := time.Duration(0); at < ms(15000); at += ms(500) {
		c := timeline.Check{Probe: "golden", At: at, Request: "q1", Match: true, Replica: "web-0"}
		if at >= ms(5000) && at < ms(7000) {
			c.Match, c.Replica, c.Detail = false, "web-1", "top-1 cat, want dog"
		}
		checks = append(checks, c)
	}
	checks = append(checks,
		timeline.Check{Probe: "other", At: ms(11000), Request: "q9", Match: true},
		timeline.Check{Probe: "other", At: ms(12000), Request: "q9", Match: false, Detail: "3.2 ≠ 3.5"},
	)
	tl := &timeline.Timeline{Duration: ms(15000), Phases: phases3(ms(5000), ms(10000), ms(15000)), Checks: checks}
	spec := &v1alpha1.ExperimentSpec{
		Probes: []v1alpha1.ExperimentProbe{{Name: "golden", Type: v1alpha1.ProbeInferenceType}, {Name: "silent", Type: v1alpha1.ProbeInferenceType}},
		SLOs: []v1alpha1.SLO{
			{Name: "golden-fault", Metric: v1alpha1.SLOConsistency, Phase: v1alpha1.SLOPhaseFault, Probe: "golden", Min: f64(60)},
			{Name: "all-pooled", Metric: v1alpha1.SLOConsistency, Min: f64(90)},
			{Name: "silent", Metric: v1alpha1.SLOConsistency, Probe: "silent", Min: f64(90)},
		},
	}
	res := Measure(tl, spec)
	if len(res.Consistency) != 3 {
		t.Fatalf("consistency = %+v", res.Consistency)
	}
	g := res.Consistency[0]
	if g.Probe != "golden" || g.Checks != 30 || g.Matched != 26 || len(g.Mismatches) != 4 {
		t.Fatalf("golden = %+v", g)
	}
	want := map[string]float64{"baseline": 100, "fault": 60, "recovery": 100}
	for k, v := range want {
		if g.ByPhase[k] != v {
			t.Errorf("golden %s = %v, want %v", k, g.ByPhase[k], v)
		}
	}
	if m := g.Mismatches[0]; m.At != ms(5000) || m.Phase != "fault" || m.Replica != "web-1" || m.Request != "q1" || m.Detail == "" {
		t.Errorf("mismatch = %+v", m)
	}
	if s := res.Consistency[1]; s.Probe != "silent" || s.Checks != 0 || len(s.ByPhase) != 0 {
		t.Errorf("silent = %+v", s)
	}
	if o := res.Consistency[2]; o.Probe != "other" || o.ByPhase["recovery"] != 50 || len(o.ByPhase) != 1 {
		t.Errorf("other = %+v", o)
	}
	if p := findPhase(res, "fault"); p.Consistency != 60 {
		t.Errorf("fault phase consistency = %v", p.Consistency)
	}
	if p := findPhase(res, "recovery"); p.Consistency != float64(10+1)*100/12 {
		t.Errorf("recovery phase consistency = %v", p.Consistency)
	}
	if s := findSLO(res, "golden-fault"); !s.Pass || s.Value != 60 || s.Observed != "60%" {
		t.Errorf("golden-fault = %+v", s)
	}
	// pooled: 27 of 32.
	if s := findSLO(res, "all-pooled"); s.Pass || s.Value != float64(27)*100/32 || s.Objective != "≥ 90%" {
		t.Errorf("all-pooled = %+v", s)
	}
	if s := findSLO(res, "silent"); s.Pass || !strings.Contains(s.Message, "no consistency checks") {
		t.Errorf("silent = %+v", s)
	}
}

func TestMismatchCap(t *testing.T) {
	var checks []timeline.Check
	for i := range 150 {
		checks = append(checks, timeline.Check{Probe: "golden", At: ms(int64(i)), Request: "q", Match: false})
	}
	c := Measure(&timeline.Timeline{Checks: checks}, nil).Consistency[0]
	if len(c.Mismatches) != MaxMismatches || c.MismatchesOmitted != 50 || c.Checks != 150 || c.Mismatches[99].At != ms(99) {
		t.Errorf("kept %d, omitted %d, checks %d", len(c.Mismatches), c.MismatchesOmitted, c.Checks)
	}
}

// TestSLOBoundaries: bounds are inclusive — exactly at the bound passes,
// one request (or one microsecond) beyond fails.
func TestSLOBoundaries(t *testing.T) {
	// 1000 requests over 10 s in the fault phase, the first `fails` failing;
	// latency 1 ms (exact in the histogram), the last one 2 ms.
	tlWith := func(fails int) *timeline.Timeline {
		i := 0
		reqs := load(0, ms(10000), ms(10), func(_ time.Duration, r *timeline.Request) {
			r.Latency = time.Millisecond
			if i < fails {
				failWith(r, "reset")
			}
			if i == 999 {
				r.Latency = 2 * time.Millisecond
			}
			i++
		})
		return &timeline.Timeline{Duration: ms(10000), Phases: []timeline.Span{{Name: "fault", Start: 0, End: ms(10000)}}, Requests: reqs}
	}
	fault := v1alpha1.SLOPhaseFault
	cases := []struct {
		name  string
		fails int
		slo   v1alpha1.SLO
		pass  bool
		obs   string
	}{
		{"availability at min", 5, v1alpha1.SLO{Metric: v1alpha1.SLOAvailability, Phase: fault, Min: f64(99.5)}, true, "99.5%"},
		{"availability below min", 6, v1alpha1.SLO{Metric: v1alpha1.SLOAvailability, Phase: fault, Min: f64(99.5)}, false, "99.4%"},
		{"availability at max", 0, v1alpha1.SLO{Metric: v1alpha1.SLOAvailability, Phase: fault, Max: f64(100)}, true, "100%"},
		{"error rate at max", 5, v1alpha1.SLO{Metric: v1alpha1.SLOErrorRate, Phase: fault, Max: f64(0.5)}, true, "0.5%"},
		{"error rate above max", 6, v1alpha1.SLO{Metric: v1alpha1.SLOErrorRate, Phase: fault, Max: f64(0.5)}, false, "0.6%"},
		{"error rate at min", 6, v1alpha1.SLO{Metric: v1alpha1.SLOErrorRate, Phase: fault, Min: f64(0.6)}, true, "0.6%"},
		{"throughput at min", 100, v1alpha1.SLO{Metric: v1alpha1.SLOThroughput, Phase: fault, Min: f64(90)}, true, "90 rps"},
		{"throughput below min", 101, v1alpha1.SLO{Metric: v1alpha1.SLOThroughput, Phase: fault, Min: f64(90)}, false, "89.9 rps"},
		{"throughput at max", 0, v1alpha1.SLO{Metric: v1alpha1.SLOThroughput, Phase: fault, Max: f64(100)}, true, "100 rps"},
		{"p99 at max", 0, v1alpha1.SLO{Metric: v1alpha1.SLOLatency, Phase: fault, Percentile: "p99", MaxDuration: "1ms"}, true, "1ms"},
		{"p99 above max", 0, v1alpha1.SLO{Metric: v1alpha1.SLOLatency, Phase: fault, MaxDuration: "999us"}, false, "1ms"},
		{"max at max", 0, v1alpha1.SLO{Metric: v1alpha1.SLOLatency, Phase: fault, Percentile: "max", MaxDuration: "2ms"}, true, "2ms"},
		{"max above", 0, v1alpha1.SLO{Metric: v1alpha1.SLOLatency, Phase: fault, Percentile: "max", MaxDuration: "1999us"}, false, "2ms"},
		{"p50 at min", 0, v1alpha1.SLO{Metric: v1alpha1.SLOLatency, Phase: fault, Percentile: "50", MinDuration: "1ms"}, true, "1ms"},
		{"p50 below min", 0, v1alpha1.SLO{Metric: v1alpha1.SLOLatency, Phase: fault, Percentile: "50", MinDuration: "1001us"}, false, "1ms"},
		{"phase all is the default", 5, v1alpha1.SLO{Metric: v1alpha1.SLOAvailability, Min: f64(99.5)}, true, "99.5%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.slo.Name = "s"
			res := Measure(tlWith(tc.fails), specWithLoad(tc.slo))
			s := res.SLOs[0]
			if s.Pass != tc.pass || s.Observed != tc.obs {
				t.Errorf("pass %v observed %q, want %v %q (%+v)", s.Pass, s.Observed, tc.pass, tc.obs, s)
			}
			if (res.Verdict == VerdictPass) != tc.pass {
				t.Errorf("verdict %s with SLO pass %v", res.Verdict, tc.pass)
			}
		})
	}
}

func TestRecoveryTimeSLOBoundary(t *testing.T) {
	tl := &timeline.Timeline{
		Duration: ms(20000), Phases: phases3(ms(5000), ms(10000), ms(20000)),
		Requests: load(0, ms(20000), ms(10), outage(ms(5000), ms(7300))),
		Faults:   []timeline.Fault{fault("kill", ms(5000), ms(6000))},
	}
	cases := []struct {
		slo  v1alpha1.SLO
		pass bool
		obs  string
		obj  string
	}{
		{v1alpha1.SLO{MaxDuration: "1.3s"}, true, "1.3s", "≤ 1.3s"},
		{v1alpha1.SLO{MaxDuration: "1299ms"}, false, "1.3s", "≤ 1.3s"},
		{v1alpha1.SLO{MaxDuration: "2.3s", From: v1alpha1.RecoveryFromInjection}, true, "2.3s", "≤ 2.3s from injection"},
		{v1alpha1.SLO{MaxDuration: "2299ms", From: v1alpha1.RecoveryFromInjection}, false, "2.3s", "≤ 2.3s from injection"},
	}
	for _, tc := range cases {
		tc.slo.Name, tc.slo.Metric = "rt", v1alpha1.SLORecoveryTime
		s := Measure(tl, specWithLoad(tc.slo)).SLOs[0]
		if s.Pass != tc.pass || s.Observed != tc.obs || s.Objective != tc.obj || s.Phase != "" {
			t.Errorf("%+v: got %+v", tc.slo, s)
		}
	}
}

func TestNoLoad(t *testing.T) {
	tl := &timeline.Timeline{
		Duration: ms(10000), Phases: phases3(ms(2000), ms(6000), ms(10000)),
		Faults: []timeline.Fault{fault("kill", ms(3000), ms(3000))},
		Probes: []timeline.ProbeResult{{Probe: "ready", Mode: "Continuous", At: ms(100), OK: true}},
	}
	spec := &v1alpha1.ExperimentSpec{SLOs: []v1alpha1.SLO{
		{Name: "avail", Metric: v1alpha1.SLOAvailability, Phase: v1alpha1.SLOPhaseFault, Min: f64(99)},
		{Name: "p99", Metric: v1alpha1.SLOLatency, MaxDuration: "1s"},
		{Name: "rt", Metric: v1alpha1.SLORecoveryTime, MaxDuration: "1s"},
	}}
	res := Measure(tl, spec)
	for _, s := range res.SLOs {
		if s.Pass || !strings.Contains(s.Message, "no load") || math.IsNaN(s.Value) || s.Value != 0 {
			t.Errorf("%s = %+v, want failed for no load", s.Name, s)
		}
	}
	for _, p := range append(res.Phases, res.Overall) {
		if p.Requests != 0 || p.Availability != 100 || p.ErrorRate != 0 || p.Throughput != 0 || p.Latency != (Latency{}) {
			t.Errorf("%s = %+v", p.Phase, p)
		}
	}
	if _, ok := res.Score.Components[ComponentAvailability]; ok {
		t.Errorf("score has availability without load: %+v", res.Score)
	}
	if res.Verdict != VerdictFail {
		t.Errorf("verdict = %s", res.Verdict)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("JSON: %v", err)
	}
	// Load declared but nothing recorded in the phase: the message names
	// the phase.
	spec.Load = &v1alpha1.LoadSpec{Target: "web", Rate: f64(10)}
	if s := Measure(tl, spec).SLOs[0]; !strings.Contains(s.Message, "fault phase had no requests") {
		t.Errorf("with load declared: %+v", s)
	}
}

func TestEmptyTimeline(t *testing.T) {
	for _, tl := range []*timeline.Timeline{nil, {}, {Phases: []timeline.Span{{Name: "baseline"}, {Name: "fault"}}}} {
		res := Measure(tl, nil)
		if res.Verdict != VerdictPass || res.SchemaVersion != SchemaVersion || res.Score.Value != 0 {
			t.Errorf("%+v", res)
		}
		for _, p := range res.Phases {
			if p.Throughput != 0 || p.Availability != 100 || p.Consistency != -1 {
				t.Errorf("empty phase %+v", p)
			}
		}
		if _, err := json.Marshal(res); err != nil {
			t.Errorf("JSON: %v", err)
		}
	}
}

func TestAbortedRun(t *testing.T) {
	tl := &timeline.Timeline{
		Duration: ms(7000),
		Phases:   []timeline.Span{{Name: "baseline", Start: 0, End: ms(5000)}, {Name: "fault", Start: ms(5000), End: ms(7000)}},
		Requests: load(0, ms(7000), ms(10), outage(ms(5000), ms(7000))),
		Faults:   []timeline.Fault{fault("kill", ms(5000), ms(7000))},
		Aborted:  &timeline.Abort{At: ms(7000), Reason: "probe ready failed"},
	}
	spec := specWithLoad(
		v1alpha1.SLO{Name: "base", Metric: v1alpha1.SLOAvailability, Phase: v1alpha1.SLOPhaseBaseline, Min: f64(99)},
		v1alpha1.SLO{Name: "rec", Metric: v1alpha1.SLOAvailability, Phase: v1alpha1.SLOPhaseRecovery, Min: f64(99)},
	)
	res := Measure(tl, spec)
	if res.Verdict != VerdictAborted || res.Aborted != "probe ready failed" || res.AbortedAt != ms(7000) {
		t.Errorf("verdict %s aborted %q at %v", res.Verdict, res.Aborted, res.AbortedAt)
	}
	if !findSLO(res, "base").Pass {
		t.Errorf("base = %+v", findSLO(res, "base"))
	}
	if s := findSLO(res, "rec"); s.Pass || !strings.Contains(s.Message, "aborted before the recovery phase") {
		t.Errorf("rec = %+v", s)
	}
	if r := res.Recovery[0]; r.Recovered || r.FromRevert != -1 || !r.Impacted {
		t.Errorf("recovery = %+v", r)
	}
	if len(res.Reasons) == 0 || !strings.HasPrefix(res.Reasons[0], "aborted at 7s") {
		t.Errorf("reasons = %q", res.Reasons)
	}
}

func TestProbeStatsAndFidelity(t *testing.T) {
	tl := &timeline.Timeline{
		Duration: ms(3000),
		Probes: []timeline.ProbeResult{
			{Probe: "ready", Mode: "Continuous", At: ms(2000), OK: false, Message: "status 503"},
			{Probe: "ready", Mode: "Continuous", At: ms(1000), OK: true},
			{Probe: "ready", Mode: "Continuous", At: ms(2500), OK: false, Message: "refused"},
			{Probe: "extra", Mode: "SOT", At: ms(0), OK: true},
		},
		Faults: []timeline.Fault{{Name: "delay", Kind: "NetworkChaos", Start: ms(1000), End: ms(2000), Targets: []string{"web-0"}, Asked: "delay 500ms",
			Fidelity: []engine.Fidelity{{Quantity: "delay p50", Asked: "500ms", Measured: "503ms", AskedValue: 0.5, MeasuredValue: 0.503, Unit: "s"}}}},
	}
	spec := &v1alpha1.ExperimentSpec{Probes: []v1alpha1.ExperimentProbe{{Name: "ready", Type: v1alpha1.ProbeHTTPType}, {Name: "eot", Type: v1alpha1.ProbeHTTPType, Mode: v1alpha1.ProbeModeEOT}}}
	res := Measure(tl, spec)
	want := []ProbeStats{
		{Probe: "ready", Mode: "Continuous", Runs: 3, Passed: 1, Failed: 2, OK: false, Message: "at 2s: status 503"},
		{Probe: "eot", Mode: "EOT", Message: "the probe never ran"},
		{Probe: "extra", Mode: "SOT", Runs: 1, Passed: 1, OK: true},
	}
	if !slices.Equal(res.Probes, want) {
		t.Errorf("probes = %+v\nwant     %+v", res.Probes, want)
	}
	f := res.Fidelity[0]
	if f.Fault != "delay" || f.Kind != "NetworkChaos" || f.Asked != "delay 500ms" || len(f.Items) != 1 || f.Items[0].Measured != "503ms" || f.Targets[0] != "web-0" {
		t.Errorf("fidelity = %+v", f)
	}
	if res.Verdict != VerdictFail || len(res.Reasons) != 2 {
		t.Errorf("verdict %s, reasons %q", res.Verdict, res.Reasons)
	}
}

// TestMeasureDoesNotModifyTimeline: Measure sorts copies, never the caller's
// timeline (it may be a live snapshot shared with a report).
func TestMeasureDoesNotModifyTimeline(t *testing.T) {
	reqs := []timeline.Request{{At: ms(30), OK: true}, {At: ms(10), OK: false}, {At: ms(20), OK: true}}
	tl := &timeline.Timeline{Duration: ms(40), Requests: slices.Clone(reqs), Faults: []timeline.Fault{fault("b", ms(20), ms(20)), fault("a", ms(10), ms(10))}}
	res := Measure(tl, nil)
	if !slices.Equal(tl.Requests, reqs) || tl.Faults[0].Name != "b" {
		t.Errorf("timeline modified: %+v", tl)
	}
	if res.Recovery[0].Fault != "a" {
		t.Errorf("recovery not in time order: %+v", res.Recovery)
	}
}

func TestFormat(t *testing.T) {
	pct := map[float64]string{100: "100%", 99.42: "99.42%", 99.996: "99.996%", 99.9999: "99.999%", 99.8: "99.8%", 75: "75%",
		0: "0%", 0.004: "<0.01%", 12.346: "12.35%", 99: "99%"}
	for v, want := range pct {
		if got := formatPercent(v); got != want {
			t.Errorf("formatPercent(%v) = %q, want %q", v, got, want)
		}
	}
	durs := map[time.Duration]string{0: "0s", 450 * time.Microsecond: "450µs", 1250 * time.Microsecond: "1.25ms",
		ms(12) + 300*time.Microsecond: "12.3ms", ms(812): "812ms", ms(3200): "3.2s", ms(1300): "1.3s", ms(12340): "12.3s",
		ms(125300): "2m5.3s", -ms(5): "-5ms"}
	for d, want := range durs {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := formatRate(45.26); got != "45.3 rps" {
		t.Errorf("formatRate = %q", got)
	}
}

// TestJSONArrays: lists are arrays, never null, even for an empty run, so
// consumers of the stable schema need not special-case it.
func TestJSONArrays(t *testing.T) {
	b, err := json.Marshal(Measure(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"phases", "recovery", "consistency", "probes", "fidelity", "slos", "recoveryCriteria"} {
		if _, ok := m[k].([]any); !ok {
			t.Errorf("%s = %v, want an array", k, m[k])
		}
	}
}

// Dropped requests (the load generator had no free worker) fail the
// availability figure but carry no latency: they must not pull the
// percentiles toward zero.
func TestDroppedRequestsHaveNoLatency(t *testing.T) {
	tl := &timeline.Timeline{Phases: []timeline.Span{{Name: timeline.PhaseBaseline, Start: 0, End: time.Second}}}
	for i := 0; i < 10; i++ {
		tl.Requests = append(tl.Requests, timeline.Request{At: time.Duration(i) * 10 * time.Millisecond, Latency: 100 * time.Millisecond, OK: true, Status: 200})
	}
	for i := 0; i < 90; i++ {
		tl.Requests = append(tl.Requests, timeline.Request{At: time.Duration(i) * time.Millisecond, Error: timeline.ErrorDropped})
	}
	res := Measure(tl, &v1alpha1.ExperimentSpec{})
	b := res.Phases[0]
	if b.Requests != 100 || b.OK != 10 || b.Availability != 10 {
		t.Fatalf("counts: %+v", b)
	}
	if b.Latency.P50 < 99*time.Millisecond || b.Latency.Mean < 99*time.Millisecond {
		t.Fatalf("drops pulled latency down: %+v", b.Latency)
	}
	if b.ErrorsByKind[timeline.ErrorDropped] != 90 {
		t.Fatalf("errors by kind: %v", b.ErrorsByKind)
	}
}
