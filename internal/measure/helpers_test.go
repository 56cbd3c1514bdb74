package measure

import (
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// Builders of synthetic timelines. Times are written in milliseconds in
// the tests (ms(7300) is 7.3 s) so that every planted instant is exact.

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func f64(v float64) *float64 { return &v }

// load is an open-loop load: one request every step from `from` up to (not
// including) `to`, each shaped by fn (nil: OK, 10 ms).
func load(from, to, step time.Duration, fn func(at time.Duration, r *timeline.Request)) []timeline.Request {
	var out []timeline.Request
	for at := from; at < to; at += step {
		r := timeline.Request{At: at, Latency: 10 * time.Millisecond, OK: true, Status: 200}
		if fn != nil {
			fn(at, &r)
		}
		out = append(out, r)
	}
	return out
}

// outage fails every request scheduled in [from, to) with a 503.
func outage(from, to time.Duration) func(time.Duration, *timeline.Request) {
	return func(at time.Duration, r *timeline.Request) {
		if at >= from && at < to {
			failWith(r, "status 503")
		}
	}
}

func failWith(r *timeline.Request, kind string) {
	r.OK = false
	r.Error = kind
	r.Status = 0
	if kind == "status 503" {
		r.Status = 503
	}
}

// phases3 is baseline [0, b), fault [b, f), recovery [f, end).
func phases3(b, f, end time.Duration) []timeline.Span {
	return []timeline.Span{
		{Name: timeline.PhaseBaseline, Start: 0, End: b},
		{Name: timeline.PhaseFault, Start: b, End: f},
		{Name: timeline.PhaseRecovery, Start: f, End: end},
	}
}

func fault(name string, start, end time.Duration) timeline.Fault {
	return timeline.Fault{Name: name, Kind: "PodChaos", Start: start, End: end}
}

// specWithLoad is a spec with a load and the given SLOs.
func specWithLoad(slos ...v1alpha1.SLO) *v1alpha1.ExperimentSpec {
	return &v1alpha1.ExperimentSpec{Load: &v1alpha1.LoadSpec{Target: "web", Rate: f64(100)}, SLOs: slos}
}

func findSLO(res Result, name string) SLOResult {
	for _, s := range res.SLOs {
		if s.Name == name {
			return s
		}
	}
	panic("no SLO " + name)
}

func findPhase(res Result, name string) PhaseStats {
	p, ok := phaseNamed(res.Phases, name)
	if !ok {
		panic("no phase " + name)
	}
	return p
}

func absDur(d time.Duration) time.Duration { return max(d, -d) }
