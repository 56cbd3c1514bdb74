package kube

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

var (
	crdGVR          = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	networkChaosGVR = schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "networkchaos"}
)

// installChaosMeshCRDs installs Chaos Mesh's real NetworkChaos and PodChaos
// CRDs (testdata) and removes them when the test ends, waiting until the API
// group is gone so later tests see a cluster without Chaos Mesh.
func installChaosMeshCRDs(t *testing.T, cl *cluster, dyn dynamic.Interface) {
	t.Helper()
	data, err := os.ReadFile("testdata/chaos-mesh-crds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var names []string
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if _, err := dyn.Resource(crdGVR).Create(cl.ctx(30*time.Second), u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, u.GetName())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// A failed test may leave an object whose finalizer nobody removes.
		if l, err := dyn.Resource(networkChaosGVR).Namespace(cl.ns).List(ctx, metav1.ListOptions{}); err == nil {
			for i := range l.Items {
				l.Items[i].SetFinalizers(nil)
				_, _ = dyn.Resource(networkChaosGVR).Namespace(cl.ns).Update(ctx, &l.Items[i], metav1.UpdateOptions{})
				_ = dyn.Resource(networkChaosGVR).Namespace(cl.ns).Delete(ctx, l.Items[i].GetName(), metav1.DeleteOptions{})
			}
		}
		for _, n := range names {
			_ = dyn.Resource(crdGVR).Delete(ctx, n, metav1.DeleteOptions{})
		}
		for ctx.Err() == nil {
			if _, err := cl.c.Discovery().ServerResourcesForGroupVersion(chaosMeshGroupVersion); apierrors.IsNotFound(err) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Errorf("Chaos Mesh CRDs still served after deletion")
	})
	cl.eventually(60*time.Second, "the Chaos Mesh API is served", func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(networkChaosGVR).Namespace(cl.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		_, err = cl.c.Discovery().ServerResourcesForGroupVersion(chaosMeshGroupVersion)
		return err == nil, err
	})
}

// playChaosMesh stands in for chaos-controller-manager, which testenv does
// not run: for each NetworkChaos of ns it adds Chaos Mesh's finalizer, then
// reports every selected pod injected (conditions and containerRecords as
// Chaos Mesh writes them), and drops the finalizer on deletion unless
// stuck is set. It stops with ctx.
func playChaosMesh(ctx context.Context, dyn dynamic.Interface, ns string, stuck func() bool) {
	res := dyn.Resource(networkChaosGVR).Namespace(ns)
	for ctx.Err() == nil {
		list, err := res.List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range list.Items {
				o := &list.Items[i]
				switch {
				case o.GetDeletionTimestamp() != nil:
					if !stuck() && len(o.GetFinalizers()) > 0 {
						o.SetFinalizers(nil)
						_, _ = res.Update(ctx, o, metav1.UpdateOptions{})
					}
				case len(o.GetFinalizers()) == 0:
					o.SetFinalizers([]string{"chaos-mesh/records"})
					_, _ = res.Update(ctx, o, metav1.UpdateOptions{})
				case condition(o, "AllInjected") != "True":
					pods, _, _ := unstructured.NestedMap(o.Object, "spec", "selector", "pods")
					var recs []any
					for pns, names := range pods {
						for _, n := range names.([]any) {
							recs = append(recs, map[string]any{"id": pns + "/" + n.(string), "phase": "Injected", "selectorKey": ".",
								"injectedCount": int64(1), "recoveredCount": int64(0),
								"events": []any{map[string]any{"type": "Succeeded", "operation": "Apply", "timestamp": time.Now().UTC().Format(time.RFC3339)}}})
						}
					}
					_ = unstructured.SetNestedField(o.Object, map[string]any{
						"conditions": []any{map[string]any{"type": "Selected", "status": "True"}, map[string]any{"type": "AllInjected", "status": "True"}},
						"experiment": map[string]any{"desiredPhase": "Run", "containerRecords": recs},
					}, "status")
					_, _ = res.Update(ctx, o, metav1.UpdateOptions{})
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestE2EChaosMeshDelegation(t *testing.T) {
	cl := newCluster(t, true)
	if cl == nil {
		return
	}
	dyn, err := dynamic.NewForConfig(cl.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	cl.deployment("gw", 3)
	installChaosMeshCRDs(t, cl, dyn)
	delay := func() engine.Fault {
		s := &v1alpha1.NetworkChaosSpec{Action: "delay", TcParameter: v1alpha1.TcParameter{Delay: &v1alpha1.DelaySpec{Latency: "100ms"}}}
		s.Mode, s.Value, s.Selector.LabelSelectors = v1alpha1.ModeFixed, "2", map[string]string{"app": "gw"}
		return engine.Fault{Kind: "NetworkChaos", Name: "slow", Namespace: cl.ns, Spec: s}
	}
	objects := func() []unstructured.Unstructured {
		l, err := dyn.Resource(networkChaosGVR).Namespace(cl.ns).List(cl.ctx(10*time.Second), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}

	t.Run("no controller", func(t *testing.T) {
		e := cl.engine(Options{ChaosMeshTimeout: 2 * time.Second})
		_, err := e.Inject(cl.ctx(30*time.Second), delay())
		if err == nil || !strings.Contains(err.Error(), "did not report NetworkChaos") {
			t.Fatalf("err = %v, want the not-injected error", err)
		}
		if n := len(objects()); n != 0 {
			t.Fatalf("%d NetworkChaos objects left behind", n)
		}
	})

	stuck := false
	var stuckMu = make(chan struct{}, 1)
	stuckMu <- struct{}{}
	isStuck := func() bool { <-stuckMu; defer func() { stuckMu <- struct{}{} }(); return stuck }
	setStuck := func(v bool) { <-stuckMu; stuck = v; stuckMu <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		playChaosMesh(ctx, dyn, cl.ns, isStuck)
	}()
	t.Cleanup(func() { cancel(); <-done })

	t.Run("injected and deleted", func(t *testing.T) {
		e := cl.engine(Options{ChaosMeshTimeout: 20 * time.Second})
		f := delay()
		sel, err := e.Select(cl.ctx(30*time.Second), f)
		if err != nil {
			t.Fatal(err)
		}
		inj, err := e.Inject(cl.ctx(60*time.Second), f)
		if err != nil {
			t.Fatal(err)
		}
		objs := objects()
		if len(objs) != 1 || objs[0].GetName() != inj.ID() {
			t.Fatalf("objects %v, want one named %s", objs, inj.ID())
		}
		pods, _, _ := unstructured.NestedStringSlice(objs[0].Object, "spec", "selector", "pods", cl.ns)
		mode, _, _ := unstructured.NestedString(objs[0].Object, "spec", "mode")
		lat, _, _ := unstructured.NestedString(objs[0].Object, "spec", "delay", "latency")
		var want []string
		for _, tg := range inj.Targets() {
			want = append(want, tg.Name)
		}
		if len(pods) != 2 || !slices.Equal(pods, want) || mode != "all" || lat != "100ms" {
			t.Fatalf("Chaos Mesh spec: pods %v (want %v), mode %q, latency %q", pods, want, mode, lat)
		}
		if !slices.EqualFunc(sel, inj.Targets(), func(a, b engine.Target) bool { return a.Name == b.Name }) {
			t.Fatalf("dry run %v and injection %v differ (same seed)", sel, inj.Targets())
		}
		injected := 0
		for _, ev := range inj.Events() {
			if ev.Type == engine.EventInjected && strings.HasPrefix(ev.Target, cl.ns+"/gw-") {
				injected++
			}
		}
		if injected != 2 {
			t.Fatalf("events %+v, want 2 per-pod Injected records", inj.Events())
		}
		if err := inj.Revert(cl.ctx(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if n := len(objects()); n != 0 {
			t.Fatalf("%d objects after revert", n)
		}
	})

	t.Run("stuck deletion is reported, recover finishes it", func(t *testing.T) {
		e := cl.engine(Options{ChaosMeshTimeout: 2 * time.Second})
		inj, err := e.Inject(cl.ctx(60*time.Second), delay())
		if err != nil {
			t.Fatal(err)
		}
		setStuck(true)
		err = inj.Revert(cl.ctx(30 * time.Second))
		if err == nil || !strings.Contains(err.Error(), "is stuck deleting") || !strings.Contains(err.Error(), "chaos-mesh/records") {
			t.Fatalf("err = %v, want the stuck report", err)
		}
		if _, err := cl.c.CoordinationV1().Leases(DefaultJournalNamespace).Get(cl.ctx(10*time.Second), inj.ID(), metav1.GetOptions{}); err != nil {
			t.Fatalf("journal lease of the stuck injection: %v", err)
		}
		setStuck(false)
		rep, err := e.Recover(cl.ctx(60*time.Second), RecoverOptions{All: true})
		if err != nil {
			t.Fatalf("recover: %v (%+v)", err, rep)
		}
		found := false
		for _, r := range rep.Injections {
			found = found || r.ID == inj.ID()
		}
		if !found || len(objects()) != 0 {
			t.Fatalf("recover %+v left %d objects", rep, len(objects()))
		}
	})
}
