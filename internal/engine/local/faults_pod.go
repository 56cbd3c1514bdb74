package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// planPod plans a PodChaos: pod-kill and container-kill act once;
// pod-failure holds the replicas frozen for the duration.
func (e *Engine) planPod(f engine.Fault, spec *v1alpha1.PodChaosSpec, o InjectOptions) (*faultPlan, error) {
	if spec.GracePeriod < 0 {
		return nil, fmt.Errorf("gracePeriod %d is negative", spec.GracePeriod)
	}
	switch spec.Action {
	case v1alpha1.PodKill, v1alpha1.PodFailure, v1alpha1.ContainerKill:
	case "":
		return nil, errors.New("no action given; PodChaos takes pod-kill, pod-failure or container-kill")
	default:
		return nil, fmt.Errorf("unknown action %q; PodChaos takes pod-kill, pod-failure or container-kill", spec.Action)
	}
	if spec.Action == v1alpha1.ContainerKill && len(spec.ContainerNames) == 0 {
		return nil, errors.New("container-kill needs containerNames")
	}
	targets, err := e.selectReplicas(f.Kind, spec, o)
	if err != nil {
		return nil, err
	}
	p := &faultPlan{targets: targets, instant: spec.Action != v1alpha1.PodFailure}
	for _, t := range targets {
		switch spec.Action {
		case v1alpha1.PodKill:
			p.actions = append(p.actions, &podKill{sup: e.sup, replica: t.Name, grace: time.Duration(spec.GracePeriod) * time.Second})
		case v1alpha1.ContainerKill:
			for _, c := range spec.ContainerNames {
				if !slices.Contains(t.Containers, c) {
					return nil, fmt.Errorf("replica %s has no container %q (containers: %s)", t.Name, c, strings.Join(t.Containers, ", "))
				}
			}
			p.actions = append(p.actions, &podKill{sup: e.sup, replica: t.Name, containers: spec.ContainerNames})
		case v1alpha1.PodFailure:
			p.actions = append(p.actions, &podFailure{e: e, replica: t.Name})
		}
	}
	return p, nil
}

// podKill is pod-kill (every container) and container-kill (the named
// ones): SIGKILL, or with a grace period SIGTERM first and SIGKILL for
// whatever of the same processes still runs when it is over. The
// supervisor restarts the containers per their restart policy.
type podKill struct {
	sup        *Supervisor
	replica    string
	containers []string // nil: all
	grace      time.Duration
}

func (a *podKill) apply(ctx context.Context, _ undoRecorder) (string, error) {
	which := strings.Join(a.containers, ",")
	what := "every container"
	if which != "" {
		what = "container " + strings.Join(a.containers, ", ")
	}
	if a.grace <= 0 {
		if err := a.sup.KillContainer(a.replica, which, syscall.SIGKILL); err != nil {
			return "", err
		}
		return "SIGKILL sent to " + what + "; restarted per the restart policy", nil
	}
	// Note the processes now: once SIGTERM ends one, the supervisor may
	// start a new one, which the SIGKILL after the grace must spare.
	st, ok := a.sup.Replica(a.replica)
	if !ok {
		return "", notFoundf("environment %s has no replica %q", a.sup.Name(), a.replica)
	}
	type proc struct {
		container string
		pid       int
		start     uint64
	}
	var procs []proc
	for _, c := range st.Containers {
		if c.PID > 0 && (which == "" || slices.Contains(a.containers, c.Name)) {
			procs = append(procs, proc{c.Name, c.PID, c.StartTime})
		}
	}
	if err := a.sup.KillContainer(a.replica, which, syscall.SIGTERM); err != nil {
		return "", err
	}
	deadline := time.NewTimer(a.grace)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var left []proc
		for _, p := range procs {
			if s, err := engine.ProcessStartTime(p.pid); err == nil && s == p.start {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return fmt.Sprintf("SIGTERM sent to %s; exited within the grace period of %s", what, a.grace), nil
		}
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		case <-deadline.C:
		}
		var killed []string
		for _, p := range left {
			// Only the same process: the container may have been
			// restarted meanwhile.
			if s, err := engine.ProcessStartTime(p.pid); err == nil && s == p.start {
				if err := a.sup.KillContainer(a.replica, p.container, syscall.SIGKILL); err != nil && !errors.Is(err, ErrNotFound) {
					return "", fmt.Errorf("SIGKILL after the grace period: %w", err)
				}
				killed = append(killed, p.container)
			}
		}
		if len(killed) == 0 {
			return fmt.Sprintf("SIGTERM sent to %s; exited within the grace period of %s", what, a.grace), nil
		}
		return fmt.Sprintf("SIGTERM sent to %s; SIGKILL to %s after the grace period of %s", what, strings.Join(killed, ", "), a.grace), nil
	}
}

func (a *podKill) revert(context.Context) (string, error) { return "", nil }
func (a *podKill) fidelity() []engine.Fidelity            { return nil }

// podFailure is pod-failure: the replica's processes are frozen (cgroup
// freezer, or SIGSTOP without cgroups) and it is not ready until the fault
// is reverted.
type podFailure struct {
	e       *Engine
	replica string
}

func (a *podFailure) apply(_ context.Context, rec undoRecorder) (string, error) {
	st, ok := a.e.sup.Replica(a.replica)
	if !ok {
		return "", notFoundf("environment %s has no replica %q", a.e.sup.Name(), a.replica)
	}
	if st.Frozen {
		// Holding it too would be a silent no-op, and this fault's revert
		// would end the other one's hold early.
		return "", fmt.Errorf("replica %s is already failed (frozen) by another fault", a.replica)
	}
	// What a recover without the supervisor needs to thaw the replica:
	// its cgroup, or its processes (PID and start time, so a reused PID
	// is never signalled).
	var pids []string
	for _, c := range st.Containers {
		if c.PID > 0 {
			pids = append(pids, strconv.Itoa(c.PID)+":"+strconv.FormatUint(c.StartTime, 10))
		}
	}
	i, err := rec.add(undoUnfailReplica, map[string]string{undoReplica: a.replica, undoCgroup: st.Cgroup, undoPIDs: strings.Join(pids, ",")})
	if err != nil {
		return "", err
	}
	if err := a.e.sup.SetReplicaFailed(a.replica, true); err != nil {
		// A failed SetReplicaFailed leaves the replica as it was.
		return "", errors.Join(err, rec.drop(i))
	}
	how := "SIGSTOP"
	if st.Cgroup != "" {
		how = "cgroup freezer"
	}
	return "processes frozen (" + how + "); not ready, no traffic from the gateway", nil
}

func (a *podFailure) revert(context.Context) (string, error) {
	if a.e.stopping() {
		return "the environment is shutting down (its replicas are thawed and stopped)", nil
	}
	err := a.e.sup.SetReplicaFailed(a.replica, false)
	switch {
	case errors.Is(err, ErrNotFound):
		return "the replica is gone", nil
	case err != nil && a.e.stopping():
		return "the environment is shutting down (its replicas are thawed and stopped)", nil
	case err != nil:
		return "", err
	}
	return "processes thawed; ready again once its readiness probe passes", nil
}

func (a *podFailure) fidelity() []engine.Fidelity { return nil }
