package measure

import (
	"math"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// The resilience score (docs/measurement.md has the reasoning and a worked
// example). Each component is 0–100; the score is their weighted mean over
// the components the run could measure.

// Score components and their weights. Availability weighs most because a
// failed request is what users feel first; recovery next because it is
// what chaos experiments exist to find out; latency and consistency
// complete the picture.
const (
	ComponentAvailability = "availability"
	ComponentLatency      = "latency"
	ComponentRecovery     = "recovery"
	ComponentConsistency  = "consistency"
)

// Weights of the components.
const (
	WeightAvailability = 40
	WeightLatency      = 20
	WeightRecovery     = 25
	WeightConsistency  = 15
)

// ScoreFormula is Score.Formula.
const ScoreFormula = "score = Σ weight·component / Σ weight over measured components; weights availability 40, latency 20, recovery 25, consistency 15; " +
	"availability = fault-phase availability %; latency = 100·min(1, baseline p99 / fault p99); " +
	"recovery = 100·max(0, 1 − worst recovery time / budget), 0 if a fault never recovered (budget: the recoveryTime SLO's maxDuration, else the recovery phase); " +
	"consistency = % of golden checks matched"

// scoreInputs are the measured figures the score reads.
type scoreInputs struct {
	fault, baseline *phaseAcc // nil when the run has no such phase
	recovery        []Recovery
	// budget is the recovery time worth 0 points; from says which recovery
	// time is compared with it.
	budget time.Duration
	from   v1alpha1.RecoveryFrom
	// checks and matched are the pooled golden checks of the run.
	checks, matched int
}

// computeScore works out the components and the score. A component the run
// could not measure — no load in a phase, no fault measured, no golden
// check — is left out and the weights of the others are renormalised, so a
// run without inference probes is not punished (or rewarded) for it.
func computeScore(in scoreInputs) Score {
	comps := map[string]float64{}

	if f := in.fault; f != nil && f.requests > 0 {
		comps[ComponentAvailability] = percentOf(f.ok, f.requests)
	}
	if f, b := in.fault, in.baseline; f != nil && b != nil && f.requests > 0 && b.requests > 0 {
		// A sub-microsecond baseline reads as 0 from the histogram; the
		// floor keeps the ratio finite without changing any real figure.
		fp := max(f.percentile(99), histUnit)
		bp := max(b.percentile(99), histUnit)
		comps[ComponentLatency] = 100 * min(1, float64(bp)/float64(fp))
	}
	if c, ok := recoveryComponent(in); ok {
		comps[ComponentRecovery] = c
	}
	if in.checks > 0 {
		comps[ComponentConsistency] = percentOf(int64(in.matched), int64(in.checks))
	}

	s := Score{Components: map[string]float64{}, Formula: ScoreFormula, Weights: map[string]float64{}}
	var sum, weights float64
	weighted := [...]struct {
		name   string
		weight float64
	}{
		{ComponentAvailability, WeightAvailability},
		{ComponentLatency, WeightLatency},
		{ComponentRecovery, WeightRecovery},
		{ComponentConsistency, WeightConsistency},
	}
	for _, w := range weighted {
		c, ok := comps[w.name]
		if !ok {
			continue
		}
		sum += w.weight * c
		weights += w.weight
		s.Components[w.name] = round1(c)
		s.Weights[w.name] = w.weight
	}
	if weights > 0 {
		s.Value = round1(sum / weights)
	}
	return s
}

// recoveryComponent is 100 for a service that was not impacted or
// recovered at once, falling linearly to 0 at the budget; 0 when a fault
// never recovered.
func recoveryComponent(in scoreInputs) (float64, bool) {
	var worst time.Duration
	measured := false
	for _, r := range in.recovery {
		if r.Unmeasured != "" {
			continue
		}
		measured = true
		d := r.FromRevert
		if in.from == v1alpha1.RecoveryFromInjection {
			d = r.FromStart
		}
		if d < 0 {
			return 0, true
		}
		worst = max(worst, d)
	}
	switch {
	case !measured:
		return 0, false
	case worst == 0:
		return 100, true
	case in.budget <= 0:
		// Impacted, but nothing says how long is too long (no SLO, no
		// recovery phase): better no figure than an invented one.
		return 0, false
	}
	return 100 * max(0, 1-float64(worst)/float64(in.budget)), true
}

// round1 rounds to one decimal, the precision the score is shown at; the
// total is computed from the unrounded components.
func round1(v float64) float64 {
	return math.Round(v*10) / 10
}
