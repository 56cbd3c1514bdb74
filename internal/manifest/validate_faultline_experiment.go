package manifest

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// experimentScope is what the parts of an experiment may refer to: the
// services of an inline environment, the phases' lengths, the probes.
type experimentScope struct {
	// services are the inline environment's services; nil when the
	// environment is in a file or already running (not checked then).
	services map[string]bool
	// faultPhase, runLength and recoveryPhase are 0 when unknown.
	faultPhase, recoveryPhase, runLength time.Duration
	// faultPhaseSet is true when phases.fault parsed; faultPhaseText is
	// how it was written, for messages.
	faultPhaseSet  bool
	faultPhaseText string
	hasLoad        bool
	// inferenceProbes are the names of the probes of type inference.
	inferenceProbes map[string]bool
}

// validateExperimentSpec checks an Experiment's spec.
func validateExperimentSpec(p Path, s *v1alpha1.ExperimentSpec, ps *Problems) {
	if s == nil {
		return
	}
	sc := &experimentScope{hasLoad: s.Load != nil, inferenceProbes: map[string]bool{}}

	if s.Environment == nil {
		ps.Required(p.Child("environment"), "write environment: {file: env.yaml}, an inline environment (services: …), or {attach: true, name: NAME}")
	} else {
		validateExperimentEnvironment(p.Child("environment"), s.Environment, sc, ps)
	}

	validateExperimentPhases(p.Child("phases"), &s.Phases, s.Workflow != nil, sc, ps)

	if s.Load != nil {
		validateLoadSpec(p.Child("load"), s.Load, sc, ps)
	}

	probes := p.Child("probes")
	flNames(probes, len(s.Probes), func(i int) string { return s.Probes[i].Name }, true, "probe", ps)
	for i := range s.Probes {
		if s.Probes[i].Type == v1alpha1.ProbeInferenceType && s.Probes[i].Name != "" {
			sc.inferenceProbes[s.Probes[i].Name] = true
		}
		validateExperimentProbe(probes.Index(i), &s.Probes[i], sc, ps)
	}

	if len(s.Faults) > 0 && s.Workflow != nil {
		ps.Add(p.Child("workflow"), "faults and workflow exclude each other",
			"write the faults as templates of the workflow, or drop the workflow and keep faults")
	}
	faults := p.Child("faults")
	flNames(faults, len(s.Faults), func(i int) string { return s.Faults[i].Name }, false, "fault", ps)
	for i := range s.Faults {
		validateExperimentFault(faults.Index(i), &s.Faults[i], sc, ps)
	}
	if s.Workflow != nil {
		validateExperimentWorkflow(p.Child("workflow"), s.Workflow, ps)
	}
	scheds := p.Child("schedules")
	flNames(scheds, len(s.Schedules), func(i int) string { return s.Schedules[i].Name }, false, "schedule", ps)
	for i := range s.Schedules {
		validateExperimentSchedule(scheds.Index(i), &s.Schedules[i], sc, ps)
	}
	if len(s.Faults) == 0 && s.Workflow == nil && len(s.Schedules) == 0 {
		ps.Warn(p.Child("faults"), "the experiment injects no fault",
			"add faults, a workflow or schedules; as written it only measures the steady state")
	}

	slos := p.Child("slos")
	sloNames := flNames(slos, len(s.SLOs), func(i int) string { return s.SLOs[i].Name }, true, "SLO", ps)
	for i := range s.SLOs {
		validateSLO(slos.Index(i), &s.SLOs[i], sc, ps)
	}

	if r := s.Recovery; r != nil {
		rp := p.Child("recovery")
		if w, ok := flDuration(rp.Child("window"), r.Window, false, false, ps); ok && sc.recoveryPhase > 0 && w > sc.recoveryPhase {
			ps.Warn(rp.Child("window"), fmt.Sprintf("the window %s is longer than the recovery phase %s", r.Window, flFormatDuration(sc.recoveryPhase)),
				"a service cannot be seen to recover within the run; shorten the window or lengthen phases.recovery")
		}
		metrics := map[string]v1alpha1.SLOMetric{}
		for _, slo := range s.SLOs {
			metrics[slo.Name] = slo.Metric
		}
		for i, n := range r.SLOs {
			np := rp.Child("slos").Index(i)
			if !flReference(np, n, "SLO", sloNames, ps) {
				continue
			}
			switch metrics[n] {
			case v1alpha1.SLOAvailability, v1alpha1.SLOErrorRate, v1alpha1.SLOLatency, v1alpha1.SLOThroughput:
			default:
				ps.Add(np, fmt.Sprintf("SLO %q measures %s, which cannot define recovery", n, metrics[n]),
					"name availability, errorRate, latency or throughput SLOs: they can be measured over a sliding window")
			}
		}
	}

	if s.Repeat != nil && *s.Repeat < 1 {
		ps.Add(p.Child("repeat"), fmt.Sprintf("repeat must be at least 1, got %d", *s.Repeat), "write how many times to run the experiment; the default is 1")
	}
}

func validateExperimentEnvironment(p Path, e *v1alpha1.ExperimentEnvironment, sc *experimentScope, ps *Problems) {
	inline := !flIsZero(e.EnvironmentSpec)
	switch {
	case e.File != "" && inline:
		ps.Add(p.Child("file"), "file and an inline environment exclude each other",
			"either reference the Environment file, or write its services here, not both")
	case e.Attach && inline:
		ps.Add(p.Child("attach"), "attach uses a running environment, which cannot be written inline",
			"remove attach to start this environment for the run, or replace the inline fields with name: or file:")
	case e.Attach && e.File == "" && e.Name == "":
		ps.Required(p.Child("name"), "name the running environment to attach to, or give the file it was started from")
	case !e.Attach && e.File == "" && !inline:
		ps.Required(p.Child("file"), "write file: env.yaml, an inline environment (services: …), or attach: true with name:")
	}
	if e.Name != "" {
		checkDNSSubdomain(p.Child("name"), e.Name, ps)
	}
	if inline {
		validateEnvironmentSpec(p, &e.EnvironmentSpec, ps)
		if e.Kube == nil && len(e.Services) > 0 {
			sc.services = map[string]bool{}
			for _, s := range e.Services {
				if s.Name != "" {
					sc.services[s.Name] = true
				}
			}
		}
	}
}

func validateExperimentPhases(p Path, ph *v1alpha1.ExperimentPhases, workflow bool, sc *experimentScope, ps *Problems) {
	baseline, bok := flDuration(p.Child("baseline"), ph.Baseline, false, true, ps)
	if ph.Baseline == "" {
		baseline, bok = flMustDuration(v1alpha1.DefaultBaselinePhase), true
	}
	recovery, rok := flDuration(p.Child("recovery"), ph.Recovery, false, true, ps)
	if ph.Recovery == "" {
		recovery, rok = flMustDuration(v1alpha1.DefaultRecoveryPhase), true
	}
	hint := "write the fault phase's length, e.g. fault: 60s"
	if workflow {
		hint += ", or omit it to run until the workflow completes"
	}
	if ph.Fault == "" {
		if !workflow {
			ps.Required(p.Child("fault"), hint)
		}
	} else if d, err := parseDuration(ph.Fault); err != nil {
		ps.Add(p.Child("fault"), err.Error(), hint)
	} else if d <= 0 {
		ps.Add(p.Child("fault"), fmt.Sprintf("the fault phase must be longer than zero, got %q", ph.Fault), hint)
	} else {
		sc.faultPhase, sc.faultPhaseSet, sc.faultPhaseText = d, true, ph.Fault
	}
	if rok {
		sc.recoveryPhase = recovery
	}
	if bok && rok && sc.faultPhaseSet {
		sc.runLength = baseline + sc.faultPhase + recovery
	}
}

func flMustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// flPhaseOffset checks an `at` offset into the fault phase.
func flPhaseOffset(p Path, at string, sc *experimentScope, ps *Problems) (time.Duration, bool) {
	d, ok := flDuration(p, at, false, true, ps)
	if !ok {
		return 0, at == ""
	}
	if sc.faultPhaseSet && d >= sc.faultPhase {
		ps.Add(p, fmt.Sprintf("at %s is not within the fault phase (%s)", at, sc.faultPhaseText),
			fmt.Sprintf("write an offset from 0s to below %s, or lengthen phases.fault", sc.faultPhaseText))
		return d, false
	}
	return d, true
}

// flChaosFields lists the fields that hold an inline chaos spec, for hints.
func flChaosFields() string {
	var names []string
	for _, k := range v1alpha1.SupportedEmbedKinds() {
		f, _ := v1alpha1.EmbedChaosField(k)
		names = append(names, f)
	}
	return strings.Join(names, ", ")
}

func validateExperimentFault(p Path, f *v1alpha1.ExperimentFault, sc *experimentScope, ps *Problems) {
	at, atOK := flPhaseOffset(p.Child("at"), f.At, sc, ps)
	set := f.EmbedChaos.SetChaos()
	switch {
	case f.File == "" && len(set) == 0:
		ps.Required(p.Child("file"), "write file: fault.yaml, or the fault inline under its kind: one of "+flChaosFields())
		return
	case f.File != "" && len(set) > 0:
		ps.Add(p.Child(set[0].Field), fmt.Sprintf("file and %s exclude each other", set[0].Field),
			"a fault is either a file or one inline chaos spec; split it into two faults")
		return
	case len(set) > 1:
		for _, c := range set[1:] {
			ps.Add(p.Child(c.Field), fmt.Sprintf("a fault holds one chaos spec, but %s and %s are both set", set[0].Field, c.Field),
				"split it into two faults, each with its own name and at")
		}
		return
	case f.File != "":
		return
	}
	if f.Name == "" {
		ps.Required(p.Child("name"), "give the inline fault a name for events and reports, e.g. kill-one")
	}
	c := set[0]
	validateEmbedChaos(p, &f.EmbedChaos, c.Kind, ps)
	if !atOK || !sc.faultPhaseSet {
		return
	}
	if g, ok := c.Spec.(interface{ GetDuration() *string }); ok {
		if ds := g.GetDuration(); ds != nil && *ds != "" {
			if d, err := parseDuration(*ds); err == nil && d > 0 && at+d > sc.faultPhase {
				ps.Warn(p.Child(c.Field).Child("duration"),
					fmt.Sprintf("the fault would last until %s into the fault phase, which ends at %s; it is reverted then",
						flFormatDuration(at+d), sc.faultPhaseText),
					"shorten the duration, inject it earlier, or lengthen phases.fault")
			}
		}
	}
}

func validateExperimentWorkflow(p Path, w *v1alpha1.ExperimentWorkflow, ps *Problems) {
	inline := w.Entry != "" || w.Templates != nil
	switch {
	case w.File != "" && inline:
		ps.Add(p.Child("file"), "file and an inline workflow (entry, templates) exclude each other",
			"either reference the Workflow file, or write entry and templates here")
	case w.File == "" && !inline:
		ps.Required(p.Child("file"), "write file: workflow.yaml, or the workflow inline with entry and templates")
	case inline:
		validateWorkflowSpec(p, &w.WorkflowSpec, ps)
	}
}

func validateExperimentSchedule(p Path, s *v1alpha1.ExperimentSchedule, sc *experimentScope, ps *Problems) {
	flPhaseOffset(p.Child("at"), s.At, sc, ps)
	inline := !flIsZero(s.ScheduleSpec)
	switch {
	case s.File != "" && inline:
		ps.Add(p.Child("file"), "file and an inline schedule exclude each other",
			"either reference the Schedule file, or write schedule, type and the chaos spec here")
	case s.File == "" && !inline:
		ps.Required(p.Child("file"), "write file: schedule.yaml, or the schedule inline: schedule, type and the chaos spec")
	case inline:
		if s.Name == "" {
			ps.Required(p.Child("name"), "give the inline schedule a name for events and reports")
		}
		validateScheduleSpec(p, &s.ScheduleSpec, ps)
	}
}
