package measure

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// Recovery time.
//
// The service "holds its SLOs" at instant t when the load requests
// scheduled in the window [t, t+W) meet every recovery criterion (the
// recovery SLOs' bounds, evaluated over the window's requests alone). For
// a fault injected at S and reverted at E:
//
//   - impacted: some window starting in [S, E] breaks a criterion;
//   - recovered at R: the first t ≥ E at which a whole window (t+W no later
//     than the end of the run) holds; FromRevert = R − E;
//   - FromStart = R' − S, where R' is the first t after the first broken
//     window at which a whole window holds again — R' ≤ E when the service
//     healed while the fault was still active (failover), and FromStart is
//     the whole outage otherwise;
//   - TimeToFirstError = the first failed request at or after S, up to the
//     end of the window that showed the service recovered.
//
// The set of requests in [t, t+W) changes only when t passes a request's
// time (it leaves) or a request's time minus W (it enters), so evaluating
// the window at exactly those instants (and at S, E and end−W) sees every
// window there is. The result is exact: the reported instant is the
// earliest window start at which a window held, late by at most the gap
// between two requests — finer than the 100 ms resolution asked of it at
// any rate above 10 requests per second.
//
// A window without requests proves nothing: it neither breaks nor holds.

// criterion is one bound a window must meet.
type criterion struct {
	desc   string
	metric v1alpha1.SLOMetric
	// min and max bound availability, errorRate (percent) or throughput
	// (requests per second).
	min, max *float64
	// For latency: the percentile (0 < pct ≤ 100) and its bounds.
	pct            float64
	minDur, maxDur time.Duration
	hasMin, hasMax bool
	// baseline is the fallback criterion when no SLO defines recovery:
	// at most ceil(n·errors/requests) of the window's n requests may fail,
	// i.e. availability at least the baseline's, rounded to whole requests
	// in the service's favour (a 2 s window cannot resolve 99.95%).
	baseline                    bool
	baseErrors, baseRequests    int64
	baselineAvailabilityPercent float64
}

// recoveryDefinition is the window length and the criteria; built once per
// Measure from the spec.
type recoveryDefinition struct {
	window   time.Duration
	criteria []criterion
}

// newRecoveryDefinition reads spec.recovery: the window (default 2s) and
// the SLOs that define recovery (default: every availability, errorRate,
// latency and throughput SLO; with none, availability at least the
// baseline's). SLOs of other metrics, unknown names and unparsable bounds
// are skipped: validation rejects them, and a stored run measured again
// should still produce figures.
func newRecoveryDefinition(spec *v1alpha1.ExperimentSpec, baseline *phaseAcc) recoveryDefinition {
	def := recoveryDefinition{window: mustDuration(v1alpha1.DefaultRecoveryWindow)}
	var names []string
	if spec != nil && spec.Recovery != nil {
		if w, err := parseDuration(spec.Recovery.Window); err == nil && w > 0 {
			def.window = w
		}
		names = spec.Recovery.SLOs
	}
	var slos []v1alpha1.SLO
	if spec != nil {
		slos = spec.SLOs
	}
	for i := range slos {
		s := &slos[i]
		if len(names) > 0 && !slices.Contains(names, s.Name) {
			continue
		}
		c, ok := sloCriterion(s)
		if ok {
			def.criteria = append(def.criteria, c)
		}
	}
	if len(def.criteria) == 0 {
		c := criterion{baseline: true, metric: v1alpha1.SLOAvailability, baselineAvailabilityPercent: 100}
		if baseline != nil && baseline.requests > 0 {
			c.baseErrors, c.baseRequests = baseline.requests-baseline.ok, baseline.requests
			c.baselineAvailabilityPercent = percentOf(baseline.ok, baseline.requests)
		}
		c.desc = "availability ≥ " + formatPercent(c.baselineAvailabilityPercent) + " (baseline)"
		def.criteria = append(def.criteria, c)
	}
	return def
}

// sloCriterion turns a window-measurable SLO into a criterion.
func sloCriterion(s *v1alpha1.SLO) (criterion, bool) {
	c := criterion{metric: s.Metric}
	switch s.Metric {
	case v1alpha1.SLOAvailability, v1alpha1.SLOErrorRate, v1alpha1.SLOThroughput:
		if s.Min == nil && s.Max == nil {
			return c, false
		}
		c.min, c.max = s.Min, s.Max
		c.desc = string(s.Metric) + " " + objectiveNumbers(s.Metric, s.Min, s.Max)
	case v1alpha1.SLOLatency:
		pct, ok := parsePercentile(s.Percentile)
		if !ok {
			return c, false
		}
		lo, hi, err := durationBounds(s)
		if err != nil || (lo == nil && hi == nil) {
			return c, false
		}
		c.pct = pct
		if lo != nil {
			c.hasMin, c.minDur = true, *lo
		}
		if hi != nil {
			c.hasMax, c.maxDur = true, *hi
		}
		c.desc = percentileName(s.Percentile) + " " + objectiveDurations(lo, hi)
	default:
		return c, false
	}
	return c, true
}

// descriptions lists the criteria for Result.RecoveryCriteria.
func (d *recoveryDefinition) descriptions() []string {
	out := make([]string, len(d.criteria))
	for i, c := range d.criteria {
		out[i] = c.desc
	}
	return out
}

// windowState is what one window shows.
type windowState uint8

const (
	windowEmpty  windowState = iota // no requests: proves nothing
	windowBroken                    // a criterion is not met
	windowHolds                     // every criterion is met, but the window is cut by the end of the run
	windowWhole                     // every criterion is met over a whole window
)

// windowEval answers "what does the window starting at t show" in
// O(log n) from prefix counts over the requests sorted by time.
type windowEval struct {
	def   *recoveryDefinition
	end   time.Duration // end of the run: windows are cut there
	at    []time.Duration
	okPre []int32 // okPre[i]: successful requests among the first i
	// le[c] and lt[c] count, for latency criterion c, the requests among
	// the first i with latency ≤ maxDur and < minDur (nil when c has no
	// such bound).
	le, lt [][]int32
	// failNext[i] is the index of the first failed request at or after i
	// (len(at) when none).
	failNext []int32
	// instants are every window start at which the window's contents
	// change (request times, request times − W, end − W), sorted, with
	// states[k] the state there and nextWhole[k] / nextBroken[k] the first
	// index ≥ k whose window is whole and holding / broken (len when none).
	instants   []time.Duration
	states     []windowState
	nextWhole  []int32
	nextBroken []int32
}

func newWindowEval(def *recoveryDefinition, reqs []timeline.Request, end time.Duration) *windowEval {
	n := len(reqs)
	e := &windowEval{def: def, end: end, at: make([]time.Duration, n), okPre: make([]int32, n+1), failNext: make([]int32, n+1),
		le: make([][]int32, len(def.criteria)), lt: make([][]int32, len(def.criteria))}
	for i, c := range def.criteria {
		if c.metric != v1alpha1.SLOLatency || c.baseline {
			continue
		}
		if c.hasMax {
			e.le[i] = prefixCount(reqs, func(r *timeline.Request) bool { return r.Latency <= c.maxDur })
		}
		if c.hasMin {
			e.lt[i] = prefixCount(reqs, func(r *timeline.Request) bool { return r.Latency < c.minDur })
		}
	}
	for i := range reqs {
		e.at[i] = reqs[i].At
		e.okPre[i+1] = e.okPre[i]
		if reqs[i].OK {
			e.okPre[i+1]++
		}
	}
	e.failNext[n] = int32(n)
	for i := n - 1; i >= 0; i-- {
		e.failNext[i] = e.failNext[i+1]
		if !reqs[i].OK {
			e.failNext[i] = int32(i)
		}
	}

	w := def.window
	e.instants = make([]time.Duration, 0, 2*n+1)
	for _, t := range e.at {
		e.instants = append(e.instants, t, t-w)
	}
	e.instants = append(e.instants, end-w)
	slices.Sort(e.instants)
	e.instants = slices.Compact(e.instants)
	m := len(e.instants)
	e.states = make([]windowState, m)
	e.nextWhole = make([]int32, m+1)
	e.nextBroken = make([]int32, m+1)
	for k, t := range e.instants {
		e.states[k] = e.state(t)
	}
	e.nextWhole[m], e.nextBroken[m] = int32(m), int32(m)
	for k := m - 1; k >= 0; k-- {
		e.nextWhole[k], e.nextBroken[k] = e.nextWhole[k+1], e.nextBroken[k+1]
		switch e.states[k] {
		case windowWhole:
			e.nextWhole[k] = int32(k)
		case windowBroken:
			e.nextBroken[k] = int32(k)
		}
	}
	return e
}

func prefixCount(reqs []timeline.Request, f func(*timeline.Request) bool) []int32 {
	p := make([]int32, len(reqs)+1)
	for i := range reqs {
		p[i+1] = p[i]
		if f(&reqs[i]) {
			p[i+1]++
		}
	}
	return p
}

// index is the first request at or after t.
func (e *windowEval) index(t time.Duration) int {
	return sort.Search(len(e.at), func(i int) bool { return e.at[i] >= t })
}

// state evaluates the window starting at t.
func (e *windowEval) state(t time.Duration) windowState {
	w := e.def.window
	i0, i1 := e.index(t), e.index(t+w)
	n := int64(i1 - i0)
	length := min(w, e.end-t)
	if n == 0 || length <= 0 {
		return windowEmpty
	}
	ok := int64(e.okPre[i1] - e.okPre[i0])
	for c := range e.def.criteria {
		if !e.meets(c, i0, i1, n, ok, length) {
			return windowBroken
		}
	}
	if t+w > e.end {
		return windowHolds
	}
	return windowWhole
}

func (e *windowEval) meets(ci, i0, i1 int, n, ok int64, length time.Duration) bool {
	c := &e.def.criteria[ci]
	if c.baseline {
		// Integer arithmetic: errors ≤ ceil(n·baseErrors/baseRequests).
		if c.baseRequests == 0 {
			return ok == n
		}
		allowed := (n*c.baseErrors + c.baseRequests - 1) / c.baseRequests
		return n-ok <= allowed
	}
	switch c.metric {
	case v1alpha1.SLOAvailability:
		return within(percentOf(ok, n), c.min, c.max)
	case v1alpha1.SLOErrorRate:
		return within(percentOf(n-ok, n), c.min, c.max)
	case v1alpha1.SLOThroughput:
		return within(rate(ok, length), c.min, c.max)
	case v1alpha1.SLOLatency:
		// The latency at rank r (HdrHistogram's rank, see phaseAcc) is ≤ D
		// exactly when at least r latencies are ≤ D, and ≥ D exactly when
		// fewer than r are below D: prefix counts answer both without
		// sorting the window.
		r := percentileRank(c.pct, n)
		if le := e.le[ci]; le != nil && int64(le[i1]-le[i0]) < r {
			return false
		}
		if lt := e.lt[ci]; lt != nil && int64(lt[i1]-lt[i0]) >= r {
			return false
		}
		return true
	}
	return true
}

// percentileRank is the 1-based rank of percentile p among n values, as
// HdrHistogram computes it: round(p/100·n), at least 1 and at most n.
func percentileRank(p float64, n int64) int64 {
	r := int64(p/100*float64(n) + 0.5)
	return max(1, min(r, n))
}

// after is the first instant index strictly after t.
func (e *windowEval) after(t time.Duration) int {
	return sort.Search(len(e.instants), func(k int) bool { return e.instants[k] > t })
}

// firstWhole is the first t ≥ from at which a whole window holds.
func (e *windowEval) firstWhole(from time.Duration) (time.Duration, bool) {
	if e.state(from) == windowWhole {
		return from, true
	}
	return e.firstWholeAfter(from)
}

// firstWholeAfter is the first change instant after t at which a whole
// window holds. (Not t+1ns: that window holds the same requests as the next
// instant's, and reporting the instant keeps FromStart and FromRevert on
// the same grid of request times.)
func (e *windowEval) firstWholeAfter(t time.Duration) (time.Duration, bool) {
	if k := e.nextWhole[e.after(t)]; int(k) < len(e.instants) {
		return e.instants[k], true
	}
	return 0, false
}

// firstBroken is the first t in [from, to] whose window breaks a criterion.
func (e *windowEval) firstBroken(from, to time.Duration) (time.Duration, bool) {
	if e.state(from) == windowBroken {
		return from, true
	}
	if k := e.nextBroken[e.after(from)]; int(k) < len(e.instants) && e.instants[k] <= to {
		return e.instants[k], true
	}
	return 0, false
}

// firstFailure is the time of the first failed request in [from, to).
func (e *windowEval) firstFailure(from, to time.Duration) (time.Duration, bool) {
	i := e.failNext[e.index(from)]
	if int(i) < len(e.at) && e.at[i] < to {
		return e.at[i], true
	}
	return 0, false
}

// measureRecovery measures one fault window [start, end]. eval is nil when
// the run had no load.
func measureRecovery(name string, start, end time.Duration, injectErr string, eval *windowEval) Recovery {
	r := Recovery{Fault: name, FaultStart: start, FaultEnd: end, TimeToFirstError: -1, FromRevert: -1, FromStart: -1}
	switch {
	case injectErr != "":
		r.Unmeasured = "the fault was not injected: " + injectErr
		return r
	case eval == nil:
		r.Unmeasured = "no load: without requests there is nothing to measure recovery on"
		return r
	}
	end = max(end, start)

	recoveredAt, recovered := eval.firstWhole(end)
	errorsUntil := eval.end
	if recovered {
		// Errors inside the window that showed recovery were tolerated by
		// the criteria but still followed the fault; later ones belong to
		// no fault.
		errorsUntil = recoveredAt + eval.def.window
	}
	if t, ok := eval.firstFailure(start, errorsUntil); ok {
		r.TimeToFirstError = t - start
	}

	brokenAt, impacted := eval.firstBroken(start, end)
	if !impacted {
		r.FromRevert, r.FromStart, r.Recovered = 0, 0, true
		return r
	}
	r.Impacted = true
	if recovered {
		r.Recovered = true
		r.FromRevert = recoveredAt - end
	}
	if healed, ok := eval.firstWholeAfter(brokenAt); ok {
		r.FromStart = healed - start
	}
	return r
}

func mustDuration(s string) time.Duration {
	d, err := parseDuration(s)
	if err != nil {
		panic(fmt.Sprintf("measure: bad built-in duration %q", s))
	}
	return d
}
