package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/manifest"
)

// checkSpec refuses a workflow that cannot run at all. Manifest validation
// says the same with positions and hints; this is the backstop for specs
// that did not come through it (and keeps Run from looping on a cycle).
// Problems a single node can have at run time (an unsupported chaos kind,
// a missing chaos spec) are left to that node, which fails.
func checkSpec(spec *v1alpha1.WorkflowSpec) error {
	if spec == nil {
		return errors.New("no workflow spec")
	}
	if spec.Template(spec.Entry) == nil {
		return fmt.Errorf("entry %q: no template has that name", spec.Entry)
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var errs []error
	var visit func(name, from string, stack []string)
	visit = func(name, from string, stack []string) {
		t := spec.Template(name)
		if t == nil {
			errs = append(errs, fmt.Errorf("template %s: %s refers to no template", from, name))
			return
		}
		switch state[name] {
		case visiting:
			errs = append(errs, fmt.Errorf("templates form a cycle: %s -> %s", strings.Join(stack, " -> "), name))
			return
		case done:
			return
		}
		state[name] = visiting
		if err := checkTemplate(t); err != nil {
			errs = append(errs, fmt.Errorf("template %s: %w", name, err))
		}
		stack = append(stack, name)
		for _, c := range t.Children {
			visit(c, name, stack)
		}
		for _, b := range t.ConditionalBranches {
			visit(b.Target, name, stack)
		}
		state[name] = done
	}
	visit(spec.Entry, "entry", nil)
	return errors.Join(errs...)
}

// checkTemplate checks what one template needs to run.
func checkTemplate(t *v1alpha1.Template) error {
	d, err := parseDeadline(t.Deadline)
	if err != nil {
		return err
	}
	switch t.Type {
	case v1alpha1.TemplateTypeSuspend:
		if d == 0 {
			return errors.New("a Suspend needs a deadline")
		}
	case v1alpha1.TemplateTypeTask:
		if t.Task == nil || t.Task.Container == nil {
			return errors.New("a Task needs task.container")
		}
	case v1alpha1.TemplateTypeStatusCheck:
		if t.StatusCheck == nil {
			return errors.New("a StatusCheck needs statusCheck")
		}
		return checkStatusCheck(t.StatusCheck)
	case v1alpha1.TemplateTypeSchedule:
		if t.Schedule == nil {
			return errors.New("a Schedule needs schedule")
		}
		if t.Schedule.Type == v1alpha1.ScheduleTypeWorkflow {
			return errors.New("a Schedule template cannot schedule a Workflow")
		}
		_, err := parseSchedule(t.Schedule)
		return err
	}
	return nil
}

// parseDeadline parses a template's deadline; 0 when it has none.
func parseDeadline(s *string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("deadline: %w", err)
	}
	return d, nil
}

// parseDuration parses an optional positive duration; 0 when absent.
func parseDuration(s *string) (time.Duration, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(*s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", *s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not positive", *s)
	}
	return d, nil
}

// parseSchedule parses a schedule's cron expression with manifest.ParseCron,
// so that what runs is exactly what validation accepted.
func parseSchedule(s *v1alpha1.ChaosOnlyScheduleSpec) (cron.Schedule, error) {
	sched, err := manifest.ParseCron(s.Schedule)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", s.Schedule, err)
	}
	if s.StartingDeadlineSeconds != nil && *s.StartingDeadlineSeconds < 0 {
		return nil, fmt.Errorf("startingDeadlineSeconds %d is negative", *s.StartingDeadlineSeconds)
	}
	if s.HistoryLimit != nil && *s.HistoryLimit < 1 {
		return nil, fmt.Errorf("historyLimit %d is less than 1", *s.HistoryLimit)
	}
	switch s.ConcurrencyPolicy {
	case "", v1alpha1.ConcurrencyForbid, v1alpha1.ConcurrencyAllow:
	default:
		return nil, fmt.Errorf("concurrencyPolicy %q is neither Forbid nor Allow", s.ConcurrencyPolicy)
	}
	return sched, nil
}
