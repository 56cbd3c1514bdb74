package report

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// fixtureOptions shape a synthetic but realistic run: an inference service
// under open-loop load through baseline, fault and recovery phases, a pod
// kill that causes a burst of 503s, a network delay that lifts latency, a
// health probe, and a golden-set probe that sees a skewed replica.
type fixtureOptions struct {
	name     string
	seed     uint64
	rps      int
	phase    time.Duration // length of each of the three phases
	abortAt  time.Duration // 0: not aborted
	failSLOs bool
	// mild: the service rides out the faults (few errors, probes pass).
	mild bool
}

func fixture(o fixtureOptions) Report {
	if o.rps == 0 {
		o.rps = 50
	}
	if o.phase == 0 {
		o.phase = 30 * time.Second
	}
	rng := rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15))
	start := time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)
	end := 3 * o.phase
	if o.abortAt > 0 {
		end = o.abortAt
	}
	tl := &timeline.Timeline{Experiment: o.name, Start: start, Duration: end}
	for i, n := range []string{timeline.PhaseBaseline, timeline.PhaseFault, timeline.PhaseRecovery} {
		s := timeline.Span{Name: n, Start: time.Duration(i) * o.phase, End: min(time.Duration(i+1)*o.phase, end)}
		if s.Start < end {
			tl.Phases = append(tl.Phases, s)
		}
	}
	kill := o.phase + 5*time.Second
	delayStart, delayEnd := o.phase+10*time.Second, 2*o.phase-5*time.Second
	tl.Faults = []timeline.Fault{
		{Name: "kill-one-replica", Kind: "PodChaos", Start: kill, End: kill, Targets: []string{"llm-1"}, Asked: "pod-kill 1 of 3"},
		{Name: "slow-network", Kind: "NetworkChaos", Start: delayStart, End: min(delayEnd, end), Targets: []string{"llm-0", "llm-2"},
			Asked: "delay 200ms ± 20ms", Fidelity: []engine.Fidelity{
				{Target: "llm-0", Quantity: "delay", Asked: "200ms", Measured: "203ms p50", AskedValue: 200, MeasuredValue: 203, Unit: "ms"},
			}},
	}

	errShare := 0.35
	if o.mild {
		errShare = 0.02
	}
	interval := time.Second / time.Duration(o.rps)
	for at := time.Duration(0); at < end; at += interval {
		lat := time.Duration(20+rng.ExpFloat64()*8) * time.Millisecond
		r := timeline.Request{At: at, OK: true, Status: 200}
		switch {
		case at >= kill && at < kill+3*time.Second && rng.Float64() < errShare:
			r.OK, r.Status, r.Error = false, 503, "status 503"
			lat = time.Duration(2+rng.Float64()*3) * time.Millisecond
		case at >= delayStart && at < delayEnd:
			lat += 200*time.Millisecond + time.Duration(rng.NormFloat64()*20)*time.Millisecond
			if !o.mild && rng.Float64() < 0.01 {
				r.OK, r.Status, r.Error, lat = false, 0, "timeout", time.Second
			}
		}
		r.Latency = lat
		tl.Requests = append(tl.Requests, r)
	}
	for at := time.Duration(0); at < end; at += time.Second {
		ok := o.mild || at < kill || at >= kill+4*time.Second
		p := timeline.ProbeResult{Probe: "health", Mode: "Continuous", At: at, OK: ok, Latency: 3 * time.Millisecond}
		if !ok {
			p.Message = "GET /v2/health/ready: 503"
		}
		tl.Probes = append(tl.Probes, p)
	}
	tl.Probes = append(tl.Probes, timeline.ProbeResult{Probe: "model-ready", Mode: "SOT", At: 0, OK: true})
	for at := time.Second; at < end; at += 2 * time.Second {
		match := o.mild || at < kill || at >= kill+6*time.Second
		c := timeline.Check{Probe: "golden-set", At: at, Request: fmt.Sprintf("prompt-%02d", int(at/time.Second)%12), Match: match, Replica: "llm-0"}
		if !match {
			c.Replica, c.Detail = "llm-2", "top-5 overlap 2/5 (want ≥ 4/5): model v1.3 answered, v1.4 expected"
		}
		tl.Checks = append(tl.Checks, c)
	}
	tl.Events = []timeline.Event{
		{At: kill, Source: "engine", Type: "Injected", Target: "llm-1", Message: "pod-kill"},
		{At: kill + 2*time.Second, Source: "environment", Type: "Restarted", Target: "llm-1", Message: "replica restarted (exit 137)"},
	}
	if o.abortAt > 0 {
		tl.Aborted = &timeline.Abort{At: o.abortAt, Reason: "probe health failed 3 times (stopOnFailure)"}
	}
	return Report{Result: fixtureResult(o, tl), Timeline: tl}
}

// fixtureResult is a hand-made measure.Result consistent with the
// fixture's timeline (measure is tested on its own; reports only render).
func fixtureResult(o fixtureOptions, tl *timeline.Timeline) *measure.Result {
	res := &measure.Result{
		SchemaVersion: "faultline.dev/result/v1", Experiment: o.name, Start: tl.Start, Duration: tl.Duration,
		Verdict: measure.VerdictPass,
		Score:   measure.Score{Value: 82, Components: map[string]float64{"availability": 0.97, "latency": 0.8, "recovery": 0.9}, Formula: "100 × (0.4·availability + 0.3·latency + 0.3·recovery)"},
	}
	for _, p := range tl.Phases {
		ps := measure.PhaseStats{Phase: p.Name, Start: p.Start, End: p.End, Consistency: 100,
			Latency: measure.Latency{P50: 24 * time.Millisecond, P90: 31 * time.Millisecond, P99: 45 * time.Millisecond, P999: 60 * time.Millisecond, Max: 80 * time.Millisecond, Mean: 25 * time.Millisecond}}
		for _, r := range tl.Requests {
			if p.Contains(r.At) {
				ps.Requests++
				if r.OK {
					ps.OK++
				} else {
					ps.Errors++
					if ps.ErrorsByKind == nil {
						ps.ErrorsByKind = map[string]int64{}
					}
					ps.ErrorsByKind[r.Error]++
				}
			}
		}
		ps.Availability = 100
		if ps.Requests > 0 {
			ps.Availability = float64(ps.OK) / float64(ps.Requests) * 100
			ps.ErrorRate = 100 - ps.Availability
		}
		ps.Throughput = float64(ps.OK) / (p.End - p.Start).Seconds()
		if p.Name == timeline.PhaseFault {
			ps.Latency.P99 = 262 * time.Millisecond
			ps.Latency.Max = time.Second
			ps.Consistency = 83.3
		}
		res.Phases = append(res.Phases, ps)
		res.Overall.Requests += ps.Requests
		res.Overall.OK += ps.OK
		res.Overall.Errors += ps.Errors
	}
	res.Overall.Phase = "overall"
	res.Overall.End = tl.Duration
	res.Overall.Availability = float64(res.Overall.OK) / float64(max(res.Overall.Requests, 1)) * 100
	res.Overall.Throughput = float64(res.Overall.OK) / tl.Duration.Seconds()
	res.Overall.Latency = measure.Latency{P50: 25 * time.Millisecond, P90: 210 * time.Millisecond, P99: 248 * time.Millisecond, Max: time.Second}
	res.Overall.Consistency = 94

	for _, f := range tl.Faults {
		res.Recovery = append(res.Recovery, measure.Recovery{Fault: f.Name, FaultStart: f.Start, FaultEnd: f.End,
			TimeToFirstError: 40 * time.Millisecond, FromRevert: 3200 * time.Millisecond, FromStart: 3200*time.Millisecond + (f.End - f.Start),
			Recovered: o.abortAt == 0, Impacted: true})
		res.Fidelity = append(res.Fidelity, measure.FaultFidelity{Fault: f.Name, Kind: f.Kind, Targets: f.Targets, Items: f.Fidelity})
	}
	res.Fidelity[0].Items = []engine.Fidelity{{Target: "llm-1", Quantity: "pods killed", Asked: "1", Measured: "1", AskedValue: 1, MeasuredValue: 1}}

	cons := measure.Consistency{Probe: "golden-set", ByPhase: map[string]float64{}}
	for _, c := range tl.Checks {
		cons.Checks++
		if c.Match {
			cons.Matched++
		} else {
			cons.Mismatches = append(cons.Mismatches, measure.Mismatch{At: c.At, Phase: tl.PhaseAt(c.At), Request: c.Request, Replica: c.Replica, Detail: c.Detail})
		}
	}
	for _, p := range tl.Phases {
		n, m := 0, 0
		for _, c := range tl.Checks {
			if p.Contains(c.At) {
				n++
				if c.Match {
					m++
				}
			}
		}
		if n > 0 {
			cons.ByPhase[p.Name] = float64(m) / float64(n) * 100
		}
	}
	res.Consistency = []measure.Consistency{cons}

	health := measure.ProbeStats{Probe: "health", Mode: "Continuous", OK: true}
	for _, p := range tl.Probes {
		if p.Probe != "health" {
			continue
		}
		health.Runs++
		if p.OK {
			health.Passed++
		} else {
			health.Failed++
			health.OK = false
			if health.Message == "" {
				health.Message = p.Message
			}
		}
	}
	res.Probes = []measure.ProbeStats{health, {Probe: "model-ready", Mode: "SOT", Runs: 1, Passed: 1, OK: true}}

	fault := res.Phases[min(1, len(res.Phases)-1)]
	res.SLOs = []measure.SLOResult{
		{Name: "availability-during-fault", Metric: "availability", Phase: "fault", Objective: "≥ 99.5%", Observed: fmtPct(fault.Availability), Value: fault.Availability, Pass: fault.Availability >= 99.5},
		{Name: "p99-latency", Metric: "latency.p99", Phase: "fault", Objective: "≤ 300ms", Observed: "262ms", Value: 0.262, Pass: true},
		{Name: "recovery-time", Metric: "recovery", Objective: "≤ 10s", Observed: "3.2s", Value: 3.2, Pass: true},
	}
	if o.failSLOs {
		res.SLOs[1].Objective, res.SLOs[1].Pass = "≤ 150ms", false
	}
	for _, s := range res.SLOs {
		if !s.Pass {
			res.Verdict = measure.VerdictFail
		}
	}
	if !health.OK {
		res.Verdict = measure.VerdictFail
	}
	if o.abortAt > 0 {
		res.Verdict = measure.VerdictAborted
		res.Aborted, res.AbortedAt = tl.Aborted.Reason, tl.Aborted.At
		res.Reasons = append(res.Reasons, "aborted at "+fmtDur(o.abortAt)+": "+res.Aborted)
	}
	for _, s := range res.SLOs {
		if !s.Pass {
			res.Reasons = append(res.Reasons, "SLO "+s.Name+": observed "+s.Observed+", objective "+s.Objective)
		}
	}
	if !health.OK {
		res.Reasons = append(res.Reasons, "probe health failed "+fmt.Sprint(health.Failed)+" of "+fmt.Sprint(health.Runs)+" checks, first "+health.Message)
	}
	res.RecoveryWindow = 5 * time.Second
	res.RecoveryCriteria = []string{"availability ≥ 99.5%", "p99 ≤ 300ms"}
	return res
}
