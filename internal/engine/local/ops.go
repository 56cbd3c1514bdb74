package local

import (
	"context"
	"fmt"
	"strings"
	"syscall"

	"github.com/faultline-dev/faultline/internal/cgroup"
)

// startProbesLocked starts a running container's probes, as kubelet does:
// the startup probe first; readiness and liveness once it has passed.
// resumed probes (after a pod-failure) check at once, without the initial
// delay.
func (s *Supervisor) startProbesLocked(r *replica, c *container, resumed bool) {
	s.stopProbesLocked(c)
	p := c.plan
	if p.readiness == nil && p.liveness == nil && p.startup == nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c.probeCtx, c.probeCancel = ctx, cancel
	if !c.startupDone {
		s.goProbe(ctx, r, c, p.startup, "Startup", false, resumed)
		return
	}
	s.startMainProbesLocked(ctx, r, c, resumed)
}

func (s *Supervisor) startMainProbesLocked(ctx context.Context, r *replica, c *container, resumed bool) {
	if c.plan.readiness != nil {
		s.goProbe(ctx, r, c, c.plan.readiness, "Readiness", false, resumed)
	}
	if c.plan.liveness != nil {
		s.goProbe(ctx, r, c, c.plan.liveness, "Liveness", true, resumed)
	}
}

func (s *Supervisor) goProbe(ctx context.Context, r *replica, c *container, p *probePlan, kind string, initialOK, resumed bool) {
	gen := c.gen
	env, _ := s.containerEnv(r, c)
	t := probeTarget{port: r.port, env: env, dir: c.plan.dir, sp: s.sp, netns: r.netnsPath()}
	if r.net != nil {
		t.podIP = r.podIP()
	}
	if kind == "Readiness" {
		t.fastUntilOK = s.opts.ReadinessPollInterval
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fails := 0
		runProber(ctx, p, t, initialOK, resumed, func(res probeResult) {
			if res.msg != "" {
				fails++
			} else {
				fails = 0
			}
			s.onProbe(ctx, r, c, gen, p, kind, res, fails)
		})
	}()
}

func (s *Supervisor) stopProbesLocked(c *container) {
	if c.probeCancel != nil {
		c.probeCancel()
		c.probeCancel, c.probeCtx = nil, nil
	}
}

func (s *Supervisor) onProbe(ctx context.Context, r *replica, c *container, gen uint64, p *probePlan, kind string, res probeResult, fails int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil || c.gen != gen || c.state != StateRunning || r.frozen || c.stopping {
		return
	}
	if res.msg != "" {
		s.emitReplicaLocked(r, "Unhealthy", kind+" probe failed: "+res.msg, c.plan.name)
	}
	switch kind {
	case "Startup":
		if res.msg == "" && !c.startupDone {
			c.startupDone = true
			// The startup prober stops; readiness and liveness take over.
			s.stopProbesLocked(c)
			nctx, cancel := context.WithCancel(s.ctx)
			c.probeCtx, c.probeCancel = nctx, cancel
			s.startMainProbesLocked(nctx, r, c, true)
			s.refreshLocked(r)
		} else if fails >= p.failure {
			s.emitReplicaLocked(r, "Killing", "container failed startup probe, will be restarted", c.plan.name)
			s.stopContainerLocked(r, c, r.svc.plan.grace, true)
			s.refreshLocked(r)
		}
	case "Readiness":
		if res.changed {
			c.ready = res.ok
			s.refreshLocked(r)
		}
	case "Liveness":
		if res.changed && !res.ok {
			s.emitReplicaLocked(r, "Killing", "container failed liveness probe, will be restarted", c.plan.name)
			s.stopContainerLocked(r, c, r.svc.plan.grace, true)
			s.refreshLocked(r)
		}
	}
}

// KillContainer sends sig to containers of a replica: every container when
// container is "" (pod-kill uses SIGKILL), else the named ones
// (comma-separated; container-kill). The supervisor then restarts them per
// the restart policy, with back-off, and counts the restarts. A replica held
// by SetReplicaFailed is released first: a frozen process cannot die.
func (s *Supervisor) KillContainer(name, container string, sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.running(); err != nil {
		return err
	}
	r, err := s.replicaLocked(name)
	if err != nil {
		return err
	}
	targets, err := r.selectContainers(container)
	if err != nil {
		return err
	}
	var hit []string
	for _, c := range targets {
		if c.state != StateRunning {
			continue
		}
		if err := signalGroup(c.pid, sig); err != nil {
			return fmt.Errorf("replica %s: signal container %s (pid %d): %w", name, c.plan.name, c.pid, err)
		}
		hit = append(hit, c.plan.name)
	}
	if len(hit) == 0 {
		return fmt.Errorf("replica %s: no running container to signal (status %s)", name, r.status)
	}
	// Signal first, thaw second: the signal is pending when the processes
	// wake, so a killed replica never serves another request.
	s.thawLocked(r, true)
	s.emitReplicaLocked(r, "Killing", fmt.Sprintf("%s sent to %s", sigName(sig), strings.Join(hit, ", ")), "")
	s.refreshLocked(r)
	return nil
}

func sigName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return fmt.Sprintf("signal %d (%s)", int(sig), sig)
}

func (r *replica) selectContainers(names string) ([]*container, error) {
	if names == "" {
		return r.containers, nil
	}
	var out []*container
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, c := range r.containers {
			if c.plan.name == n {
				out = append(out, c)
				found = true
			}
		}
		if !found {
			var have []string
			for _, c := range r.containers {
				have = append(have, c.plan.name)
			}
			return nil, notFoundf("replica %s has no container %q (containers: %s)", r.name, n, strings.Join(have, ", "))
		}
	}
	return out, nil
}

// SetReplicaFailed makes a replica unavailable without killing it
// (pod-failure): its processes are frozen (the cgroup freezer, or SIGSTOP
// to each container's process group without cgroups), it is not ready —
// so the gateway stops sending it connections — and its probes pause, so
// liveness does not restart it. failed=false thaws it and resumes the
// probes; it is ready again once its readiness probe passes. Both
// directions are idempotent. Killing the replica (pod-kill, node-down,
// eviction) ends the failure.
func (s *Supervisor) SetReplicaFailed(name string, failed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.running(); err != nil {
		return err
	}
	r, err := s.replicaLocked(name)
	if err != nil {
		return err
	}
	if !failed {
		if r.frozen {
			if err := s.thawLocked(r, true); err != nil {
				return err
			}
			s.emitReplicaLocked(r, "Thawed", "pod-failure ended", "")
			s.refreshLocked(r)
		}
		return nil
	}
	if r.frozen {
		return nil
	}
	if !r.anyRunning() || r.deleting || r.nodeLost {
		return fmt.Errorf("replica %s is %s; only a running replica can be failed", name, r.status)
	}
	for _, c := range r.containers {
		s.stopProbesLocked(c)
	}
	if r.cg != nil {
		if err := r.cg.freeze(); err != nil {
			s.resumeProbesLocked(r)
			return fmt.Errorf("replica %s: freeze cgroup %s: %w", name, r.cg.path, err)
		}
	} else {
		for _, c := range r.containers {
			if c.state == StateRunning {
				if err := signalGroup(c.pid, syscall.SIGSTOP); err != nil {
					return fmt.Errorf("replica %s: stop container %s: %w", name, c.plan.name, err)
				}
			}
		}
	}
	r.frozen = true
	how := "SIGSTOP"
	if r.cg != nil {
		how = "cgroup freezer"
	}
	s.emitReplicaLocked(r, "Frozen", "pod-failure: processes frozen ("+how+"), not ready", "")
	s.refreshLocked(r)
	return nil
}

// thawLocked releases a frozen replica. resume restarts the probes of the
// containers still running (not wanted when the replica is being stopped).
func (s *Supervisor) thawLocked(r *replica, resume bool) error {
	if !r.frozen {
		return nil
	}
	var err error
	if r.cg != nil {
		if e := r.cg.thaw(); e != nil {
			err = fmt.Errorf("replica %s: thaw cgroup %s: %w", r.name, r.cg.path, e)
		}
	} else {
		for _, c := range r.containers {
			if c.pid > 0 {
				_ = signalGroup(c.pid, syscall.SIGCONT)
			}
		}
	}
	r.frozen = false
	if resume {
		s.resumeProbesLocked(r)
	}
	return err
}

func (s *Supervisor) resumeProbesLocked(r *replica) {
	for _, c := range r.containers {
		if c.state == StateRunning && !c.stopping {
			// Not ready until the readiness probe says so again.
			c.ready = c.plan.readiness == nil
			s.startProbesLocked(r, c, true)
		}
	}
}

// ReplicaCgroup returns the replica's cgroup, for faults that act inside
// it (StressChaos) and for measuring its CPU and memory. Without cgroups
// (not root, no cgroup filesystem) it says why.
func (s *Supervisor) ReplicaCgroup(name string) (*cgroup.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.replicaLocked(name)
	if err != nil {
		return nil, err
	}
	if s.cg == nil || !s.cg.available() {
		why := "the environment is not started"
		if s.cg != nil {
			why = s.cg.err.Error()
		}
		return nil, fmt.Errorf("replica %s has no cgroup: the environment runs without cgroups: %s", name, why)
	}
	if r.cg == nil {
		return nil, fmt.Errorf("replica %s has no cgroup right now (status %s)", name, r.status)
	}
	return r.cg.group, nil
}
