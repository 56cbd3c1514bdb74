package manifest

import (
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func flPodKill() *v1alpha1.PodChaosSpec {
	return &v1alpha1.PodChaosSpec{
		ContainerSelector: v1alpha1.ContainerSelector{PodSelector: v1alpha1.PodSelector{
			Selector: v1alpha1.PodSelectorSpec{LabelSelectors: map[string]string{"app": "model"}},
			Mode:     v1alpha1.ModeOne,
		}},
		Action: v1alpha1.PodKill,
	}
}

func flTensor(name string, data ...any) v1alpha1.InferenceTensor {
	return v1alpha1.InferenceTensor{Name: name, Shape: []int64{int64(len(data))}, Datatype: v1alpha1.DatatypeInt64, Data: data}
}

func flExperiment() *v1alpha1.ExperimentSpec {
	return &v1alpha1.ExperimentSpec{
		Environment: &v1alpha1.ExperimentEnvironment{File: "env.yaml"},
		Phases:      v1alpha1.ExperimentPhases{Baseline: "10s", Fault: "60s", Recovery: "30s"},
		Load: &v1alpha1.LoadSpec{
			Target:  "model",
			Rate:    flPtr(50.0),
			Path:    "/predict",
			Timeout: "2s",
		},
		Probes: []v1alpha1.ExperimentProbe{
			{Name: "ready", Type: v1alpha1.ProbeHTTPType, Mode: v1alpha1.ProbeModeContinuous, Interval: "1s",
				HTTP: &v1alpha1.ProbeHTTP{Service: "model", Path: "/ready"}},
			{Name: "golden", Type: v1alpha1.ProbeInferenceType, Mode: v1alpha1.ProbeModeContinuous,
				Inference: &v1alpha1.ProbeInference{Service: "model", Model: "recsys", Requests: []v1alpha1.GoldenRequest{{
					Name:     "u42",
					Inputs:   []v1alpha1.InferenceTensor{flTensor("user_id", 42)},
					Expected: []v1alpha1.InferenceTensor{flTensor("items", 1, 2, 3)},
				}}}},
		},
		Faults: []v1alpha1.ExperimentFault{
			{Name: "kill", At: "5s", EmbedChaos: v1alpha1.EmbedChaos{PodChaos: flPodKill()}},
			{At: "30s", File: "faults/delay.yaml"},
		},
		SLOs: []v1alpha1.SLO{
			{Name: "available", Metric: v1alpha1.SLOAvailability, Phase: v1alpha1.SLOPhaseFault, Min: flPtr(99.0)},
			{Name: "p99", Metric: v1alpha1.SLOLatency, Percentile: "p99", MaxDuration: "500ms"},
			{Name: "recovers", Metric: v1alpha1.SLORecoveryTime, MaxDuration: "30s"},
			{Name: "consistent", Metric: v1alpha1.SLOConsistency, Min: flPtr(95.0)},
		},
		Recovery: &v1alpha1.ExperimentRecovery{Window: "2s", SLOs: []string{"available"}},
		Repeat:   flPtr(int32(1)),
	}
}

// flInlineEnv is an environment written in the experiment.
func flInlineEnv(s *v1alpha1.ExperimentSpec) {
	s.Environment = &v1alpha1.ExperimentEnvironment{EnvironmentSpec: v1alpha1.EnvironmentSpec{
		Services: []v1alpha1.EnvironmentService{{Name: "model", Command: []string{"./model"}}},
	}}
}

func TestExperimentRules(t *testing.T) {
	type E = v1alpha1.ExperimentSpec
	flRun(t, flExperiment, validateExperimentSpec, []flCase[E]{
		{name: "valid"},
		{name: "zero value", mutate: func(s *E) { *s = E{} }, path: "spec.environment", msg: "required", more: true},

		// environment
		{name: "environment missing", mutate: func(s *E) { s.Environment = nil }, path: "spec.environment", msg: "required"},
		{name: "environment empty", mutate: func(s *E) { s.Environment = &v1alpha1.ExperimentEnvironment{} },
			path: "spec.environment.file", msg: "required"},
		{name: "environment inline", mutate: flInlineEnv},
		{name: "environment inline is validated", mutate: func(s *E) {
			flInlineEnv(s)
			s.Environment.Services[0].Replicas = flPtr(int32(-2))
		}, path: "spec.environment.services[0].replicas", msg: "must not be negative"},
		{name: "environment file and inline", mutate: func(s *E) {
			flInlineEnv(s)
			s.Environment.File = "env.yaml"
		}, path: "spec.environment.file", msg: "exclude each other"},
		{name: "attach by name", mutate: func(s *E) { s.Environment = &v1alpha1.ExperimentEnvironment{Attach: true, Name: "recsys"} }},
		{name: "attach by file", mutate: func(s *E) { s.Environment.Attach = true }},
		{name: "attach needs a name", mutate: func(s *E) { s.Environment = &v1alpha1.ExperimentEnvironment{Attach: true} },
			path: "spec.environment.name", msg: "required"},
		{name: "attach and inline", mutate: func(s *E) {
			flInlineEnv(s)
			s.Environment.Attach = true
		}, path: "spec.environment.attach", msg: "cannot be written inline"},
		{name: "environment name", mutate: func(s *E) { s.Environment.Name = "Rec_Sys" },
			path: "spec.environment.name", msg: "not a valid name"},

		// phases
		{name: "fault phase required", mutate: func(s *E) { s.Phases.Fault = "" }, path: "spec.phases.fault", msg: "required"},
		{name: "fault phase zero", mutate: func(s *E) { s.Phases.Fault = "0s" }, path: "spec.phases.fault", msg: "longer than zero"},
		{name: "fault phase not a duration", mutate: func(s *E) { s.Phases.Fault = "1 minute" }, path: "spec.phases.fault", msg: "not a duration"},
		{name: "baseline not a duration", mutate: func(s *E) { s.Phases.Baseline = "ten" }, path: "spec.phases.baseline", msg: "not a duration"},
		{name: "recovery negative", mutate: func(s *E) { s.Phases.Recovery = "-1s" }, path: "spec.phases.recovery", msg: "greater than zero"},
		{name: "baseline and recovery zero ok", mutate: func(s *E) { s.Phases.Baseline, s.Phases.Recovery = "0s", "0s" }},
		{name: "defaults ok", mutate: func(s *E) { s.Phases.Baseline, s.Phases.Recovery = "", "" }},

		// faults
		{name: "fault at beyond the phase", mutate: func(s *E) { s.Faults[0].At = "60s" },
			path: "spec.faults[0].at", msg: "at 60s is not within the fault phase (60s)"},
		{name: "fault at last moment ok", mutate: func(s *E) { s.Faults[0].At = "59.9s" }},
		{name: "fault at not a duration", mutate: func(s *E) { s.Faults[0].At = "5" }, path: "spec.faults[0].at", msg: "not a duration"},
		{name: "fault with nothing", mutate: func(s *E) { s.Faults[1].File = "" }, path: "spec.faults[1].file", msg: "required"},
		{name: "fault file and inline", mutate: func(s *E) { s.Faults[1].PodChaos = flPodKill() },
			path: "spec.faults[1].podChaos", msg: "file and podChaos exclude each other"},
		{name: "fault with two kinds", mutate: func(s *E) {
			s.Faults[0].NodeChaos = &v1alpha1.NodeChaosSpec{Action: v1alpha1.NodeDown, Mode: v1alpha1.ModeOne,
				Selector: v1alpha1.NodeChaosSelector{Nodes: []string{"node-1"}}}
		}, path: "spec.faults[0].nodeChaos", msg: "podChaos and nodeChaos are both set"},
		{name: "inline fault needs a name", mutate: func(s *E) { s.Faults[0].Name = "" }, path: "spec.faults[0].name", msg: "required"},
		{name: "file fault name optional", mutate: func(s *E) { s.Faults[1].Name = "" }},
		{name: "fault names unique", mutate: func(s *E) { s.Faults[1].Name = "kill" }, path: "spec.faults[1].name", msg: `duplicate fault name "kill"`},
		{name: "inline fault is validated", mutate: func(s *E) { s.Faults[0].PodChaos.Action = "pod-kil" },
			path: "spec.faults[0].podChaos.action", msg: `"pod-kil"`},
		{name: "inline faultline kind is validated", mutate: func(s *E) {
			s.Faults[0].PodChaos = nil
			s.Faults[0].ScaleChaos = &v1alpha1.ScaleChaosSpec{Service: "model"}
		}, path: "spec.faults[0].scaleChaos.replicas", msg: "required"},
		{name: "faults and workflow", mutate: func(s *E) { s.Workflow = &v1alpha1.ExperimentWorkflow{File: "wf.yaml"} },
			path: "spec.workflow", msg: "faults and workflow exclude each other"},

		// workflow
		{name: "workflow from file", mutate: func(s *E) {
			s.Faults = nil
			s.Workflow = &v1alpha1.ExperimentWorkflow{File: "wf.yaml"}
		}},
		{name: "workflow lets fault phase be omitted", mutate: func(s *E) {
			s.Faults, s.Phases.Fault = nil, ""
			s.Workflow = &v1alpha1.ExperimentWorkflow{File: "wf.yaml"}
		}},
		{name: "workflow empty", mutate: func(s *E) {
			s.Faults = nil
			s.Workflow = &v1alpha1.ExperimentWorkflow{}
		}, path: "spec.workflow.file", msg: "required"},
		{name: "workflow file and inline", mutate: func(s *E) {
			s.Faults = nil
			s.Workflow = &v1alpha1.ExperimentWorkflow{File: "wf.yaml", WorkflowSpec: v1alpha1.WorkflowSpec{Entry: "x"}}
		}, path: "spec.workflow.file", msg: "exclude each other"},
		{name: "workflow inline", mutate: func(s *E) {
			s.Faults = nil
			s.Workflow = &v1alpha1.ExperimentWorkflow{WorkflowSpec: v1alpha1.WorkflowSpec{Entry: "kill", Templates: []v1alpha1.Template{
				{Name: "kill", Type: v1alpha1.TemplateTypePodChaos, EmbedChaos: v1alpha1.EmbedChaos{PodChaos: flPodKill()}},
			}}}
		}},
		{name: "workflow inline is validated", mutate: func(s *E) {
			s.Faults = nil
			s.Workflow = &v1alpha1.ExperimentWorkflow{WorkflowSpec: v1alpha1.WorkflowSpec{Entry: "kil", Templates: []v1alpha1.Template{
				{Name: "kill", Type: v1alpha1.TemplateTypePodChaos, EmbedChaos: v1alpha1.EmbedChaos{PodChaos: flPodKill()}},
			}}}
		}, path: "spec.workflow.entry", msg: "kil"},

		// schedules
		{name: "schedule from file", mutate: func(s *E) {
			s.Schedules = []v1alpha1.ExperimentSchedule{{File: "s.yaml", At: "10s"}}
		}},
		{name: "schedule inline", mutate: func(s *E) {
			s.Schedules = []v1alpha1.ExperimentSchedule{{Name: "every-10s", ScheduleSpec: v1alpha1.ScheduleSpec{
				ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 10s", Type: v1alpha1.ScheduleTypePodChaos,
					EmbedChaos: v1alpha1.EmbedChaos{PodChaos: flPodKill()}},
			}}}
		}},
		{name: "schedule inline needs a name", mutate: func(s *E) {
			s.Schedules = []v1alpha1.ExperimentSchedule{{ScheduleSpec: v1alpha1.ScheduleSpec{
				ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 10s", Type: v1alpha1.ScheduleTypePodChaos,
					EmbedChaos: v1alpha1.EmbedChaos{PodChaos: flPodKill()}},
			}}}
		}, path: "spec.schedules[0].name", msg: "required"},
		{name: "schedule inline is validated", mutate: func(s *E) {
			s.Schedules = []v1alpha1.ExperimentSchedule{{Name: "bad", ScheduleSpec: v1alpha1.ScheduleSpec{
				ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{Type: v1alpha1.ScheduleTypePodChaos,
					EmbedChaos: v1alpha1.EmbedChaos{PodChaos: flPodKill()}},
			}}}
		}, path: "spec.schedules[0].schedule", msg: ""},
		{name: "schedule empty", mutate: func(s *E) { s.Schedules = []v1alpha1.ExperimentSchedule{{Name: "x"}} },
			path: "spec.schedules[0].file", msg: "required"},
		{name: "schedule file and inline", mutate: func(s *E) {
			s.Schedules = []v1alpha1.ExperimentSchedule{{File: "s.yaml", ScheduleSpec: v1alpha1.ScheduleSpec{
				ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 10s"}}}}
		}, path: "spec.schedules[0].file", msg: "exclude each other"},
		{name: "schedule at beyond the phase", mutate: func(s *E) {
			s.Schedules = []v1alpha1.ExperimentSchedule{{File: "s.yaml", At: "2m"}}
		}, path: "spec.schedules[0].at", msg: "not within the fault phase"},

		// recovery and repeat
		{name: "recovery window zero", mutate: func(s *E) { s.Recovery.Window = "0s" }, path: "spec.recovery.window", msg: "greater than zero"},
		{name: "recovery unknown SLO", mutate: func(s *E) { s.Recovery.SLOs = []string{"availble"} },
			path: "spec.recovery.slos[0]", msg: `unknown SLO "availble"`},
		{name: "recovery SLO of the wrong metric", mutate: func(s *E) { s.Recovery.SLOs = []string{"consistent"} },
			path: "spec.recovery.slos[0]", msg: "cannot define recovery"},
		{name: "recovery SLO latency ok", mutate: func(s *E) { s.Recovery.SLOs = []string{"p99", "available"} }},
		{name: "repeat zero", mutate: func(s *E) { s.Repeat = flPtr(int32(0)) }, path: "spec.repeat", msg: "at least 1"},
		{name: "repeat 5 ok", mutate: func(s *E) { s.Repeat = flPtr(int32(5)) }},
	})
}

func TestExperimentWarnings(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*v1alpha1.ExperimentSpec)
		path   Path
	}{
		{"no fault at all", func(s *v1alpha1.ExperimentSpec) { s.Faults = nil }, "spec.faults"},
		{"fault outlasts the phase", func(s *v1alpha1.ExperimentSpec) { s.Faults[0].At, s.Faults[0].PodChaos.Duration = "50s", flPtr("20s") },
			"spec.faults[0].podChaos.duration"},
		{"recovery window longer than the phase", func(s *v1alpha1.ExperimentSpec) { s.Recovery.Window = "40s" }, "spec.recovery.window"},
		{"load longer than the run", func(s *v1alpha1.ExperimentSpec) { s.Load.Duration = "5m" }, "spec.load.duration"},
		{"interval of a one-shot probe", func(s *v1alpha1.ExperimentSpec) { s.Probes[0].Mode = v1alpha1.ProbeModeEOT }, "spec.probes[0].interval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := flExperiment()
			c.mutate(s)
			var ps Problems
			validateExperimentSpec("spec", s, &ps)
			if errs := flErrors(ps.List); len(errs) > 0 {
				t.Fatalf("want no error, got:\n%s", flFormat(errs))
			}
			w := flWarnings(ps.List)
			if len(w) != 1 || w[0].Path != c.path {
				t.Fatalf("want one warning at %s, got:\n%s", c.path, flFormat(ps.List))
			}
		})
	}
}

func TestLoadRules(t *testing.T) {
	type E = v1alpha1.ExperimentSpec
	lp := Path("spec.load")
	flRun(t, flExperiment, validateExperimentSpec, []flCase[E]{
		{name: "target required", mutate: func(s *E) { s.Load.Target = "" }, path: lp.Child("target"), msg: "required"},
		{name: "target URL", mutate: func(s *E) { s.Load.Target, s.Load.Path = "http://127.0.0.1:8080/predict", "" }},
		{name: "target bad URL", mutate: func(s *E) { s.Load.Target, s.Load.Path = "ftp://x/", "" },
			path: lp.Child("target"), msg: "not an http or https URL"},
		{name: "target neither", mutate: func(s *E) { s.Load.Target = "Model Server" },
			path: lp.Child("target"), msg: "neither a service name nor an http(s) URL"},
		{name: "target service.namespace:port", mutate: func(s *E) { s.Load.Target = "gateway.recsys:http" }},
		{name: "target service:number", mutate: func(s *E) { s.Load.Target = "gateway:8080" }},
		{name: "target bad port", mutate: func(s *E) { s.Load.Target = "gateway:99999" },
			path: lp.Child("target"), msg: "neither a service name nor an http(s) URL"},
		{name: "target namespace in a local environment", mutate: func(s *E) {
			flInlineEnv(s)
			s.Load.Target = "model.default"
		}, path: lp.Child("target"), msg: "only kube environments have"},
		{name: "target unknown in inline environment", mutate: func(s *E) {
			flInlineEnv(s)
			s.Load.Target = "modle"
			s.Probes[0].HTTP.Service = "model"
		}, path: lp.Child("target"), msg: `unknown service "modle"`},
		{name: "path with URL target", mutate: func(s *E) { s.Load.Target = "http://127.0.0.1:8080" },
			path: lp.Child("path"), msg: "a URL target carries its own path"},
		{name: "path without slash", mutate: func(s *E) { s.Load.Path = "predict" }, path: lp.Child("path"), msg: "must start with '/'"},
		{name: "rate or ramp required", mutate: func(s *E) { s.Load.Rate = nil }, path: lp.Child("rate"), msg: "required"},
		{name: "rate zero", mutate: func(s *E) { s.Load.Rate = flPtr(0.0) }, path: lp.Child("rate"), msg: "greater than 0"},
		{name: "rate fraction ok", mutate: func(s *E) { s.Load.Rate = flPtr(0.5) }},
		{name: "rate and ramp", mutate: func(s *E) { s.Load.Ramp = &v1alpha1.LoadRamp{From: 1, To: 10} },
			path: lp.Child("ramp"), msg: "rate and ramp exclude each other"},
		{name: "ramp ok", mutate: func(s *E) { s.Load.Rate, s.Load.Ramp = nil, &v1alpha1.LoadRamp{From: 0, To: 100, Over: "30s"} }},
		{name: "ramp from zero to zero", mutate: func(s *E) { s.Load.Rate, s.Load.Ramp = nil, &v1alpha1.LoadRamp{} },
			path: lp.Child("ramp").Child("to"), msg: "sends no requests"},
		{name: "ramp negative", mutate: func(s *E) { s.Load.Rate, s.Load.Ramp = nil, &v1alpha1.LoadRamp{From: -1, To: 5} },
			path: lp.Child("ramp").Child("from"), msg: "must not be negative"},
		{name: "ramp longer than the load", mutate: func(s *E) {
			s.Load.Rate, s.Load.Ramp, s.Load.Duration = nil, &v1alpha1.LoadRamp{From: 1, To: 5, Over: "2m"}, "1m"
		}, path: lp.Child("ramp").Child("over"), msg: "the ramp takes 2m but the load lasts 1m"},
		{name: "ramp longer than the run", mutate: func(s *E) {
			s.Load.Rate, s.Load.Ramp = nil, &v1alpha1.LoadRamp{From: 1, To: 5, Over: "101s"}
		}, path: lp.Child("ramp").Child("over"), msg: "the load lasts 1m40s"},
		{name: "duration zero", mutate: func(s *E) { s.Load.Duration = "0s" }, path: lp.Child("duration"), msg: "greater than zero"},
		{name: "method lower case", mutate: func(s *E) { s.Load.Method = "post" }, path: lp.Child("method"), msg: "upper case"},
		{name: "method unknown", mutate: func(s *E) { s.Load.Method = "FETCH" }, path: lp.Child("method"), msg: `unknown value "FETCH"`},
		{name: "header name", mutate: func(s *E) { s.Load.Headers = map[string]string{"Content Type": "x"} },
			path: lp.Child("headers").Key("Content Type"), msg: "not a valid HTTP header name"},
		{name: "two bodies", mutate: func(s *E) { s.Load.Body, s.Load.BodyFile = "{}", "b.json" },
			path: lp.Child("bodyFile"), msg: "body and bodyFile exclude each other"},
		{name: "bodies list ok", mutate: func(s *E) { s.Load.Bodies = []string{"a", "b"} }},
		{name: "expected status", mutate: func(s *E) { s.Load.ExpectedStatus = []int32{200, 999} },
			path: lp.Child("expectedStatus").Index(1), msg: "not an HTTP status"},
		{name: "timeout", mutate: func(s *E) { s.Load.Timeout = "-1s" }, path: lp.Child("timeout"), msg: "greater than zero"},
		{name: "max workers", mutate: func(s *E) { s.Load.MaxWorkers = flPtr(int32(0)) }, path: lp.Child("maxWorkers"), msg: "at least 1"},

		// inference payloads
		{name: "inference ok", mutate: func(s *E) {
			s.Load.Path = ""
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{flTensor("user_id", 42)}}
		}},
		{name: "inference with path", mutate: func(s *E) {
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{flTensor("user_id", 42)}}
		}, path: lp.Child("path"), msg: "infer endpoint"},
		{name: "inference with GET", mutate: func(s *E) {
			s.Load.Path, s.Load.Method = "", "GET"
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{flTensor("user_id", 42)}}
		}, path: lp.Child("method"), msg: "sent with POST"},
		{name: "inference model required", mutate: func(s *E) {
			s.Load.Path = ""
			s.Load.Inference = &v1alpha1.InferenceRequest{Inputs: []v1alpha1.InferenceTensor{flTensor("user_id", 42)}}
		}, path: lp.Child("inference").Child("model"), msg: "required"},
		{name: "inference inputs required", mutate: func(s *E) {
			s.Load.Path = ""
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys"}
		}, path: lp.Child("inference").Child("inputs"), msg: "required"},
		{name: "inference datatype", mutate: func(s *E) {
			s.Load.Path = ""
			in := flTensor("user_id", 42)
			in.Datatype = "INT46"
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{in}}
		}, path: lp.Child("inference").Child("inputs").Index(0).Child("datatype"), msg: `unknown value "INT46"`},
		{name: "inference data and shape disagree", mutate: func(s *E) {
			s.Load.Path = ""
			in := flTensor("x", 1, 2, 3)
			in.Shape = []int64{2, 2}
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{in}}
		}, path: lp.Child("inference").Child("inputs").Index(0).Child("data"), msg: "data holds 3 elements but shape [2 2] needs 4"},
		{name: "inference nested data ok", mutate: func(s *E) {
			s.Load.Path = ""
			in := v1alpha1.InferenceTensor{Name: "x", Shape: []int64{2, 2}, Datatype: v1alpha1.DatatypeFP32,
				Data: []any{[]any{0.1, 0.2}, []any{0.3, 0.4}}}
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{in}}
		}},
		{name: "inference data required", mutate: func(s *E) {
			s.Load.Path = ""
			in := flTensor("x")
			in.Data = nil
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{in}}
		}, path: lp.Child("inference").Child("inputs").Index(0).Child("data"), msg: "required"},
		{name: "inference negative dimension", mutate: func(s *E) {
			s.Load.Path = ""
			in := flTensor("x", 1)
			in.Shape = []int64{-1}
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{in}}
		}, path: lp.Child("inference").Child("inputs").Index(0).Child("shape").Index(0), msg: "negative"},
		{name: "inference duplicate input", mutate: func(s *E) {
			s.Load.Path = ""
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{flTensor("x", 1), flTensor("x", 2)}}
		}, path: lp.Child("inference").Child("inputs").Index(1).Child("name"), msg: "listed twice"},
		{name: "inference output name", mutate: func(s *E) {
			s.Load.Path = ""
			s.Load.Inference = &v1alpha1.InferenceRequest{Model: "recsys", Inputs: []v1alpha1.InferenceTensor{flTensor("x", 1)},
				Outputs: []v1alpha1.InferenceRequestedOutput{{}}}
		}, path: lp.Child("inference").Child("outputs").Index(0).Child("name"), msg: "required"},
	})
}

func TestProbeRules(t *testing.T) {
	type E = v1alpha1.ExperimentSpec
	p0, p1 := Path("spec.probes[0]"), Path("spec.probes[1]")
	withProbe := func(pr v1alpha1.ExperimentProbe) func(*E) {
		return func(s *E) { s.Probes[0] = pr }
	}
	flRun(t, flExperiment, validateExperimentSpec, []flCase[E]{
		{name: "name required", mutate: func(s *E) { s.Probes[0].Name = "" }, path: p0.Child("name"), msg: "required"},
		{name: "names unique", mutate: func(s *E) { s.Probes[1].Name = "ready" }, path: p1.Child("name"), msg: `duplicate probe name "ready"`},
		{name: "type required", mutate: func(s *E) { s.Probes[0].Type = "" }, path: p0.Child("type"), msg: "required"},
		{name: "type unknown", mutate: func(s *E) { s.Probes[0].Type = "htp" }, path: p0.Child("type"), msg: `unknown value "htp"`},
		{name: "mode unknown", mutate: func(s *E) { s.Probes[0].Mode = "continuous" }, path: p0.Child("mode"), msg: `unknown value "continuous"`, hint: `did you mean "Continuous"`},
		{name: "mode default ok", mutate: func(s *E) { s.Probes[0].Mode = "" }},
		{name: "interval zero", mutate: func(s *E) { s.Probes[0].Interval = "0s" }, path: p0.Child("interval"), msg: "greater than zero"},
		{name: "timeout", mutate: func(s *E) { s.Probes[0].Timeout = "soon" }, path: p0.Child("timeout"), msg: "not a duration"},
		{name: "initial delay", mutate: func(s *E) { s.Probes[0].InitialDelay = "-1s" }, path: p0.Child("initialDelay"), msg: "greater than zero"},
		{name: "retries negative", mutate: func(s *E) { s.Probes[0].Retries = -1 }, path: p0.Child("retries"), msg: "must not be negative"},
		{name: "settings missing", mutate: func(s *E) { s.Probes[0].HTTP = nil }, path: p0.Child("http"), msg: "required"},
		{name: "settings of another type", mutate: func(s *E) { s.Probes[0].TCP = &v1alpha1.ProbeTCP{Service: "model"} },
			path: p0.Child("tcp"), msg: "a probe of type http takes no tcp settings"},

		// http
		{name: "http url or service", mutate: func(s *E) { s.Probes[0].HTTP.Service = "" }, path: p0.Child("http").Child("url"), msg: "required"},
		{name: "http url and service", mutate: func(s *E) { s.Probes[0].HTTP.URL = "http://x/" },
			path: p0.Child("http").Child("service"), msg: "url and service exclude each other"},
		{name: "http url with path", mutate: func(s *E) { s.Probes[0].HTTP.Service, s.Probes[0].HTTP.URL = "", "http://127.0.0.1:1/" },
			path: p0.Child("http").Child("path"), msg: "a url carries its own path"},
		{name: "http bad url", mutate: func(s *E) {
			s.Probes[0].HTTP.Service, s.Probes[0].HTTP.Path, s.Probes[0].HTTP.URL = "", "", "127.0.0.1:8080"
		},
			path: p0.Child("http").Child("url"), msg: "not an http or https URL"},
		{name: "http bad port", mutate: func(s *E) {
			s.Probes[0].HTTP.Service, s.Probes[0].HTTP.Path, s.Probes[0].HTTP.URL = "", "", "http://h:99999/"
		},
			path: p0.Child("http").Child("url"), msg: "invalid port"},
		{name: "http body regex", mutate: func(s *E) { s.Probes[0].HTTP.BodyRegex = "ready(" },
			path: p0.Child("http").Child("bodyRegex"), msg: "invalid regular expression"},
		{name: "http expected status", mutate: func(s *E) { s.Probes[0].HTTP.ExpectedStatus = []int32{20} },
			path: p0.Child("http").Child("expectedStatus").Index(0), msg: "not an HTTP status"},
		{name: "http json path ok", mutate: func(s *E) {
			s.Probes[0].HTTP.JSONPath = []v1alpha1.JSONPathCheck{{Path: "$.ready", Value: "true"}, {Path: "$.n", Criteria: ">=", Value: "3"}}
		}},
		{name: "http json path without $", mutate: func(s *E) {
			s.Probes[0].HTTP.JSONPath = []v1alpha1.JSONPathCheck{{Path: "ready", Value: "true"}}
		}, path: p0.Child("http").Child("jsonPath").Index(0).Child("path"), msg: "must start with $"},
		{name: "http json path criteria", mutate: func(s *E) {
			s.Probes[0].HTTP.JSONPath = []v1alpha1.JSONPathCheck{{Path: "$.n", Criteria: "=>", Value: "3"}}
		}, path: p0.Child("http").Child("jsonPath").Index(0).Child("criteria"), msg: `unknown value "=>"`},
		{name: "http json path ordering needs a number", mutate: func(s *E) {
			s.Probes[0].HTTP.JSONPath = []v1alpha1.JSONPathCheck{{Path: "$.n", Criteria: "<", Value: "many"}}
		}, path: p0.Child("http").Child("jsonPath").Index(0).Child("value"), msg: "compares numbers"},
		{name: "http json path matches needs a regex", mutate: func(s *E) {
			s.Probes[0].HTTP.JSONPath = []v1alpha1.JSONPathCheck{{Path: "$.s", Criteria: "matches", Value: "[a"}}
		}, path: p0.Child("http").Child("jsonPath").Index(0).Child("value"), msg: "invalid regular expression"},

		// tcp
		{name: "tcp ok", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "tcp", TCP: &v1alpha1.ProbeTCP{Address: "127.0.0.1:6379"}})},
		{name: "tcp address", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "tcp", TCP: &v1alpha1.ProbeTCP{Address: "127.0.0.1"}}),
			path: p0.Child("tcp").Child("address"), msg: "not a host:port address"},
		{name: "tcp nothing", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "tcp", TCP: &v1alpha1.ProbeTCP{}}),
			path: p0.Child("tcp").Child("address"), msg: "required"},

		// cmd
		{name: "cmd ok", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "cmd",
			Cmd: &v1alpha1.ProbeCmd{Command: []string{"true"}, ExpectedExitCode: flPtr(int32(0)), OutputRegex: "^ok"}})},
		{name: "cmd command", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "cmd", Cmd: &v1alpha1.ProbeCmd{}}),
			path: p0.Child("cmd").Child("command"), msg: "required"},
		{name: "cmd exit code", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "cmd",
			Cmd: &v1alpha1.ProbeCmd{Command: []string{"true"}, ExpectedExitCode: flPtr(int32(256))}}),
			path: p0.Child("cmd").Child("expectedExitCode"), msg: "out of range"},
		{name: "cmd output regex", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "cmd",
			Cmd: &v1alpha1.ProbeCmd{Command: []string{"true"}, OutputRegex: "*"}}),
			path: p0.Child("cmd").Child("outputRegex"), msg: "invalid regular expression"},

		// prometheus
		{name: "prometheus ok", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "prometheus",
			Prometheus: &v1alpha1.ProbePrometheus{URL: "http://127.0.0.1:9090", Query: "up", Comparator: &v1alpha1.NumericComparator{Criteria: ">=", Value: 1}}})},
		{name: "prometheus url or service", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "prometheus",
			Prometheus: &v1alpha1.ProbePrometheus{Query: "up", Comparator: &v1alpha1.NumericComparator{Criteria: ">=", Value: 1}}}),
			path: p0.Child("prometheus").Child("url"), msg: "required"},
		{name: "prometheus service ok", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "prometheus",
			Prometheus: &v1alpha1.ProbePrometheus{Service: "prometheus-k8s.monitoring:web", Query: "up", Comparator: &v1alpha1.NumericComparator{Criteria: ">=", Value: 1}}})},
		{name: "prometheus url and service", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "prometheus",
			Prometheus: &v1alpha1.ProbePrometheus{URL: "http://p:9090", Service: "prometheus", Query: "up", Comparator: &v1alpha1.NumericComparator{Criteria: ">=", Value: 1}}}),
			path: p0.Child("prometheus").Child("service"), msg: "exclude"},
		{name: "prometheus query", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "prometheus",
			Prometheus: &v1alpha1.ProbePrometheus{URL: "http://p:9090", Query: " ", Comparator: &v1alpha1.NumericComparator{Criteria: ">=", Value: 1}}}),
			path: p0.Child("prometheus").Child("query"), msg: "required"},
		{name: "prometheus comparator", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "prometheus",
			Prometheus: &v1alpha1.ProbePrometheus{URL: "http://p:9090", Query: "up"}}),
			path: p0.Child("prometheus").Child("comparator"), msg: "required"},
		{name: "prometheus criteria", mutate: withProbe(v1alpha1.ExperimentProbe{Name: "ready", Type: "prometheus",
			Prometheus: &v1alpha1.ProbePrometheus{URL: "http://p:9090", Query: "up", Comparator: &v1alpha1.NumericComparator{Criteria: "contains"}}}),
			path: p0.Child("prometheus").Child("comparator").Child("criteria"), msg: `unknown value "contains"`},

		// inference
		{name: "inference service or url", mutate: func(s *E) { s.Probes[1].Inference.Service = "" },
			path: p1.Child("inference").Child("url"), msg: "required"},
		{name: "inference model", mutate: func(s *E) { s.Probes[1].Inference.Model = "" },
			path: p1.Child("inference").Child("model"), msg: "required"},
		{name: "inference golden set file ok", mutate: func(s *E) { s.Probes[1].Inference.Requests, s.Probes[1].Inference.GoldenSetFile = nil, "golden.json" }},
		{name: "inference golden set missing", mutate: func(s *E) { s.Probes[1].Inference.Requests = nil },
			path: p1.Child("inference").Child("goldenSetFile"), msg: "required"},
		{name: "inference golden set twice", mutate: func(s *E) { s.Probes[1].Inference.GoldenSetFile = "golden.json" },
			path: p1.Child("inference").Child("requests"), msg: "goldenSetFile and requests exclude each other"},
		{name: "inference expected required", mutate: func(s *E) { s.Probes[1].Inference.Requests[0].Expected = nil },
			path: p1.Child("inference").Child("requests").Index(0).Child("expected"), msg: "required"},
		{name: "inference request names unique", mutate: func(s *E) {
			r := s.Probes[1].Inference.Requests
			s.Probes[1].Inference.Requests = append(r, r[0])
		}, path: p1.Child("inference").Child("requests").Index(1).Child("name"), msg: `duplicate request name "u42"`},
		{name: "compare topk ok", mutate: func(s *E) {
			s.Probes[1].Inference.Compare = &v1alpha1.InferenceCompare{Method: "topk", K: 10, MinOverlap: flPtr(0.8)}
		}},
		{name: "compare topk needs k", mutate: func(s *E) { s.Probes[1].Inference.Compare = &v1alpha1.InferenceCompare{Method: "topk"} },
			path: p1.Child("inference").Child("compare").Child("k"), msg: "at least 1"},
		{name: "compare min overlap", mutate: func(s *E) {
			s.Probes[1].Inference.Compare = &v1alpha1.InferenceCompare{Method: "topk", K: 10, MinOverlap: flPtr(1.5)}
		}, path: p1.Child("inference").Child("compare").Child("minOverlap"), msg: "at most 1"},
		{name: "compare numeric ok", mutate: func(s *E) {
			s.Probes[1].Inference.Compare = &v1alpha1.InferenceCompare{Method: "numeric", Tolerance: flPtr(0.001)}
		}},
		{name: "compare tolerance negative", mutate: func(s *E) {
			s.Probes[1].Inference.Compare = &v1alpha1.InferenceCompare{Method: "numeric", Tolerance: flPtr(-1.0)}
		}, path: p1.Child("inference").Child("compare").Child("tolerance"), msg: "must not be negative"},
		{name: "compare k with exact", mutate: func(s *E) { s.Probes[1].Inference.Compare = &v1alpha1.InferenceCompare{K: 3} },
			path: p1.Child("inference").Child("compare").Child("k"), msg: "not used by the exact comparison"},
		{name: "compare tolerance with topk", mutate: func(s *E) {
			s.Probes[1].Inference.Compare = &v1alpha1.InferenceCompare{Method: "topk", K: 3, Tolerance: flPtr(0.1)}
		}, path: p1.Child("inference").Child("compare").Child("tolerance"), msg: "not used by the topk comparison"},
		{name: "compare method", mutate: func(s *E) { s.Probes[1].Inference.Compare = &v1alpha1.InferenceCompare{Method: "top-k"} },
			path: p1.Child("inference").Child("compare").Child("method"), msg: `unknown value "top-k"`, hint: `did you mean "topk"`},
	})
}

func TestSLORules(t *testing.T) {
	type E = v1alpha1.ExperimentSpec
	s0 := Path("spec.slos[0]")
	slo := func(o v1alpha1.SLO) func(*E) {
		return func(s *E) {
			o.Name = "objective"
			s.SLOs = []v1alpha1.SLO{o}
			s.Recovery = nil
		}
	}
	flRun(t, flExperiment, validateExperimentSpec, []flCase[E]{
		{name: "name required", mutate: func(s *E) { s.SLOs[1].Name = "" }, path: "spec.slos[1].name", msg: "required"},
		{name: "names unique", mutate: func(s *E) { s.SLOs[1].Name = "available" }, path: "spec.slos[1].name", msg: `duplicate SLO name "available"`},
		{name: "metric required", mutate: slo(v1alpha1.SLO{Min: flPtr(1.0)}), path: s0.Child("metric"), msg: "required"},
		{name: "metric unknown", mutate: slo(v1alpha1.SLO{Metric: "availabilty", Min: flPtr(1.0)}), path: s0.Child("metric"), msg: `unknown value "availabilty"`, hint: `did you mean "availability"`},
		{name: "phase unknown", mutate: slo(v1alpha1.SLO{Metric: "availability", Phase: "during", Min: flPtr(1.0)}), path: s0.Child("phase"), msg: `unknown value "during"`},
		{name: "phase recovery ok", mutate: slo(v1alpha1.SLO{Metric: "availability", Phase: "recovery", Min: flPtr(99.9)})},
		{name: "bound required", mutate: slo(v1alpha1.SLO{Metric: "availability"}), path: s0.Child("min"), msg: "required"},
		{name: "error rate bound required", mutate: slo(v1alpha1.SLO{Metric: "errorRate"}), path: s0.Child("max"), msg: "required"},
		{name: "availability above 100", mutate: slo(v1alpha1.SLO{Metric: "availability", Min: flPtr(100.5)}), path: s0.Child("min"), msg: "out of range"},
		{name: "error rate negative", mutate: slo(v1alpha1.SLO{Metric: "errorRate", Max: flPtr(-1.0)}), path: s0.Child("max"), msg: "out of range"},
		{name: "error rate ok", mutate: slo(v1alpha1.SLO{Metric: "errorRate", Max: flPtr(0.5)})},
		{name: "min above max", mutate: slo(v1alpha1.SLO{Metric: "availability", Min: flPtr(99.0), Max: flPtr(90.0)}), path: s0.Child("min"), msg: "above max"},
		{name: "throughput above 100 ok", mutate: slo(v1alpha1.SLO{Metric: "throughput", Min: flPtr(450.0)})},
		{name: "percentage with a duration", mutate: slo(v1alpha1.SLO{Metric: "availability", MaxDuration: "1s"}),
			path: s0.Child("maxDuration"), msg: "availability is not a duration"},
		{name: "latency ok", mutate: slo(v1alpha1.SLO{Metric: "latency", Percentile: "p99.9", MaxDuration: "1s"})},
		{name: "latency percentile as a number ok", mutate: slo(v1alpha1.SLO{Metric: "latency", Percentile: "99.5", MaxDuration: "1s"})},
		{name: "latency max percentile ok", mutate: slo(v1alpha1.SLO{Metric: "latency", Percentile: "max", MaxDuration: "1s"})},
		{name: "latency bad percentile", mutate: slo(v1alpha1.SLO{Metric: "latency", Percentile: "p101", MaxDuration: "1s"}),
			path: s0.Child("percentile"), msg: `"p101" is not a percentile`},
		{name: "latency with a number", mutate: slo(v1alpha1.SLO{Metric: "latency", Max: flPtr(500.0)}),
			path: s0.Child("max"), msg: "latency is a duration"},
		{name: "latency bound required", mutate: slo(v1alpha1.SLO{Metric: "latency"}), path: s0.Child("maxDuration"), msg: "required"},
		{name: "latency bad duration", mutate: slo(v1alpha1.SLO{Metric: "latency", MaxDuration: "500"}), path: s0.Child("maxDuration"), msg: "not a duration"},
		{name: "latency min above max", mutate: slo(v1alpha1.SLO{Metric: "latency", MinDuration: "2s", MaxDuration: "1s"}),
			path: s0.Child("minDuration"), msg: "above maxDuration"},
		{name: "percentile of another metric", mutate: slo(v1alpha1.SLO{Metric: "availability", Percentile: "p99", Min: flPtr(99.0)}),
			path: s0.Child("percentile"), msg: "only for latency"},
		{name: "recovery time with phase", mutate: slo(v1alpha1.SLO{Metric: "recoveryTime", Phase: "fault", MaxDuration: "30s"}),
			path: s0.Child("phase"), msg: "measured per fault"},
		{name: "recovery time from injection ok", mutate: slo(v1alpha1.SLO{Metric: "recoveryTime", From: "injection", MaxDuration: "1m"})},
		{name: "recovery time from unknown", mutate: slo(v1alpha1.SLO{Metric: "recoveryTime", From: "start", MaxDuration: "1m"}),
			path: s0.Child("from"), msg: `unknown value "start"`},
		{name: "from of another metric", mutate: slo(v1alpha1.SLO{Metric: "availability", From: "revert", Min: flPtr(99.0)}),
			path: s0.Child("from"), msg: "only for recoveryTime"},
		{name: "consistency of a probe ok", mutate: slo(v1alpha1.SLO{Metric: "consistency", Probe: "golden", Min: flPtr(99.0)})},
		{name: "consistency of an unknown probe", mutate: slo(v1alpha1.SLO{Metric: "consistency", Probe: "ready", Min: flPtr(99.0)}),
			path: s0.Child("probe"), msg: `unknown inference probe "ready"`},
		{name: "consistency without inference probe", mutate: func(s *E) {
			slo(v1alpha1.SLO{Metric: "consistency", Min: flPtr(99.0)})(s)
			s.Probes = s.Probes[:1]
		}, path: s0.Child("metric"), msg: "has none"},
		{name: "probe of another metric", mutate: slo(v1alpha1.SLO{Metric: "availability", Probe: "golden", Min: flPtr(99.0)}),
			path: s0.Child("probe"), msg: "only for consistency"},
		{name: "availability without load", mutate: func(s *E) {
			slo(v1alpha1.SLO{Metric: "availability", Min: flPtr(99.0)})(s)
			s.Load = nil
		}, path: s0.Child("metric"), msg: "has no load"},
	})
}

func TestExperimentNilAndZeroNeverPanic(t *testing.T) {
	var ps Problems
	validateExperimentSpec("spec", nil, &ps)
	s := &v1alpha1.ExperimentSpec{
		Environment: &v1alpha1.ExperimentEnvironment{},
		Load:        &v1alpha1.LoadSpec{Ramp: &v1alpha1.LoadRamp{}, Inference: &v1alpha1.InferenceRequest{Inputs: make([]v1alpha1.InferenceTensor, 1)}},
		Probes:      make([]v1alpha1.ExperimentProbe, 2),
		Faults:      make([]v1alpha1.ExperimentFault, 2),
		Workflow:    &v1alpha1.ExperimentWorkflow{},
		Schedules:   make([]v1alpha1.ExperimentSchedule, 1),
		SLOs:        make([]v1alpha1.SLO, 2),
		Recovery:    &v1alpha1.ExperimentRecovery{SLOs: []string{""}},
	}
	for _, typ := range []v1alpha1.ProbeType{"http", "tcp", "cmd", "prometheus", "inference"} {
		s.Probes[0] = v1alpha1.ExperimentProbe{Type: typ, HTTP: &v1alpha1.ProbeHTTP{}, TCP: &v1alpha1.ProbeTCP{}, Cmd: &v1alpha1.ProbeCmd{},
			Prometheus: &v1alpha1.ProbePrometheus{Comparator: &v1alpha1.NumericComparator{}},
			Inference:  &v1alpha1.ProbeInference{Requests: make([]v1alpha1.GoldenRequest, 1), Compare: &v1alpha1.InferenceCompare{}}}
		validateExperimentSpec("spec", s, &ps)
	}
	for _, m := range []v1alpha1.SLOMetric{"availability", "errorRate", "latency", "recoveryTime", "consistency", "throughput"} {
		s.SLOs[0] = v1alpha1.SLO{Metric: m}
		validateExperimentSpec("spec", s, &ps)
	}
	s.Faults[0].EmbedChaos = v1alpha1.EmbedChaos{NodeChaos: &v1alpha1.NodeChaosSpec{}, ScaleChaos: &v1alpha1.ScaleChaosSpec{}}
	s.Faults[1].EmbedChaos = v1alpha1.EmbedChaos{ModelChaos: &v1alpha1.ModelChaosSpec{}}
	validateExperimentSpec("spec", s, &ps)
	if len(flErrors(ps.List)) == 0 {
		t.Fatal("an empty experiment must be reported")
	}
}
