package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

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
	a.e.scales.push(a, got)
	return fmt.Sprintf("scaled from %d to %d replicas", got, a.replicas), nil
}

func (a *scaleService) revert(context.Context) (string, error) {
	target, changes := a.e.scales.pop(a)
	if a.e.stopping() {
		return "the environment is shutting down", nil
	}
	if !changes {
		return fmt.Sprintf("left at %d replicas: a later ScaleChaos on %s still holds the count", target, a.service), nil
	}
	if _, err := a.e.sup.Scale(a.service, target); err != nil && !a.e.stopping() {
		return "", err
	}
	return fmt.Sprintf("scaled back to %d replicas", target), nil
}

// scaleHolds keeps, per service, the ScaleChaos faults holding its replica
// count, oldest first, and the count the service had before the first of
// them. Faults on one service may overlap and end in any order: the count
// is always the newest active fault's, and the original once none is
// left — not whatever count a fault happened to replace.
type scaleHolds struct {
	mu   sync.Mutex
	held map[string]*scaleStack
}

type scaleStack struct {
	base  int
	holds []*scaleService
}

// push records a applied to a service that had prev replicas.
func (h *scaleHolds) push(a *scaleService, prev int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = map[string]*scaleStack{}
	}
	st := h.held[a.service]
	if st == nil {
		st = &scaleStack{base: prev}
		h.held[a.service] = st
	}
	st.holds = append(st.holds, a)
}

// pop removes a and returns the count the service should have now, and
// whether that differs from the count a set (false: a later fault still
// holds the service, nothing to do).
func (h *scaleHolds) pop(a *scaleService) (int, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.held[a.service]
	if st == nil {
		return a.previous, true
	}
	i := slices.Index(st.holds, a)
	if i < 0 {
		return a.previous, true
	}
	top := i == len(st.holds)-1
	st.holds = slices.Delete(st.holds, i, i+1)
	if len(st.holds) == 0 {
		delete(h.held, a.service)
		return st.base, true
	}
	if !top {
		return st.holds[len(st.holds)-1].replicas, false
	}
	return st.holds[len(st.holds)-1].replicas, true
}

func (a *scaleService) fidelity() []engine.Fidelity { return nil }
