package kube

import (
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

func TestBuildPodQuery(t *testing.T) {
	tests := []struct {
		name       string
		sel        v1alpha1.PodSelectorSpec
		ns         string
		wantLabels string
		wantFields string
		wantErr    string
	}{
		{name: "empty", sel: v1alpha1.PodSelectorSpec{}},
		{name: "labels and expressions pushed",
			sel: v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"app": "web"},
				ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{
					{Key: "tier", Operator: v1alpha1.LabelOpIn, Values: []string{"a", "b"}},
					{Key: "canary", Operator: v1alpha1.LabelOpDoesNotExist}}},
			wantLabels: "app=web,!canary,tier in (a,b)"},
		{name: "fields, one node, one phase, one pod",
			sel: v1alpha1.PodSelectorSpec{FieldSelectors: map[string]string{"spec.schedulerName": "s"}, Nodes: []string{"n1"},
				PodPhaseSelectors: []v1alpha1.PodPhase{"Running"}, Pods: map[string][]string{"ns": {"web-0"}}},
			ns: "ns", wantFields: "spec.schedulerName=s,spec.nodeName=n1,status.phase=Running,metadata.name=web-0"},
		{name: "several nodes and phases are filtered here",
			sel: v1alpha1.PodSelectorSpec{Nodes: []string{"a", "b"}, PodPhaseSelectors: []v1alpha1.PodPhase{"Running", "Pending"}}},
		{name: "pods of another namespace not pushed", sel: v1alpha1.PodSelectorSpec{Pods: map[string][]string{"other": {"x"}}}, ns: "ns"},
		{name: "unsupported field", sel: v1alpha1.PodSelectorSpec{FieldSelectors: map[string]string{"spec.priority": "1"}},
			wantErr: "not a field the API server selects pods on"},
		{name: "bad operator", sel: v1alpha1.PodSelectorSpec{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}},
			wantErr: "unknown operator"},
		{name: "In without values", sel: v1alpha1.PodSelectorSpec{ExpressionSelectors: []v1alpha1.LabelSelectorRequirement{{Key: "a", Operator: v1alpha1.LabelOpIn}}},
			wantErr: "expressionSelectors"},
		{name: "bad label key", sel: v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"bad key": "x"}}, wantErr: "labelSelectors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := buildPodQuery(&tc.sel, tc.ns)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.labelSelector != tc.wantLabels || q.fieldSelector != tc.wantFields {
				t.Errorf("query = labels %q fields %q, want %q and %q", q.labelSelector, q.fieldSelector, tc.wantLabels, tc.wantFields)
			}
		})
	}
}

func TestCheckBlastRadius(t *testing.T) {
	pod := func(ns, owner, name string) engine.Target {
		return engine.Target{Namespace: ns, Owner: owner, Name: name}
	}
	three := []engine.Target{pod("a", "Deployment/web", "w1"), pod("a", "Deployment/web", "w2"), pod("a", "StatefulSet/db", "d1")}
	sizes := map[string]int{"a/Deployment/web": 4, "a/StatefulSet/db": 3}
	tests := []struct {
		name       string
		hit        []engine.Target
		maxPods    int
		maxPercent float64
		wantErr    string
	}{
		{name: "no caps", hit: three},
		{name: "under the pod cap", hit: three, maxPods: 3},
		{name: "over the pod cap", hit: three, maxPods: 2, wantErr: "would hit 3 pods, more than the cap of 2"},
		{name: "exactly the percent cap", hit: three, maxPercent: 50},
		{name: "over the percent cap", hit: three, maxPercent: 34, wantErr: "2 of the 4 pods of a/Deployment/web (50%)"},
		{name: "bare pod is its own workload", hit: []engine.Target{pod("a", "", "solo")}, maxPercent: 99, wantErr: "a/Pod/solo"},
		{name: "size unknown counts the hit", hit: []engine.Target{pod("b", "Deployment/x", "x1")}, maxPercent: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkBlastRadius(tc.hit, sizes, tc.maxPods, tc.maxPercent)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestLeaseRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	e := &engine.Entry{ID: "nodechaos-down-1a2b3c4d", Engine: "kube", Kind: "NodeChaos", Name: "down",
		Owner: engine.Owner{PID: 42, Host: "h"}, Created: now.Add(-time.Minute), Targets: []string{"node-1"},
		Undo: []engine.Undo{{Action: undoNodeUp, Args: map[string]string{"node": "node-1"}}}}
	l, err := encodeLease(e, "faultline", 1500*time.Millisecond, now)
	if err != nil {
		t.Fatal(err)
	}
	if *l.Spec.LeaseDurationSeconds != 2 || *l.Spec.HolderIdentity != "h/42" || l.Labels[JournalLabel] != journalVersion {
		t.Fatalf("lease spec = %+v, labels %v", l.Spec, l.Labels)
	}
	got, err := decodeLease(l)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || len(got.Undo) != 1 || got.Undo[0].Args["node"] != "node-1" || !got.LeaseUntil.Equal(now.Add(2*time.Second)) {
		t.Fatalf("decoded %+v", got)
	}
	for _, tc := range []struct {
		at     time.Time
		host   string
		orphan bool
	}{
		{now.Add(time.Second), "elsewhere", false},
		{now.Add(3 * time.Second), "elsewhere", true},
		// pid 42 on "h": judged by its process when run on h.
		{now.Add(time.Second), "not-h", false},
	} {
		if o, why := orphaned(got, tc.at, tc.host); o != tc.orphan {
			t.Errorf("orphaned at %s from %s = %v (%s), want %v", tc.at.Sub(now), tc.host, o, why, tc.orphan)
		}
	}
	l.Annotations[entryAnnotation] = "{"
	if _, err := decodeLease(l); err == nil {
		t.Error("corrupt entry decoded")
	}
	delete(l.Annotations, entryAnnotation)
	if _, err := decodeLease(l); err == nil {
		t.Error("lease without entry decoded")
	}
	big := *e
	big.Targets = make([]string, 20000)
	for i := range big.Targets {
		big.Targets[i] = "namespace/pod-with-a-long-name"
	}
	if _, err := encodeLease(&big, "faultline", time.Second, now); err == nil {
		t.Error("an oversized entry was encoded")
	}
}

func TestInjectionIDIsDNSLabel(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	for _, f := range []engine.Fault{
		{Kind: "PodChaos", Name: "kill-web"},
		{Kind: "NodeChaos", Name: "--Weird_Name.with.dots--"},
		{Kind: "ScaleChaos", Name: strings.Repeat("long", 40)},
		{},
	} {
		id := newInjectionID(f)
		if len(id) > 63 || !re.MatchString(id) {
			t.Errorf("id %q for %q is not a DNS-1123 label", id, f.Name)
		}
	}
}

func TestPodOwner(t *testing.T) {
	ctrl := true
	mk := func(kind, name, hash string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{}}}
		if hash != "" {
			p.Labels["pod-template-hash"] = hash
		}
		if kind != "" {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &ctrl}}
		}
		return p
	}
	for _, tc := range []struct {
		pod  *corev1.Pod
		want string
	}{
		{mk("ReplicaSet", "web-5d8f", "5d8f"), "Deployment/web"},
		{mk("ReplicaSet", "plain", ""), "ReplicaSet/plain"},
		{mk("StatefulSet", "db", ""), "StatefulSet/db"},
		{mk("", "", ""), ""},
	} {
		if got := podOwner(tc.pod); got != tc.want {
			t.Errorf("podOwner = %q, want %q", got, tc.want)
		}
	}
}
