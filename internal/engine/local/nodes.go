package local

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// scheduleLocked places a replica on the schedulable Ready node that runs
// the fewest replicas of its service, then the fewest replicas overall;
// ties go to the node declared first, so placement is deterministic. It
// honours the service's nodeSelector. Without a node the replica stays
// Pending (Unschedulable) until one becomes available.
func (s *Supervisor) scheduleLocked(r *replica) bool {
	var best *node
	bestSvc, bestAll := 0, 0
	for _, n := range s.nodes {
		if !n.ready || !n.schedulable || !matchLabels(r.svc.plan.nodeSelector, n.labels) {
			continue
		}
		perSvc, all := 0, 0
		for _, o := range s.replicas {
			if o == r || o.node != n.name || o.deleting {
				continue
			}
			all++
			if o.svc == r.svc {
				perSvc++
			}
		}
		if best == nil || perSvc < bestSvc || (perSvc == bestSvc && all < bestAll) {
			best, bestSvc, bestAll = n, perSvc, all
		}
	}
	if best == nil {
		r.node = ""
		s.emitReplicaLocked(r, "FailedScheduling", s.unschedulableWhyLocked(r), "")
		return false
	}
	r.node = best.name
	s.emitReplicaLocked(r, "Scheduled", fmt.Sprintf("assigned to node %s, port %d", best.name, r.port), "")
	return true
}

func (s *Supervisor) unschedulableWhyLocked(r *replica) string {
	notReady, cordoned, selector := 0, 0, 0
	for _, n := range s.nodes {
		switch {
		case !n.ready:
			notReady++
		case !n.schedulable:
			cordoned++
		case !matchLabels(r.svc.plan.nodeSelector, n.labels):
			selector++
		}
	}
	return fmt.Sprintf("0/%d nodes are available: %d not ready, %d unschedulable, %d didn't match the node selector",
		len(s.nodes), notReady, cordoned, selector)
}

func matchLabels(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// schedulePendingLocked places the replicas that wait for a node.
func (s *Supervisor) schedulePendingLocked() {
	for _, r := range s.sortedReplicasLocked() {
		if r.node == "" && !r.deleting {
			if s.scheduleLocked(r) && r.svc.started {
				s.startReplicaLocked(r)
			}
			s.refreshLocked(r)
		}
	}
}

// NodeDown makes a node fail: it becomes NotReady and every replica on it
// is SIGKILLed and not restarted there (status NodeLost, phase Unknown).
// After the eviction delay the replicas are recreated on healthy nodes:
// new processes with the same names — like StatefulSet pods recreated
// elsewhere — with new UIDs and restart counts from zero. A node that is
// already down is an error, so two overlapping node faults are noticed.
func (s *Supervisor) NodeDown(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.running(); err != nil {
		return err
	}
	n, err := s.nodeLocked(name)
	if err != nil {
		return err
	}
	if !n.ready {
		return fmt.Errorf("node %s is already NotReady", name)
	}
	n.ready = false
	ne := n.engineNode()
	s.emitLocked(Event{Kind: EventNode, Name: name, Reason: "NodeNotReady", Node: &ne,
		Message: fmt.Sprintf("node down; its replicas are rescheduled after %s", s.evictWait)})
	for _, r := range s.sortedReplicasLocked() {
		if r.node != name {
			continue
		}
		s.killReplicaLocked(r, "node "+name+" is down")
		if r.deleting {
			continue
		}
		r.nodeLost = true
		r.evictGen++
		gen := r.evictGen
		time.AfterFunc(s.evictWait, func() { s.evict(r, gen) })
		s.refreshLocked(r)
	}
	s.notifyLocked()
	return nil
}

func (s *Supervisor) evict(r *replica, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.evictGen != gen || !r.nodeLost || r.deleting || s.phase != phaseRunning || s.replicas[r.name] != r {
		return
	}
	node := r.node
	s.whenStoppedLocked(r, func() {
		if r.evictGen != gen || !r.nodeLost || r.deleting || s.phase != phaseRunning {
			return
		}
		s.emitReplicaLocked(r, "Evicted", fmt.Sprintf("node %s NotReady for %s", node, s.evictWait), "")
		s.recreateLocked(r, "evicted from NotReady node")
	})
}

// NodeUp brings a node back: it is Ready again. Replicas not yet evicted
// from it restart there (counted as restarts, as kubelet would); replicas
// already moved stay where they are — no rebalancing, like Kubernetes.
// Replicas waiting for a node are placed. Idempotent.
func (s *Supervisor) NodeUp(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.running(); err != nil {
		return err
	}
	n, err := s.nodeLocked(name)
	if err != nil {
		return err
	}
	if n.ready {
		return nil
	}
	n.ready = true
	ne := n.engineNode()
	s.emitLocked(Event{Kind: EventNode, Name: name, Reason: "NodeReady", Node: &ne})
	for _, r := range s.sortedReplicasLocked() {
		if r.node != name || !r.nodeLost || r.deleting {
			continue
		}
		r.evictGen++ // cancels the pending eviction
		s.whenStoppedLocked(r, func() {
			if !r.nodeLost || r.deleting || r.node != name || s.phase != phaseRunning {
				return
			}
			r.nodeLost = false
			if r.active {
				for _, c := range r.containers {
					s.startContainerLocked(r, c)
				}
			}
			s.refreshLocked(r)
		})
	}
	s.schedulePendingLocked()
	s.notifyLocked()
	return nil
}

// Cordon marks a node unschedulable: nothing new is placed on it; what
// runs there stays. Idempotent.
func (s *Supervisor) Cordon(name string) error {
	return s.setSchedulable(name, false)
}

// Uncordon makes a node schedulable again and places replicas that wait
// for a node. Idempotent.
func (s *Supervisor) Uncordon(name string) error {
	return s.setSchedulable(name, true)
}

func (s *Supervisor) setSchedulable(name string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.running(); err != nil {
		return err
	}
	n, err := s.nodeLocked(name)
	if err != nil {
		return err
	}
	if n.schedulable == on {
		return nil
	}
	n.schedulable = on
	ne := n.engineNode()
	reason := "Cordoned"
	if on {
		reason = "Uncordoned"
	}
	s.emitLocked(Event{Kind: EventNode, Name: name, Reason: reason, Node: &ne})
	if on {
		s.schedulePendingLocked()
	}
	s.persistLocked()
	s.notifyLocked()
	return nil
}

// Drain cordons a node and evicts its replicas like `kubectl drain`: each
// is stopped gracefully (SIGTERM, grace period, SIGKILL) and recreated on
// another node at once. Replicas of one service are evicted one at a time,
// the next only once the previous one is ready again elsewhere, so a
// service with replicas on other nodes keeps serving throughout (as a
// PodDisruptionBudget of maxUnavailable 1 would ensure). A replica that
// finds no node stays Pending and the drain moves on. Drain returns when
// every replica has left the node, or with ctx's error.
func (s *Supervisor) Drain(ctx context.Context, name string) error {
	if err := s.Cordon(name); err != nil {
		return err
	}
	s.mu.Lock()
	bySvc := map[*service][]*replica{}
	var order []*service
	for _, r := range s.sortedReplicasLocked() {
		if r.node != name || r.deleting {
			continue
		}
		if _, ok := bySvc[r.svc]; !ok {
			order = append(order, r.svc)
		}
		bySvc[r.svc] = append(bySvc[r.svc], r)
	}
	s.emitLocked(Event{Kind: EventNode, Name: name, Reason: "Draining",
		Message: fmt.Sprintf("evicting %d replicas", len(s.replicasOnLocked(name)))})
	s.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, len(order))
	for i, svc := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range bySvc[svc] {
				if err := s.evictOne(ctx, r, name); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("drain node %s: %w", name, err)
	}
	s.mu.Lock()
	s.emitLocked(Event{Kind: EventNode, Name: name, Reason: "Drained"})
	s.mu.Unlock()
	return nil
}

func (s *Supervisor) replicasOnLocked(node string) []*replica {
	var out []*replica
	for _, r := range s.replicas {
		if r.node == node && !r.deleting {
			out = append(out, r)
		}
	}
	return out
}

// evictOne moves one replica off node and waits until it is ready
// elsewhere (or could not be placed).
func (s *Supervisor) evictOne(ctx context.Context, r *replica, node string) error {
	s.mu.Lock()
	if err := s.running(); err != nil {
		s.mu.Unlock()
		return err
	}
	if r.node != node || r.deleting || s.replicas[r.name] != r {
		s.mu.Unlock()
		return nil
	}
	r.evictGen++ // a pending node-down eviction is superseded
	stopped := s.stopReplicaLocked(r, r.svc.plan.grace, "drain of node "+node)
	s.mu.Unlock()

	select {
	case <-stopped:
	case <-ctx.Done():
		return fmt.Errorf("evict %s: %w", r.name, ctx.Err())
	}

	s.mu.Lock()
	if r.deleting || s.replicas[r.name] != r || s.phase != phaseRunning {
		s.mu.Unlock()
		return nil
	}
	s.emitReplicaLocked(r, "Evicted", "drain of node "+node, "")
	s.recreateLocked(r, "evicted by drain")
	uid := r.uid
	s.mu.Unlock()

	err := s.waitFor(ctx, func() bool {
		return r.uid != uid || r.deleting || r.ready || r.node == "" || s.replicas[r.name] != r
	})
	if err != nil {
		return fmt.Errorf("wait for %s to be ready again: %w", r.name, err)
	}
	return nil
}

// Scale sets a service's replica count and returns the previous one. New
// replicas take the next ordinals; a scale-down removes the highest
// ordinals first, each stopped gracefully — as a StatefulSet does.
func (s *Supervisor) Scale(service string, replicas int) (previous int, err error) {
	if replicas < 0 {
		return 0, fmt.Errorf("scale %s: replicas must be 0 or more, got %d", service, replicas)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.running(); err != nil {
		return 0, err
	}
	svc, err := s.serviceLocked(service)
	if err != nil {
		return 0, err
	}
	prev := svc.desired
	if replicas == prev {
		return prev, nil
	}
	svc.desired = replicas
	for i := prev; i < replicas; i++ {
		name := replicaName(service, i)
		if r, ok := s.replicas[name]; ok {
			// Still terminating from an earlier scale-down: bring it back
			// once it has stopped.
			r.resurrect = true
			continue
		}
		if _, err := s.addReplicaLocked(svc, i); err != nil {
			svc.desired = i
			return prev, fmt.Errorf("scale %s to %d: %w", service, replicas, err)
		}
	}
	for i := replicas; i < prev; i++ {
		r, ok := s.replicas[replicaName(service, i)]
		if !ok || r.deleting {
			continue
		}
		r.deleting, r.resurrect = true, false
		r.evictGen++
		s.stopReplicaLocked(r, svc.plan.grace, "scale down")
		s.whenStoppedLocked(r, func() {
			if r.resurrect && s.phase == phaseRunning {
				r.deleting, r.resurrect = false, false
				s.recreateLocked(r, "scaled up again")
				return
			}
			s.removeReplicaLocked(r)
		})
	}
	s.emitLocked(Event{Kind: EventService, Name: service, Reason: "Scaled",
		Message: fmt.Sprintf("replicas %d → %d", prev, replicas)})
	s.persistLocked()
	s.notifyLocked()
	return prev, nil
}
