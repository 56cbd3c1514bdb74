package svcaccess

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    ref
		wantErr string
	}{
		{in: "gateway", want: ref{service: "gateway"}},
		{in: "gateway.inference", want: ref{service: "gateway", namespace: "inference"}},
		{in: "gateway:http", want: ref{service: "gateway", port: "http"}},
		{in: "gateway.inference:8080", want: ref{service: "gateway", namespace: "inference", port: "8080"}},
		{in: "gateway.inference.svc:grpc", want: ref{service: "gateway", namespace: "inference", port: "grpc"}},
		{in: "gateway.inference.svc.cluster.local", want: ref{service: "gateway", namespace: "inference"}},
		{in: " gateway ", want: ref{service: "gateway"}},
		{in: "", wantErr: "service name"},
		{in: "gateway:", wantErr: "empty port"},
		{in: "a.b.c", wantErr: "want service"},
		{in: "Gateway", wantErr: "lower case"},
		{in: "gateway.In_ference", wantErr: "namespace"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseName(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseName(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseName(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("parseName(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestPickPort(t *testing.T) {
	svc := func(ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n"}, Spec: corev1.ServiceSpec{Ports: ports}}
	}
	metrics := corev1.ServicePort{Name: "metrics", Port: 9090}
	http := corev1.ServicePort{Name: "http", Port: 80}
	unnamed := corev1.ServicePort{Port: 8080}
	for _, tc := range []struct {
		name    string
		svc     *corev1.Service
		want    string
		port    corev1.ServicePort
		wantErr string
	}{
		{name: "http preferred", svc: svc(metrics, http), port: http},
		{name: "else first", svc: svc(metrics, corev1.ServicePort{Name: "grpc", Port: 81}), port: metrics},
		{name: "only unnamed", svc: svc(unnamed), port: unnamed},
		{name: "by name", svc: svc(http, metrics), want: "metrics", port: metrics},
		{name: "by number", svc: svc(http, metrics), want: "9090", port: metrics},
		{name: "unknown", svc: svc(http, unnamed), want: "grpc", wantErr: `no port "grpc" (ports: http(80), 8080)`},
		{name: "no ports", svc: svc(), wantErr: "has no ports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickPort(tc.svc, tc.want)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.port {
				t.Fatalf("pickPort = %+v, %v; want %+v", got, err, tc.port)
			}
		})
	}
}

func TestResolveMode(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "KUBERNETES_SERVICE_HOST" {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		mode    Mode
		host    string
		want    Mode
		wantErr bool
	}{
		{mode: ModeAuto, host: "10.0.0.1", want: ModeDirect},
		{mode: ModeAuto, host: "", want: ModePortForward},
		{mode: ModeDirect, want: ModeDirect},
		{mode: ModePortForward, host: "10.0.0.1", want: ModePortForward},
		{mode: "tunnel", wantErr: true},
	} {
		got, err := resolveMode(tc.mode, env(tc.host))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("resolveMode(%q, host=%q) = %q, %v; want %q (error %v)", tc.mode, tc.host, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestReadyEndpoints(t *testing.T) {
	yes, no := true, false
	name := func(s string) *string { return &s }
	port := func(p int32) *int32 { return &p }
	ep := func(addr, pod string, ready, terminating *bool) discoveryv1.Endpoint {
		e := discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ready, Terminating: terminating}}
		if pod != "" {
			e.TargetRef = &corev1.ObjectReference{Kind: "Pod", Name: pod}
		}
		return e
	}
	slice := func(typ discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, AddressType: typ, Ports: ports, Endpoints: eps}
	}
	httpPort := []discoveryv1.EndpointPort{{Name: name("http"), Port: port(8080)}, {Name: name("metrics"), Port: port(9090)}}
	unnamedPort := []discoveryv1.EndpointPort{{Port: port(7000)}}
	for _, tc := range []struct {
		name     string
		slices   []*discoveryv1.EndpointSlice
		portName string
		want     []endpoint
	}{
		{
			name: "ready, unknown, not ready, terminating",
			slices: []*discoveryv1.EndpointSlice{slice(discoveryv1.AddressTypeIPv4, httpPort,
				ep("10.0.0.3", "c", &yes, nil),
				ep("10.0.0.1", "a", nil, nil),
				ep("10.0.0.2", "b", &no, nil),
				ep("10.0.0.4", "d", &yes, &yes),
				ep("10.0.0.5", "", &yes, &no),
			)},
			portName: "http",
			want: []endpoint{
				{addr: "10.0.0.5", port: 8080},
				{addr: "10.0.0.1", port: 8080, namespace: "ns", pod: "a"},
				{addr: "10.0.0.3", port: 8080, namespace: "ns", pod: "c"},
			},
		},
		{
			name:     "port by name",
			slices:   []*discoveryv1.EndpointSlice{slice(discoveryv1.AddressTypeIPv4, httpPort, ep("10.0.0.1", "a", nil, nil))},
			portName: "metrics",
			want:     []endpoint{{addr: "10.0.0.1", port: 9090, namespace: "ns", pod: "a"}},
		},
		{
			name:     "unnamed port",
			slices:   []*discoveryv1.EndpointSlice{slice(discoveryv1.AddressTypeIPv6, unnamedPort, ep("fd00::1", "a", nil, nil))},
			portName: "",
			want:     []endpoint{{addr: "fd00::1", port: 7000, namespace: "ns", pod: "a"}},
		},
		{
			name:     "no such port in slice",
			slices:   []*discoveryv1.EndpointSlice{slice(discoveryv1.AddressTypeIPv4, unnamedPort, ep("10.0.0.1", "a", nil, nil))},
			portName: "http",
		},
		{
			name: "duplicate across slices, FQDN skipped",
			slices: []*discoveryv1.EndpointSlice{
				slice(discoveryv1.AddressTypeIPv4, httpPort, ep("10.0.0.1", "a", nil, nil)),
				slice(discoveryv1.AddressTypeIPv4, httpPort, ep("10.0.0.1", "a", &yes, nil), ep("10.0.0.2", "b", nil, nil)),
				slice(discoveryv1.AddressTypeFQDN, httpPort, ep("x.example.com", "", nil, nil)),
			},
			portName: "http",
			want: []endpoint{
				{addr: "10.0.0.1", port: 8080, namespace: "ns", pod: "a"},
				{addr: "10.0.0.2", port: 8080, namespace: "ns", pod: "b"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readyEndpoints(tc.slices, tc.portName)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("readyEndpoints = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
