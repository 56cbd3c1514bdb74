package local

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/fault/stress"
)

// stressSafetyMargin is added to the fault's duration for stress-ng's own
// --timeout: faultline stops the stressor at the end of the duration; the
// timeout only ends one orphaned by a crash nobody recovered from.
const stressSafetyMargin = time.Minute

// planStress plans a StressChaos: stress-ng runs inside each target
// replica's cgroup for the duration, so it competes with the replica for
// the same CPU quota and memory limit.
func (e *Engine) planStress(f engine.Fault, spec *v1alpha1.StressChaosSpec, o InjectOptions) (*faultPlan, error) {
	sp, err := stressSpec(spec, f.Duration)
	if err != nil {
		return nil, err
	}
	if err := e.cgroupsAvailable(); err != nil {
		return nil, fmt.Errorf("the local engine needs root for StressChaos: stressors run inside each target replica's cgroup, and environment %s runs without cgroups (%v); start it as root", e.sup.Name(), err)
	}
	if _, err := exec.LookPath("stress-ng"); err != nil {
		return nil, errors.New("StressChaos needs stress-ng on this machine (hack/install-deps.sh installs it)")
	}
	targets, err := e.selectReplicas(f.Kind, spec, o)
	if err != nil {
		return nil, err
	}
	p := &faultPlan{targets: targets}
	for _, t := range targets {
		if _, err := e.sup.ReplicaCgroup(t.Name); err != nil {
			return nil, err
		}
		p.actions = append(p.actions, &stressAction{e: e, replica: t.Name, spec: sp})
	}
	if len(spec.ContainerNames) > 0 {
		p.notes = append(p.notes, "containerNames is ignored: a local replica has one cgroup shared by all its containers, and the stress runs in it")
	}
	return p, nil
}

// cgroupsAvailable says why the environment has no cgroups, nil when it has.
func (e *Engine) cgroupsAvailable() error {
	s := e.sup
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cg == nil {
		return errors.New("the environment is not started")
	}
	return s.cg.err
}

// stressSpec maps a Chaos Mesh StressChaos onto the stress package's Spec.
func stressSpec(spec *v1alpha1.StressChaosSpec, d time.Duration) (stress.Spec, error) {
	var sp stress.Spec
	if d > 0 {
		sp.SafetyTimeout = d + stressSafetyMargin
	}
	if strings.TrimSpace(spec.StressngStressors) != "" {
		sp.StressNG = spec.StressngStressors
		return sp, nil
	}
	s := spec.Stressors
	if s == nil || s.CPU == nil && s.Memory == nil {
		return sp, errors.New("no stressor given; set stressors.cpu, stressors.memory or stressngStressors")
	}
	if s.CPU != nil {
		if s.CPU.Workers < 1 {
			return sp, fmt.Errorf("stressors.cpu.workers %d: want 1 or more", s.CPU.Workers)
		}
		sp.CPUWorkers, sp.CPULoad = s.CPU.Workers, s.CPU.Load
		sp.Options = append(sp.Options, s.CPU.Options...)
	}
	if s.Memory != nil {
		if s.Memory.Workers < 1 {
			return sp, fmt.Errorf("stressors.memory.workers %d: want 1 or more", s.Memory.Workers)
		}
		sp.MemoryWorkers, sp.MemorySize, sp.MemoryOOMScoreAdj = s.Memory.Workers, s.Memory.Size, s.Memory.OOMScoreAdj
		sp.Options = append(sp.Options, s.Memory.Options...)
	}
	return sp, nil
}

// stressAction runs one stress-ng in one replica's cgroup.
type stressAction struct {
	e       *Engine
	replica string
	spec    stress.Spec

	mu    sync.Mutex
	st    *stress.Stressor
	final *stress.Measured // once stopped
}

func (a *stressAction) apply(ctx context.Context, rec undoRecorder) (string, error) {
	g, err := a.e.sup.ReplicaCgroup(a.replica)
	if err != nil {
		return "", err
	}
	// The cgroup is journaled before stress-ng exists: a crash in between
	// still leaves recover a place to look for our stressors.
	i, err := rec.add(undoKillStressors, map[string]string{undoReplica: a.replica, undoCgroup: g.Path(), undoPIDs: ""})
	if err != nil {
		return "", err
	}
	// ctx lives as long as the injection: the stressor stops with it.
	st, err := stress.Start(ctx, g, a.spec)
	if err != nil {
		return "", errors.Join(err, rec.drop(i))
	}
	a.mu.Lock()
	a.st = st
	a.mu.Unlock()
	if err := rec.set(i, undoPIDs, joinPIDs(st.PIDs())); err != nil {
		_ = st.Stop()
		return "", err
	}
	return fmt.Sprintf("stress-ng (%s) running in cgroup %s", a.askedText(), g.Path()), nil
}

func (a *stressAction) revert(context.Context) (string, error) {
	a.mu.Lock()
	st := a.st
	a.mu.Unlock()
	if st == nil {
		return "", nil
	}
	err := st.Stop()
	m := st.Measure()
	a.mu.Lock()
	a.final = &m
	a.mu.Unlock()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("stress-ng stopped after %s: %.2f CPU seconds, %.2f cores", m.Wall.Round(time.Millisecond), m.CPUTime.Seconds(), m.Cores), nil
}

// fidelity is asked versus measured CPU (cores) and memory (bytes held at
// the peak), as Measure reports them for the stressor's own processes.
func (a *stressAction) fidelity() []engine.Fidelity {
	a.mu.Lock()
	st, final := a.st, a.final
	a.mu.Unlock()
	if st == nil {
		return nil
	}
	var m stress.Measured
	if final != nil {
		m = *final
	} else {
		m = st.Measure()
	}
	var out []engine.Fidelity
	sp := a.spec
	if sp.StressNG != "" {
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "cpu", Asked: "stress-ng " + sp.StressNG,
			Measured: fmt.Sprintf("%.2f cores", m.Cores), MeasuredValue: m.Cores, Unit: "cores"})
		if m.PeakMemoryBytes > 0 {
			out = append(out, engine.Fidelity{Target: a.replica, Quantity: "memory", Asked: "stress-ng " + sp.StressNG,
				Measured: formatBytes(m.PeakMemoryBytes) + " held", MeasuredValue: float64(m.PeakMemoryBytes), Unit: "bytes"})
		}
		return out
	}
	if sp.CPUWorkers > 0 {
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "cpu", Asked: cpuAsked(sp),
			Measured: fmt.Sprintf("%.2f cores", m.Cores), AskedValue: m.Asked.Cores, MeasuredValue: m.Cores, Unit: "cores"})
	}
	if sp.MemoryWorkers > 0 {
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "memory",
			Asked:    fmt.Sprintf("%s in %d %s", formatBytes(m.Asked.MemoryBytes), sp.MemoryWorkers, plural(sp.MemoryWorkers, "worker", "workers")),
			Measured: formatBytes(m.PeakMemoryBytes) + " held", AskedValue: float64(m.Asked.MemoryBytes),
			MeasuredValue: float64(m.PeakMemoryBytes), Unit: "bytes"})
	}
	return out
}

func (a *stressAction) askedText() string {
	if a.spec.StressNG != "" {
		return a.spec.StressNG
	}
	var parts []string
	if a.spec.CPUWorkers > 0 {
		parts = append(parts, cpuAsked(a.spec))
	}
	if a.spec.MemoryWorkers > 0 {
		size := a.spec.MemorySize
		if size == "" {
			size = "100%"
		}
		parts = append(parts, fmt.Sprintf("%d memory %s holding %s", a.spec.MemoryWorkers, plural(a.spec.MemoryWorkers, "worker", "workers"), size))
	}
	return strings.Join(parts, ", ")
}

func cpuAsked(sp stress.Spec) string {
	load := 100
	if sp.CPULoad != nil {
		load = *sp.CPULoad
	}
	return fmt.Sprintf("%d CPU %s at %d%%", sp.CPUWorkers, plural(sp.CPUWorkers, "worker", "workers"), load)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func joinPIDs(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// formatBytes writes a byte count with a binary unit, as stress-ng reads
// sizes.
func formatBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTP"[exp])
}
