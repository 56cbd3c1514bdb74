package measure

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// Measure turns a run's timeline into its Result: figures per phase and
// for the whole run, recovery per fault, consistency per inference probe,
// probe and fidelity summaries, each SLO's outcome, the score and the
// verdict. It reads spec for the SLOs, the probes and the recovery
// definition; spec may be nil (no SLOs, default recovery definition).
//
// Measure does not modify tl and is deterministic: the same timeline and
// spec always give the same Result, so a stored run can be measured again.
// Requests are attributed to the phase holding their scheduled send time.
func Measure(tl *timeline.Timeline, spec *v1alpha1.ExperimentSpec) Result {
	if tl == nil {
		tl = &timeline.Timeline{}
	}
	reqs := sortedBy(tl.Requests, func(r timeline.Request) time.Duration { return r.At })
	checks := sortedBy(tl.Checks, func(c timeline.Check) time.Duration { return c.At })
	probes := sortedBy(tl.Probes, func(p timeline.ProbeResult) time.Duration { return p.At })
	faults := sortedBy(tl.Faults, func(f timeline.Fault) time.Duration { return f.Start })
	spans := sortedBy(tl.Phases, func(s timeline.Span) time.Duration { return s.Start })
	end := runEnd(tl, reqs, spans)

	res := Result{
		SchemaVersion: SchemaVersion,
		Experiment:    tl.Experiment,
		Start:         tl.Start,
		Duration:      tl.Duration,
	}
	if tl.Aborted != nil {
		res.Aborted, res.AbortedAt = tl.Aborted.Reason, tl.Aborted.At
		if res.Aborted == "" {
			res.Aborted = "stopped early"
		}
	}

	// Per-phase and overall figures.
	overall := newPhaseAcc(timeline.Span{Name: string(v1alpha1.SLOPhaseAll), Start: 0, End: end})
	accs := make([]*phaseAcc, len(spans))
	byName := map[string]*phaseAcc{overall.span.Name: overall}
	for i, s := range spans {
		accs[i] = newPhaseAcc(s)
		if _, dup := byName[s.Name]; !dup {
			byName[s.Name] = accs[i]
		}
	}
	phaseOf := func(at time.Duration) *phaseAcc {
		for _, a := range accs {
			if a.span.Contains(at) {
				return a
			}
		}
		return nil
	}
	for i := range reqs {
		overall.addRequest(&reqs[i])
		if a := phaseOf(reqs[i].At); a != nil {
			a.addRequest(&reqs[i])
		}
	}
	refs := make([]checkRef, len(checks))
	for i := range checks {
		overall.addCheck(&checks[i])
		ref := checkRef{probe: checks[i].Probe, match: checks[i].Match}
		if a := phaseOf(checks[i].At); a != nil {
			a.addCheck(&checks[i])
			ref.phase = a.span.Name
		}
		refs[i] = ref
	}
	res.Phases = make([]PhaseStats, len(accs))
	for i, a := range accs {
		res.Phases[i] = a.stats()
	}
	res.Overall = overall.stats()

	// Recovery per fault.
	def := newRecoveryDefinition(spec, byName[timeline.PhaseBaseline])
	res.RecoveryWindow, res.RecoveryCriteria = def.window, def.descriptions()
	var eval *windowEval
	if len(reqs) > 0 {
		eval = newWindowEval(&def, reqs, end)
	}
	res.Recovery = make([]Recovery, len(faults))
	for i, f := range faults {
		res.Recovery[i] = measureRecovery(f.Name, f.Start, f.End, f.Error, eval)
	}

	res.Consistency = consistencyByProbe(checks, refs, spec)
	res.Probes = probeStats(probes, spec)
	res.Fidelity = make([]FaultFidelity, len(faults))
	for i, f := range faults {
		res.Fidelity[i] = FaultFidelity{Fault: f.Name, Kind: f.Kind, Asked: f.Asked, Targets: f.Targets, Items: f.Fidelity, Error: f.Error}
	}

	// SLOs.
	in := &sloInputs{
		phases:   byName,
		aborted:  tl.Aborted != nil,
		hasLoad:  len(reqs) > 0 || (spec != nil && spec.Load != nil),
		checks:   refs,
		recovery: res.Recovery,
		faults:   len(faults),
	}
	var slos []v1alpha1.SLO
	if spec != nil {
		slos = spec.SLOs
	}
	res.SLOs = make([]SLOResult, len(slos))
	for i := range slos {
		res.SLOs[i] = evaluateSLO(&slos[i], in)
	}

	budget, from := recoveryBudget(slos, byName[timeline.PhaseRecovery], spec)
	res.Score = computeScore(scoreInputs{
		fault:    byName[timeline.PhaseFault],
		baseline: byName[timeline.PhaseBaseline],
		recovery: res.Recovery,
		budget:   budget,
		from:     from,
		checks:   overall.checks,
		matched:  overall.matched,
	})

	res.Verdict, res.Reasons = verdict(&res)
	return res
}

// sortedBy returns a copy of s ordered by key, stably: Measure must not
// reorder the caller's timeline, and records at the same instant keep
// their recorded order.
func sortedBy[T any](s []T, key func(T) time.Duration) []T {
	out := slices.Clone(s)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}

// runEnd is the end of the run: its recorded duration, or when that is
// missing (a hand-built timeline) the last phase end or request, whichever
// is later. Requests recorded after it extend it, so no window is cut
// before the last request it holds.
func runEnd(tl *timeline.Timeline, reqs []timeline.Request, spans []timeline.Span) time.Duration {
	end := tl.Duration
	if end <= 0 {
		for _, s := range spans {
			end = max(end, s.End)
		}
	}
	if n := len(reqs); n > 0 {
		end = max(end, reqs[n-1].At+1)
	}
	return end
}

// recoveryBudget is the recovery time the score's recovery component
// counts as 0 points: the first recoveryTime SLO's maxDuration (with its
// from), else the recovery phase's length, else the spec's.
func recoveryBudget(slos []v1alpha1.SLO, recovery *phaseAcc, spec *v1alpha1.ExperimentSpec) (time.Duration, v1alpha1.RecoveryFrom) {
	for _, s := range slos {
		if s.Metric != v1alpha1.SLORecoveryTime {
			continue
		}
		if d, err := parseDuration(s.MaxDuration); err == nil && d > 0 {
			from := s.From
			if from == "" {
				from = v1alpha1.RecoveryFromRevert
			}
			return d, from
		}
	}
	if recovery != nil && recovery.span.End > recovery.span.Start {
		return recovery.span.End - recovery.span.Start, v1alpha1.RecoveryFromRevert
	}
	if spec != nil {
		s := spec.Phases.Recovery
		if s == "" {
			s = v1alpha1.DefaultRecoveryPhase
		}
		if d, err := parseDuration(s); err == nil {
			return d, v1alpha1.RecoveryFromRevert
		}
	}
	return 0, v1alpha1.RecoveryFromRevert
}

// consistencyByProbe summarises golden checks per inference probe: the
// spec's inference probes first, in their order (with no checks when they
// recorded none), then any other probe that recorded checks.
func consistencyByProbe(checks []timeline.Check, refs []checkRef, spec *v1alpha1.ExperimentSpec) []Consistency {
	var order []string
	seen := map[string]int{}
	add := func(name string) {
		if _, ok := seen[name]; !ok {
			seen[name] = len(order)
			order = append(order, name)
		}
	}
	if spec != nil {
		for _, p := range spec.Probes {
			if p.Type == v1alpha1.ProbeInferenceType {
				add(p.Name)
			}
		}
	}
	for _, c := range checks {
		add(c.Probe)
	}
	out := make([]Consistency, len(order))
	perPhase := make([]map[string][2]int, len(order)) // phase → {checks, matched}
	for i, name := range order {
		out[i] = Consistency{Probe: name, ByPhase: map[string]float64{}}
		perPhase[i] = map[string][2]int{}
	}
	for k, c := range checks {
		i := seen[c.Probe]
		cs := &out[i]
		cs.Checks++
		phase := refs[k].phase
		pc := perPhase[i][phase]
		pc[0]++
		if c.Match {
			cs.Matched++
			pc[1]++
		} else if len(cs.Mismatches) < MaxMismatches {
			cs.Mismatches = append(cs.Mismatches, Mismatch{At: c.At, Phase: phase, Request: c.Request, Replica: c.Replica, Detail: c.Detail})
		} else {
			cs.MismatchesOmitted++
		}
		perPhase[i][phase] = pc
	}
	for i := range out {
		for phase, pc := range perPhase[i] {
			if phase != "" { // checks outside every phase count only in the totals
				out[i].ByPhase[phase] = percentOf(int64(pc[1]), int64(pc[0]))
			}
		}
	}
	return out
}

// probeStats summarises each probe: the spec's probes first, in their
// order, then any other probe with results. A probe of the spec that never
// ran is not OK: its hypothesis was never checked.
func probeStats(results []timeline.ProbeResult, spec *v1alpha1.ExperimentSpec) []ProbeStats {
	out := []ProbeStats{}
	idx := map[string]int{}
	if spec != nil {
		for _, p := range spec.Probes {
			if _, dup := idx[p.Name]; dup {
				continue
			}
			mode := p.Mode
			if mode == "" {
				mode = v1alpha1.ProbeModeContinuous
			}
			idx[p.Name] = len(out)
			out = append(out, ProbeStats{Probe: p.Name, Mode: string(mode)})
		}
	}
	for _, r := range results {
		i, ok := idx[r.Probe]
		if !ok {
			i = len(out)
			idx[r.Probe] = i
			out = append(out, ProbeStats{Probe: r.Probe, Mode: r.Mode})
		}
		ps := &out[i]
		if ps.Mode == "" {
			ps.Mode = r.Mode
		}
		ps.Runs++
		if r.OK {
			ps.Passed++
			continue
		}
		ps.Failed++
		if ps.Message == "" {
			msg := r.Message
			if msg == "" {
				msg = "check failed"
			}
			ps.Message = "at " + formatDuration(r.At) + ": " + msg
		}
	}
	for i := range out {
		ps := &out[i]
		ps.OK = ps.Runs > 0 && ps.Failed == 0
		if ps.Runs == 0 {
			ps.Message = "the probe never ran"
		}
	}
	return out
}

// verdict is aborted when a stop condition ended the run (whatever else
// happened: the run is incomplete), else fail when any SLO or probe failed
// or a fault could not be injected (an experiment whose fault did not
// happen tested nothing, and must not pass a CI gate), else pass.
func verdict(res *Result) (Verdict, []string) {
	var reasons []string
	if res.Aborted != "" {
		reasons = append(reasons, fmt.Sprintf("aborted at %s: %s", formatDuration(res.AbortedAt), res.Aborted))
	}
	for _, s := range res.SLOs {
		if s.Pass {
			continue
		}
		r := fmt.Sprintf("SLO %s: observed %s", s.Name, s.Observed)
		if s.Objective != "" {
			r += ", objective " + s.Objective
		}
		if s.Message != "" {
			r += " (" + s.Message + ")"
		}
		reasons = append(reasons, r)
	}
	for _, p := range res.Probes {
		switch {
		case p.OK:
		case p.Runs == 0:
			reasons = append(reasons, fmt.Sprintf("probe %s never ran", p.Probe))
		default:
			reasons = append(reasons, fmt.Sprintf("probe %s failed %d of %d checks, first %s", p.Probe, p.Failed, p.Runs, p.Message))
		}
	}
	for _, f := range res.Fidelity {
		if f.Error != "" {
			reasons = append(reasons, fmt.Sprintf("fault %s was not injected: %s", f.Fault, f.Error))
		}
	}
	switch {
	case res.Aborted != "":
		return VerdictAborted, reasons
	case len(reasons) > 0:
		return VerdictFail, reasons
	}
	return VerdictPass, nil
}
