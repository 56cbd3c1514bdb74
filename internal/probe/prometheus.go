package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// promProbe runs an instant query through client_golang's API client, the
// one Prometheus itself maintains, rather than hand-decoding /api/v1/query.
type promProbe struct {
	url   string
	api   promv1.API
	query string
	cmp   v1alpha1.NumericComparator
}

func newPrometheus(spec v1alpha1.ProbePrometheus, env Env) (*promProbe, error) {
	if (spec.URL == "") == (spec.Service == "") {
		return nil, errors.New("prometheus: exactly one of url and service is required")
	}
	if spec.Service != "" {
		if env == nil {
			return nil, fmt.Errorf("prometheus: service %q needs an environment to resolve it", spec.Service)
		}
		u, err := env.ResolveService(spec.Service)
		if err != nil {
			return nil, fmt.Errorf("prometheus: service %s: %w", spec.Service, err)
		}
		spec.URL = u
	}
	if strings.TrimSpace(spec.Query) == "" {
		return nil, errors.New("prometheus: query is required")
	}
	if spec.Comparator == nil {
		return nil, errors.New("prometheus: comparator is required")
	}
	if _, err := compareNumbers(spec.Comparator.Criteria, 0, 0); err != nil || spec.Comparator.Criteria == "" {
		return nil, fmt.Errorf("prometheus: comparator criteria %q: want ==, !=, >, >=, < or <=", spec.Comparator.Criteria)
	}
	c, err := promapi.NewClient(promapi.Config{Address: spec.URL, RoundTripper: newTransport()})
	if err != nil {
		return nil, fmt.Errorf("prometheus: url %q: %w", spec.URL, err)
	}
	return &promProbe{url: strings.TrimRight(spec.URL, "/") + "/api/v1/query", api: promv1.NewAPI(c), query: spec.Query, cmp: *spec.Comparator}, nil
}

func (p *promProbe) attempt(ctx context.Context, _ time.Time) Result {
	// A zero time lets the server evaluate at its own "now", so clock skew
	// between faultline and Prometheus cannot shift the window.
	v, warnings, err := p.api.Query(ctx, p.query, time.Time{})
	if err != nil {
		return Result{Message: fmt.Sprintf("query %s: %s", p.query, transportErr(ctx, "POST "+p.url, err))}
	}
	got, err := scalarOf(v)
	if err != nil {
		return Result{Message: fmt.Sprintf("query %s: %v", p.query, err)}
	}
	ok, _ := compareNumbers(p.cmp.Criteria, got, p.cmp.Value)
	msg := fmt.Sprintf("value %s %s %s", formatFloat(got), opText(ok, p.cmp.Criteria), formatFloat(p.cmp.Value))
	if len(warnings) > 0 {
		msg += " (warnings: " + strings.Join(warnings, "; ") + ")"
	}
	return Result{OK: ok, Message: msg}
}

// scalarOf takes the one number a comparator can judge. A vector of more
// than one sample is refused rather than reduced to its "first" sample,
// because Prometheus does not order a vector's samples: the probe would
// judge a different series from one check to the next.
func scalarOf(v model.Value) (float64, error) {
	switch x := v.(type) {
	case *model.Scalar:
		return float64(x.Value), nil
	case model.Vector:
		switch len(x) {
		case 0:
			return 0, errors.New("returned no sample (no series matched, or the metric is not scraped yet)")
		case 1:
			return float64(x[0].Value), nil
		}
		return 0, fmt.Errorf("returned %d samples (%s, %s, ...); aggregate them to one, e.g. with sum(), max() or a label match",
			len(x), x[0].Metric, x[1].Metric)
	case model.Matrix:
		return 0, errors.New("returned a range vector; write an instant query (no [range] selector at the top level)")
	case nil:
		return 0, errors.New("returned no result")
	}
	return 0, fmt.Errorf("returned a %s, not a number", v.Type())
}

// opText reads as the comparison that was or was not satisfied:
// "value 3 <= 5" or "value 7 is not <= 5".
func opText(ok bool, op v1alpha1.ComparisonOperator) string {
	if ok {
		return string(op)
	}
	return "is not " + string(op)
}
