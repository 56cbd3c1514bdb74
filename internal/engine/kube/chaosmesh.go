package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// Chaos Mesh delegation: a data-plane fault (and PodChaos container-kill,
// which the API alone cannot do) becomes a Chaos Mesh object when the
// cluster serves chaos-mesh.org/v1alpha1. faultline selects the pods itself
// (opt-in and blast-radius checks, an exact dry run) and hands Chaos Mesh
// exactly those pods (selector.pods, mode all), without a duration: the
// object lives as long as the injection and is deleted on revert.

// chaosMeshGroupVersion is Chaos Mesh's API.
const chaosMeshGroupVersion = "chaos-mesh.org/v1alpha1"

// InjectionLabel labels objects faultline creates with the injection id.
const InjectionLabel = "faultline.dev/injection"

// undoDeleteChaosMesh deletes a delegated Chaos Mesh object (args
// resource, namespace, name).
const undoDeleteChaosMesh = "delete-chaos-mesh-object"

// chaosMeshResource is the resource (plural) of a kind Chaos Mesh runs for
// faultline.
func chaosMeshResource(spec any) (string, bool) {
	switch s := spec.(type) {
	case *v1alpha1.NetworkChaosSpec:
		return "networkchaos", true
	case *v1alpha1.StressChaosSpec:
		return "stresschaos", true
	case *v1alpha1.HTTPChaosSpec:
		return "httpchaos", true
	case *v1alpha1.IOChaosSpec:
		return "iochaos", true
	case *v1alpha1.DNSChaosSpec:
		return "dnschaos", true
	case *v1alpha1.TimeChaosSpec:
		return "timechaos", true
	case *v1alpha1.PodChaosSpec:
		return "podchaos", s.Action == v1alpha1.ContainerKill
	}
	return "", false
}

// chaosMeshSpec is the spec faultline sends: the fault's own (its JSON
// field names are Chaos Mesh's), with the selector replaced by the chosen
// pods and no duration.
func chaosMeshSpec(spec any, targets []engine.Target) (map[string]any, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	pods := map[string][]any{}
	for _, t := range targets {
		pods[t.Namespace] = append(pods[t.Namespace], t.Name)
	}
	m["selector"] = map[string]any{"pods": pods}
	m["mode"] = "all"
	delete(m, "value")
	delete(m, "duration")
	return m, nil
}

func (e *Engine) planChaosMesh(ctx context.Context, f engine.Fault, resource string) (*faultPlan, error) {
	sel, ok := f.Spec.(v1alpha1.Selectable)
	if !ok {
		return nil, fmt.Errorf("%s has no pod selector", f.Kind)
	}
	ns := f.Namespace
	if ns == "" && len(e.opts.Namespaces) == 1 {
		ns = e.opts.Namespaces[0]
	}
	if ns == "" {
		return nil, errors.New("a Chaos Mesh object needs a namespace: set the chaos object's metadata.namespace")
	}
	if err := e.checkNamespace(ctx, ns); err != nil {
		return nil, err
	}
	targets, err := e.selectPods(ctx, sel.GetSelector(), ns)
	if err != nil {
		return nil, err
	}
	if err := e.checkRadius(ctx, targets); err != nil {
		return nil, err
	}
	spec, err := chaosMeshSpec(f.Spec, targets)
	if err != nil {
		return nil, err
	}
	a := &chaosMeshObject{e: e, kind: f.Kind, resource: resource, ns: ns, spec: spec, pods: len(targets)}
	return &faultPlan{targets: targets, actions: []action{a},
		actionTargets: []string{ns + "/" + f.Kind + "/" + f.Name},
		notes:         []string{fmt.Sprintf("delegated to Chaos Mesh as a %s in namespace %s, on exactly the %d selected pod(s)", f.Kind, ns, len(targets))}}, nil
}

// chaosMeshObject is one delegated Chaos Mesh object.
type chaosMeshObject struct {
	e        *Engine
	kind     string
	resource string
	ns       string
	name     string
	spec     map[string]any
	pods     int
}

func (a *chaosMeshObject) gvr() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: a.resource}
}

func (a *chaosMeshObject) apply(ctx context.Context, rec *recorder) (string, error) {
	if a.e.dynamic == nil {
		return "", errors.New("the engine has no dynamic client (built without a rest.Config)")
	}
	a.name = rec.inj.id
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": chaosMeshGroupVersion, "kind": a.kind,
		"metadata": map[string]any{"name": a.name, "namespace": a.ns,
			"labels": map[string]any{InjectionLabel: rec.inj.id, managedByLabel: "faultline"}},
		"spec": a.spec,
	}}
	if _, err := rec.add(undoDeleteChaosMesh, map[string]string{"resource": a.resource, "namespace": a.ns, "name": a.name}); err != nil {
		return "", err
	}
	res := a.e.dynamic.Resource(a.gvr()).Namespace(a.ns)
	if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("create Chaos Mesh %s %s/%s: %w", a.kind, a.ns, a.name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, a.e.opts.ChaosMeshTimeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last *unstructured.Unstructured
	for {
		cur, err := res.Get(wctx, a.name, metav1.GetOptions{})
		if err == nil {
			last = cur
			if cond := condition(cur, "AllInjected"); cond == "True" {
				a.recordEvents(rec.inj, cur)
				return fmt.Sprintf("Chaos Mesh %s %s/%s reports AllInjected on %d pod(s)", a.kind, a.ns, a.name, a.pods), nil
			}
		}
		select {
		case <-wctx.Done():
			why := fmt.Sprintf("Chaos Mesh did not report %s %s/%s AllInjected within %s (is chaos-controller-manager running?)",
				a.kind, a.ns, a.name, a.e.opts.ChaosMeshTimeout)
			if last != nil {
				a.recordEvents(rec.inj, last)
				why += "; conditions: " + conditions(last)
			}
			dctx, dcancel := context.WithTimeout(context.Background(), a.e.opts.ChaosMeshTimeout)
			defer dcancel()
			if _, derr := a.delete(dctx); derr != nil {
				return "", errors.Join(errors.New(why), derr)
			}
			return "", errors.New(why)
		case <-tick.C:
		}
	}
}

func (a *chaosMeshObject) revert(ctx context.Context) (string, error) {
	return a.delete(ctx)
}

// delete deletes the object and waits until Chaos Mesh has recovered it
// (its finalizer gone) for at most ChaosMeshTimeout: a stuck object is
// reported, not waited on forever.
func (a *chaosMeshObject) delete(ctx context.Context) (string, error) {
	return deleteChaosMesh(ctx, a.e, a.resource, a.ns, a.name)
}

func deleteChaosMesh(ctx context.Context, e *Engine, resource, ns, name string) (string, error) {
	if e.dynamic == nil {
		return "", errors.New("the engine has no dynamic client")
	}
	res := e.dynamic.Resource(schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: resource}).Namespace(ns)
	err := res.Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return "the Chaos Mesh object is already gone", nil
	}
	if err != nil {
		return "", fmt.Errorf("delete Chaos Mesh %s %s/%s: %w", resource, ns, name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, e.opts.ChaosMeshTimeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last *unstructured.Unstructured
	for {
		cur, err := res.Get(wctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "Chaos Mesh object deleted (fault recovered)", nil
		}
		if err == nil {
			last = cur
		}
		select {
		case <-wctx.Done():
			fin := "none"
			if last != nil && len(last.GetFinalizers()) > 0 {
				fin = strings.Join(last.GetFinalizers(), ", ")
			}
			return "", fmt.Errorf("the Chaos Mesh %s %s/%s is stuck deleting after %s (finalizers: %s; conditions: %s); Chaos Mesh has not recovered the fault — check chaos-controller-manager, and remove the finalizers only once the fault is gone",
				resource, ns, name, e.opts.ChaosMeshTimeout, fin, conditions(last))
		case <-tick.C:
		}
	}
}

// recordEvents turns the object's status.experiment.containerRecords into
// events of the injection (kept in this process).
func (a *chaosMeshObject) recordEvents(inj *injection, obj *unstructured.Unstructured) {
	recs, _, _ := unstructured.NestedSlice(obj.Object, "status", "experiment", "containerRecords")
	for _, r := range recs {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["id"].(string)
		phase, _ := m["phase"].(string)
		evs, _ := m["events"].([]any)
		typ := engine.EventInjected
		if phase != "Injected" {
			typ = engine.EventInfo
		}
		msg := "Chaos Mesh: phase " + phase
		for _, ev := range evs {
			if em, ok := ev.(map[string]any); ok {
				t, _ := em["type"].(string)
				op, _ := em["operation"].(string)
				text, _ := em["message"].(string)
				msg += fmt.Sprintf("; %s %s %s", op, t, text)
				if t == "Failed" {
					typ = engine.EventFailed
				}
			}
		}
		inj.event(typ, id, strings.TrimSpace(msg))
	}
}

// condition returns the status ("True", "False", "") of a condition.
func condition(obj *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

func conditions(obj *unstructured.Unstructured) string {
	if obj == nil {
		return "none"
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var out []string
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			out = append(out, fmt.Sprintf("%v=%v", m["type"], m["status"]))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
