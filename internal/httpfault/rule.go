package httpfault

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// Target is which message of an exchange a rule changes.
type Target = v1alpha1.HTTPChaosTarget

// Rule is one compiled HTTPChaos: what it matches and what it does. It is
// safe for concurrent use and counts what it did.
type Rule struct {
	target Target
	port   int
	path   string // glob; "" matches every path
	method string
	code   int // 0: any (Response only)
	reqHdr []headerPair
	rspHdr []headerPair

	abort bool
	delay time.Duration

	replace *replaceAction
	patch   *patchAction

	stats counters
}

type headerPair struct{ name, value string }

type replaceAction struct {
	path, method string
	code         int
	body         []byte
	hasBody      bool
	queries      map[string]string
	headers      []headerPair
}

type patchAction struct {
	body    any // decoded JSON merge patch; nil when no body patch
	hasBody bool
	queries []headerPair
	headers []headerPair
}

// Stats is what a rule did since it was compiled. Matched counts messages
// the rule selected; the action counters count the actions done on them.
type Stats struct {
	Matched  int64 `json:"matched"`
	Aborted  int64 `json:"aborted"`
	Delayed  int64 `json:"delayed"`
	Replaced int64 `json:"replaced"`
	Patched  int64 `json:"patched"`
	// Failed counts matched messages whose replace or patch could not be
	// done (a body that is not JSON or is over the body limit): the
	// connection was aborted instead.
	Failed int64 `json:"failed"`
	// DelayAsked is the rule's delay; DelayTotal and DelayMax the delays
	// measured around the waits (DelayTotal/Delayed is the mean). A wait
	// cut short because the rule was removed counts with its real length.
	DelayAsked time.Duration `json:"delayAsked"`
	DelayTotal time.Duration `json:"delayTotal"`
	DelayMax   time.Duration `json:"delayMax"`
}

// DelayMean is the mean measured delay, 0 when nothing was delayed.
func (s Stats) DelayMean() time.Duration {
	if s.Delayed == 0 {
		return 0
	}
	return s.DelayTotal / time.Duration(s.Delayed)
}

type counters struct {
	matched, aborted, delayed, replaced, patched, failed atomic.Int64
	mu                                                   sync.Mutex
	delayTotal, delayMax                                 time.Duration
}

func (c *counters) observeDelay(d time.Duration) {
	c.delayed.Add(1)
	c.mu.Lock()
	c.delayTotal += d
	if d > c.delayMax {
		c.delayMax = d
	}
	c.mu.Unlock()
}

// Stats returns what the rule did so far.
func (r *Rule) Stats() Stats {
	c := &r.stats
	c.mu.Lock()
	total, maxD := c.delayTotal, c.delayMax
	c.mu.Unlock()
	return Stats{Matched: c.matched.Load(), Aborted: c.aborted.Load(), Delayed: c.delayed.Load(),
		Replaced: c.replaced.Load(), Patched: c.patched.Load(), Failed: c.failed.Load(),
		DelayAsked: r.delay, DelayTotal: total, DelayMax: maxD}
}

// Target says whether the rule changes requests or responses.
func (r *Rule) Target() Target { return r.target }

// Port is the upstream port the rule matches, 0 for any.
func (r *Rule) Port() int { return r.port }

// Delay is the rule's delay action, 0 when it has none.
func (r *Rule) Delay() time.Duration { return r.delay }

// Aborts says whether the rule aborts what it matches.
func (r *Rule) Aborts() bool { return r.abort }

// Compile checks spec and compiles it into a Rule. It refuses what the
// embedded engine cannot honour (TLS) rather than ignoring it.
func Compile(spec *v1alpha1.HTTPChaosSpec) (*Rule, error) {
	if spec == nil {
		return nil, errors.New("no HTTPChaos spec")
	}
	r := &Rule{target: spec.Target}
	switch spec.Target {
	case v1alpha1.HTTPTargetRequest, v1alpha1.HTTPTargetResponse:
	default:
		return nil, fmt.Errorf("target %q: want Request or Response", spec.Target)
	}
	if spec.TLS != nil {
		return nil, errors.New("tls: the embedded engine's hops are plaintext HTTP, so there is no TLS to intercept; remove tls, or run the fault on the kube engine with Chaos Mesh installed, whose proxy decrypts HTTPS with the given secret")
	}
	if spec.Port < 0 || spec.Port > 65535 {
		return nil, fmt.Errorf("port %d: want 1 to 65535", spec.Port)
	}
	r.port = int(spec.Port)
	if spec.Path != nil {
		r.path = *spec.Path
	}
	if spec.Method != nil {
		r.method = *spec.Method
	}
	if spec.Code != nil && spec.Target == v1alpha1.HTTPTargetResponse {
		if *spec.Code < 100 || *spec.Code > 599 {
			return nil, fmt.Errorf("code %d: want 100 to 599", *spec.Code)
		}
		r.code = int(*spec.Code)
	}
	var err error
	if r.reqHdr, err = headerMap("request_headers", spec.RequestHeaders); err != nil {
		return nil, err
	}
	if spec.Target == v1alpha1.HTTPTargetResponse {
		if r.rspHdr, err = headerMap("response_headers", spec.ResponseHeaders); err != nil {
			return nil, err
		}
	}
	if spec.Abort != nil {
		r.abort = *spec.Abort
	}
	if spec.Delay != nil {
		d, err := time.ParseDuration(*spec.Delay)
		if err != nil {
			return nil, fmt.Errorf("delay %q: %w", *spec.Delay, err)
		}
		if d < 0 {
			return nil, fmt.Errorf("delay %q is negative", *spec.Delay)
		}
		r.delay = d
	}
	if spec.Replace != nil {
		if r.replace, err = compileReplace(spec.Target, spec.Replace); err != nil {
			return nil, err
		}
	}
	if spec.Patch != nil {
		if r.patch, err = compilePatch(spec.Target, spec.Patch); err != nil {
			return nil, err
		}
	}
	if !r.abort && r.delay == 0 && r.replace == nil && r.patch == nil {
		return nil, errors.New("no action: set abort, delay, replace or patch")
	}
	return r, nil
}

func headerMap(field string, m map[string]string) ([]headerPair, error) {
	var out []headerPair
	for k, v := range m {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("%s: %q is not a valid header name", field, k)
		}
		out = append(out, headerPair{textproto.CanonicalMIMEHeaderKey(k), v})
	}
	return out, nil
}

func pairs(field string, in [][]string, header bool) ([]headerPair, error) {
	var out []headerPair
	for i, p := range in {
		if len(p) != 2 {
			return nil, fmt.Errorf("%s[%d]: want a [name, value] pair, got %d items", field, i, len(p))
		}
		if header {
			if !validHeaderName(p[0]) || !validHeaderValue(p[1]) {
				return nil, fmt.Errorf("%s[%d]: %q: %q is not a valid header", field, i, p[0], p[1])
			}
		}
		out = append(out, headerPair{p[0], p[1]})
	}
	return out, nil
}

func compileReplace(t Target, s *v1alpha1.HTTPChaosReplace) (*replaceAction, error) {
	a := &replaceAction{}
	if t == v1alpha1.HTTPTargetRequest {
		if s.Path != nil {
			a.path = *s.Path
			if a.path == "" {
				a.path = "/" // as Chaos Mesh does
			}
			if strings.ContainsAny(a.path, " \r\n?#") {
				return nil, fmt.Errorf("replace.path %q: a path cannot hold spaces, line breaks, ? or #", a.path)
			}
		}
		if s.Method != nil {
			if !validToken(*s.Method) {
				return nil, fmt.Errorf("replace.method %q is not a valid method", *s.Method)
			}
			a.method = *s.Method
		}
		if len(s.Queries) > 0 {
			a.queries = s.Queries
		}
	}
	if t == v1alpha1.HTTPTargetResponse && s.Code != nil {
		if *s.Code < 100 || *s.Code > 599 {
			return nil, fmt.Errorf("replace.code %d: want 100 to 599", *s.Code)
		}
		a.code = int(*s.Code)
	}
	if s.Body != "" {
		b, err := base64.StdEncoding.DecodeString(s.Body)
		if err != nil {
			return nil, fmt.Errorf("replace.body is not base64: %w", err)
		}
		a.body, a.hasBody = b, true
	}
	for k, v := range s.Headers {
		if !validHeaderName(k) || !validHeaderValue(v) {
			return nil, fmt.Errorf("replace.headers: %q: %q is not a valid header", k, v)
		}
		a.headers = append(a.headers, headerPair{textproto.CanonicalMIMEHeaderKey(k), v})
	}
	return a, nil
}

func compilePatch(t Target, s *v1alpha1.HTTPChaosPatch) (*patchAction, error) {
	a := &patchAction{}
	if b := s.Body; b != nil {
		if b.Type != "JSON" {
			return nil, fmt.Errorf("patch.body.type %q: only JSON (an RFC 7396 merge patch) is supported", b.Type)
		}
		v, err := decodeJSON([]byte(b.Value))
		if err != nil {
			return nil, fmt.Errorf("patch.body.value is not JSON: %w", err)
		}
		a.body, a.hasBody = v, true
	}
	var err error
	if t == v1alpha1.HTTPTargetRequest {
		if a.queries, err = pairs("patch.queries", s.Queries, false); err != nil {
			return nil, err
		}
	}
	if a.headers, err = pairs("patch.headers", s.Headers, true); err != nil {
		return nil, err
	}
	return a, nil
}

// decodeJSON decodes one JSON value keeping numbers exact.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// mergePatch applies an RFC 7396 JSON merge patch to target.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// patchBody merges the rule's patch into a JSON body.
func (a *patchAction) patchBody(body []byte) ([]byte, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	// json.Marshal sorts object keys, as serde_json does in Chaos Mesh.
	return json.Marshal(mergePatch(v, a.body))
}

// requestView is what request matching looks at.
type requestView struct {
	method string
	path   string // escaped URI path
	header http.Header
}

func (r *Rule) matchRequest(port int, q *requestView) bool {
	if r.port != 0 && r.port != port {
		return false
	}
	if r.path != "" && !globMatch(r.path, q.path) {
		return false
	}
	if r.method != "" && r.method != q.method {
		return false
	}
	return headersMatch(r.reqHdr, q.header)
}

func (r *Rule) matchResponse(port int, q *requestView, code int, h http.Header) bool {
	if !r.matchRequest(port, q) {
		return false
	}
	if r.code != 0 && r.code != code {
		return false
	}
	return headersMatch(r.rspHdr, h)
}

func headersMatch(want []headerPair, h http.Header) bool {
	for _, w := range want {
		found := false
		for _, v := range h[w.name] {
			if v == w.value {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// globMatch matches s against pattern, where * matches any run of
// characters (slashes too) and ? one character: the wildmatch semantics
// Chaos Mesh's proxy uses for path. Iterative with backtracking to the last
// star, so it is linear-ish and cannot blow the stack on hostile input.
func globMatch(pattern, s string) bool {
	p, n := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(n) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == n[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// rewriteTarget applies replace.path, replace.queries and patch.queries to
// a request target (origin or absolute form).
func rewriteTarget(target string, rp *replaceAction, pp *patchAction) (string, error) {
	if rp == nil || rp.path == "" && rp.queries == nil {
		if pp == nil || len(pp.queries) == 0 {
			return target, nil
		}
	}
	prefix, rest := "", target
	if !strings.HasPrefix(target, "/") {
		u, err := url.Parse(target)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("request target %q cannot be rewritten", target)
		}
		prefix = u.Scheme + "://" + u.Host
		rest = u.RequestURI()
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	if rp != nil {
		if rp.path != "" {
			path = rp.path
		}
		if rp.queries != nil {
			vals, err := url.ParseQuery(query)
			if err != nil {
				return "", fmt.Errorf("query %q cannot be parsed: %w", query, err)
			}
			for k, v := range rp.queries {
				vals.Set(k, v)
			}
			query = vals.Encode()
			hasQuery = query != ""
		}
	}
	if pp != nil && len(pp.queries) > 0 {
		var b strings.Builder
		for i, q := range pp.queries {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(q.name))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(q.value))
		}
		if hasQuery {
			query += "&" + b.String()
		} else {
			query = b.String()
		}
		hasQuery = true
	}
	out := prefix + path
	if hasQuery {
		out += "?" + query
	}
	return out, nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func validHeaderName(s string) bool { return validToken(s) }

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}
