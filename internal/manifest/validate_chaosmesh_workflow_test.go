package manifest

import (
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func cmNetworkDelay() *v1alpha1.NetworkChaosSpec {
	return &v1alpha1.NetworkChaosSpec{PodSelector: cmSelector(), Action: v1alpha1.NetworkDelay,
		TcParameter: v1alpha1.TcParameter{Delay: &v1alpha1.DelaySpec{Latency: "90ms"}}}
}

func cmPodKill() *v1alpha1.PodChaosSpec {
	return &v1alpha1.PodChaosSpec{ContainerSelector: cmContainerSelector(), Action: v1alpha1.PodKill}
}

func cmHTTPCheck() *v1alpha1.StatusCheckSpec {
	return &v1alpha1.StatusCheckSpec{Type: v1alpha1.StatusCheckHTTP, HTTP: &v1alpha1.HTTPStatusCheck{
		URL: "http://web.default.svc:8080/healthz", Criteria: v1alpha1.HTTPCriteria{StatusCode: "200"}}}
}

// cmWorkflow is a valid workflow: entry runs a network delay, then a pause.
func cmWorkflow() *v1alpha1.WorkflowSpec {
	return &v1alpha1.WorkflowSpec{Entry: "entry", Templates: []v1alpha1.Template{
		{Name: "entry", Type: v1alpha1.TemplateTypeSerial, Children: []string{"delay", "pause"}},
		{Name: "delay", Type: v1alpha1.TemplateTypeNetworkChaos, Deadline: cmPtr("30s"),
			EmbedChaos: v1alpha1.EmbedChaos{NetworkChaos: cmNetworkDelay()}},
		{Name: "pause", Type: v1alpha1.TemplateTypeSuspend, Deadline: cmPtr("10s")},
	}}
}

func TestChaosWorkflowRules(t *testing.T) {
	type S = v1alpha1.WorkflowSpec
	add := func(s *S, t v1alpha1.Template) { s.Templates = append(s.Templates, t) }
	cmRunCases(t, cmWorkflow, validateWorkflowSpec, []cmCase[S]{
		{name: "valid"},
		{name: "entry required", mod: func(s *S) { s.Entry = "" },
			want: []string{"spec.entry: required field is missing | entry: entry"}},
		{name: "entry unknown", mod: func(s *S) { s.Entry = "entri" },
			want: []string{`spec.entry: no template is named "entri" | did you mean "entry"`}},
		{name: "no templates", mod: func(s *S) { s.Templates = nil },
			want: []string{"spec.templates: a workflow needs at least one template",
				`spec.entry: no template is named "entry" | add a template named "entry"`}},
		{name: "duplicate and invalid names", mod: func(s *S) {
			s.Templates[2].Name = "delay"
			add(s, v1alpha1.Template{Name: "Bad_Name", Type: v1alpha1.TemplateTypeSuspend, Deadline: cmPtr("1s")})
			add(s, v1alpha1.Template{Type: v1alpha1.TemplateTypeSuspend, Deadline: cmPtr("1s")})
		}, want: []string{
			`spec.templates[2].name: template name "delay" is already used by templates[1]`,
			`spec.templates[3].name: "Bad_Name" is not a valid name`,
			`warning: spec.templates[3].name: template "Bad_Name" never runs`,
			"spec.templates[4].name: required field is missing",
			`spec.templates[0].children[1]: no template is named "pause"`,
		}},
		{name: "unknown child", mod: func(s *S) { s.Templates[0].Children[1] = "pase" },
			want: []string{`spec.templates[0].children[1]: no template is named "pase" | did you mean "pause"`,
				`warning: spec.templates[2].name: template "pause" never runs`}},
		{name: "self cycle", mod: func(s *S) { s.Templates[0].Children = append(s.Templates[0].Children, "entry") },
			want: []string{"spec.templates[0].children[2]: templates form a cycle: entry -> entry"}},
		{name: "cycle through a child", mod: func(s *S) {
			s.Templates[0].Children = append(s.Templates[0].Children, "loop")
			add(s, v1alpha1.Template{Name: "loop", Type: v1alpha1.TemplateTypeParallel, Children: []string{"pause", "entry"}})
		}, want: []string{"spec.templates[3].children[1]: templates form a cycle: entry -> loop -> entry"}},
		{name: "cycle through a branch", mod: func(s *S) {
			s.Templates[0].Children = append(s.Templates[0].Children, "check")
			add(s, v1alpha1.Template{Name: "check", Type: v1alpha1.TemplateTypeTask,
				Task:                &v1alpha1.Task{Container: &v1alpha1.TaskContainer{Name: "c", Image: "busybox"}},
				ConditionalBranches: []v1alpha1.ConditionalBranch{{Target: "entry", Expression: "exitCode != 0"}}})
		}, want: []string{"spec.templates[3].conditionalBranches[0].target: templates form a cycle: entry -> check -> entry"}},
		{name: "templateType required", mod: func(s *S) { s.Templates[2].Type = "" },
			want: []string{"spec.templates[2].templateType: required field is missing | Serial, Parallel"}},
		{name: "templateType typo", mod: func(s *S) { s.Templates[0].Type = "Seral" },
			want: []string{`spec.templates[0].templateType: unknown value "Seral" | did you mean "Serial"`}},
		{name: "unsupported chaos kind", mod: func(s *S) {
			s.Templates[1].Type, s.Templates[1].EmbedChaos = "AWSChaos", v1alpha1.EmbedChaos{AWSChaos: map[string]any{"action": "ec2-stop"}}
		}, want: []string{
			"spec.templates[1].templateType: AWSChaos is a Chaos Mesh kind faultline does not support | faultline runs PodChaos, NetworkChaos",
			"spec.templates[1].awsChaos: awsChaos (AWSChaos) is not supported by faultline | NodeChaos, ScaleChaos, ModelChaos",
		}},
		{name: "serial needs children", mod: func(s *S) { s.Entry, s.Templates[0].Children = "pause", nil },
			want: []string{"spec.templates[0].children: a Serial template needs children",
				`warning: spec.templates[0].name: template "entry" never runs`, `warning: spec.templates[1].name: template "delay" never runs`}},
		{name: "suspend needs deadline", mod: func(s *S) { s.Templates[2].Deadline = nil },
			want: []string{"spec.templates[2].deadline: a Suspend template needs a deadline"}},
		{name: "bad deadline", mod: func(s *S) { s.Templates[2].Deadline = cmPtr("10") },
			want: []string{`spec.templates[2].deadline: "10" is not a duration`}},
		{name: "fields the type does not use", mod: func(s *S) {
			s.Templates[2].Children = []string{"delay"}
			s.Templates[2].AbortWithStatusCheck = true
			s.Templates[2].PodChaos = cmPodKill()
		}, want: []string{
			"spec.templates[2].children: children is not used by a Suspend template | Serial or Parallel",
			"spec.templates[2].abortWithStatusCheck: abortWithStatusCheck is not used by a Suspend template | StatusCheck",
			"spec.templates[2].podChaos: podChaos is not used by a Suspend template | templateType: PodChaos",
		}},
		{name: "chaos template needs its spec", mod: func(s *S) { s.Templates[1].NetworkChaos = nil },
			want: []string{"spec.templates[1].networkChaos: type NetworkChaos needs its spec in networkChaos"}},
		{name: "chaos template with another spec", mod: func(s *S) { s.Templates[1].PodChaos = cmPodKill() },
			want: []string{"spec.templates[1].podChaos: podChaos is set, but the type is NetworkChaos | only networkChaos"}},
		{name: "chaos template validates its spec", mod: func(s *S) { s.Templates[1].NetworkChaos.Mode = "" },
			want: []string{"spec.templates[1].networkChaos.mode: required field is missing"}},
		{name: "chaos template takes no duration", mod: func(s *S) { s.Templates[1].NetworkChaos.Duration = cmPtr("10s") },
			want: []string{"spec.templates[1].networkChaos.duration: a chaos template in a Workflow takes no duration | deadline"}},
		{name: "chaos template without deadline", mod: func(s *S) { s.Templates[1].Deadline = nil },
			want: []string{"warning: spec.templates[1].deadline: this chaos template has no deadline"}},
		{name: "pod-kill needs no deadline", mod: func(s *S) {
			s.Templates[1] = v1alpha1.Template{Name: "delay", Type: v1alpha1.TemplateTypePodChaos,
				EmbedChaos: v1alpha1.EmbedChaos{PodChaos: cmPodKill()}}
		}},
		{name: "task", mod: func(s *S) {
			s.Templates[0].Children = append(s.Templates[0].Children, "check", "empty")
			add(s, v1alpha1.Template{Name: "check", Type: v1alpha1.TemplateTypeTask,
				Task: &v1alpha1.Task{Container: &v1alpha1.TaskContainer{ImagePullPolicy: "always",
					Env: []v1alpha1.TaskEnvVar{{Value: "x"}}}, Labels: map[string]string{"team": "sre team"}},
				ConditionalBranches: []v1alpha1.ConditionalBranch{
					{Target: "pause"}, {Target: "nope", Expression: "exitCode == 0"},
					{Target: "pause", Expression: `stdout == "ok`}, {Expression: "(exitCode == 0"}}})
			add(s, v1alpha1.Template{Name: "empty", Type: v1alpha1.TemplateTypeTask})
		}, want: []string{
			"spec.templates[3].task.container.name: required field is missing",
			"spec.templates[3].task.container: the task container has neither image nor command",
			`spec.templates[3].task.container.imagePullPolicy: unknown value "always" | did you mean "Always"`,
			"spec.templates[3].task.container.env[0].name: required field is missing",
			`spec.templates[3].task.labels.team: "sre team" is not a valid label value`,
			"warning: spec.templates[3].conditionalBranches[0].expression: a branch without expression is always taken",
			`spec.templates[3].conditionalBranches[1].target: no template is named "nope"`,
			"spec.templates[3].conditionalBranches[2].expression: unterminated string",
			"spec.templates[3].conditionalBranches[3].target: required field is missing",
			`spec.templates[3].conditionalBranches[3].expression: unclosed "("`,
			"spec.templates[4].task.container: a Task template needs task.container",
		}},
		{name: "valid task with branches", mod: func(s *S) {
			s.Entry = "check"
			add(s, v1alpha1.Template{Name: "check", Type: v1alpha1.TemplateTypeTask,
				Task: &v1alpha1.Task{Container: &v1alpha1.TaskContainer{Name: "main", Image: "busybox", Command: []string{"echo", "a"}}},
				ConditionalBranches: []v1alpha1.ConditionalBranch{
					{Target: "entry", Expression: `exitCode == 0 && stdout == "a"`}, {Target: "pause", Expression: "exitCode != 0"}}})
		}},
		{name: "status check template", mod: func(s *S) {
			s.Templates[0].Children = append(s.Templates[0].Children, "check", "check2")
			add(s, v1alpha1.Template{Name: "check", Type: v1alpha1.TemplateTypeStatusCheck, AbortWithStatusCheck: true})
			sc := cmHTTPCheck()
			sc.Mode, sc.HTTP.URL = v1alpha1.StatusCheckContinuous, ""
			add(s, v1alpha1.Template{Name: "check2", Type: v1alpha1.TemplateTypeStatusCheck, StatusCheck: sc})
		}, want: []string{
			"spec.templates[3].statusCheck: a StatusCheck template needs statusCheck",
			"spec.templates[4].statusCheck.http.url: required field is missing",
			"warning: spec.templates[4].statusCheck.duration: a Continuous status check without duration runs until it fails",
		}},
		{name: "valid continuous status check with deadline", mod: func(s *S) {
			s.Templates[0].Type, s.Templates[0].Children = v1alpha1.TemplateTypeParallel, append(s.Templates[0].Children, "check")
			sc := cmHTTPCheck()
			sc.Mode = v1alpha1.StatusCheckContinuous
			add(s, v1alpha1.Template{Name: "check", Type: v1alpha1.TemplateTypeStatusCheck, Deadline: cmPtr("20s"),
				StatusCheck: sc, AbortWithStatusCheck: true})
		}},
		{name: "schedule template", mod: func(s *S) {
			s.Templates[0].Children = append(s.Templates[0].Children, "sched", "sched2")
			add(s, v1alpha1.Template{Name: "sched", Type: v1alpha1.TemplateTypeSchedule, Deadline: cmPtr("1m")})
			add(s, v1alpha1.Template{Name: "sched2", Type: v1alpha1.TemplateTypeSchedule,
				Schedule: &v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 2s", Type: v1alpha1.ScheduleTypeWorkflow}})
		}, want: []string{
			"spec.templates[3].schedule: a Schedule template needs schedule",
			"spec.templates[4].schedule.type: a Schedule template inside a Workflow cannot schedule a Workflow",
			"warning: spec.templates[4].deadline: a Schedule template without deadline keeps scheduling",
		}},
		{name: "valid schedule template", mod: func(s *S) {
			s.Templates[0].Children = append(s.Templates[0].Children, "sched")
			add(s, v1alpha1.Template{Name: "sched", Type: v1alpha1.TemplateTypeSchedule, Deadline: cmPtr("40s"),
				Schedule: &v1alpha1.ChaosOnlyScheduleSpec{Schedule: "@every 2s", ConcurrencyPolicy: v1alpha1.ConcurrencyAllow,
					Type: v1alpha1.ScheduleTypePodChaos, EmbedChaos: v1alpha1.EmbedChaos{PodChaos: cmPodKill()}}})
		}},
		{name: "unreachable template", mod: func(s *S) {
			add(s, v1alpha1.Template{Name: "orphan", Type: v1alpha1.TemplateTypeSuspend, Deadline: cmPtr("1s")})
		}, want: []string{`warning: spec.templates[3].name: template "orphan" never runs: entry "entry" does not lead to it`}},
	})
}

func TestChaosScheduleRules(t *testing.T) {
	base := func() *v1alpha1.ScheduleSpec {
		return &v1alpha1.ScheduleSpec{ChaosOnlyScheduleSpec: v1alpha1.ChaosOnlyScheduleSpec{
			Schedule: "@every 1m", Type: v1alpha1.ScheduleTypePodChaos, HistoryLimit: cmPtr(5),
			ConcurrencyPolicy: v1alpha1.ConcurrencyForbid, EmbedChaos: v1alpha1.EmbedChaos{PodChaos: cmPodKill()}}}
	}
	type S = v1alpha1.ScheduleSpec
	cmRunCases(t, base, validateScheduleSpec, []cmCase[S]{
		{name: "valid @every"},
		{name: "valid five fields", mod: func(s *S) { s.Schedule = "5 * * * *" }},
		{name: "valid six fields with seconds", mod: func(s *S) { s.Schedule = "0 */5 * * * *" }},
		{name: "valid descriptor", mod: func(s *S) { s.Schedule = "@hourly" }},
		{name: "valid time zone", mod: func(s *S) { s.Schedule = "CRON_TZ=UTC 0 3 * * *" }},
		{name: "schedule required", mod: func(s *S) { s.Schedule = "" },
			want: []string{"spec.schedule: required field is missing | @every 10m"}},
		{name: "bad minute", mod: func(s *S) { s.Schedule = "61 * * * *" },
			want: []string{`spec.schedule: "61 * * * *" is not a cron schedule`}},
		{name: "every negative", mod: func(s *S) { s.Schedule = "@every -1s" },
			want: []string{"spec.schedule: @every needs a positive duration"}},
		{name: "every not a duration", mod: func(s *S) { s.Schedule = "@every often" },
			want: []string{`spec.schedule: @every needs a duration, not "often"`}},
		{name: "every rounded", mod: func(s *S) { s.Schedule = "@every 1500ms" },
			want: []string{"warning: spec.schedule: @every 1500ms is rounded to whole seconds"}},
		{name: "time zone without expression does not panic", mod: func(s *S) { s.Schedule = "TZ=UTC" },
			want: []string{`spec.schedule: "TZ=UTC" is not a cron schedule`}},
		{name: "policies", mod: func(s *S) {
			s.ConcurrencyPolicy, s.HistoryLimit, s.StartingDeadlineSeconds = "forbid", cmPtr(0), cmPtr[int64](-1)
		}, want: []string{
			`spec.concurrencyPolicy: unknown value "forbid" | did you mean "Forbid"`,
			"spec.historyLimit: historyLimit 0 is less than 1",
			"spec.startingDeadlineSeconds: startingDeadlineSeconds -1 is negative",
		}},
		{name: "type required", mod: func(s *S) { s.Type = "" },
			want: []string{"spec.type: required field is missing | PodChaos"}},
		{name: "type typo", mod: func(s *S) { s.Type = "PodChaoss" },
			want: []string{`spec.type: unknown value "PodChaoss" | did you mean "PodChaos"`}},
		{name: "unsupported type", mod: func(s *S) { s.Type, s.PodChaos, s.JVMChaos = "JVMChaos", nil, map[string]any{} },
			want: []string{"spec.type: JVMChaos is a Chaos Mesh kind faultline does not support",
				"spec.jvmChaos: jvmChaos (JVMChaos) is not supported by faultline"}},
		{name: "type and spec disagree", mod: func(s *S) { s.PodChaos, s.NetworkChaos = nil, cmNetworkDelay() },
			want: []string{"spec.podChaos: type PodChaos needs its spec in podChaos",
				"spec.networkChaos: networkChaos is set, but the type is PodChaos"}},
		{name: "embedded spec is validated", mod: func(s *S) { s.PodChaos.Action = "" },
			want: []string{"spec.podChaos.action: required field is missing"}},
		{name: "embedded spec may have a duration", mod: func(s *S) { s.PodChaos.Action, s.PodChaos.Duration = v1alpha1.PodFailure, cmPtr("30s") }},
		{name: "workflow needs workflow", mod: func(s *S) { s.Type, s.PodChaos = v1alpha1.ScheduleTypeWorkflow, nil },
			want: []string{"spec.workflow: type Workflow needs workflow"}},
		{name: "workflow with chaos", mod: func(s *S) { s.Type, s.Workflow = v1alpha1.ScheduleTypeWorkflow, cmWorkflow() },
			want: []string{"spec.podChaos: podChaos is not used when type is Workflow"}},
		{name: "valid workflow", mod: func(s *S) { s.Type, s.PodChaos, s.Workflow = v1alpha1.ScheduleTypeWorkflow, nil, cmWorkflow() }},
		{name: "nested workflow is validated", mod: func(s *S) {
			s.Type, s.PodChaos, s.Workflow = v1alpha1.ScheduleTypeWorkflow, nil, cmWorkflow()
			s.Workflow.Entry = ""
		}, want: []string{"spec.workflow.entry: required field is missing"}},
		{name: "workflow with chaos type", mod: func(s *S) { s.Workflow = cmWorkflow() },
			want: []string{"spec.workflow: workflow is only used when type is Workflow"}},
	})
}

func TestChaosStatusCheckRules(t *testing.T) {
	type S = v1alpha1.StatusCheckSpec
	cmRunCases(t, cmHTTPCheck, validateStatusCheckSpec, []cmCase[S]{
		{name: "valid"},
		{name: "valid full", mod: func(s *S) {
			s.Mode, s.Duration = v1alpha1.StatusCheckSynchronous, cmPtr("1m")
			s.TimeoutSeconds, s.IntervalSeconds, s.FailureThreshold, s.SuccessThreshold, s.RecordsHistoryLimit =
				cmPtr(1), cmPtr(5), cmPtr(3), cmPtr(1), cmPtr(1000)
			s.HTTP.Method, s.HTTP.Body = v1alpha1.StatusCheckPost, `{"q": 1}`
			s.HTTP.Headers = map[string][]string{"Content-Type": {"application/json"}}
			s.HTTP.Criteria.StatusCode = "200-399"
		}},
		{name: "type defaults to HTTP", mod: func(s *S) { s.Type = "" }},
		{name: "type enum", mod: func(s *S) { s.Type = "TCP" },
			want: []string{`spec.type: unknown value "TCP" | HTTP`}},
		{name: "http required", mod: func(s *S) { s.HTTP = nil },
			want: []string{"spec.http: a status check of type HTTP needs http"}},
		{name: "url", mod: func(s *S) { s.HTTP.URL = "ftp://host/x" },
			want: []string{`spec.http.url: "ftp://host/x" is not an absolute http(s) URL`}},
		{name: "relative url", mod: func(s *S) { s.HTTP.URL = "/healthz" },
			want: []string{`spec.http.url: "/healthz" is not an absolute http(s) URL`}},
		{name: "method", mod: func(s *S) { s.HTTP.Method = "PUT" },
			want: []string{`spec.http.method: unknown value "PUT" | GET, POST`}},
		{name: "body with GET", mod: func(s *S) { s.HTTP.Body = "x" },
			want: []string{"warning: spec.http.body: a GET request with a body"}},
		{name: "header name", mod: func(s *S) { s.HTTP.Headers = map[string][]string{"Bad Header": {"x"}} },
			want: []string{`spec.http.headers["Bad Header"]: not a valid HTTP header name`}},
		{name: "status code required", mod: func(s *S) { s.HTTP.Criteria.StatusCode = "" },
			want: []string{`spec.http.criteria.statusCode: required field is missing | "200-399"`}},
		{name: "status code not a number", mod: func(s *S) { s.HTTP.Criteria.StatusCode = "OK" },
			want: []string{`spec.http.criteria.statusCode: "OK" is not an HTTP status code`}},
		{name: "status code out of range", mod: func(s *S) { s.HTTP.Criteria.StatusCode = "700" },
			want: []string{`spec.http.criteria.statusCode: "700" is not an HTTP status code`}},
		{name: "status code half range", mod: func(s *S) { s.HTTP.Criteria.StatusCode = "200-" },
			want: []string{`spec.http.criteria.statusCode: "200-" is not a range`}},
		{name: "status code reversed range", mod: func(s *S) { s.HTTP.Criteria.StatusCode = "399-200" },
			want: []string{`spec.http.criteria.statusCode: range "399-200" starts after it ends | "200-399"`}},
		{name: "mode typo", mod: func(s *S) { s.Mode = "continuous" },
			want: []string{`spec.mode: unknown value "continuous" | did you mean "Continuous"`}},
		{name: "thresholds", mod: func(s *S) {
			s.FailureThreshold, s.SuccessThreshold, s.TimeoutSeconds, s.IntervalSeconds, s.RecordsHistoryLimit =
				cmPtr(0), cmPtr(-1), cmPtr(0), cmPtr(0), cmPtr(2000)
		}, want: []string{
			"spec.failureThreshold: failureThreshold 0 is less than 1",
			"spec.successThreshold: successThreshold -1 is less than 1",
			"spec.timeoutSeconds: timeoutSeconds 0 is less than 1",
			"spec.intervalSeconds: intervalSeconds 0 is less than 1",
			"spec.recordsHistoryLimit: recordsHistoryLimit 2000 is more than 1000",
		}},
		{name: "continuous", mod: func(s *S) { s.Mode, s.SuccessThreshold = v1alpha1.StatusCheckContinuous, cmPtr(2) },
			want: []string{"warning: spec.successThreshold: successThreshold is only used in Synchronous mode",
				"warning: spec.duration: a Continuous status check without duration runs until it fails"}},
		{name: "valid continuous", mod: func(s *S) { s.Mode, s.Duration = v1alpha1.StatusCheckContinuous, cmPtr("5m") }},
		{name: "bad duration", mod: func(s *S) { s.Duration = cmPtr("forever") },
			want: []string{`spec.duration: "forever" is not a duration`}},
	})
}

func TestChaosEmbedChaos(t *testing.T) {
	p := Path("spec.templates[0]")
	for _, c := range []struct {
		name string
		e    *v1alpha1.EmbedChaos
		typ  string
		want []string
	}{
		{name: "nil", e: nil, typ: "PodChaos", want: []string{"spec.templates[0].podChaos: type PodChaos needs its spec in podChaos"}},
		{name: "match", e: &v1alpha1.EmbedChaos{PodChaos: cmPodKill()}, typ: "PodChaos"},
		{name: "faultline kind missing", e: &v1alpha1.EmbedChaos{}, typ: "NodeChaos",
			want: []string{"spec.templates[0].nodeChaos: type NodeChaos needs its spec in nodeChaos"}},
		{name: "two specs", e: &v1alpha1.EmbedChaos{PodChaos: cmPodKill(), NetworkChaos: cmNetworkDelay()}, typ: "NetworkChaos",
			want: []string{"spec.templates[0].podChaos: podChaos is set, but the type is NetworkChaos"}},
		{name: "unsupported", e: &v1alpha1.EmbedChaos{PodChaos: cmPodKill(), KernelChaos: map[string]any{}, PhysicalMachineChaos: "x"}, typ: "PodChaos",
			want: []string{"spec.templates[0].kernelChaos: kernelChaos (KernelChaos) is not supported by faultline",
				"spec.templates[0].physicalmachineChaos: physicalmachineChaos (PhysicalMachineChaos) is not supported"}},
		{name: "type not a chaos kind leaves the type to the caller", e: &v1alpha1.EmbedChaos{GCPChaos: map[string]any{}}, typ: "GCPChaos",
			want: []string{"spec.templates[0].gcpChaos: gcpChaos (GCPChaos) is not supported by faultline"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ps Problems
			validateEmbedChaos(p, c.e, c.typ, &ps)
			cmCheck(t, ps.List, c.want)
		})
	}
}

func TestChaosParseCron(t *testing.T) {
	for _, expr := range []string{"*/5 * * * *", "0 */5 * * * *", "@daily", "@every 2m", " @every 10s ", "TZ=Europe/Paris 0 3 * * *"} {
		if _, err := ParseCron(expr); err != nil {
			t.Errorf("ParseCron(%q): %v", expr, err)
		}
	}
	for _, expr := range []string{"", "* * *", "@every 0s", "@yearlyish", "TZ=UTC", "CRON_TZ=", "TZ=Nowhere/City * * * * *"} {
		if _, err := ParseCron(expr); err == nil {
			t.Errorf("ParseCron(%q) accepted", expr)
		}
	}
}

// TestChaosEmbedDispatch checks that every embedded Chaos Mesh spec reaches
// its kind's validator: an empty spec must fail under its own field.
func TestChaosEmbedDispatch(t *testing.T) {
	specs := map[string]func(e *v1alpha1.EmbedChaos){
		"PodChaos":     func(e *v1alpha1.EmbedChaos) { e.PodChaos = &v1alpha1.PodChaosSpec{} },
		"NetworkChaos": func(e *v1alpha1.EmbedChaos) { e.NetworkChaos = &v1alpha1.NetworkChaosSpec{} },
		"StressChaos":  func(e *v1alpha1.EmbedChaos) { e.StressChaos = &v1alpha1.StressChaosSpec{} },
		"HTTPChaos":    func(e *v1alpha1.EmbedChaos) { e.HTTPChaos = &v1alpha1.HTTPChaosSpec{} },
		"IOChaos":      func(e *v1alpha1.EmbedChaos) { e.IOChaos = &v1alpha1.IOChaosSpec{} },
		"DNSChaos":     func(e *v1alpha1.EmbedChaos) { e.DNSChaos = &v1alpha1.DNSChaosSpec{} },
		"TimeChaos":    func(e *v1alpha1.EmbedChaos) { e.TimeChaos = &v1alpha1.TimeChaosSpec{} },
	}
	for kind, set := range specs {
		var e v1alpha1.EmbedChaos
		set(&e)
		var ps Problems
		validateEmbedChaos("spec", &e, kind, &ps)
		field, _ := v1alpha1.EmbedChaosField(kind)
		want := Path("spec." + field + ".mode")
		found := false
		for _, p := range ps.List {
			found = found || p.Path == want
		}
		if !found {
			t.Errorf("%s: no problem at %s; got %s", kind, want, cmFormatAll(ps.List))
		}
	}
}
