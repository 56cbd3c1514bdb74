package local

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// planScale plans a ScaleChaos: the service runs spec.replicas replicas
// for the duration, then the count it had before. Its one target is the
// service.
func (e *Engine) planScale(f engine.Fault, spec *v1alpha1.ScaleChaosSpec, _ InjectOptions) (*faultPlan, error) {
	if spec.Workload != nil {
		return nil, fmt.Errorf("scaling a Kubernetes %s (workload %s) needs the kube engine; on a local environment name the service with spec.service",
			spec.Workload.Kind, spec.Workload.Name)
	}
	if spec.Service == "" {
		return nil, errors.New("no service given; set spec.service to one of the environment's services")
	}
	if spec.Replicas == nil {
		return nil, errors.New("no replica count given; set spec.replicas")
	}
	if *spec.Replicas < 0 {
		return nil, fmt.Errorf("replicas %d is negative", *spec.Replicas)
	}
	if _, err := e.desiredReplicas(spec.Service); err != nil {
		return nil, err
	}
	t := engine.Target{Name: spec.Service, Namespace: e.sup.Namespace(), Owner: spec.Service, Phase: "Running", Ready: true}
	return &faultPlan{targets: []engine.Target{t},
		actions: []faultAction{&scaleService{e: e, service: spec.Service, replicas: int(*spec.Replicas)}}}, nil
}

// desiredReplicas is a service's replica count now.
func (e *Engine) desiredReplicas(service string) (int, error) {
	s := e.sup
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.serviceLocked(service)
	if err != nil {
		return 0, err
	}
	return svc.desired, nil
}

// scaleService sets a service's replica count and sets it back on revert.
type scaleService struct {
	e        *Engine
	service  string
	replicas int
	previous int
}

func (a *scaleService) apply(_ context.Context, rec undoRecorder) (string, error) {
	prev, err := a.e.desiredReplicas(a.service)
	if err != nil {
		return "", err
	}
	i, err := rec.add(undoScale, map[string]string{undoService: a.service, undoReplicas: strconv.Itoa(prev)})
	if err != nil {
		return "", err
	}
	got, err := a.e.sup.Scale(a.service, a.replicas)
	if err != nil {
		// Scale either changes nothing or stops half-way; set the count
		// back from what it was in both cases.
		if _, rerr := a.e.sup.Scale(a.service, prev); rerr != nil {
			return "", errors.Join(err, fmt.Errorf("scale back to %d: %w", prev, rerr))
		}
		return "", errors.Join(err, rec.drop(i))
	}
	if got != prev {
		// Another scale came in between: the journal must name the count
		// Scale replaced.
		if err := rec.set(i, undoReplicas, strconv.Itoa(got)); err != nil {
			return "", err
		}
	}
	a.previous = got
	return fmt.Sprintf("scaled from %d to %d replicas", got, a.replicas), nil
}

func (a *scaleService) revert(context.Context) (string, error) {
	if a.e.stopping() {
		return "the environment is shutting down", nil
	}
	if _, err := a.e.sup.Scale(a.service, a.previous); err != nil && !a.e.stopping() {
		return "", err
	}
	return fmt.Sprintf("scaled back to %d replicas", a.previous), nil
}

func (a *scaleService) fidelity() []engine.Fidelity { return nil }
