package manifest

import (
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func flEnv() *v1alpha1.EnvironmentSpec {
	return &v1alpha1.EnvironmentSpec{
		Namespace:     "recsys",
		EvictionDelay: "5s",
		Nodes: []v1alpha1.EnvironmentNode{
			{Name: "node-1", Labels: map[string]string{"zone": "a"}},
			{Name: "node-2", Labels: map[string]string{"zone": "b"}},
		},
		Services: []v1alpha1.EnvironmentService{
			{
				Name:     "features",
				Replicas: flPtr(int32(2)),
				Command:  []string{"./features"},
				ReadinessProbe: &v1alpha1.HealthProbe{
					HTTPGet: &v1alpha1.HealthProbeHTTPGet{Path: "/healthz"},
				},
			},
			{
				Name:        "model",
				Replicas:    flPtr(int32(3)),
				Command:     []string{"./model"},
				Env:         []v1alpha1.ServiceEnvVar{{Name: "MODEL_PATH", Value: "m.bin"}},
				Port:        9100,
				GatewayPort: 9000,
				DependsOn:   []string{"features"},
				ReadinessProbe: &v1alpha1.HealthProbe{
					HTTPGet:          &v1alpha1.HealthProbeHTTPGet{Path: "/ready"},
					PeriodSeconds:    flPtr(int32(1)),
					FailureThreshold: flPtr(int32(3)),
				},
				LivenessProbe: &v1alpha1.HealthProbe{TCPSocket: &v1alpha1.HealthProbeTCPSocket{}},
				RestartPolicy: v1alpha1.RestartAlways,
				Sidecars:      []v1alpha1.ServiceContainer{{Name: "agent", Command: []string{"./agent"}}},
				Resources:     &v1alpha1.ServiceResources{CPU: flPtr(0.5), Memory: "256Mi"},
			},
		},
	}
}

func TestEnvironmentRules(t *testing.T) {
	svc := func(i int) Path { return Path("spec.services").Index(i) }
	flRun(t, flEnv, validateEnvironmentSpec, []flCase[v1alpha1.EnvironmentSpec]{
		{name: "valid"},
		{name: "zero value", mutate: func(s *v1alpha1.EnvironmentSpec) { *s = v1alpha1.EnvironmentSpec{} },
			path: "spec.services", msg: "required"},

		// namespace and nodes
		{name: "namespace invalid", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Namespace = "Recsys" },
			path: "spec.namespace", msg: "not a valid name"},
		{name: "node name missing", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Nodes[1].Name = "" },
			path: "spec.nodes[1].name", msg: "required"},
		{name: "node name not a label", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Nodes[1].Name = "node_2" },
			path: "spec.nodes[1].name", msg: "not a valid name"},
		{name: "node names unique", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Nodes[1].Name = "node-1" },
			path: "spec.nodes[1].name", msg: `duplicate node name "node-1"`},
		{name: "node label key", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Nodes[0].Labels["-bad"] = "x" },
			path: "spec.nodes[0].labels.-bad", msg: "not a valid label key"},
		{name: "node label value", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Nodes[0].Labels["zone"] = "a b" },
			path: "spec.nodes[0].labels.zone", msg: "not a valid label value"},
		{name: "no nodes written means one default node", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Nodes = nil }},
		{name: "empty node list", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Nodes = []v1alpha1.EnvironmentNode{} },
			path: "spec.nodes", msg: "at least one node"},
		{name: "eviction delay invalid", mutate: func(s *v1alpha1.EnvironmentSpec) { s.EvictionDelay = "5" },
			path: "spec.evictionDelay", msg: "not a duration"},
		{name: "eviction delay zero ok", mutate: func(s *v1alpha1.EnvironmentSpec) { s.EvictionDelay = "0s" }},

		// services: names
		{name: "service name missing", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].Name = "" },
			path: svc(0).Child("name"), msg: "required", more: true},
		{name: "service name not a label", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Name = "Model" },
			path: svc(1).Child("name"), msg: "not a valid name"},
		{name: "service names unique", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[1].Name = "features"
			s.Services[1].DependsOn = nil
		}, path: svc(1).Child("name"), msg: `duplicate service name "features"`},

		// replicas, command, env
		{name: "replicas negative", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].Replicas = flPtr(int32(-1)) },
			path: svc(0).Child("replicas"), msg: "must not be negative"},
		{name: "replicas zero ok", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].Replicas = flPtr(int32(0)) }},
		{name: "command required", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].Command = nil },
			path: svc(0).Child("command"), msg: "required"},
		{name: "command program empty", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].Command = []string{" "} },
			path: svc(0).Child("command").Index(0), msg: "program name is empty"},
		{name: "env name invalid", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Env[0].Name = "MODEL-PATH" },
			path: svc(1).Child("env").Index(0).Child("name"), msg: "not a valid environment variable name"},
		{name: "env name missing", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Env[0].Name = "" },
			path: svc(1).Child("env").Index(0).Child("name"), msg: "required"},
		{name: "portEnv invalid", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].PortEnv = "1PORT" },
			path: svc(1).Child("portEnv"), msg: "not a valid environment variable name"},
		{name: "portEnv ok", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].PortEnv = "HTTP_PORT" }},
		{name: "labels key", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].Labels = map[string]string{"a/b/c": "x"} },
			path: svc(0).Child("labels").Key("a/b/c"), msg: "invalid prefix"},
		{name: "annotation values are free text", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[0].Annotations = map[string]string{"example.com/note": "any text, at all"}
		}},

		// ports
		{name: "port out of range", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Port = 70000 },
			path: svc(1).Child("port"), msg: "out of range"},
		{name: "gateway port negative", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].GatewayPort = -1 },
			path: svc(1).Child("gatewayPort"), msg: "out of range"},
		{name: "replica ports beyond 65535", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Port = 65534 },
			path: svc(1).Child("port"), msg: "beyond 65535"},
		{name: "gateway port inside replica range", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].GatewayPort = 9102 },
			path: svc(1).Child("gatewayPort"), msg: "port 9102 is also used by spec.services[1].port"},
		{name: "replica ranges overlap", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].Port = 9099 },
			path: svc(1).Child("port"), msg: "port 9100 is also used by spec.services[0].port"},
		{name: "gateway ports equal", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].GatewayPort = 9000 },
			path: svc(1).Child("gatewayPort"), msg: "port 9000 is also used by spec.services[0].gatewayPort"},
		{name: "clash reported at the later field", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].GatewayPort = 9101 },
			path: svc(1).Child("port"), msg: "port 9101 is also used by spec.services[0].gatewayPort"},
		{name: "adjacent ranges ok", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].Port = 9098 }},
		{name: "free ports never clash", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Port, s.Services[1].GatewayPort = 0, 0 }},

		// dependencies
		{name: "dependency unknown", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].DependsOn = []string{"featurse"} },
			path: svc(1).Child("dependsOn").Index(0), msg: `unknown service "featurse"`},
		{name: "dependency on itself", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].DependsOn = []string{"model"} },
			path: svc(1).Child("dependsOn").Index(0), msg: "depends on itself"},
		{name: "dependency twice", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].DependsOn = []string{"features", "features"} },
			path: svc(1).Child("dependsOn").Index(1), msg: "listed twice"},
		{name: "dependency cycle", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].DependsOn = []string{"model"} },
			path: svc(1).Child("dependsOn").Index(0), msg: "dependency cycle: features → model → features"},
		{name: "dependency env renamed", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[1].DependencyEnv = map[string]string{"features": "FEATURES_ADDR"}
		}},
		{name: "dependency env not a dependency", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[0].DependencyEnv = map[string]string{"model": "MODEL_URL"}
		}, path: svc(0).Child("dependencyEnv").Key("model"), msg: "not in dependsOn"},
		{name: "dependency env name invalid", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[1].DependencyEnv = map[string]string{"features": "features-url"}
		}, path: svc(1).Child("dependencyEnv").Key("features"), msg: "not a valid environment variable name"},

		// placement
		{name: "node selector matches", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].NodeSelector = map[string]string{"zone": "b"} }},
		{name: "node selector matches nothing", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].NodeSelector = map[string]string{"zone": "c"} },
			path: svc(0).Child("nodeSelector"), msg: "no node carries all these labels"},

		// health probes
		{name: "probe without handler", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].ReadinessProbe.HTTPGet = nil },
			path: svc(0).Child("readinessProbe").Child("httpGet"), msg: "required"},
		{name: "probe with two handlers", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[0].ReadinessProbe.Exec = &v1alpha1.HealthProbeExec{Command: []string{"true"}}
		}, path: svc(0).Child("readinessProbe").Child("exec"), msg: "httpGet and exec exclude each other"},
		{name: "probe http path", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].ReadinessProbe.HTTPGet.Path = "healthz" },
			path: svc(0).Child("readinessProbe").Child("httpGet").Child("path"), msg: "must start with '/'"},
		{name: "probe http scheme", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[0].ReadinessProbe.HTTPGet.Scheme = "HTTPX" },
			path: svc(0).Child("readinessProbe").Child("httpGet").Child("scheme"), msg: `unknown value "HTTPX"`},
		{name: "probe http header", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[0].ReadinessProbe.HTTPGet.HTTPHeaders = []v1alpha1.HealthProbeHeader{{Name: "Bad Header", Value: "x"}}
		}, path: svc(0).Child("readinessProbe").Child("httpGet").Child("httpHeaders").Index(0).Child("name"), msg: "not a valid HTTP header name"},
		{name: "probe tcp port", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].LivenessProbe.TCPSocket.Port = 65536 },
			path: svc(1).Child("livenessProbe").Child("tcpSocket").Child("port"), msg: "out of range"},
		{name: "probe exec command", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[1].LivenessProbe = &v1alpha1.HealthProbe{Exec: &v1alpha1.HealthProbeExec{}}
		}, path: svc(1).Child("livenessProbe").Child("exec").Child("command"), msg: "required"},
		{name: "failure threshold zero", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].ReadinessProbe.FailureThreshold = flPtr(int32(0)) },
			path: svc(1).Child("readinessProbe").Child("failureThreshold"), msg: "at least 1"},
		{name: "period zero", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].ReadinessProbe.PeriodSeconds = flPtr(int32(0)) },
			path: svc(1).Child("readinessProbe").Child("periodSeconds"), msg: "at least 1"},
		{name: "timeout zero", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].ReadinessProbe.TimeoutSeconds = flPtr(int32(0)) },
			path: svc(1).Child("readinessProbe").Child("timeoutSeconds"), msg: "at least 1"},
		{name: "success threshold zero", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].ReadinessProbe.SuccessThreshold = flPtr(int32(0)) },
			path: svc(1).Child("readinessProbe").Child("successThreshold"), msg: "at least 1"},
		{name: "readiness success threshold 3 ok", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].ReadinessProbe.SuccessThreshold = flPtr(int32(3)) }},
		{name: "liveness success threshold must be 1", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].LivenessProbe.SuccessThreshold = flPtr(int32(2)) },
			path: svc(1).Child("livenessProbe").Child("successThreshold"), msg: "must be 1"},
		{name: "initial delay negative", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].ReadinessProbe.InitialDelaySeconds = -1 },
			path: svc(1).Child("readinessProbe").Child("initialDelaySeconds"), msg: "must not be negative"},

		// restarts and termination
		{name: "restart policy", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].RestartPolicy = "always" },
			path: svc(1).Child("restartPolicy"), msg: `unknown value "always"`},
		{name: "restart policy Never ok", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].RestartPolicy = v1alpha1.RestartNever }},
		{name: "back-off ok", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[1].RestartBackOff = &v1alpha1.RestartBackOff{Initial: "1s", Max: "30s", ResetAfter: "2m"}
		}},
		{name: "back-off max below initial", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[1].RestartBackOff = &v1alpha1.RestartBackOff{Initial: "10s", Max: "1s"}
		}, path: svc(1).Child("restartBackOff").Child("max"), msg: "shorter than initial"},
		{name: "back-off duration", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[1].RestartBackOff = &v1alpha1.RestartBackOff{ResetAfter: "ten minutes"}
		}, path: svc(1).Child("restartBackOff").Child("resetAfter"), msg: "not a duration"},
		{name: "grace period negative", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].TerminationGracePeriodSeconds = flPtr(int64(-1)) },
			path: svc(1).Child("terminationGracePeriodSeconds"), msg: "must not be negative"},
		{name: "grace period zero ok", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].TerminationGracePeriodSeconds = flPtr(int64(0)) }},

		// sidecars
		{name: "sidecar named like the service", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Sidecars[0].Name = "model" },
			path: svc(1).Child("sidecars").Index(0).Child("name"), msg: "has the service's name"},
		{name: "sidecar names unique", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Services[1].Sidecars = append(s.Services[1].Sidecars, v1alpha1.ServiceContainer{Name: "agent", Command: []string{"x"}})
		}, path: svc(1).Child("sidecars").Index(1).Child("name"), msg: `duplicate container name "agent"`},
		{name: "sidecar command", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Sidecars[0].Command = nil },
			path: svc(1).Child("sidecars").Index(0).Child("command"), msg: "required"},

		// resources
		{name: "cpu zero", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Resources.CPU = flPtr(0.0) },
			path: svc(1).Child("resources").Child("cpu"), msg: "greater than 0"},
		{name: "memory quantity", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Resources.Memory = "256MB" },
			path: svc(1).Child("resources").Child("memory"), msg: "not a memory quantity"},
		{name: "memory tiny", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Resources.Memory = "512Ki" },
			path: svc(1).Child("resources").Child("memory"), msg: "below 1Mi"},
		{name: "memory in G ok", mutate: func(s *v1alpha1.EnvironmentSpec) { s.Services[1].Resources.Memory = "1.5G" }},

		// kube
		{name: "kube alone", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Context: "kind", Namespaces: []string{"recsys"}}}
		}},
		{name: "kube with local fields", mutate: func(s *v1alpha1.EnvironmentSpec) {
			s.Namespace, s.Nodes, s.EvictionDelay = "", nil, ""
			s.Kube = &v1alpha1.KubeEnvironment{Namespaces: []string{"recsys"}}
		}, path: "spec.services", msg: "a kube environment takes no services"},
		{name: "kube namespaces required", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{}}
		}, path: "spec.kube.namespaces", msg: "required"},
		{name: "kube namespace invalid", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"ok", "Not_OK"}}}
		}, path: "spec.kube.namespaces[1]", msg: "not a valid name"},
		{name: "kube every field ok", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"recsys"}, Access: v1alpha1.KubeAccessPortForward,
				ServiceURLs: map[string]string{"gateway": "https://recsys.example.com"}, OptInAnnotation: "example.com/chaos",
				MaxPods: 10, MaxPercent: 50, JournalNamespace: "faultline", QPS: 100, Burst: 200}}
		}},
		{name: "kube access", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}, Access: "tunnel"}}
		}, path: "spec.kube.access", msg: "tunnel"},
		{name: "kube service URL", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}, ServiceURLs: map[string]string{"gw": "gw:80"}}}
		}, path: `spec.kube.serviceURLs.gw`, msg: "not an http or https URL"},
		{name: "kube opt-in annotation", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}, OptInAnnotation: "=yes"}}
		}, path: "spec.kube.optInAnnotation", msg: "no annotation key"},
		{name: "kube max percent", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}, MaxPercent: 150}}
		}, path: "spec.kube.maxPercent", msg: "from 0 to 100"},
		{name: "kube max pods", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}, MaxPods: -1}}
		}, path: "spec.kube.maxPods", msg: "negative"},
		{name: "kube journal namespace", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}, JournalNamespace: "Bad_NS"}}
		}, path: "spec.kube.journalNamespace", msg: "not a valid name"},
		{name: "kube pause image", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}, PauseImage: "my pause"}}
		}, path: "spec.kube.pauseImage", msg: "not an image reference"},
		{name: "kube qps", mutate: func(s *v1alpha1.EnvironmentSpec) {
			*s = v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}, QPS: -5}}
		}, path: "spec.kube.qps", msg: "negative"},
	})
}

func TestEnvironmentKubeHasNoWarnings(t *testing.T) {
	var ps Problems
	validateEnvironmentSpec("spec", &v1alpha1.EnvironmentSpec{Kube: &v1alpha1.KubeEnvironment{Namespaces: []string{"a"}}}, &ps)
	if len(ps.List) != 0 {
		t.Fatalf("a kube environment is runnable: want no problems, got:\n%s", flFormat(ps.List))
	}
}

func TestEnvironmentNilAndZeroNeverPanic(t *testing.T) {
	var ps Problems
	validateEnvironmentSpec("spec", nil, &ps)
	s := &v1alpha1.EnvironmentSpec{Services: make([]v1alpha1.EnvironmentService, 3), Nodes: make([]v1alpha1.EnvironmentNode, 2)}
	s.Services[0].ReadinessProbe = &v1alpha1.HealthProbe{}
	s.Services[0].LivenessProbe = &v1alpha1.HealthProbe{}
	s.Services[0].RestartBackOff = &v1alpha1.RestartBackOff{}
	s.Services[0].Resources = &v1alpha1.ServiceResources{}
	s.Services[0].Sidecars = make([]v1alpha1.ServiceContainer, 2)
	s.Services[0].DependsOn = []string{"", ""}
	validateEnvironmentSpec("spec", s, &ps)
	if len(flErrors(ps.List)) == 0 {
		t.Fatal("zero services must be reported")
	}
}
