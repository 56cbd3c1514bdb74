package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// DryRunFault is one chaos object of an experiment — a fault, a workflow
// template's chaos, a schedule's chaos — and the targets it would hit now.
type DryRunFault struct {
	// Source says where the experiment holds it: "faults[0]",
	// "workflow template kill-one", "schedules[1]".
	Source  string          `json:"source"`
	Kind    string          `json:"kind"`
	Name    string          `json:"name"`
	Targets []engine.Target `json:"targets"`
	// Error is why the fault would be refused (a namespace that has not
	// opted in, a blast-radius cap, a selector matching nothing).
	Error string `json:"error,omitempty"`
}

// DryRun connects to (or starts) the experiment's environment and resolves
// every chaos object's selector with the same code and safety checks as a
// run, injecting nothing, driving no load and reverting nothing: on a
// cluster it only reads. Targets drawn by modes such as one or fixed are a
// sample: a run draws again when it injects.
func DryRun(ctx context.Context, exp *v1alpha1.Experiment, opts Options) ([]DryRunFault, error) {
	if exp == nil {
		return nil, errors.New("no experiment")
	}
	exp, opts, err := prepare(exp, opts)
	if err != nil {
		return nil, err
	}
	opts.dryRun = true
	env, err := startEnvironment(ctx, exp, opts)
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.close(ctx) }()
	var out []DryRunFault
	for _, c := range experimentChaos(exp, opts.BaseDir) {
		d := DryRunFault{Source: c.source, Kind: c.fault.Kind, Name: c.fault.Name, Targets: []engine.Target{}}
		if c.err == nil {
			var targets []engine.Target
			targets, c.err = env.engine.Select(ctx, c.fault)
			if targets != nil {
				d.Targets = targets
			}
		}
		if c.err != nil {
			d.Error = c.err.Error()
		}
		out = append(out, d)
	}
	return out, nil
}

// sourcedFault is a chaos object of an experiment, or why it could not be
// read.
type sourcedFault struct {
	source string
	fault  engine.Fault
	err    error
}

// experimentChaos lists every chaos object the experiment may inject: its
// faults, its workflow's chaos templates and its schedules' chaos, files
// read relative to baseDir.
func experimentChaos(exp *v1alpha1.Experiment, baseDir string) []sourcedFault {
	var out []sourcedFault
	for i := range exp.Spec.Faults {
		f, err := faultOf(baseDir, &exp.Spec.Faults[i], i)
		out = append(out, sourcedFault{source: fmt.Sprintf("faults[%d]", i), fault: f, err: err})
	}
	if w := exp.Spec.Workflow; w != nil {
		templates := w.Templates
		if w.File != "" {
			objs, _, err := loadManifests(baseDir, w.File, "workflow")
			var wf *v1alpha1.Workflow
			for _, o := range objs {
				if x, ok := o.(*v1alpha1.Workflow); ok {
					wf = x
				}
			}
			if err == nil && wf == nil {
				err = fmt.Errorf("workflow file %s holds no Workflow", w.File)
			}
			if err != nil {
				out = append(out, sourcedFault{source: "workflow", fault: engine.Fault{Kind: "Workflow"}, err: err})
			} else {
				templates = wf.Spec.Templates
			}
		}
		for i := range templates {
			t := &templates[i]
			kind, spec := t.EmbedChaos.Chaos()
			if cs, ok := spec.(v1alpha1.ChaosSpec); ok && spec != nil {
				out = append(out, sourcedFault{source: "workflow template " + t.Name, fault: engine.FaultFromSpec(kind, t.Name, "", cs)})
			}
		}
	}
	for i := range exp.Spec.Schedules {
		s := &exp.Spec.Schedules[i]
		src := fmt.Sprintf("schedules[%d]", i)
		spec, name := &s.ScheduleSpec, s.Name
		if s.File != "" {
			objs, _, err := loadManifests(baseDir, s.File, "schedule")
			var sc *v1alpha1.Schedule
			for _, o := range objs {
				if x, ok := o.(*v1alpha1.Schedule); ok {
					sc = x
				}
			}
			if err == nil && sc == nil {
				err = fmt.Errorf("schedule file %s holds no Schedule", s.File)
			}
			if err != nil {
				out = append(out, sourcedFault{source: src, fault: engine.Fault{Kind: "Schedule", Name: name}, err: err})
				continue
			}
			spec = &sc.Spec
			if name == "" {
				name = sc.Name
			}
		}
		if name == "" {
			name = fmt.Sprintf("schedule-%d", i)
		}
		kind, cspec := spec.EmbedChaos.Chaos()
		if cs, ok := cspec.(v1alpha1.ChaosSpec); ok && cspec != nil {
			out = append(out, sourcedFault{source: src, fault: engine.FaultFromSpec(kind, name, "", cs)})
		}
	}
	return out
}
