package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

var (
	flProbeTypes = []string{string(v1alpha1.ProbeHTTPType), string(v1alpha1.ProbeTCPType), string(v1alpha1.ProbeCmdType),
		string(v1alpha1.ProbePrometheusType), string(v1alpha1.ProbeInferenceType)}
	flProbeModes = []string{string(v1alpha1.ProbeModeSOT), string(v1alpha1.ProbeModeEOT), string(v1alpha1.ProbeModeEdge),
		string(v1alpha1.ProbeModeContinuous), string(v1alpha1.ProbeModeOnChaos)}
	flNumericOps = []string{string(v1alpha1.OpEqual), string(v1alpha1.OpNotEqual), string(v1alpha1.OpGreater),
		string(v1alpha1.OpGreaterOrEqual), string(v1alpha1.OpLess), string(v1alpha1.OpLessOrEqual)}
	flAllOps       = append(append([]string(nil), flNumericOps...), string(v1alpha1.OpContains), string(v1alpha1.OpMatches))
	flCompareTypes = []string{string(v1alpha1.CompareExact), string(v1alpha1.CompareTopK), string(v1alpha1.CompareNumeric)}
)

func validateExperimentProbe(p Path, pr *v1alpha1.ExperimentProbe, sc *experimentScope, ps *Problems) {
	typeOK := false
	if pr.Type == "" {
		ps.Required(p.Child("type"), "valid values: "+strings.Join(flProbeTypes, ", "))
	} else {
		typeOK = validateEnum(p.Child("type"), string(pr.Type), flProbeTypes, ps)
	}
	validateEnum(p.Child("mode"), string(pr.Mode), flProbeModes, ps)
	if _, ok := flDuration(p.Child("interval"), pr.Interval, false, false, ps); ok {
		switch pr.Mode {
		case v1alpha1.ProbeModeSOT, v1alpha1.ProbeModeEOT, v1alpha1.ProbeModeEdge:
			ps.Warn(p.Child("interval"), fmt.Sprintf("interval is not used by %s probes, which check once", pr.Mode),
				"remove interval, or use mode Continuous or OnChaos")
		}
	}
	flDuration(p.Child("initialDelay"), pr.InitialDelay, false, true, ps)
	flDuration(p.Child("timeout"), pr.Timeout, false, false, ps)
	if pr.Retries < 0 {
		ps.Add(p.Child("retries"), fmt.Sprintf("retries must not be negative, got %d", pr.Retries), "write 0 or more")
	}
	if !typeOK {
		return
	}

	// type names the field holding the settings; the others stay empty.
	blocks := []struct {
		t   v1alpha1.ProbeType
		set bool
	}{
		{v1alpha1.ProbeHTTPType, pr.HTTP != nil},
		{v1alpha1.ProbeTCPType, pr.TCP != nil},
		{v1alpha1.ProbeCmdType, pr.Cmd != nil},
		{v1alpha1.ProbePrometheusType, pr.Prometheus != nil},
		{v1alpha1.ProbeInferenceType, pr.Inference != nil},
	}
	settings := false
	for _, b := range blocks {
		switch {
		case b.t == pr.Type:
			settings = b.set
			if !b.set {
				ps.Required(p.Child(string(b.t)), fmt.Sprintf("a probe of type %s takes its settings in %s: {...}", b.t, b.t))
			}
		case b.set:
			ps.Add(p.Child(string(b.t)), fmt.Sprintf("a probe of type %s takes no %s settings", pr.Type, b.t),
				fmt.Sprintf("remove %s, or set type: %s", b.t, b.t))
		}
	}
	if !settings {
		return
	}
	switch pr.Type {
	case v1alpha1.ProbeHTTPType:
		validateProbeHTTP(p.Child("http"), pr.HTTP, sc, ps)
	case v1alpha1.ProbeTCPType:
		tp := p.Child("tcp")
		switch flExclusive(tp, true, "write address: host:port, or service: NAME", ps,
			flField{"address", pr.TCP.Address != ""}, flField{"service", pr.TCP.Service != ""}) {
		case "address":
			flHostPort(tp.Child("address"), pr.TCP.Address, ps)
		case "service":
			flService(tp.Child("service"), pr.TCP.Service, sc, ps)
		}
	case v1alpha1.ProbeCmdType:
		cp := p.Child("cmd")
		flCommand(cp.Child("command"), pr.Cmd.Command, "write the command and its arguments, e.g. [sh, -c, \"curl -fsS $WEB_URL/healthz\"]", ps)
		if c := pr.Cmd.ExpectedExitCode; c != nil && (*c < 0 || *c > 255) {
			ps.Add(cp.Child("expectedExitCode"), fmt.Sprintf("exit code %d is out of range", *c), "write an exit code from 0 to 255")
		}
		if pr.Cmd.OutputRegex != "" {
			flRegexp(cp.Child("outputRegex"), pr.Cmd.OutputRegex, ps)
		}
	case v1alpha1.ProbePrometheusType:
		validateProbePrometheus(p.Child("prometheus"), pr.Prometheus, sc, ps)
	case v1alpha1.ProbeInferenceType:
		validateProbeInference(p.Child("inference"), pr.Inference, sc, ps)
	}
}

func validateProbeHTTP(p Path, h *v1alpha1.ProbeHTTP, sc *experimentScope, ps *Problems) {
	switch flExclusive(p, true, "write url: http://host:port/path, or service: NAME with path", ps,
		flField{"url", h.URL != ""}, flField{"service", h.Service != ""}) {
	case "url":
		flHTTPURL(p.Child("url"), h.URL, ps)
		if h.Path != "" {
			ps.Add(p.Child("path"), "path is for a service; a url carries its own path",
				"write the path in url and remove path")
		}
	case "service":
		flService(p.Child("service"), h.Service, sc, ps)
		flPath(p.Child("path"), h.Path, ps)
	}
	flHTTPMethod(p.Child("method"), h.Method, ps)
	flHeaderNames(p.Child("headers"), h.Headers, ps)
	flStatusCodes(p.Child("expectedStatus"), h.ExpectedStatus, ps)
	if h.BodyRegex != "" {
		flRegexp(p.Child("bodyRegex"), h.BodyRegex, ps)
	}
	for i := range h.JSONPath {
		validateJSONPathCheck(p.Child("jsonPath").Index(i), &h.JSONPath[i], ps)
	}
}

func validateJSONPathCheck(p Path, c *v1alpha1.JSONPathCheck, ps *Problems) {
	if c.Path == "" {
		ps.Required(p.Child("path"), "write where the value is, e.g. $.status or $.outputs[0].data[0]")
	} else if !strings.HasPrefix(c.Path, "$") {
		ps.Add(p.Child("path"), fmt.Sprintf("JSON path %q must start with $", c.Path), fmt.Sprintf("write $.%s", strings.TrimPrefix(c.Path, ".")))
	}
	op := c.Criteria
	if op != "" && !validateEnum(p.Child("criteria"), string(op), flAllOps, ps) {
		return
	}
	switch op {
	case v1alpha1.OpGreater, v1alpha1.OpGreaterOrEqual, v1alpha1.OpLess, v1alpha1.OpLessOrEqual:
		if _, err := strconv.ParseFloat(strings.TrimSpace(c.Value), 64); err != nil {
			ps.Add(p.Child("value"), fmt.Sprintf("%s compares numbers, but %q is not a number", op, c.Value), `write a number as a string, e.g. "0.5"`)
		}
	case v1alpha1.OpMatches:
		flRegexp(p.Child("value"), c.Value, ps)
	}
}

func validateProbePrometheus(p Path, pr *v1alpha1.ProbePrometheus, sc *experimentScope, ps *Problems) {
	switch flExclusive(p, true, "write url: http://host:9090 of the Prometheus server, or service: NAME (in a cluster e.g. prometheus-k8s.monitoring:web)", ps,
		flField{"url", pr.URL != ""}, flField{"service", pr.Service != ""}) {
	case "url":
		flHTTPURL(p.Child("url"), pr.URL, ps)
	case "service":
		flService(p.Child("service"), pr.Service, sc, ps)
	}
	if strings.TrimSpace(pr.Query) == "" {
		ps.Required(p.Child("query"), `write a PromQL expression, e.g. sum(rate(http_requests_total{code=~"5.."}[1m]))`)
	}
	cp := p.Child("comparator")
	if pr.Comparator == nil {
		ps.Required(cp, `write comparator: {criteria: "<=", value: 0.01}`)
		return
	}
	if pr.Comparator.Criteria == "" {
		ps.Required(cp.Child("criteria"), "valid values: "+strings.Join(flNumericOps, ", "))
	} else {
		validateEnum(cp.Child("criteria"), string(pr.Comparator.Criteria), flNumericOps, ps)
	}
	if !flFinite(pr.Comparator.Value) {
		ps.Add(cp.Child("value"), "value must be a finite number", "write a number such as 0.99")
	}
}

func validateProbeInference(p Path, in *v1alpha1.ProbeInference, sc *experimentScope, ps *Problems) {
	switch flExclusive(p, true, "write service: NAME, or url: http://host:port of the inference server", ps,
		flField{"url", in.URL != ""}, flField{"service", in.Service != ""}) {
	case "url":
		flHTTPURL(p.Child("url"), in.URL, ps)
	case "service":
		flService(p.Child("service"), in.Service, sc, ps)
	}
	if in.Model == "" {
		ps.Required(p.Child("model"), "write the model's name as served, e.g. recsys")
	}
	if flExclusive(p, true, "write goldenSetFile: golden.json, or the golden requests inline under requests", ps,
		flField{"goldenSetFile", in.GoldenSetFile != ""}, flField{"requests", len(in.Requests) > 0}) == "requests" {
		rp := p.Child("requests")
		seen := map[string]int{}
		for i := range in.Requests {
			r := &in.Requests[i]
			ip := rp.Index(i)
			if r.Name != "" {
				if first, dup := seen[r.Name]; dup {
					ps.Add(ip.Child("name"), fmt.Sprintf("duplicate request name %q", r.Name),
						fmt.Sprintf("names identify mismatches in reports; %s already uses it", rp.Index(first).Child("name")))
				} else {
					seen[r.Name] = i
				}
			}
			validateInferenceTensors(ip.Child("inputs"), r.Inputs, "input", ps)
			validateInferenceTensors(ip.Child("expected"), r.Expected, "expected output", ps)
		}
	}
	if c := in.Compare; c != nil {
		validateInferenceCompare(p.Child("compare"), c, ps)
	}
}

func validateInferenceCompare(p Path, c *v1alpha1.InferenceCompare, ps *Problems) {
	if !validateEnum(p.Child("method"), string(c.Method), flCompareTypes, ps) {
		return
	}
	method := c.Method
	if method == "" {
		method = v1alpha1.CompareExact
	}
	notFor := func(field string) {
		ps.Add(p.Child(field), fmt.Sprintf("%s is not used by the %s comparison", field, method),
			fmt.Sprintf("remove %s, or set method: %s", field, map[string]string{"k": "topk", "minOverlap": "topk", "tolerance": "numeric"}[field]))
	}
	if method == v1alpha1.CompareTopK {
		if c.K < 1 {
			ps.Add(p.Child("k"), fmt.Sprintf("topk needs k of at least 1, got %d", c.K), "write how many leading items are compared, e.g. k: 10")
		}
		if m := c.MinOverlap; m != nil && !(*m > 0 && *m <= 1) {
			ps.Add(p.Child("minOverlap"), fmt.Sprintf("minOverlap must be above 0 and at most 1, got %v", *m),
				"write the share of the top k that must agree, e.g. 0.8 for 8 of 10")
		}
	} else {
		if c.K != 0 {
			notFor("k")
		}
		if c.MinOverlap != nil {
			notFor("minOverlap")
		}
	}
	if method == v1alpha1.CompareNumeric {
		if t := c.Tolerance; t != nil && !(*t >= 0 && flFinite(*t)) {
			ps.Add(p.Child("tolerance"), fmt.Sprintf("tolerance must not be negative, got %v", *t),
				"write the largest allowed difference per element, e.g. 0.001")
		}
	} else if c.Tolerance != nil {
		notFor("tolerance")
	}
}
