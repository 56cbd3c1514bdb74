package manifest

import (
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestChaosPodChaosRules(t *testing.T) {
	base := func() *v1alpha1.PodChaosSpec {
		return &v1alpha1.PodChaosSpec{ContainerSelector: cmContainerSelector(), Action: v1alpha1.PodKill}
	}
	type S = v1alpha1.PodChaosSpec
	cmRunCases(t, base, validatePodChaosSpec, []cmCase[S]{
		{name: "valid pod-kill"},
		{name: "valid pod-failure", mod: func(s *S) { s.Action, s.Duration = v1alpha1.PodFailure, cmPtr("30s") }},
		{name: "action required", mod: func(s *S) { s.Action = "" },
			want: []string{"spec.action: required field is missing | pod-kill, pod-failure, container-kill"}},
		{name: "action typo", mod: func(s *S) { s.Action = "pod-kil" },
			want: []string{`spec.action: unknown value "pod-kil" | did you mean "pod-kill"`}},
		{name: "container-kill needs names", mod: func(s *S) { s.Action = v1alpha1.ContainerKill },
			want: []string{"spec.containerNames: action container-kill needs the names | containerNames: [app]"}},
		{name: "container-kill ok", mod: func(s *S) { s.Action, s.ContainerNames = v1alpha1.ContainerKill, []string{"app"} }},
		{name: "bad duration", mod: func(s *S) { s.Duration = cmPtr("30 seconds") },
			want: []string{`spec.duration: "30 seconds" is not a duration`}},
		{name: "negative grace period", mod: func(s *S) { s.GracePeriod = -1 },
			want: []string{"spec.gracePeriod: gracePeriod -1 is negative"}},
		{name: "grace period ignored", mod: func(s *S) { s.Action, s.GracePeriod = v1alpha1.PodFailure, 5 },
			want: []string{"warning: spec.gracePeriod: only used by pod-kill"}},
		{name: "selector problems use the spec path", mod: func(s *S) { s.Mode = v1alpha1.ModeFixed },
			want: []string{"spec.value: mode fixed needs a value"}},
	})
}

func TestChaosNetworkChaosRules(t *testing.T) {
	base := func() *v1alpha1.NetworkChaosSpec {
		return &v1alpha1.NetworkChaosSpec{PodSelector: cmSelector(), Action: v1alpha1.NetworkDelay,
			TcParameter: v1alpha1.TcParameter{Delay: &v1alpha1.DelaySpec{Latency: "10ms"}}}
	}
	type S = v1alpha1.NetworkChaosSpec
	target := func() *v1alpha1.PodSelector { s := cmSelector(); return &s }
	cmRunCases(t, base, validateNetworkChaosSpec, []cmCase[S]{
		{name: "valid delay"},
		{name: "action required", mod: func(s *S) { s.Action = "" },
			want: []string{"spec.action: required field is missing"}},
		{name: "action typo", mod: func(s *S) { s.Action = "dely" },
			want: []string{`spec.action: unknown value "dely" | did you mean "delay"`}},
		{name: "delay action needs delay", mod: func(s *S) { s.Delay = nil },
			want: []string{`spec.delay: action delay needs delay | latency: "100ms"`}},
		{name: "latency required", mod: func(s *S) { s.Delay.Latency = "" },
			want: []string{"spec.delay.latency: required field is missing"}},
		{name: "latency with two units", mod: func(s *S) { s.Delay.Latency = "1m30s" },
			want: []string{`spec.delay.latency: "1m30s" is not a duration with a single unit`}},
		{name: "latency zero", mod: func(s *S) { s.Delay.Latency = "0ms" },
			want: []string{"warning: spec.delay.latency: latency 0 adds no delay"}},
		{name: "jitter and correlation", mod: func(s *S) { s.Delay.Jitter, s.Delay.Correlation = "abc", "120" },
			want: []string{`spec.delay.jitter: "abc" is not a duration`, "spec.delay.correlation: 120 is out of range"}},
		{name: "valid jitter and correlation", mod: func(s *S) { s.Delay.Jitter, s.Delay.Correlation = "0ms", "25" }},
		{name: "reorder", mod: func(s *S) { s.Delay.Reorder = &v1alpha1.ReorderSpec{Reorder: "x", Gap: -1} },
			want: []string{`spec.delay.reorder.reorder: "x" is not a number`, "spec.delay.reorder.gap: gap -1 is negative"}},
		{name: "reorder needs latency", mod: func(s *S) {
			s.Delay.Latency = "0s"
			s.Delay.Reorder = &v1alpha1.ReorderSpec{Reorder: "25", Gap: 5}
		}, want: []string{"spec.delay.reorder: reorder needs a non-zero latency", "warning: spec.delay.latency: latency 0"}},
		{name: "valid reorder", mod: func(s *S) { s.Delay.Reorder = &v1alpha1.ReorderSpec{Reorder: "25", Correlation: "50", Gap: 5} }},
		{name: "loss action needs loss", mod: func(s *S) { s.Action = v1alpha1.NetworkLoss },
			want: []string{"spec.loss: action loss needs loss", "warning: spec.delay: action loss also applies delay | action: netem"}},
		{name: "loss values", mod: func(s *S) {
			s.Action, s.Delay = v1alpha1.NetworkLoss, nil
			s.Loss = &v1alpha1.LossSpec{Loss: "", Correlation: "-1"}
		}, want: []string{"spec.loss.loss: required field is missing", "spec.loss.correlation: -1 is out of range"}},
		{name: "duplicate and corrupt values", mod: func(s *S) {
			s.Action = v1alpha1.NetworkNetem
			s.Duplicate = &v1alpha1.DuplicateSpec{Duplicate: "101"}
			s.Corrupt = &v1alpha1.CorruptSpec{Corrupt: "ten"}
		}, want: []string{"spec.duplicate.duplicate: 101 is out of range", `spec.corrupt.corrupt: "ten" is not a number`}},
		{name: "netem needs a parameter", mod: func(s *S) { s.Action, s.Delay = v1alpha1.NetworkNetem, nil },
			want: []string{"spec.action: action netem needs at least one of delay, loss"}},
		{name: "netem rate", mod: func(s *S) {
			s.Action, s.Rate = v1alpha1.NetworkNetem, &v1alpha1.RateSpec{Rate: "10 parsecs"}
		}, want: []string{`spec.rate.rate: rate "10 parsecs" has no unit | mbps`}},
		{name: "valid netem rate", mod: func(s *S) { s.Action, s.Rate = v1alpha1.NetworkNetem, &v1alpha1.RateSpec{Rate: "10mbps"} }},
		{name: "bandwidth action needs bandwidth", mod: func(s *S) { s.Action = v1alpha1.NetworkBandwidth },
			want: []string{"spec.bandwidth: action bandwidth needs bandwidth", "warning: spec.delay: action bandwidth ignores delay"}},
		{name: "bandwidth fields", mod: func(s *S) {
			s.Action, s.Delay = v1alpha1.NetworkBandwidth, nil
			s.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "1 mbs"}
		}, want: []string{`spec.bandwidth.rate: rate "1 mbs" has no unit`, "spec.bandwidth.limit: limit is required",
			"spec.bandwidth.buffer: buffer is required"}},
		{name: "bandwidth zero rate", mod: func(s *S) {
			s.Action, s.Delay = v1alpha1.NetworkBandwidth, nil
			s.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "0kbps", Limit: 1, Buffer: 1}
		}, want: []string{`spec.bandwidth.rate: rate "0kbps" is zero | partition`}},
		{name: "bandwidth peakrate below rate", mod: func(s *S) {
			s.Action, s.Delay = v1alpha1.NetworkBandwidth, nil
			s.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "1mbps", Limit: 100, Buffer: 100, Peakrate: cmPtr[int64](1000)}
		}, want: []string{"spec.bandwidth.peakrate: peakrate 1000 bytes/s is not above rate 1mbps (1048576 bytes/s)"}},
		{name: "valid bandwidth", mod: func(s *S) {
			s.Action, s.Delay = v1alpha1.NetworkBandwidth, nil
			s.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "100kbps", Limit: 100, Buffer: 10000,
				Peakrate: cmPtr[int64](1000000), Minburst: cmPtr[uint32](1000000)}
		}},
		{name: "partition ignores tc parameters", mod: func(s *S) { s.Action = v1alpha1.NetworkPartition },
			want: []string{"warning: spec.delay: action partition ignores delay"}},
		{name: "partition from without target is allowed", mod: func(s *S) {
			s.Action, s.Delay, s.Direction = v1alpha1.NetworkPartition, nil, v1alpha1.DirectionFrom
		}},
		{name: "direction enum", mod: func(s *S) { s.Direction = "sideways" },
			want: []string{`spec.direction: unknown value "sideways" | to, from, both`}},
		{name: "direction both needs target", mod: func(s *S) { s.Direction = v1alpha1.DirectionBoth },
			want: []string{"spec.direction: direction both needs a target"}},
		{name: "direction from with external targets", mod: func(s *S) {
			s.Direction, s.Target, s.ExternalTargets = v1alpha1.DirectionFrom, target(), []string{"8.8.8.8"}
		}, want: []string{"spec.direction: direction from cannot be used with externalTargets"}},
		{name: "valid direction both with target", mod: func(s *S) { s.Direction, s.Target = v1alpha1.DirectionBoth, target() }},
		{name: "target selector", mod: func(s *S) { s.Target = target(); s.Target.Mode = v1alpha1.ModeFixedPercent },
			want: []string{"spec.target.value: mode fixed-percent needs a value"}},
		{name: "target device without target", mod: func(s *S) { s.TargetDevice = "eth1" },
			want: []string{"warning: spec.targetDevice: targetDevice is only used with a target"}},
		{name: "devices", mod: func(s *S) { s.Device, s.Target, s.TargetDevice = "eth0@if12", target(), "a/b" },
			want: []string{`spec.targetDevice: "a/b" is not a network interface name`}},
		{name: "external targets", mod: func(s *S) {
			s.ExternalTargets = []string{"8.8.8.8", "www.google.com", "8.8.0.0/16", "1.1.1.1:80", "example.com:443",
				"10.0.0.0/8:22", "[2001:db8::1]:53", "not a host!", "1.1.1.1:99999", ""}
		}, want: []string{`spec.externalTargets[7]: "not a host!" is not an IP, CIDR or host name`,
			`spec.externalTargets[8]: invalid port "99999"`, "spec.externalTargets[9]: empty external target"}},
	})
}

func TestChaosStressChaosRules(t *testing.T) {
	base := func() *v1alpha1.StressChaosSpec {
		return &v1alpha1.StressChaosSpec{ContainerSelector: cmContainerSelector(),
			Stressors: &v1alpha1.Stressors{CPU: &v1alpha1.CPUStressor{Stressor: v1alpha1.Stressor{Workers: 1}, Load: cmPtr(50)}}}
	}
	type S = v1alpha1.StressChaosSpec
	mem := func(s *S, m v1alpha1.MemoryStressor) { s.Stressors = &v1alpha1.Stressors{Memory: &m} }
	cmRunCases(t, base, validateStressChaosSpec, []cmCase[S]{
		{name: "valid cpu"},
		{name: "no stressor", mod: func(s *S) { s.Stressors = nil },
			want: []string{"spec.stressors: StressChaos needs at least one stressor | cpu: {workers: 1"}},
		{name: "empty stressors", mod: func(s *S) { s.Stressors = &v1alpha1.Stressors{} },
			want: []string{"spec.stressors: stressors names neither cpu nor memory"}},
		{name: "stress-ng only", mod: func(s *S) { s.Stressors, s.StressngStressors = nil, "--cpu 2" }},
		{name: "stress-ng wins", mod: func(s *S) { s.StressngStressors = "--cpu 2" },
			want: []string{"warning: spec.stressors: stressngStressors is set, so stressors is ignored"}},
		{name: "cpu workers missing", mod: func(s *S) { s.Stressors.CPU.Workers = 0 },
			want: []string{"spec.stressors.cpu.workers: workers is required"}},
		{name: "cpu workers too many", mod: func(s *S) { s.Stressors.CPU.Workers = 9000 },
			want: []string{"spec.stressors.cpu.workers: workers 9000 is out of range | 1 to 8192"}},
		{name: "cpu load", mod: func(s *S) { s.Stressors.CPU.Load = cmPtr(101) },
			want: []string{"spec.stressors.cpu.load: load 101 is out of range"}},
		{name: "cpu options", mod: func(s *S) { s.Stressors.CPU.Options = []string{"--cpu 2", "timeout 5"} },
			want: []string{`warning: spec.stressors.cpu.options[1]: "timeout 5" does not look like a stress-ng option`}},
		{name: "valid memory sizes", mod: func(s *S) {
			s.Stressors.Memory = &v1alpha1.MemoryStressor{Stressor: v1alpha1.Stressor{Workers: 4}, Size: "256MB", OOMScoreAdj: -1000}
		}},
		{name: "memory percent", mod: func(s *S) { mem(s, v1alpha1.MemoryStressor{Stressor: v1alpha1.Stressor{Workers: 1}, Size: "50%"}) }},
		{name: "memory bad size", mod: func(s *S) { mem(s, v1alpha1.MemoryStressor{Stressor: v1alpha1.Stressor{Workers: 1}, Size: "10XB"}) },
			want: []string{`spec.stressors.memory.size: size "10XB" is not a memory size | "256MB"`}},
		{name: "memory bad percent", mod: func(s *S) { mem(s, v1alpha1.MemoryStressor{Stressor: v1alpha1.Stressor{Workers: 1}, Size: "150%"}) },
			want: []string{`spec.stressors.memory.size: size "150%" is not a percentage from 1% to 100%`}},
		{name: "memory oom score", mod: func(s *S) {
			mem(s, v1alpha1.MemoryStressor{Stressor: v1alpha1.Stressor{Workers: 1}, OOMScoreAdj: 1001})
		}, want: []string{"spec.stressors.memory.oomScoreAdj: oomScoreAdj 1001 is out of range"}},
		{name: "memory workers", mod: func(s *S) { mem(s, v1alpha1.MemoryStressor{}) },
			want: []string{"spec.stressors.memory.workers: workers is required"}},
	})
}

func TestChaosHTTPChaosRules(t *testing.T) {
	base := func() *v1alpha1.HTTPChaosSpec {
		return &v1alpha1.HTTPChaosSpec{PodSelector: cmSelector(), Target: v1alpha1.HTTPTargetRequest, Port: 80,
			HTTPChaosActions: v1alpha1.HTTPChaosActions{Abort: cmPtr(true)}}
	}
	type S = v1alpha1.HTTPChaosSpec
	cmRunCases(t, base, validateHTTPChaosSpec, []cmCase[S]{
		{name: "valid abort"},
		{name: "target required", mod: func(s *S) { s.Target = "" },
			want: []string{"spec.target: required field is missing | Request, Response"}},
		{name: "target typo", mod: func(s *S) { s.Target = "request" },
			want: []string{`spec.target: unknown value "request" | did you mean "Request"`}},
		{name: "port required", mod: func(s *S) { s.Port = 0 },
			want: []string{"spec.port: required field is missing | port: 80"}},
		{name: "port range", mod: func(s *S) { s.Port = 70000 },
			want: []string{"spec.port: port 70000 is out of range"}},
		{name: "needs an action", mod: func(s *S) { s.Abort = cmPtr(false) },
			want: []string{"spec: HTTPChaos needs at least one action: abort, delay, replace or patch"}},
		{name: "delay", mod: func(s *S) { s.Abort, s.Delay = nil, cmPtr("soon") },
			want: []string{`spec.delay: "soon" is not a duration`}},
		{name: "matchers", mod: func(s *S) {
			s.Path, s.Method, s.Code = cmPtr("api"), cmPtr("get"), cmPtr[int32](700)
			s.RequestHeaders = map[string]string{"Bad Header": "x", "Host": "example.com"}
			s.ResponseHeaders = map[string]string{"Content-Type": "text/plain"}
		}, want: []string{
			`warning: spec.path: path "api" does not start with /`,
			`spec.method: unknown value "get" | did you mean "GET"`,
			"spec.code: 700 is not an HTTP status code",
			"warning: spec.code: code matches response status codes",
			`spec.request_headers["Bad Header"]: "Bad Header" is not a valid HTTP header name`,
			"warning: spec.response_headers: response_headers has no effect with target Request",
		}},
		{name: "valid response matchers", mod: func(s *S) {
			s.Target, s.Path, s.Method, s.Code = v1alpha1.HTTPTargetResponse, cmPtr("/api/*"), cmPtr("GET"), cmPtr[int32](200)
		}},
		{name: "replace", mod: func(s *S) {
			s.Replace = &v1alpha1.HTTPChaosReplace{Path: cmPtr("v2"), Method: cmPtr("DELET"), Code: cmPtr[int32](503), Body: "not base64!"}
		}, want: []string{
			`spec.replace.path: replacement path "v2" does not start with /`,
			`spec.replace.method: unknown value "DELET" | did you mean "DELETE"`,
			"spec.replace.body: body is not base64",
			"warning: spec.replace.code: replace.code changes responses; it has no effect with target Request",
		}},
		{name: "replace request fields with target Response", mod: func(s *S) {
			s.Target = v1alpha1.HTTPTargetResponse
			s.Replace = &v1alpha1.HTTPChaosReplace{Queries: map[string]string{"a": "b"}, Body: "eyJvayI6ZmFsc2V9"}
		}, want: []string{"warning: spec.replace.queries: replace.queries changes requests"}},
		{name: "patch", mod: func(s *S) {
			s.Patch = &v1alpha1.HTTPChaosPatch{Body: &v1alpha1.HTTPChaosPatchBody{Type: "XML", Value: "<a/>"},
				Headers: [][]string{{"Token", "a"}, {"Token"}}, Queries: [][]string{{"", "x"}}}
		}, want: []string{
			`spec.patch.body.type: unknown value "XML" | JSON`,
			"spec.patch.headers[1]: expected a [name, value] pair, got 1 items",
			"spec.patch.queries[0][0]: empty query parameter name",
		}},
		{name: "patch value not JSON", mod: func(s *S) {
			s.Patch = &v1alpha1.HTTPChaosPatch{Body: &v1alpha1.HTTPChaosPatchBody{Type: "JSON", Value: "{foo"}}
		}, want: []string{"spec.patch.body.value: value is not a JSON object"}},
		{name: "valid patch", mod: func(s *S) {
			s.Target = v1alpha1.HTTPTargetResponse
			s.Patch = &v1alpha1.HTTPChaosPatch{Body: &v1alpha1.HTTPChaosPatchBody{Type: "JSON", Value: `{"status":"Failed"}`},
				Headers: [][]string{{"Set-Cookie", "a=1"}}}
		}},
		{name: "tls", mod: func(s *S) { s.TLS = &v1alpha1.HTTPChaosTLS{SecretName: "tls", SecretNamespace: "Bad_NS"} },
			want: []string{"spec.tls.certName: required field is missing", "spec.tls.keyName: required field is missing",
				`spec.tls.secretNamespace: "Bad_NS" is not a valid namespace`}},
	})
}

func TestChaosIOChaosRules(t *testing.T) {
	base := func() *v1alpha1.IOChaosSpec {
		return &v1alpha1.IOChaosSpec{ContainerSelector: cmContainerSelector(), Action: v1alpha1.IOLatency,
			Delay: "10ms", VolumePath: "/var/run/etcd", Path: "/var/run/etcd/**/*"}
	}
	type S = v1alpha1.IOChaosSpec
	cmRunCases(t, base, validateIOChaosSpec, []cmCase[S]{
		{name: "valid latency"},
		{name: "action required", mod: func(s *S) { s.Action, s.Delay = "", "" },
			want: []string{"spec.action: required field is missing | latency, fault, attrOverride, mistake"}},
		{name: "volumePath required", mod: func(s *S) { s.VolumePath = "" },
			want: []string{"spec.volumePath: required field is missing"}},
		{name: "volumePath relative", mod: func(s *S) { s.VolumePath = "data" },
			want: []string{`spec.volumePath: volumePath "data" is not an absolute path`}},
		{name: "path outside volume", mod: func(s *S) { s.Path = "/tmp/*" },
			want: []string{`spec.path: path "/tmp/*" is outside volumePath "/var/run/etcd" | /var/run/etcd/**/*`}},
		{name: "path globs that may match", mod: func(s *S) { s.Path = "/**" }},
		{name: "relative path", mod: func(s *S) { s.Path = "*.log" }},
		{name: "latency needs delay", mod: func(s *S) { s.Delay = "" },
			want: []string{"spec.delay: required field is missing"}},
		{name: "fault needs errno", mod: func(s *S) { s.Action, s.Delay = v1alpha1.IOFault, "" },
			want: []string{"spec.errno: action fault needs errno | errno: 5"}},
		{name: "errno range", mod: func(s *S) { s.Action, s.Delay, s.Errno = v1alpha1.IOFault, "", 5000 },
			want: []string{"spec.errno: errno 5000 is not a Linux error number"}},
		{name: "errno ignored", mod: func(s *S) { s.Errno = 5 },
			want: []string{"warning: spec.errno: errno is only used by action fault"}},
		{name: "attrOverride needs attr", mod: func(s *S) { s.Action, s.Delay = v1alpha1.IOAttrOverride, "" },
			want: []string{"spec.attr: action attrOverride needs attr"}},
		{name: "attr values", mod: func(s *S) {
			s.Action, s.Delay = v1alpha1.IOAttrOverride, ""
			s.Attr = &v1alpha1.AttrOverrideSpec{Perm: cmPtr(70000), Size: cmPtr[int64](-1), Kind: "regularfile",
				Mtime: &v1alpha1.Timespec{Sec: 1, Nsec: 2e9}}
		}, want: []string{"spec.attr.perm: perm 70000 is out of range", "spec.attr.size: size -1 is negative",
			`spec.attr.kind: unknown value "regularfile" | did you mean "regularFile"`, "spec.attr.mtime.nsec: nsec 2000000000 is out of range"}},
		{name: "attr empty", mod: func(s *S) { s.Action, s.Delay, s.Attr = v1alpha1.IOAttrOverride, "", &v1alpha1.AttrOverrideSpec{} },
			want: []string{"spec.attr: attr overrides no attribute"}},
		{name: "mistake needs mistake", mod: func(s *S) { s.Action, s.Delay = v1alpha1.IOMistake, "" },
			want: []string{"spec.mistake: action mistake needs mistake"}},
		{name: "mistake fields", mod: func(s *S) { s.Action, s.Delay, s.Mistake = v1alpha1.IOMistake, "", &v1alpha1.MistakeSpec{} },
			want: []string{"spec.mistake.filling: required field is missing | zero, random",
				"spec.mistake.maxOccurrences: maxOccurrences is required", "spec.mistake.maxLength: maxLength is required"}},
		{name: "valid mistake", mod: func(s *S) {
			s.Action, s.Delay = v1alpha1.IOMistake, ""
			s.Mistake = &v1alpha1.MistakeSpec{Filling: v1alpha1.FillingRandom, MaxOccurrences: 1, MaxLength: 10}
		}},
		{name: "mistake ignored", mod: func(s *S) { s.Mistake = &v1alpha1.MistakeSpec{Filling: "zero", MaxOccurrences: 1, MaxLength: 1} },
			want: []string{"warning: spec.mistake: mistake is only used by action mistake"}},
		{name: "methods", mod: func(s *S) { s.Methods = []string{"READ", "write", "reed"} },
			want: []string{`spec.methods[2]: unknown value "reed" | did you mean "read"`}},
		{name: "percent range", mod: func(s *S) { s.Percent = cmPtr(101) },
			want: []string{"spec.percent: percent 101 is out of range"}},
		{name: "percent zero", mod: func(s *S) { s.Percent = cmPtr(0) },
			want: []string{"warning: spec.percent: percent 0 hits no operation"}},
	})
}

func TestChaosDNSChaosRules(t *testing.T) {
	base := func() *v1alpha1.DNSChaosSpec {
		return &v1alpha1.DNSChaosSpec{ContainerSelector: cmContainerSelector(), Action: v1alpha1.DNSError}
	}
	type S = v1alpha1.DNSChaosSpec
	cmRunCases(t, base, validateDNSChaosSpec, []cmCase[S]{
		{name: "valid error"},
		{name: "action required", mod: func(s *S) { s.Action = "" },
			want: []string{"spec.action: required field is missing | error, random"}},
		{name: "action typo", mod: func(s *S) { s.Action = "randon" },
			want: []string{`spec.action: unknown value "randon" | did you mean "random"`}},
		{name: "valid patterns", mod: func(s *S) { s.Patterns = []string{"google.com", "chaos-mesh.*", "github.?om"} }},
		{name: "bad patterns", mod: func(s *S) { s.Patterns = []string{"chaos-*.org", "", "bad pattern"} },
			want: []string{`spec.patterns[0]: pattern "chaos-*.org" has * before the end`, "spec.patterns[1]: empty pattern",
				`spec.patterns[2]: pattern "bad pattern" has characters a domain name cannot have`}},
	})
}

func TestChaosTimeChaosRules(t *testing.T) {
	base := func() *v1alpha1.TimeChaosSpec {
		return &v1alpha1.TimeChaosSpec{ContainerSelector: cmContainerSelector(), TimeOffset: "-10m100ns"}
	}
	type S = v1alpha1.TimeChaosSpec
	cmRunCases(t, base, validateTimeChaosSpec, []cmCase[S]{
		{name: "valid negative offset"},
		{name: "offset required", mod: func(s *S) { s.TimeOffset = "" },
			want: []string{"spec.timeOffset: required field is missing"}},
		{name: "offset without unit", mod: func(s *S) { s.TimeOffset = "10" },
			want: []string{`spec.timeOffset: "10" is not a duration`}},
		{name: "offset zero", mod: func(s *S) { s.TimeOffset = "0s" },
			want: []string{"warning: spec.timeOffset: timeOffset 0 does not move the clocks"}},
		{name: "clock ids", mod: func(s *S) {
			s.ClockIDs = []v1alpha1.ClockID{"CLOCK_REALTIME", "CLOCK_REALTIM", "CLOCK_REALTIME", ""}
		}, want: []string{`spec.clockIds[1]: unknown value "CLOCK_REALTIM" | did you mean "CLOCK_REALTIME"`,
			"warning: spec.clockIds[2]: clock CLOCK_REALTIME is listed twice", "spec.clockIds[3]: empty clock id"}},
		{name: "valid clock ids", mod: func(s *S) { s.ClockIDs = []v1alpha1.ClockID{"CLOCK_MONOTONIC", "CLOCK_BOOTTIME"} }},
	})
}
