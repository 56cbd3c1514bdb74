package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

func (e *Engine) planScale(ctx context.Context, f engine.Fault, spec *v1alpha1.ScaleChaosSpec) (*faultPlan, error) {
	if spec.Workload == nil {
		if spec.Service != "" {
			return nil, fmt.Errorf("spec.service %q names a local service; on a kube environment name the workload with spec.workload (kind, name, namespace)", spec.Service)
		}
		return nil, errors.New("no workload given; set spec.workload (kind Deployment, StatefulSet or ReplicaSet, and name)")
	}
	if spec.Replicas == nil {
		return nil, errors.New("no replica count given; set spec.replicas")
	}
	if *spec.Replicas < 0 {
		return nil, fmt.Errorf("replicas %d is negative", *spec.Replicas)
	}
	w := spec.Workload
	ns := w.Namespace
	if ns == "" {
		ns = f.Namespace
	}
	if ns == "" && len(e.opts.Namespaces) == 1 {
		ns = e.opts.Namespaces[0]
	}
	if ns == "" {
		return nil, fmt.Errorf("workload %s %s has no namespace; set spec.workload.namespace", w.Kind, w.Name)
	}
	if err := e.checkNamespace(ctx, ns); err != nil {
		return nil, err
	}
	a := &scaleWorkload{e: e, kind: string(w.Kind), ns: ns, name: w.Name, replicas: *spec.Replicas}
	cur, err := a.get(ctx)
	if err != nil {
		return nil, err
	}
	// A scale-down removes pods: the caps apply to them as to killed pods.
	if removed := int(cur.Spec.Replicas - *spec.Replicas); removed > 0 {
		if e.opts.MaxPods > 0 && removed > e.opts.MaxPods {
			return nil, fmt.Errorf("blast radius: scaling %s/%s %s from %d to %d removes %d pods, more than the cap of %d",
				ns, w.Name, w.Kind, cur.Spec.Replicas, *spec.Replicas, removed, e.opts.MaxPods)
		}
		if pct := 100 * float64(removed) / float64(cur.Spec.Replicas); e.opts.MaxPercent > 0 && pct > e.opts.MaxPercent+1e-9 {
			return nil, fmt.Errorf("blast radius: scaling %s/%s %s from %d to %d removes %.0f%% of its pods, more than the cap of %g%%",
				ns, w.Name, w.Kind, cur.Spec.Replicas, *spec.Replicas, pct, e.opts.MaxPercent)
		}
	}
	t := engine.Target{Name: w.Name, Namespace: ns, Owner: string(w.Kind) + "/" + w.Name, Phase: "Running", Ready: true}
	return &faultPlan{targets: []engine.Target{t}, actions: []action{a}}, nil
}

// scaleWorkload holds a workload's replicas at a count through its scale
// subresource.
//
// Several ScaleChaos on one workload stack, as on the embedded engine: the
// count is always the newest live hold's, and when a hold ends the
// workload gets the count of the hold below it, or the count it had before
// the first hold once none is left — in whatever order they end. The stack
// lives in the journal, not in this process: each hold's undo step records,
// besides the count it replaced (replicas), its injection, its own count
// (set), the count before the whole stack (base) and its place in it (seq).
// A revert (or Recover, for a faultline that crashed) lists the journal's
// holds on the workload to decide the count, so holds of several engines or
// processes, and any recovery order, end at the original count.
type scaleWorkload struct {
	e        *Engine
	kind     string
	ns, name string
	replicas int32

	// Set by apply.
	rec  *recorder
	undo int // index of the undo step in the journal entry
	self scaleHold
}

// Arguments of a scale undo step, besides kind, namespace and name.
const (
	scaleArgBefore    = "replicas" // the count this hold replaced
	scaleArgInjection = "injection"
	scaleArgSet       = "set"      // the count this hold sets
	scaleArgBase      = "base"     // the count before the oldest hold
	scaleArgSeq       = "seq"      // the hold's place in the stack
	scaleArgReleased  = "released" // "true" once its revert began
)

// scaleHold is one ScaleChaos holding a workload's count, as journaled.
type scaleHold struct {
	id       string // injection
	seq      int
	before   int32
	set      int32
	hasSet   bool // false in steps written before holds stacked
	base     int32
	released bool
}

// above reports whether h was applied after o.
func (h scaleHold) above(o scaleHold) bool {
	return h.seq > o.seq || h.seq == o.seq && h.id > o.id
}

func parseScaleHold(id string, a map[string]string) (scaleHold, error) {
	count := func(key string) (int32, bool, error) {
		v, ok := a[key]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("undo scale of injection %s: bad %s %q", id, key, v)
		}
		return int32(n), true, nil
	}
	h := scaleHold{id: id, released: a[scaleArgReleased] == "true"}
	var ok bool
	var err error
	if h.before, ok, err = count(scaleArgBefore); err != nil {
		return h, err
	} else if !ok {
		return h, fmt.Errorf("undo scale of injection %s: no replica count", id)
	}
	if h.set, h.hasSet, err = count(scaleArgSet); err != nil {
		return h, err
	}
	if h.base, ok, err = count(scaleArgBase); err != nil {
		return h, err
	} else if !ok {
		h.base = h.before
	}
	if v, ok := a[scaleArgSeq]; ok {
		if h.seq, err = strconv.Atoi(v); err != nil {
			return h, fmt.Errorf("undo scale of injection %s: bad seq %q", id, v)
		}
	}
	return h, nil
}

// listScaleHolds returns the journaled holds on a workload, oldest first,
// released ones included. Unreadable journal entries are skipped: Recover
// reports them.
func listScaleHolds(ctx context.Context, e *Engine, kind, ns, name string) ([]scaleHold, error) {
	entries, _, err := e.journal.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("ScaleChaos holds on %s %s/%s: %w", kind, ns, name, err)
	}
	var holds []scaleHold
	for _, en := range entries {
		for _, u := range en.Undo {
			a := u.Args
			if u.Action != undoScale || a["kind"] != kind || a["namespace"] != ns || a["name"] != name {
				continue
			}
			if h, err := parseScaleHold(en.ID, a); err == nil {
				holds = append(holds, h)
			}
		}
	}
	slices.SortFunc(holds, func(x, y scaleHold) int {
		if x.above(y) {
			return 1
		}
		if y.above(x) {
			return -1
		}
		return 0
	})
	return holds, nil
}

func (a *scaleWorkload) get(ctx context.Context) (*autoscalingv1.Scale, error) {
	return getScale(ctx, a.e, a.kind, a.ns, a.name)
}

func getScale(ctx context.Context, e *Engine, kind, ns, name string) (*autoscalingv1.Scale, error) {
	apps := e.client.AppsV1()
	var (
		s   *autoscalingv1.Scale
		err error
	)
	switch v1alpha1.WorkloadKind(kind) {
	case v1alpha1.WorkloadDeployment:
		s, err = apps.Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	case v1alpha1.WorkloadStatefulSet:
		s, err = apps.StatefulSets(ns).GetScale(ctx, name, metav1.GetOptions{})
	case v1alpha1.WorkloadReplicaSet:
		s, err = apps.ReplicaSets(ns).GetScale(ctx, name, metav1.GetOptions{})
	default:
		return nil, fmt.Errorf("cannot scale a %q; ScaleChaos scales a Deployment, StatefulSet or ReplicaSet", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("scale of %s %s/%s: %w", kind, ns, name, err)
	}
	return s, nil
}

// updateScale writes s, read by getScale: its resourceVersion makes the
// write fail with a conflict if the workload was scaled since.
func updateScale(ctx context.Context, e *Engine, kind, ns, name string, s *autoscalingv1.Scale) error {
	apps := e.client.AppsV1()
	var err error
	switch v1alpha1.WorkloadKind(kind) {
	case v1alpha1.WorkloadDeployment:
		_, err = apps.Deployments(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
	case v1alpha1.WorkloadStatefulSet:
		_, err = apps.StatefulSets(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
	default:
		_, err = apps.ReplicaSets(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
	}
	return err
}

// setScale sets a workload's replicas and returns the count it replaced.
func setScale(ctx context.Context, e *Engine, kind, ns, name string, replicas int32) (int32, error) {
	var prev int32
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := getScale(ctx, e, kind, ns, name)
		if err != nil {
			return err
		}
		prev = s.Spec.Replicas
		s.Spec.Replicas = replicas
		return updateScale(ctx, e, kind, ns, name, s)
	})
	if err != nil {
		return 0, fmt.Errorf("scale %s %s/%s to %d: %w", kind, ns, name, replicas, err)
	}
	return prev, nil
}

func (a *scaleWorkload) apply(ctx context.Context, rec *recorder) (string, error) {
	holds, err := listScaleHolds(ctx, a.e, a.kind, a.ns, a.name)
	if err != nil {
		return "", err
	}
	cur, err := a.get(ctx)
	if err != nil {
		return "", err
	}
	// On top of the holds journaled so far (released ones included: their
	// revert may not have set the count yet), keeping the stack's base.
	self := scaleHold{id: rec.inj.id, seq: 1, before: cur.Spec.Replicas, set: a.replicas, hasSet: true, base: cur.Spec.Replicas}
	if n := len(holds); n > 0 {
		self.base, self.seq = holds[0].base, holds[n-1].seq+1
	}
	args := map[string]string{"kind": a.kind, "namespace": a.ns, "name": a.name,
		scaleArgBefore: strconv.Itoa(int(self.before)), scaleArgInjection: self.id, scaleArgSet: strconv.Itoa(int(self.set)),
		scaleArgBase: strconv.Itoa(int(self.base)), scaleArgSeq: strconv.Itoa(self.seq)}
	i, err := rec.add(undoScale, args)
	if err != nil {
		return "", err
	}
	a.rec, a.undo, a.self = rec, i, self
	prev, err := setScale(ctx, a.e, a.kind, a.ns, a.name, a.replicas)
	if err != nil {
		// Nothing was scaled, but a hold that ended meanwhile may have
		// left the count to this one: settle it as if this one ended.
		// ctx may have ended (the injection was reverted): a bounded one of
		// its own.
		if len(holds) > 0 {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revertTimeout)
			_, serr := a.revert(sctx)
			cancel()
			err = errors.Join(err, serr)
		}
		return "", errors.Join(err, rec.drop(i))
	}
	if prev != self.before {
		// Someone scaled in between: the journal must name what we replaced.
		if err := rec.set(i, scaleArgBefore, strconv.Itoa(int(prev))); err != nil {
			return "", err
		}
		if len(holds) == 0 {
			if err := rec.set(i, scaleArgBase, strconv.Itoa(int(prev))); err != nil {
				return "", err
			}
			a.self.base = prev
		}
		a.self.before = prev
	}
	return fmt.Sprintf("scaled from %d to %d replicas", prev, a.replicas), nil
}

// revert ends this hold: it marks the hold released in the journal, then
// sets the count the remaining holds call for.
func (a *scaleWorkload) revert(ctx context.Context) (string, error) {
	// Marked first, so that holds ending at the same time each see the
	// other gone, and the last write (checked against the scale's
	// resourceVersion) is made knowing both ended.
	merr := a.rec.set(a.undo, scaleArgReleased, "true")
	msg, err := settleScale(ctx, a.e, a.kind, a.ns, a.name, a.self)
	if err != nil {
		// Without the mark the journal is still right (the step stays for
		// Recover); it only matters with the settle failing.
		return "", errors.Join(err, merr)
	}
	return msg, nil
}

// undoScaleStep performs a journaled scale undo step for Recover.
func undoScaleStep(ctx context.Context, e *Engine, a map[string]string) (string, error) {
	kind, ns, name := a["kind"], a["namespace"], a["name"]
	id := a[scaleArgInjection]
	h, err := parseScaleHold(id, a)
	if err != nil {
		return "", err
	}
	if id == "" {
		// A step from before holds stacked: the count it replaced.
		if _, err := setScale(ctx, e, kind, ns, name, h.before); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %s/%s scaled back to %d", kind, ns, name, h.before), nil
	}
	msg, err := settleScale(ctx, e, kind, ns, name, h)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s/%s %s", kind, ns, name, msg), nil
}

// settleScale ends hold self on a workload: if a later live hold exists it
// leaves the count alone, else it sets the newest remaining hold's count,
// or the count before the first hold when none remains. The holds are read
// after the scale, and the write is checked against the scale's
// resourceVersion, so a concurrent change makes it read both again.
func settleScale(ctx context.Context, e *Engine, kind, ns, name string, self scaleHold) (string, error) {
	var msg string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := getScale(ctx, e, kind, ns, name)
		if err != nil {
			return err
		}
		holds, err := listScaleHolds(ctx, e, kind, ns, name)
		if err != nil {
			return err
		}
		holds = slices.DeleteFunc(holds, func(h scaleHold) bool { return h.id == self.id || h.released })
		target := self.base
		switch n := len(holds); {
		case n > 0 && holds[n-1].above(self):
			msg = fmt.Sprintf("left at %d replicas: a later ScaleChaos (injection %s) still holds the count", s.Spec.Replicas, holds[n-1].id)
			return nil
		case n > 0 && !holds[n-1].hasSet:
			msg = fmt.Sprintf("left at %d replicas: ScaleChaos injection %s still holds the count", s.Spec.Replicas, holds[n-1].id)
			return nil
		case n > 0:
			target = holds[n-1].set
			msg = fmt.Sprintf("scaled back to %d replicas, the count of the earlier ScaleChaos (injection %s) still holding it", target, holds[n-1].id)
		default:
			msg = fmt.Sprintf("scaled back to %d replicas", target)
		}
		if s.Spec.Replicas == target {
			return nil
		}
		s.Spec.Replicas = target
		return updateScale(ctx, e, kind, ns, name, s)
	})
	if err != nil {
		return "", fmt.Errorf("scale %s %s/%s back: %w", kind, ns, name, err)
	}
	return msg, nil
}
