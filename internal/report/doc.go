// Package report renders a run's measured result for the people and
// machines that read it: JSON (the stable result schema, `-o json`), JUnit
// XML (each SLO and probe a testcase, for CI dashboards), Markdown (a
// pull-request comment) and one self-contained HTML file with charts.
//
// Every writer is a pure function of a Report (the measured
// measure.Result, optionally the raw timeline.Timeline and repeated runs):
// reports can be re-rendered from stored runs, and tested with synthetic
// ones. Nothing here reads a clock, the network or global state.
//
// The HTML report embeds uPlot (MIT, vendored by hack/vendor-uplot.sh
// into assets/) and its own script and stylesheet, so it opens offline,
// from a CI artifact or an e-mail attachment, exactly as it was written.
package report

import (
	"fmt"

	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// Report is one experiment's outcome: what was measured and, when
// available, the raw record it was measured from.
type Report struct {
	// Result is the run shown in detail; required. With repeats it is the
	// run the caller chose to show (usually the last), Runs holds them all.
	Result *measure.Result
	// Timeline is the raw record of Result's run. Optional: without it
	// there are no charts over time (and no "series" in JSON).
	Timeline *timeline.Timeline
	// Runs are the results of every repeat (`--repeat N`), in order.
	Runs []*measure.Result
	// Aggregate is the mean and spread over Runs.
	Aggregate *measure.Aggregate
}

// name is how the report is titled: the experiment's name, or a fallback
// so an unnamed experiment still has a heading.
func (r Report) name() string {
	if r.Result != nil && r.Result.Experiment != "" {
		return r.Result.Experiment
	}
	if r.Timeline != nil && r.Timeline.Experiment != "" {
		return r.Timeline.Experiment
	}
	return "experiment"
}

// check rejects a report a writer cannot render, naming which one when
// several were passed.
func check(reports []Report) error {
	if len(reports) == 0 {
		return fmt.Errorf("report: no experiments to report")
	}
	for i, r := range reports {
		if r.Result == nil {
			return fmt.Errorf("report: experiment %d (%q) has no result", i+1, r.name())
		}
	}
	return nil
}
