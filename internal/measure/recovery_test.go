package measure

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// TestPlantedOutage plants an outage of known length and checks every
// figure against the value worked out by hand: availability, time to first
// error, and recovery time from revert within one resolution step (the
// request spacing, always ≤ 100 ms here) of the truth.
func TestPlantedOutage(t *testing.T) {
	cases := []struct {
		name                     string
		step                     time.Duration // request spacing
		window                   string
		faultStart, revert       time.Duration
		outageFrom, outageTo     time.Duration // requests in [from, to) fail
		wantFaultAvail           float64       // fault phase [5s, 10s)
		wantOverallAvail         float64       // whole run [0, 20s)
		wantFirstError           time.Duration
		wantFromRevert, wantFrom time.Duration // truth: outageTo − revert, outageTo − start
	}{
		{
			// The example: every 10 ms, all failing from 5.0 s to
			// 7.3 s; the fault is reverted at 6 s and the service needs
			// 1.3 s more to come back.
			name: "10ms load, 2s window", step: ms(10), window: "2s",
			faultStart: ms(5000), revert: ms(6000), outageFrom: ms(5000), outageTo: ms(7300),
			wantFaultAvail:   float64(500-230) * 100 / 500,   // 230 of the fault phase's 500 failed: 54%
			wantOverallAvail: float64(2000-230) * 100 / 2000, // 88.5%
			wantFirstError:   0, wantFromRevert: ms(1300), wantFrom: ms(2300),
		},
		{
			// The outage starts 50 ms after the injection and ends between
			// two requests (7.305 s): the first request that can see the
			// service back is at 7.31 s.
			name: "10ms load, outage off the request grid", step: ms(10), window: "2s",
			faultStart: ms(5000), revert: ms(6000), outageFrom: ms(5050), outageTo: ms(7305),
			wantFaultAvail:   float64(500-226) * 100 / 500,
			wantOverallAvail: float64(2000-226) * 100 / 2000,
			wantFirstError:   ms(50), wantFromRevert: ms(1305), wantFrom: ms(2305),
		},
		{
			name: "1ms load, 1s window", step: ms(1), window: "1s",
			faultStart: ms(5000), revert: ms(6000), outageFrom: ms(5000), outageTo: ms(7300),
			wantFaultAvail:   float64(5000-2300) * 100 / 5000,
			wantOverallAvail: float64(20000-2300) * 100 / 20000,
			wantFirstError:   0, wantFromRevert: ms(1300), wantFrom: ms(2300),
		},
		{
			// 20 requests per second: the resolution is the 50 ms spacing.
			name: "50ms load, 5s window", step: ms(50), window: "5s",
			faultStart: ms(5000), revert: ms(6000), outageFrom: ms(5000), outageTo: ms(7330),
			wantFaultAvail:   float64(100-47) * 100 / 100,
			wantOverallAvail: float64(400-47) * 100 / 400,
			wantFirstError:   0, wantFromRevert: ms(1330), wantFrom: ms(2330),
		},
		{
			// The outage ends before the revert: the service failed over
			// under the fault, so it was back at the revert.
			name: "healed before revert", step: ms(10), window: "2s",
			faultStart: ms(5000), revert: ms(9000), outageFrom: ms(5000), outageTo: ms(6000),
			wantFaultAvail:   float64(500-100) * 100 / 500,
			wantOverallAvail: float64(2000-100) * 100 / 2000,
			wantFirstError:   0, wantFromRevert: 0, wantFrom: ms(1000),
		},
		{
			// The outage starts after the revert (a delayed effect, within
			// one window of it).
			name: "impact after revert", step: ms(10), window: "2s",
			faultStart: ms(5000), revert: ms(6000), outageFrom: ms(6500), outageTo: ms(8000),
			wantFaultAvail:   float64(500-150) * 100 / 500,
			wantOverallAvail: float64(2000-150) * 100 / 2000,
			wantFirstError:   ms(1500), wantFromRevert: ms(2000), wantFrom: ms(3000),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tl := &timeline.Timeline{
				Duration: ms(20000),
				Phases:   phases3(ms(5000), ms(10000), ms(20000)),
				Requests: load(0, ms(20000), tc.step, outage(tc.outageFrom, tc.outageTo)),
				Faults:   []timeline.Fault{fault("kill", tc.faultStart, tc.revert)},
			}
			spec := specWithLoad()
			spec.Recovery = &v1alpha1.ExperimentRecovery{Window: tc.window}
			res := Measure(tl, spec)

			if got := findPhase(res, "fault").Availability; got != tc.wantFaultAvail {
				t.Errorf("fault availability = %v, want %v", got, tc.wantFaultAvail)
			}
			if got := res.Overall.Availability; got != tc.wantOverallAvail {
				t.Errorf("overall availability = %v, want %v", got, tc.wantOverallAvail)
			}
			if len(res.Recovery) != 1 {
				t.Fatalf("recovery = %+v, want one entry", res.Recovery)
			}
			r := res.Recovery[0]
			if !r.Impacted || !r.Recovered {
				t.Errorf("impacted=%v recovered=%v, want both", r.Impacted, r.Recovered)
			}
			if r.TimeToFirstError != tc.wantFirstError {
				t.Errorf("time to first error = %v, want %v", r.TimeToFirstError, tc.wantFirstError)
			}
			// Within one request spacing of the truth, and never early by
			// more than that: the acceptance bound is 100 ms.
			for _, c := range []struct {
				what      string
				got, want time.Duration
			}{{"from revert", r.FromRevert, tc.wantFromRevert}, {"from start", r.FromStart, tc.wantFrom}} {
				if d := absDur(c.got - c.want); d > tc.step || d > 100*time.Millisecond {
					t.Errorf("recovery %s = %v, want %v ± %v", c.what, c.got, c.want, tc.step)
				}
			}
		})
	}
}

// TestRecoveryExactOnGrid: when the outage ends on a request, the measured
// recovery time is the truth to the nanosecond.
func TestRecoveryExactOnGrid(t *testing.T) {
	tl := &timeline.Timeline{
		Duration: ms(20000), Phases: phases3(ms(5000), ms(10000), ms(20000)),
		Requests: load(0, ms(20000), ms(10), outage(ms(5000), ms(7300))),
		Faults:   []timeline.Fault{fault("kill", ms(5000), ms(6000))},
	}
	r := Measure(tl, specWithLoad()).Recovery[0]
	if r.FromRevert != ms(1300) || r.FromStart != ms(2300) {
		t.Errorf("from revert %v, from start %v; want 1.3s and 2.3s exactly", r.FromRevert, r.FromStart)
	}
}

func TestRecoveryCases(t *testing.T) {
	run := func(reqs []timeline.Request, faults []timeline.Fault, spec *v1alpha1.ExperimentSpec) Result {
		return Measure(&timeline.Timeline{Duration: ms(20000), Phases: phases3(ms(5000), ms(10000), ms(20000)), Requests: reqs, Faults: faults}, spec)
	}

	t.Run("never recovered", func(t *testing.T) {
		res := run(load(0, ms(20000), ms(10), outage(ms(5000), ms(20000))),
			[]timeline.Fault{fault("kill", ms(5000), ms(6000))},
			specWithLoad(v1alpha1.SLO{Name: "recovers", Metric: v1alpha1.SLORecoveryTime, MaxDuration: "30s"}))
		r := res.Recovery[0]
		if r.Recovered || !r.Impacted || r.FromRevert != -1 || r.FromStart != -1 || r.TimeToFirstError != 0 {
			t.Errorf("recovery = %+v, want impacted, never recovered (-1)", r)
		}
		s := findSLO(res, "recovers")
		if s.Pass || s.Value != -1 || s.Observed != "never recovered" || s.Objective != "≤ 30s" {
			t.Errorf("SLO = %+v, want failed, never recovered", s)
		}
		if res.Score.Components[ComponentRecovery] != 0 {
			t.Errorf("recovery component = %v, want 0", res.Score.Components[ComponentRecovery])
		}
	})

	t.Run("back too late for a whole window", func(t *testing.T) {
		// Back at 18.5 s, but a 2 s window from there runs past the end
		// (20 s): the run cannot show that the service holds.
		res := run(load(0, ms(20000), ms(10), outage(ms(5000), ms(18500))),
			[]timeline.Fault{fault("kill", ms(5000), ms(6000))}, specWithLoad())
		if r := res.Recovery[0]; r.Recovered || r.FromRevert != -1 {
			t.Errorf("recovery = %+v, want never recovered", r)
		}
	})

	t.Run("not impacted", func(t *testing.T) {
		res := run(load(0, ms(20000), ms(10), nil), []timeline.Fault{fault("delay", ms(5000), ms(8000))}, specWithLoad())
		r := res.Recovery[0]
		if r.Impacted || !r.Recovered || r.FromRevert != 0 || r.FromStart != 0 || r.TimeToFirstError != -1 {
			t.Errorf("recovery = %+v, want not impacted, 0, no error", r)
		}
	})

	t.Run("time to first error: tolerated errors count, later ones do not", func(t *testing.T) {
		spec := specWithLoad(v1alpha1.SLO{Name: "avail", Metric: v1alpha1.SLOAvailability, Min: f64(99)})
		one := func(at time.Duration) func(time.Duration, *timeline.Request) {
			return func(a time.Duration, r *timeline.Request) {
				if a == at {
					failWith(r, "reset")
				}
			}
		}
		// One error 0.5 s after the revert: within the window that shows
		// the service holding (1 of 200 is within 99%), so it follows the
		// fault, which did not break the SLO.
		r := run(load(0, ms(20000), ms(10), one(ms(6500))), []timeline.Fault{fault("f", ms(5000), ms(6000))}, spec).Recovery[0]
		if r.Impacted || r.TimeToFirstError != ms(1500) {
			t.Errorf("recovery = %+v, want not impacted, first error after 1.5s", r)
		}
		// One error 9 s later belongs to no fault.
		r = run(load(0, ms(20000), ms(10), one(ms(15000))), []timeline.Fault{fault("f", ms(5000), ms(6000))}, spec).Recovery[0]
		if r.Impacted || r.TimeToFirstError != -1 {
			t.Errorf("recovery = %+v, want no error attributed", r)
		}
	})

	t.Run("an outage more than a window after the revert is no fault's", func(t *testing.T) {
		// Windows starting in the fault [5 s, 6 s] reach 8 s; the outage at
		// 9 s is not attributed to the fault.
		r := run(load(0, ms(20000), ms(10), outage(ms(9000), ms(10000))), []timeline.Fault{fault("f", ms(5000), ms(6000))}, specWithLoad()).Recovery[0]
		if r.Impacted || r.FromRevert != 0 || r.TimeToFirstError != -1 {
			t.Errorf("recovery = %+v, want not impacted", r)
		}
	})

	t.Run("instantaneous pod-kill", func(t *testing.T) {
		res := run(load(0, ms(20000), ms(10), outage(ms(7000), ms(7800))),
			[]timeline.Fault{fault("kill", ms(7000), ms(7000))}, specWithLoad())
		r := res.Recovery[0]
		if !r.Impacted || r.FromRevert != ms(800) || r.FromStart != ms(800) || r.TimeToFirstError != 0 {
			t.Errorf("recovery = %+v, want 0.8s from revert and start", r)
		}
	})

	t.Run("overlapping faults, each from its own revert", func(t *testing.T) {
		// A is active 5–12 s, B 7–8 s; the service fails 7.0–8.4 s.
		res := run(load(0, ms(20000), ms(10), outage(ms(7000), ms(8400))),
			[]timeline.Fault{fault("a", ms(5000), ms(12000)), fault("b", ms(7000), ms(8000))}, specWithLoad())
		a, b := res.Recovery[0], res.Recovery[1]
		if a.Fault != "a" || b.Fault != "b" {
			t.Fatalf("order: %s, %s", a.Fault, b.Fault)
		}
		// A: the service was back long before A's revert; its outage
		// began with the first window holding a failure (5.01 s: the window
		// [5.01, 7.01) holds the 7.00 s request) and ended at 8.4 s.
		if !a.Impacted || a.FromRevert != 0 || a.FromStart != ms(3400) || a.TimeToFirstError != ms(2000) {
			t.Errorf("a = %+v", a)
		}
		if !b.Impacted || b.FromRevert != ms(400) || b.FromStart != ms(1400) || b.TimeToFirstError != 0 {
			t.Errorf("b = %+v", b)
		}
	})

	t.Run("failed injection is not measured and fails the verdict", func(t *testing.T) {
		f := fault("kill", ms(5000), ms(5000))
		f.Error = "no target matched"
		res := run(load(0, ms(20000), ms(10), nil), []timeline.Fault{f}, specWithLoad())
		r := res.Recovery[0]
		if r.Unmeasured == "" || r.Impacted || r.Recovered || r.FromRevert != -1 || r.TimeToFirstError != -1 {
			t.Errorf("recovery = %+v, want unmeasured", r)
		}
		if res.Verdict != VerdictFail || len(res.Reasons) != 1 || res.Fidelity[0].Error == "" {
			t.Errorf("verdict %s %q, want fail naming the fault", res.Verdict, res.Reasons)
		}
	})

	t.Run("latency SLO defines recovery", func(t *testing.T) {
		// No errors, but every request is slow (300 ms) from 5 s to 9 s.
		slow := func(at time.Duration, r *timeline.Request) {
			if at >= ms(5000) && at < ms(9000) {
				r.Latency = 300 * time.Millisecond
			}
		}
		spec := specWithLoad(v1alpha1.SLO{Name: "p99", Metric: v1alpha1.SLOLatency, Percentile: "p99", Phase: v1alpha1.SLOPhaseBaseline, MaxDuration: "100ms"})
		res := run(load(0, ms(20000), ms(10), slow), []timeline.Fault{fault("delay", ms(5000), ms(8000))}, spec)
		r := res.Recovery[0]
		// A 2 s window of 200 requests has p99 at rank 198: it holds with
		// two slow requests left in it, so at 8.98 s.
		if !r.Impacted || r.FromRevert != ms(980) || r.TimeToFirstError != -1 {
			t.Errorf("recovery = %+v, want impacted, 0.98s, no error", r)
		}
		if got := res.RecoveryCriteria; len(got) != 1 || got[0] != "p99 ≤ 100ms" {
			t.Errorf("criteria = %q", got)
		}
	})

	t.Run("SLO tolerance applies over the window", func(t *testing.T) {
		// availability ≥ 99% over 200 requests tolerates 2 failures: the
		// window starting two requests before the end of the outage holds.
		spec := specWithLoad(v1alpha1.SLO{Name: "avail", Metric: v1alpha1.SLOAvailability, Min: f64(99)})
		res := run(load(0, ms(20000), ms(10), outage(ms(5000), ms(7300))), []timeline.Fault{fault("kill", ms(5000), ms(6000))}, spec)
		if r := res.Recovery[0]; r.FromRevert != ms(1280) {
			t.Errorf("from revert = %v, want 1.28s", r.FromRevert)
		}
	})

	t.Run("recovery.slos selects the criteria", func(t *testing.T) {
		spec := specWithLoad(
			v1alpha1.SLO{Name: "avail", Metric: v1alpha1.SLOAvailability, Min: f64(99)},
			v1alpha1.SLO{Name: "strict", Metric: v1alpha1.SLOAvailability, Min: f64(100)},
		)
		spec.Recovery = &v1alpha1.ExperimentRecovery{SLOs: []string{"strict"}}
		res := run(load(0, ms(20000), ms(10), outage(ms(5000), ms(7300))), []timeline.Fault{fault("kill", ms(5000), ms(6000))}, spec)
		if r := res.Recovery[0]; r.FromRevert != ms(1300) {
			t.Errorf("from revert = %v, want 1.3s", r.FromRevert)
		}
		if got := res.RecoveryCriteria; len(got) != 1 || got[0] != "availability ≥ 100%" {
			t.Errorf("criteria = %q", got)
		}
	})

	t.Run("baseline criterion tolerates the baseline's error rate", func(t *testing.T) {
		// The baseline loses 1 request in 500 (99.8%): a 200-request window
		// may then lose ceil(200·1/500) = 1.
		shape := func(at time.Duration, r *timeline.Request) {
			outage(ms(5000), ms(7300))(at, r)
			if at == ms(2000) {
				failWith(r, "reset")
			}
		}
		res := run(load(0, ms(20000), ms(10), shape), []timeline.Fault{fault("kill", ms(5000), ms(6000))}, specWithLoad())
		if r := res.Recovery[0]; r.FromRevert != ms(1290) {
			t.Errorf("from revert = %v, want 1.29s", r.FromRevert)
		}
		if got := res.RecoveryCriteria; len(got) != 1 || got[0] != "availability ≥ 99.8% (baseline)" {
			t.Errorf("criteria = %q", got)
		}
	})

	t.Run("no load", func(t *testing.T) {
		res := Measure(&timeline.Timeline{Duration: ms(20000), Phases: phases3(ms(5000), ms(10000), ms(20000)),
			Faults: []timeline.Fault{fault("kill", ms(5000), ms(6000))}}, nil)
		if r := res.Recovery[0]; r.Unmeasured == "" || r.FromRevert != -1 {
			t.Errorf("recovery = %+v, want unmeasured", r)
		}
	})
}

// TestWindowEvalMatchesBruteForce compares the prefix-count window
// evaluation with a direct one (sorting each window's latencies) on
// random timelines, and checks that the reported recovery instant is the
// earliest: no window start on a 1 ms grid before it holds with different
// contents.
func TestWindowEvalMatchesBruteForce(t *testing.T) {
	rng := newRand(7)
	for iter := range 60 {
		spec := specWithLoad(
			v1alpha1.SLO{Name: "a", Metric: v1alpha1.SLOAvailability, Min: f64(float64(rng.IntN(20) + 80))},
			v1alpha1.SLO{Name: "l", Metric: v1alpha1.SLOLatency, Percentile: []string{"p50", "p90", "99", "max"}[rng.IntN(4)],
				MaxDuration: fmt.Sprintf("%dms", 20+rng.IntN(60)), MinDuration: []string{"", "2ms"}[rng.IntN(2)]},
			v1alpha1.SLO{Name: "t", Metric: v1alpha1.SLOThroughput, Min: f64(float64(rng.IntN(40)))},
		)
		window := ms(int64(200 + rng.IntN(1800)))
		spec.Recovery = &v1alpha1.ExperimentRecovery{Window: window.String()}
		end := ms(10000)
		var reqs []timeline.Request
		for at := time.Duration(0); at < end; at += ms(int64(1 + rng.IntN(40))) {
			bad := at > ms(3000) && at < ms(int64(3000+rng.IntN(4000)))
			r := timeline.Request{At: at, OK: !bad || rng.IntN(3) == 0, Latency: ms(int64(1 + rng.IntN(50)))}
			if bad {
				r.Latency = ms(int64(1 + rng.IntN(150)))
			}
			reqs = append(reqs, r)
		}
		def := newRecoveryDefinition(spec, nil)
		eval := newWindowEval(&def, reqs, end)
		for _, inst := range eval.instants {
			if inst < 0 {
				continue
			}
			want := bruteState(spec.SLOs, reqs, inst, window, end)
			if got := eval.state(inst); got != want {
				t.Fatalf("iter %d: state(%v) = %v, brute force %v", iter, inst, got, want)
			}
		}
		from := ms(3000)
		// Every instant is on the 1 ms grid here, so a grid search sees
		// every distinct window.
		got, ok := eval.firstWhole(from)
		found := false
		for g := from; g < end; g += time.Millisecond {
			if bruteState(spec.SLOs, reqs, g, window, end) != windowWhole {
				continue
			}
			found = true
			if !ok || got < g {
				t.Fatalf("iter %d: grid finds the first whole window at %v, eval says %v (%v)", iter, g, got, ok)
			}
			// g and got must see the same requests: got ends the stretch
			// of identical windows g lies in.
			if eval.index(g) != eval.index(got) || eval.index(g+window) != eval.index(got+window) {
				t.Fatalf("iter %d: grid %v and eval %v see different windows", iter, g, got)
			}
			break
		}
		if !found && ok {
			t.Fatalf("iter %d: eval finds a whole window at %v, the grid none", iter, got)
		}
	}
}

// bruteState evaluates a window directly from the SLOs.
func bruteState(slos []v1alpha1.SLO, reqs []timeline.Request, t, w, end time.Duration) windowState {
	// reqs are in time order; the window's slice is found by search, the
	// rest is done the slow, obvious way.
	i0 := sort.Search(len(reqs), func(i int) bool { return reqs[i].At >= t })
	i1 := sort.Search(len(reqs), func(i int) bool { return reqs[i].At >= t+w })
	in := reqs[i0:i1]
	if len(in) == 0 || min(w, end-t) <= 0 {
		return windowEmpty
	}
	n, ok := int64(len(in)), int64(0)
	lats := make([]time.Duration, 0, len(in))
	for _, r := range in {
		if r.OK {
			ok++
		}
		lats = append(lats, r.Latency)
	}
	sortDurations(lats)
	for _, s := range slos {
		switch s.Metric {
		case v1alpha1.SLOAvailability:
			if !within(float64(ok*100)/float64(n), s.Min, s.Max) {
				return windowBroken
			}
		case v1alpha1.SLOThroughput:
			if !within(float64(ok)*1e9/float64(min(w, end-t)), s.Min, s.Max) {
				return windowBroken
			}
		case v1alpha1.SLOLatency:
			p, _ := parsePercentile(s.Percentile)
			v := lats[percentileRank(p, n)-1]
			lo, hi, _ := durationBounds(&s)
			if (lo != nil && v < *lo) || (hi != nil && v > *hi) {
				return windowBroken
			}
		}
	}
	if t+w > end {
		return windowHolds
	}
	return windowWhole
}
