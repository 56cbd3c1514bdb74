package workflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// statusCheck runs a StatusCheck template (see the package documentation
// for the rules and where they come from).
func (r *runner) statusCheck(ctx context.Context, n *Node, t *v1alpha1.Template) outcome {
	sc := t.StatusCheck
	crit, _ := parseCriteria(sc.HTTP.Criteria.StatusCode) // checkSpec vetted it
	var (
		interval    = time.Duration(sc.IntervalSecondsOrDefault()) * time.Second
		timeout     = time.Duration(sc.TimeoutSecondsOrDefault()) * time.Second
		failures    = sc.FailureThresholdOrDefault()
		successes   = sc.SuccessThresholdOrDefault()
		limit       = sc.RecordsHistoryLimitOrDefault()
		synchronous = sc.ModeOrDefault() == v1alpha1.StatusCheckSynchronous
	)
	fail := func(msg string) outcome {
		o := outcome{status: StatusFailed, msg: msg}
		if t.AbortWithStatusCheck {
			o.abort = fmt.Sprintf("status check %s failed: %s", t.Name, msg)
		}
		return o
	}
	var durationEnd <-chan time.Time
	if d, _ := parseDuration(sc.Duration); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		durationEnd = timer.C
	}
	// Chaos Mesh's worker probes on a ticker: the first probe comes one
	// interval after the start.
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var (
		last  bool
		count int // consecutive results equal to last
	)
	for {
		select {
		case <-ctx.Done():
			if synchronous {
				return r.interrupted(ctx, n, StatusDeadlineExceeded,
					fmt.Sprintf("the deadline came before %d successes or %d failures in a row", successes, failures))
			}
			return r.interrupted(ctx, n, StatusSucceeded, fmt.Sprintf("no %d failures in a row before the deadline", failures))
		case <-durationEnd:
			if synchronous {
				// Chaos Mesh completes the check without
				// SuccessThresholdExceed: a failure, which aborts.
				return fail(fmt.Sprintf("duration %s ended before %d successes in a row", *sc.Duration, successes))
			}
			return outcome{status: StatusSucceeded, msg: fmt.Sprintf("no %d failures in a row within duration %s", failures, *sc.Duration)}
		case <-ticker.C:
			p := probeHTTP(ctx, r.deps.HTTPClient, sc.HTTP, crit, timeout, r.deps.Now)
			if ctx.Err() != nil {
				continue // cut by the deadline: not a result; the ctx case reports
			}
			n.Probes = append(n.Probes, p)
			if len(n.Probes) > limit {
				n.Probes = append(n.Probes[:0:0], n.Probes[len(n.Probes)-limit:]...)
			}
			if count > 0 && p.Success == last {
				count++
			} else {
				last, count = p.Success, 1
			}
			switch {
			case p.Success && synchronous && count >= successes:
				return outcome{status: StatusSucceeded, msg: fmt.Sprintf("%d successes in a row", count)}
			case !p.Success && count >= failures:
				return fail(fmt.Sprintf("%d failures in a row, the last: %s", count, p.Message))
			}
		}
	}
}

// statusCriteria is an inclusive range of HTTP status codes.
type statusCriteria struct{ lo, hi int }

func (c statusCriteria) match(code int) bool { return code >= c.lo && code <= c.hi }

// parseCriteria parses "200" or "200-299", as Chaos Mesh's HTTP executor.
func parseCriteria(s string) (statusCriteria, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return statusCriteria{}, fmt.Errorf("criteria.statusCode %q is neither a code nor a range of codes", s)
	}
	if !isRange {
		return statusCriteria{a, a}, nil
	}
	b, err := strconv.Atoi(strings.TrimSpace(hi))
	if err != nil || b < a {
		return statusCriteria{}, fmt.Errorf("criteria.statusCode %q is not a range of codes", s)
	}
	return statusCriteria{a, b}, nil
}

// probeHTTP makes one probe. Any failure to get a matching response is a
// failed probe, as in Chaos Mesh, with the reason in Message.
func probeHTTP(ctx context.Context, client *http.Client, h *v1alpha1.HTTPStatusCheck, crit statusCriteria, timeout time.Duration, now func() time.Time) ProbeRecord {
	rec := ProbeRecord{Time: now()}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	method := string(h.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(pctx, method, h.URL, body)
	if err != nil {
		rec.Message = fmt.Sprintf("bad request: %v", err)
		return rec
	}
	for k, vs := range h.Headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	start := time.Now()
	resp, err := client.Do(req)
	rec.Latency = time.Since(start)
	if err != nil {
		if errors.Is(pctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			rec.Message = fmt.Sprintf("no response within timeoutSeconds (%s)", timeout)
		} else {
			rec.Message = err.Error()
		}
		return rec
	}
	// Read (a bounded part of) the body so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	rec.StatusCode = resp.StatusCode
	rec.Success = crit.match(resp.StatusCode)
	if !rec.Success {
		rec.Message = fmt.Sprintf("unexpected status code %d", resp.StatusCode)
	}
	return rec
}

// checkStatusCheck checks what a status check needs to run.
func checkStatusCheck(s *v1alpha1.StatusCheckSpec) error {
	switch s.Mode {
	case "", v1alpha1.StatusCheckSynchronous, v1alpha1.StatusCheckContinuous:
	default:
		return fmt.Errorf("statusCheck.mode %q is neither Synchronous nor Continuous", s.Mode)
	}
	if s.Type != "" && s.Type != v1alpha1.StatusCheckHTTP {
		return fmt.Errorf("statusCheck.type %q is not supported; only HTTP is", s.Type)
	}
	if s.HTTP == nil || s.HTTP.URL == "" {
		return errors.New("statusCheck needs http.url")
	}
	if _, err := parseCriteria(s.HTTP.Criteria.StatusCode); err != nil {
		return err
	}
	if _, err := parseDuration(s.Duration); err != nil {
		return fmt.Errorf("statusCheck.duration: %w", err)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"timeoutSeconds", s.TimeoutSecondsOrDefault()}, {"intervalSeconds", s.IntervalSecondsOrDefault()},
		{"failureThreshold", s.FailureThresholdOrDefault()}, {"successThreshold", s.SuccessThresholdOrDefault()},
		{"recordsHistoryLimit", s.RecordsHistoryLimitOrDefault()},
	} {
		if f.v < 1 {
			return fmt.Errorf("statusCheck.%s %d is less than 1", f.name, f.v)
		}
	}
	return nil
}
