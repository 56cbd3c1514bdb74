package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// ReplicaOverride changes how a replica's main container starts, for the
// model faults (faults_model.go): extra environment variables (stale-version
// sets MODEL_VERSION) and a mount namespace to start it in (slow-load gives
// the replica its own view of the model file). It belongs to the replica,
// not to one process: it holds across restarts — crashes, liveness
// restarts, RestartReplica, even a recreation on another node — until it is
// cleared, as a changed pod template would. Sidecars are not affected.
type ReplicaOverride struct {
	// Owner names who set it (an injection ID): only the owner clears it,
	// and a second owner is refused rather than silently stacked.
	Owner string
	// Env is set after the spec's own variables, so it wins over them.
	Env map[string]string
	// MountNS, when non-nil, is an open mount namespace
	// (/proc/<pid>/task/<tid>/ns/mnt) the main container is started in. The
	// caller keeps it open until the override is cleared and the replica
	// restarted out of it.
	MountNS *os.File
}

// ReplicaRestart is what RestartReplica started.
type ReplicaRestart struct {
	// PID and StartTime name the new main container process.
	PID       int
	StartTime uint64
	Started   time.Time
	// PreviousReadyAfter is how long the previous run of the main
	// container took from its start to ready; 0 when it never got ready.
	PreviousReadyAfter time.Duration
}

// SetReplicaOverride sets the override of replica name. It applies from
// the next start of its main container (see RestartReplica); it is an
// error when another owner already holds one.
func (s *Supervisor) SetReplicaOverride(name string, o ReplicaOverride) error {
	if o.Owner == "" {
		return errors.New("replica override: no owner given")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.running(); err != nil {
		return err
	}
	r, err := s.replicaLocked(name)
	if err != nil {
		return err
	}
	if r.override != nil && r.override.Owner != o.Owner {
		return fmt.Errorf("replica %s is already changed by %s; one model fault per replica at a time", name, r.override.Owner)
	}
	cp := o
	cp.Env = copyMap(o.Env)
	r.override = &cp
	return nil
}

// ClearReplicaOverride removes the override owner set on replica name
// (a no-op when it holds none); like setting it, this applies from the
// next start. A replica that is gone is not an error.
func (s *Supervisor) ClearReplicaOverride(name, owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.replicas[name]; ok && r.override != nil && r.override.Owner == owner {
		r.override = nil
	}
}

// ReplicaOverrideOf returns the override of replica name, if any.
func (s *Supervisor) ReplicaOverrideOf(name string) (ReplicaOverride, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.replicas[name]
	if !ok || r.override == nil {
		return ReplicaOverride{}, false
	}
	o := *r.override
	o.Env = copyMap(o.Env)
	return o, true
}

// RestartReplica restarts every container of a running replica the way a
// pod whose template changed is replaced: graceful stop (SIGTERM, the
// service's grace period, SIGKILL), then a new start through the normal
// path — readiness probe, gateway endpoints, restart count. It returns
// once the new processes started (the stop may take up to the grace
// period); when ctx ends first the restart still completes. A frozen
// replica (pod-failure) is refused: restarting it would end that fault.
func (s *Supervisor) RestartReplica(ctx context.Context, name, why string) (ReplicaRestart, error) {
	type result struct {
		rr  ReplicaRestart
		err error
	}
	done := make(chan result, 1)
	s.mu.Lock()
	if err := s.running(); err != nil {
		s.mu.Unlock()
		return ReplicaRestart{}, err
	}
	r, err := s.replicaLocked(name)
	if err != nil {
		s.mu.Unlock()
		return ReplicaRestart{}, err
	}
	switch {
	case r.deleting || r.nodeLost || !r.active || r.node == "":
		s.mu.Unlock()
		return ReplicaRestart{}, fmt.Errorf("replica %s is not running (status %s); cannot restart it", name, r.status)
	case r.frozen:
		s.mu.Unlock()
		return ReplicaRestart{}, fmt.Errorf("replica %s is failed (frozen) by another fault; cannot restart it", name)
	}
	uid := r.uid
	prev := r.lastReadyAfter
	s.stopReplicaLocked(r, r.svc.plan.grace, why)
	s.whenStoppedLocked(r, func() {
		// Still the same pod, still wanted: a node-down, scale-down or
		// shutdown meanwhile owns what happens next.
		if s.phase != phaseRunning || r.deleting || r.nodeLost || !r.active || r.uid != uid || s.replicas[r.name] != r {
			done <- result{err: fmt.Errorf("replica %s changed while it was restarted (status %s); not started again", name, r.status)}
			return
		}
		for _, c := range r.containers {
			// Another restart of the same replica (a second model fault)
			// may have started it already: one process per container.
			if c.state != StateRunning {
				s.startContainerLocked(r, c)
			}
		}
		s.refreshLocked(r)
		main := r.containers[0]
		if main.state != StateRunning {
			done <- result{err: fmt.Errorf("replica %s: main container did not start again (%s)", name, main.reason)}
			return
		}
		done <- result{rr: ReplicaRestart{PID: main.pid, StartTime: main.startTime, Started: main.startedAt, PreviousReadyAfter: prev}}
	})
	s.mu.Unlock()
	select {
	case res := <-done:
		return res.rr, res.err
	case <-ctx.Done():
		return ReplicaRestart{}, fmt.Errorf("restart replica %s: %w", name, ctx.Err())
	}
}

// waitReplicaReady waits until replica name is ready with its main
// container still the process pid, and returns how long that process took
// from its start to ready. A replica that restarted meanwhile (another pid)
// or is gone is an error, as is ctx ending.
func (s *Supervisor) waitReplicaReady(ctx context.Context, name string, pid int) (time.Duration, error) {
	var (
		after time.Duration
		gone  error
	)
	err := s.waitFor(ctx, func() bool {
		r, ok := s.replicas[name]
		if !ok {
			gone = notFoundf("replica %s is gone", name)
			return true
		}
		if main := r.containers[0]; main.pid != pid {
			gone = fmt.Errorf("replica %s: its main container is no longer pid %d (restarted: %s)", name, pid, r.status)
			return true
		}
		if r.ready {
			after = r.lastReadyAfter
			return true
		}
		return false
	})
	if err != nil {
		return 0, err
	}
	return after, gone
}

// replicaWorkDir is the working directory of a replica's main container.
func (s *Supervisor) replicaWorkDir(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.replicaLocked(name)
	if err != nil {
		return "", err
	}
	return r.containers[0].plan.dir, nil
}

// overrideEnvLocked is the override's variables for container c, sorted so
// that a process's environment is the same from one start to the next.
func (r *replica) overrideEnvLocked(c *container) [][2]string {
	if r.override == nil || !c.main {
		return nil
	}
	keys := make([]string, 0, len(r.override.Env))
	for k := range r.override.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([][2]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, [2]string{k, r.override.Env[k]})
	}
	return out
}

// mountNSLocked is the mount namespace container c starts in; nil is the
// supervisor's own.
func (r *replica) mountNSLocked(c *container) *os.File {
	if r.override == nil || !c.main {
		return nil
	}
	return r.override.MountNS
}

// noteReadyLocked records how long the main container took from its start
// to ready, when the replica has just become ready.
func (r *replica) noteReadyLocked() {
	if main := r.containers[0]; main.state == StateRunning && !main.startedAt.IsZero() {
		r.lastReadyAfter = time.Since(main.startedAt)
	}
}

// spawnerMountNS is the spawner thread's state for starting processes in
// other mount namespaces (see startInMountNS).
type spawnerMountNS struct {
	// own is the thread's (the supervisor's) mount namespace, opened the
	// first time a process starts elsewhere, after the thread stopped
	// sharing its filesystem attributes with the rest of the process.
	own *os.File
	// cwd is the thread's working directory, restored after each return
	// (setns into a mount namespace moves the thread to its root).
	cwd *os.File
}

// startInMountNS starts cmd (via start) with the calling thread — the
// spawner's locked thread — inside mount namespace ns, then returns the
// thread to its own namespace. setns(CLONE_NEWNS) needs a thread that does
// not share its filesystem attributes (root, cwd) with other threads, so
// the first call unshares CLONE_FS for the spawner's thread for good: it
// never runs anything else, and it is never handed back to the runtime.
// stuck is non-nil when the thread could not return; see startInNetns.
func (m *spawnerMountNS) startInMountNS(ns *os.File, start func() error) (err, stuck error) {
	if m.own == nil {
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare the spawner's filesystem attributes: %w", err), nil
		}
		own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/mnt", unix.Gettid()))
		if err != nil {
			return fmt.Errorf("open the supervisor's mount namespace: %w", err), nil
		}
		cwd, err := os.Open(".")
		if err != nil {
			own.Close()
			return fmt.Errorf("open the supervisor's working directory: %w", err), nil
		}
		m.own, m.cwd = own, cwd
	}
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("enter mount namespace %s: %w", ns.Name(), err), nil
	}
	startErr := start()
	if err := unix.Setns(int(m.own.Fd()), unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("return from mount namespace %s: %w", ns.Name(), err), fmt.Errorf("the supervisor's process-starting thread could not return from mount namespace %s: %w", ns.Name(), err)
	}
	if err := unix.Fchdir(int(m.cwd.Fd())); err != nil {
		return startErr, fmt.Errorf("the supervisor's process-starting thread could not return to its working directory: %w", err)
	}
	return startErr, nil
}

// startWithMountNS starts cmd in network namespace netns ("" the
// supervisor's) and mount namespace mnt (nil the supervisor's), from the
// spawner's thread. The network namespace is opened first, while the
// thread still sees the supervisor's mounts (its bind mount is not in a
// private mount namespace made before it).
func (m *spawnerMountNS) startWithMountNS(cmd *exec.Cmd, netns string, mnt *os.File) (err, stuck error) {
	if mnt == nil {
		return startInNetns(cmd, netns)
	}
	start := cmd.Start
	if netns != "" {
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			return fmt.Errorf("open the supervisor's network namespace: %w", err), nil
		}
		defer self.Close()
		target, err := os.Open(netns)
		if err != nil {
			return fmt.Errorf("open network namespace %s: %w", netns, err), nil
		}
		defer target.Close()
		start = func() error {
			if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("enter network namespace %s: %w", netns, err)
			}
			startErr := cmd.Start()
			if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
				stuck = fmt.Errorf("the supervisor's process-starting thread could not return from network namespace %s: %w", netns, err)
			}
			return startErr
		}
	}
	err, mstuck := m.startInMountNS(mnt, start)
	if stuck == nil {
		stuck = mstuck
	}
	if stuck != nil {
		if err == nil && cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return stuck, stuck
	}
	return err, nil
}

func (m *spawnerMountNS) close() {
	if m.own != nil {
		m.own.Close()
		m.cwd.Close()
	}
}
