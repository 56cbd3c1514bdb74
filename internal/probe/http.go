package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// newTransport is the HTTP transport of one probe. Keep-alives are off: a
// probe should see the service the way a newly arriving client does, and a
// pooled connection to a replica that has since died (or a gateway that
// moved) would hide exactly what chaos is testing. It also means no idle
// connection goroutines outlive a check.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:             nil, // probes target the service under test, never a proxy from the environment
		DialContext:       (&net.Dialer{}).DialContext,
		DisableKeepAlives: true,
	}
}

// newClient never follows redirects: a 3xx is the endpoint's answer (and
// passes by default), not an instruction to probe somewhere else.
func newClient() *http.Client {
	return &http.Client{
		Transport: newTransport(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type httpProbe struct {
	spec   v1alpha1.ProbeHTTP
	env    Env
	client *http.Client
	method string
	status []int32
	bodyRE *regexp.Regexp
	checks []valueCheck
}

func newHTTP(spec v1alpha1.ProbeHTTP, env Env) (*httpProbe, error) {
	if (spec.URL == "") == (spec.Service == "") {
		return nil, fmt.Errorf("http: exactly one of url and service is required")
	}
	if spec.Service != "" && env == nil {
		return nil, fmt.Errorf("http: service %q needs an environment to resolve it", spec.Service)
	}
	h := &httpProbe{spec: spec, env: env, client: newClient(), method: strings.ToUpper(spec.Method), status: spec.ExpectedStatus}
	if h.method == "" {
		h.method = http.MethodGet
	}
	if spec.BodyRegex != "" {
		re, err := regexp.Compile(spec.BodyRegex)
		if err != nil {
			return nil, fmt.Errorf("http: bodyRegex: %w", err)
		}
		h.bodyRE = re
	}
	for i, c := range spec.JSONPath {
		vc, err := newValueCheck(c)
		if err != nil {
			return nil, fmt.Errorf("http: jsonPath[%d]: %w", i, err)
		}
		h.checks = append(h.checks, vc)
	}
	return h, nil
}

func (h *httpProbe) url() (string, error) {
	if h.spec.URL != "" {
		return h.spec.URL, nil
	}
	base, err := h.env.ResolveService(h.spec.Service)
	if err != nil {
		return "", fmt.Errorf("resolve service %s: %w", h.spec.Service, err)
	}
	path := h.spec.Path
	if path == "" {
		path = "/"
	}
	return strings.TrimRight(base, "/") + path, nil
}

func (h *httpProbe) attempt(ctx context.Context, _ time.Time) Result {
	u, err := h.url()
	if err != nil {
		return Result{Message: err.Error()}
	}
	var body io.Reader
	if h.spec.Body != "" {
		body = strings.NewReader(h.spec.Body)
	}
	req, err := http.NewRequestWithContext(ctx, h.method, u, body)
	if err != nil {
		return Result{Message: fmt.Sprintf("build request: %v", err)}
	}
	for k, v := range h.spec.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return Result{Message: transportErr(ctx, h.method+" "+u, err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Result{Message: fmt.Sprintf("%s %s: status %d, reading body: %v", h.method, u, resp.StatusCode, ctxErr(ctx, err))}
	}
	if !statusOK(resp.StatusCode, h.status) {
		return Result{Message: fmt.Sprintf("status %d, expected %s; body %s", resp.StatusCode, statusText(h.status), snippet(b))}
	}
	if h.bodyRE != nil && !h.bodyRE.Match(b) {
		return Result{Message: fmt.Sprintf("status %d, but body does not match /%s/: %s", resp.StatusCode, h.bodyRE, snippet(b))}
	}
	if len(h.checks) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			return Result{Message: fmt.Sprintf("status %d, but body is not JSON (%v): %s", resp.StatusCode, err, snippet(b))}
		}
		var failed []string
		for _, c := range h.checks {
			if msg := c.eval(doc); msg != "" {
				failed = append(failed, msg)
			}
		}
		if len(failed) > 0 {
			return Result{Message: fmt.Sprintf("status %d, but %s", resp.StatusCode, strings.Join(failed, "; "))}
		}
	}
	return Result{OK: true, Message: fmt.Sprintf("status %d", resp.StatusCode)}
}

// statusOK applies expectedStatus, defaulting to 200–399 as documented.
func statusOK(code int, want []int32) bool {
	if len(want) == 0 {
		return code >= 200 && code <= 399
	}
	for _, w := range want {
		if int(w) == code {
			return true
		}
	}
	return false
}

func statusText(want []int32) string {
	if len(want) == 0 {
		return "200-399"
	}
	s := make([]string, len(want))
	for i, w := range want {
		s[i] = strconv.Itoa(int(w))
	}
	return strings.Join(s, " or ")
}
