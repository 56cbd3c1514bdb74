package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// ReplicaHeader is the response header a server (or faultline's gateway)
// sets to say which replica answered; the OIP response's
// parameters.replica is read when the header is absent.
const ReplicaHeader = "X-Replica"

type inferenceProbe struct {
	name    string
	spec    v1alpha1.ProbeInference
	env     Env
	client  *http.Client
	golden  GoldenSet
	bodies  [][]byte // each golden request's JSON body, encoded once
	compare comparison
}

// comparison is a resolved InferenceCompare: method with defaults applied.
type comparison struct {
	method     v1alpha1.CompareMethod
	k          int
	minOverlap float64
	tolerance  float64
}

func newInference(name string, spec v1alpha1.ProbeInference, env Env) (*inferenceProbe, error) {
	if (spec.URL == "") == (spec.Service == "") {
		return nil, errors.New("inference: exactly one of url and service is required")
	}
	if spec.Service != "" && env == nil {
		return nil, fmt.Errorf("inference: service %q needs an environment to resolve it", spec.Service)
	}
	if spec.Model == "" {
		return nil, errors.New("inference: model is required")
	}
	cmp, err := comparisonOf(spec.Compare)
	if err != nil {
		return nil, fmt.Errorf("inference: %w", err)
	}
	var gs GoldenSet
	switch {
	case spec.GoldenSetFile != "" && len(spec.Requests) > 0:
		return nil, errors.New("inference: goldenSetFile and requests are exclusive")
	case spec.GoldenSetFile != "":
		if env == nil {
			return nil, errors.New("inference: goldenSetFile needs an environment to read it")
		}
		data, err := env.ReadFile(spec.GoldenSetFile)
		if err != nil {
			return nil, fmt.Errorf("inference: %w", err)
		}
		if gs, err = ParseGoldenSet(spec.GoldenSetFile, data); err != nil {
			return nil, fmt.Errorf("inference: %w", err)
		}
	default:
		gs = append(GoldenSet(nil), spec.Requests...)
		if err := gs.check(); err != nil {
			return nil, fmt.Errorf("inference: requests: %w", err)
		}
	}
	p := &inferenceProbe{name: name, spec: spec, env: env, client: newClient(), golden: gs, compare: cmp}
	for _, g := range gs {
		b, err := json.Marshal(oipRequest{ID: g.Name, Parameters: g.Parameters, Inputs: g.Inputs})
		if err != nil {
			return nil, fmt.Errorf("inference: request %s: encode: %w", g.Name, err)
		}
		p.bodies = append(p.bodies, b)
	}
	return p, nil
}

func comparisonOf(c *v1alpha1.InferenceCompare) (comparison, error) {
	cmp := comparison{method: v1alpha1.CompareExact, minOverlap: 1, tolerance: v1alpha1.DefaultNumericTolerance}
	if c == nil {
		return cmp, nil
	}
	if c.Method != "" {
		cmp.method = c.Method
	}
	switch cmp.method {
	case v1alpha1.CompareExact:
	case v1alpha1.CompareTopK:
		if c.K < 1 {
			return cmp, fmt.Errorf("compare: topk needs k of at least 1, got %d", c.K)
		}
		cmp.k = int(c.K)
		if c.MinOverlap != nil {
			if m := *c.MinOverlap; !(m > 0 && m <= 1) {
				return cmp, fmt.Errorf("compare: minOverlap must be above 0 and at most 1, got %v", m)
			}
			cmp.minOverlap = *c.MinOverlap
		}
	case v1alpha1.CompareNumeric:
		if c.Tolerance != nil {
			if t := *c.Tolerance; !(t >= 0) {
				return cmp, fmt.Errorf("compare: tolerance must not be negative, got %v", t)
			}
			cmp.tolerance = *c.Tolerance
		}
	default:
		return cmp, fmt.Errorf("compare: unknown method %q", c.Method)
	}
	return cmp, nil
}

// oipRequest is the body of POST /v2/models/{model}/infer. "id" carries
// the golden request's name, so server logs can be matched to mismatches.
type oipRequest struct {
	ID         string                     `json:"id,omitempty"`
	Parameters map[string]v1alpha1.Raw    `json:"parameters,omitempty"`
	Inputs     []v1alpha1.InferenceTensor `json:"inputs"`
}

// oipResponse is the part of an infer response the probe reads.
type oipResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	Parameters   map[string]any `json:"parameters"`
	Outputs      []oipTensor    `json:"outputs"`
}

type oipTensor struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     any     `json:"data"`
}

func (p *inferenceProbe) inferURL() (string, error) {
	base := p.spec.URL
	if base == "" {
		var err error
		if base, err = p.env.ResolveService(p.spec.Service); err != nil {
			return "", fmt.Errorf("resolve service %s: %w", p.spec.Service, err)
		}
	}
	u := strings.TrimRight(base, "/") + "/v2/models/" + url.PathEscape(p.spec.Model)
	if p.spec.Version != "" {
		u += "/versions/" + url.PathEscape(p.spec.Version)
	}
	return u + "/infer", nil
}

// attempt replays the golden set once, in order and one request at a time:
// it must observe the service, not load it, and sequential replay keeps
// a round-robin gateway's replica choice reproducible in tests.
//
// Only answered requests become timeline.Checks. A refused connection or a
// 503 says nothing about whether the model's answers are right — that is
// availability, which the load and the other probes measure — so it fails
// the probe without counting against consistency. An answer that cannot be
// read, or lacks an expected output, is a wrong answer and does count.
func (p *inferenceProbe) attempt(ctx context.Context, start time.Time) Result {
	u, err := p.inferURL()
	if err != nil {
		return Result{Message: err.Error()}
	}
	var (
		checks     []timeline.Check
		mismatches []string
		unanswered []string
		stopped    string
	)
	for i, g := range p.golden {
		if ctx.Err() != nil {
			stopped = fmt.Sprintf("%v after %d of %d golden requests", ctxErr(ctx, ctx.Err()), i, len(p.golden))
			break
		}
		at := time.Since(start)
		resp, replica, err := p.infer(ctx, u, p.bodies[i])
		if err != nil {
			unanswered = append(unanswered, fmt.Sprintf("%s: %v", g.Name, err))
			continue
		}
		c := timeline.Check{Probe: p.name, At: at, Request: g.Name, Replica: replica}
		if resp == nil {
			c.Detail = "answer is not an Open Inference Protocol response"
		} else {
			c.Match, c.Detail = p.compare.answer(g.Expected, resp.Outputs)
		}
		if !c.Match {
			who := g.Name
			if replica != "" {
				who += " (replica " + replica + ")"
			}
			mismatches = append(mismatches, who+": "+c.Detail)
		}
		checks = append(checks, c)
	}
	r := Result{Checks: checks, OK: len(mismatches) == 0 && len(unanswered) == 0 && stopped == ""}
	var parts []string
	if len(mismatches) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d golden answers differ; first: %s", len(mismatches), len(checks), mismatches[0]))
	}
	if len(unanswered) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d golden requests got no answer; first: %s", len(unanswered), len(p.golden), unanswered[0]))
	}
	if stopped != "" {
		parts = append(parts, stopped)
	}
	if r.OK {
		parts = append(parts, fmt.Sprintf("%d/%d golden answers match (%s)", len(checks), len(p.golden), p.compare))
	}
	r.Message = strings.Join(parts, "; ")
	return r
}

// infer sends one request. err means no answer; a nil response with a nil
// err means an answer that is not an OIP response.
func (p *inferenceProbe) infer(ctx context.Context, u string, body []byte) (*oipResponse, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, "", ctxErr(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, "", fmt.Errorf("status %d, reading body: %w", resp.StatusCode, ctxErr(ctx, err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("status %d: %s", resp.StatusCode, snippet(b))
	}
	replica := resp.Header.Get(ReplicaHeader)
	var out oipResponse
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // int64 ids beyond 2^53 must compare exactly
	if err := dec.Decode(&out); err != nil {
		return nil, replica, nil
	}
	if replica == "" {
		if v, ok := out.Parameters["replica"]; ok {
			replica = jsonText(v)
		}
	}
	return &out, replica, nil
}

func (c comparison) String() string {
	switch c.method {
	case v1alpha1.CompareTopK:
		return fmt.Sprintf("top-%d overlap ≥ %s", c.k, formatFloat(c.minOverlap))
	case v1alpha1.CompareNumeric:
		return fmt.Sprintf("numeric, tolerance %s", formatFloat(c.tolerance))
	}
	return "exact"
}
