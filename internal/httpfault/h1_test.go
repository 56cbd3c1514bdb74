package httpfault

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// echo is what echoHandler saw.
type echo struct {
	Method string              `json:"method"`
	Path   string              `json:"path"`
	Query  map[string][]string `json:"query"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body"`
}

// echoHandler answers with what it received, as JSON, and counts calls.
func echoHandler(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Server", "echo")
		if c := r.URL.Query().Get("code"); c != "" {
			var code int
			fmt.Sscan(c, &code)
			w.WriteHeader(code)
		}
		_ = json.NewEncoder(w).Encode(echo{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Header: r.Header, Body: string(b)})
	})
}

func decodeEcho(t *testing.T, r io.Reader) echo {
	t.Helper()
	var e echo
	if err := json.NewDecoder(r).Decode(&e); err != nil {
		t.Fatalf("decode echo: %v", err)
	}
	return e
}

func TestAbort(t *testing.T) {
	for _, target := range []Target{TargetRequest, TargetResponse} {
		t.Run(string(target), func(t *testing.T) {
			var calls atomic.Int64
			srv := startServer(t, echoHandler(&calls))
			rule := mustCompile(t, spec(target, func(s *v1alpha1.HTTPChaosSpec) {
				s.Path = ptr("/abort/*")
				s.Abort = ptr(true)
			}))
			p := newTestProxy(t, hostOf(srv), NewSet(rule))
			c := newClient()
			resp, err := c.Get(p.url() + "/abort/me")
			if err == nil {
				resp.Body.Close()
				t.Fatalf("aborted request got a response: %s", resp.Status)
			}
			// The client sees the connection end without a response.
			if !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
				t.Errorf("error %v: want EOF or reset", err)
			}
			want := int64(0)
			if target == TargetResponse {
				want = 1 // the server answered; the answer was dropped
			}
			// net/http retries an idempotent request once on a fresh
			// connection when the first attempt got nothing back.
			if got := calls.Load(); got != want && !(want == 1 && got == 2) {
				t.Errorf("server saw %d requests, want %d", got, want)
			}
			resp, err = c.Get(p.url() + "/fine")
			if err != nil {
				t.Fatalf("non-matching request: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("non-matching request: %s", resp.Status)
			}
			st := rule.Stats()
			if st.Aborted < 1 || st.Matched != st.Aborted {
				t.Errorf("stats %+v: want every match aborted, at least one", st)
			}
		})
	}
}

func TestDelayMeasured(t *testing.T) {
	const asked = 80 * time.Millisecond
	const n = 12
	for _, target := range []Target{TargetRequest, TargetResponse} {
		t.Run(string(target), func(t *testing.T) {
			var calls atomic.Int64
			srv := startServer(t, echoHandler(&calls))
			rule := mustCompile(t, spec(target, func(s *v1alpha1.HTTPChaosSpec) {
				s.Method = ptr("GET")
				s.Delay = ptr(asked.String())
			}))
			p := newTestProxy(t, hostOf(srv), NewSet(rule))
			c := newClient()
			var total time.Duration
			for i := 0; i < n; i++ {
				start := time.Now()
				resp, err := c.Get(p.url() + "/slow")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				took := time.Since(start)
				if took < asked {
					t.Fatalf("request %d took %s, less than the %s delay", i, took, asked)
				}
				total += took
			}
			st := rule.Stats()
			if st.Delayed != n || st.DelayAsked != asked {
				t.Fatalf("stats %+v: want %d delays of %s", st, n, asked)
			}
			// Fidelity: the proxy's own measurement of its waits is within
			// 25% (or 40ms) of what was asked.
			mean := st.DelayMean()
			slack := max(asked/4, 40*time.Millisecond)
			if mean < asked || mean > asked+slack {
				t.Errorf("measured mean delay %s, asked %s (allowed up to +%s)", mean, asked, slack)
			}
			t.Logf("asked %s: proxy measured mean %s max %s; client mean %s", asked, mean, st.DelayMax, total/n)
		})
	}
}

func TestReplaceRequest(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	rule := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Path = ptr("/v1/*")
		s.Replace = &v1alpha1.HTTPChaosReplace{
			Path: ptr("/v2/replaced"), Method: ptr("PUT"),
			Queries: map[string]string{"foo": "unknown", "new": "1"},
			Headers: map[string]string{"X-Token": "replaced"},
			Body:    base64.StdEncoding.EncodeToString([]byte(`{"replaced":true}`)),
		}
	}))
	p := newTestProxy(t, hostOf(srv), NewSet(rule))
	req, _ := http.NewRequest("POST", p.url()+"/v1/items?foo=bar&keep=k&keep=k2", strings.NewReader(`{"original":1}`))
	req.Header.Add("X-Token", "a")
	req.Header.Add("X-Token", "b")
	req.Header.Set("X-Other", "o")
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	e := decodeEcho(t, resp.Body)
	if e.Method != "PUT" || e.Path != "/v2/replaced" {
		t.Errorf("server saw %s %s, want PUT /v2/replaced", e.Method, e.Path)
	}
	if q := e.Query; fmt.Sprint(q["foo"]) != "[unknown]" || fmt.Sprint(q["new"]) != "[1]" || fmt.Sprint(q["keep"]) != "[k k2]" {
		t.Errorf("query %v: want foo=unknown, new=1, keep kept", q)
	}
	if h := e.Header["X-Token"]; fmt.Sprint(h) != "[replaced]" || fmt.Sprint(e.Header["X-Other"]) != "[o]" {
		t.Errorf("headers %v: want X-Token replaced, X-Other kept", e.Header)
	}
	if e.Body != `{"replaced":true}` {
		t.Errorf("body %q", e.Body)
	}
	if st := rule.Stats(); st.Matched != 1 || st.Replaced != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestReplaceResponse(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	rule := mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
		s.Code = ptr[int32](200)
		s.Replace = &v1alpha1.HTTPChaosReplace{Code: ptr[int32](503),
			Headers: map[string]string{"X-Server": "chaos"},
			Body:    base64.StdEncoding.EncodeToString([]byte("unavailable"))}
	}))
	p := newTestProxy(t, hostOf(srv), NewSet(rule))
	c := newClient()
	resp, err := c.Get(p.url() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || string(b) != "unavailable" || resp.Header.Get("X-Server") != "chaos" ||
		resp.ContentLength != int64(len("unavailable")) {
		t.Errorf("got %s %v %q: want 503, X-Server: chaos, body unavailable", resp.Status, resp.Header, b)
	}
	// code matching: a 404 from the server is not touched.
	resp, err = c.Get(p.url() + "/x?code=404")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("404 response became %s", resp.Status)
	}
	if st := rule.Stats(); st.Matched != 1 || st.Replaced != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPatch(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	reqRule := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Patch = &v1alpha1.HTTPChaosPatch{
			Queries: [][]string{{"foo", "bar"}, {"foo", "baz"}},
			Headers: [][]string{{"X-Tag", "patched"}},
			Body:    &v1alpha1.HTTPChaosPatchBody{Type: "JSON", Value: `{"status":"failed","drop":null,"nested":{"b":2}}`},
		}
	}))
	rspRule := mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
		s.Patch = &v1alpha1.HTTPChaosPatch{
			Headers: [][]string{{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}},
			Body:    &v1alpha1.HTTPChaosPatchBody{Type: "JSON", Value: `{"method":"PATCHED"}`},
		}
	}))
	p := newTestProxy(t, hostOf(srv), NewSet(reqRule, rspRule))
	req, _ := http.NewRequest("POST", p.url()+"/p?foo=orig", strings.NewReader(`{"status":"ok","drop":1,"nested":{"a":1}}`))
	req.Header.Set("X-Tag", "orig")
	req.TransferEncoding = []string{"chunked"}
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("response %q: %v", raw, err)
	}
	if got["method"] != "PATCHED" {
		t.Errorf("response body not merged: %s", raw)
	}
	if c := resp.Header.Values("Set-Cookie"); fmt.Sprint(c) != "[a=1 b=2]" {
		t.Errorf("Set-Cookie %v", c)
	}
	var e echo
	e.Method, _ = got["method"].(string)
	b, _ := json.Marshal(got)
	_ = json.Unmarshal(b, &e)
	if fmt.Sprint(e.Query["foo"]) != "[orig bar baz]" {
		t.Errorf("query foo %v: want orig, bar, baz appended", e.Query["foo"])
	}
	if fmt.Sprint(e.Header["X-Tag"]) != "[orig patched]" {
		t.Errorf("X-Tag %v: want appended", e.Header["X-Tag"])
	}
	if e.Body != `{"nested":{"a":1,"b":2},"status":"failed"}` {
		t.Errorf("request body %s: want the RFC 7396 merge", e.Body)
	}
	if st := reqRule.Stats(); st.Patched != 1 {
		t.Errorf("request stats %+v", st)
	}
}

func TestPatchFailureAborts(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	rule := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Patch = &v1alpha1.HTTPChaosPatch{Body: &v1alpha1.HTTPChaosPatchBody{Type: "JSON", Value: `{"a":1}`}}
	}))
	set := NewSet(rule)
	set.SetMaxBody(64)
	p := newTestProxy(t, hostOf(srv), set)
	c := newClient()
	for _, body := range []string{"not json", `{"big":"` + strings.Repeat("x", 100) + `"}`} {
		resp, err := c.Post(p.url()+"/", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
			t.Errorf("body %.20q: got %s, want the connection aborted", body, resp.Status)
		}
	}
	if st := rule.Stats(); st.Failed != 2 || calls.Load() != 0 {
		t.Errorf("stats %+v, server calls %d: want 2 failures and nothing forwarded", st, calls.Load())
	}
}

func TestMatching(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	_, portStr, _ := net.SplitHostPort(hostOf(srv))
	var port int32
	fmt.Sscan(portStr, &port)
	tag := func(s *v1alpha1.HTTPChaosSpec) {
		s.Replace = &v1alpha1.HTTPChaosReplace{Headers: map[string]string{"X-Hit": "yes"}}
	}
	cases := []struct {
		name   string
		spec   *v1alpha1.HTTPChaosSpec
		method string
		path   string
		hdr    map[string]string
		hit    bool
	}{
		{"port matches", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Port = port }), "GET", "/", nil, true},
		{"port differs", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Port = port + 1 }), "GET", "/", nil, false},
		{"glob star spans slashes", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Path = ptr("/api/*") }), "GET", "/api/v1/x", nil, true},
		{"glob no match", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Path = ptr("/api/*") }), "GET", "/apx/v1", nil, false},
		{"glob question mark", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Path = ptr("/v?/x") }), "GET", "/v2/x", nil, true},
		{"exact path", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Path = ptr("/src") }), "GET", "/src/", nil, false},
		{"method", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Method = ptr("POST") }), "POST", "/", nil, true},
		{"method differs", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Method = ptr("POST") }), "GET", "/", nil, false},
		{"request header", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
			tag(s)
			s.RequestHeaders = map[string]string{"x-user": "bob"}
		}), "GET", "/", map[string]string{"X-User": "bob"}, true},
		{"request header differs", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
			tag(s)
			s.RequestHeaders = map[string]string{"X-User": "bob"}
		}), "GET", "/", map[string]string{"X-User": "alice"}, false},
		{"code ignored for Request", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Code = ptr[int32](404) }), "GET", "/", nil, true},
		{"response code", spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Code = ptr[int32](200) }), "GET", "/", nil, true},
		{"response code differs", spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) { tag(s); s.Code = ptr[int32](500) }), "GET", "/", nil, false},
		{"response header", spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
			tag(s)
			s.ResponseHeaders = map[string]string{"X-Server": "echo"}
		}), "GET", "/", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rule := mustCompile(t, tc.spec)
			p := newTestProxy(t, hostOf(srv), NewSet(rule))
			req, _ := http.NewRequest(tc.method, p.url()+tc.path, nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := newClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			e := decodeEcho(t, resp.Body)
			resp.Body.Close()
			hit := e.Header["X-Hit"] != nil || resp.Header.Get("X-Hit") != ""
			if hit != tc.hit {
				t.Errorf("rule applied = %v, want %v", hit, tc.hit)
			}
			if got := rule.Stats().Matched; (got == 1) != tc.hit {
				t.Errorf("matched %d, want hit=%v", got, tc.hit)
			}
		})
	}
}

// TestPassThroughByteForByte sends requests and responses no rule
// matches, with unusual header case and order, chunk extensions and
// trailers, and checks both sides see exactly the bytes the other sent.
func TestPassThroughByteForByte(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const reqs = "POST /a?b=c HTTP/1.1\r\nhost: x\r\nx-lower: 1\r\nX-Zed:   spaced  \r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n" +
		"GET /second HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n"
	const resps = "HTTP/1.1 200 OK\r\ncontent-LENGTH: 5\r\nzz: last\r\n\r\nhello" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n2\r\nhi\r\n0\r\nT: 1\r\n\r\n"
	serverGot := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, len(reqs))
		_, err = io.ReadFull(c, buf)
		serverGot <- buf
		if err == nil {
			c.Write([]byte(resps))
		}
		io.Copy(io.Discard, c)
	}()
	rule := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Path = ptr("/nothing")
		s.Abort = ptr(true)
	}))
	rrule := mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
		s.Code = ptr[int32](500)
		s.Abort = ptr(true)
	}))
	p := newTestProxy(t, ln.Addr().String(), NewSet(rule, rrule))
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(reqs)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(resps))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read responses: %v (got %q)", err, got)
	}
	if string(got) != resps {
		t.Errorf("client got\n%q\nwant\n%q", got, resps)
	}
	select {
	case b := <-serverGot:
		if string(b) != reqs {
			t.Errorf("server got\n%q\nwant\n%q", b, reqs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not receive the requests")
	}
}

func TestKeepAliveReuse(t *testing.T) {
	var calls atomic.Int64
	var mu sync.Mutex
	remotes := map[string]bool{}
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		echoHandler(&calls).ServeHTTP(w, r)
	}))
	rule := mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
		s.Patch = &v1alpha1.HTTPChaosPatch{Headers: [][]string{{"X-Seen", "1"}}}
	}))
	p := newTestProxy(t, hostOf(srv), NewSet(rule))
	c := newClient()
	for i := 0; i < 20; i++ {
		resp, err := c.Post(p.url()+"/k", "text/plain", strings.NewReader(strings.Repeat("b", i*100)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Seen") != "1" {
			t.Fatalf("request %d not patched", i)
		}
	}
	if n := p.served.Load(); n != 1 {
		t.Errorf("%d client connections for 20 keep-alive requests, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Errorf("server saw %d connections, want 1", len(remotes))
	}
}

// TestHandBack: cancelling ctx on an idle keep-alive connection hands it
// back at once; a request in flight finishes first, untouched; afterwards
// the same connection passes bytes raw (the abort rule no longer applies).
func TestHandBack(t *testing.T) {
	release := make(chan struct{})
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(200)
			fmt.Fprint(w, "part1-")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			fmt.Fprint(w, "part2")
			return
		}
		fmt.Fprint(w, "ok:"+r.URL.Path)
	}))
	rule := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Path = ptr("/abort")
		s.Abort = ptr(true)
	}))
	p := newTestProxy(t, hostOf(srv), NewSet(rule))
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(c)
	get := func(path string) string {
		t.Helper()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	// A slow response in flight when the rules change: it must finish
	// intact before the connection is handed back.
	fmt.Fprintf(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, len("part1-"))
	if _, err := io.ReadFull(resp.Body, part); err != nil {
		t.Fatal(err)
	}
	p.interrupt()
	time.Sleep(20 * time.Millisecond) // let the interrupt land mid-response
	if p.handedBack.Load() != 0 {
		t.Fatal("handed back in the middle of a response")
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(part)+string(rest) != "part1-part2" {
		t.Fatalf("slow body %q", string(part)+string(rest))
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.handedBack.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p.handedBack.Load() != 1 {
		t.Fatal("connection not handed back after the response ended")
	}
	// Raw relay now: the abort rule is no longer consulted.
	if got := get("/abort"); got != "ok:/abort" {
		t.Errorf("after hand-back got %q", got)
	}
}

func TestHandBackIdle(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	p := newTestProxy(t, hostOf(srv), NewSet())
	c := newClient()
	resp, err := c.Get(p.url() + "/one")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	withTimeout(t, 5*time.Second, "hand-back of an idle connection", func() {
		for p.handedBack.Load() == 0 {
			p.interrupt()
			time.Sleep(2 * time.Millisecond)
		}
	})
	resp, err = c.Get(p.url() + "/two")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if p.served.Load() != 1 {
		t.Errorf("the keep-alive connection was not reused after hand-back (%d connections)", p.served.Load())
	}
}

func TestMalformedRequest(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	p := newTestProxy(t, hostOf(srv), NewSet(mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Delay = ptr("1ms")
	}))))
	cases := []struct{ name, send string }{
		{"bad request line first", "THIS IS NOT HTTP\r\n\r\n"},
		{"bad header after a good request", "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nBad Header Line\r\n\r\n"},
		{"bad content length", "GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"},
		{"smuggling", "GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", p.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte(tc.send))
			all, _ := io.ReadAll(c) // the connection must end
			if !bytes.Contains(all, []byte("HTTP/1.1 400 ")) {
				t.Errorf("got %q: want a 400", all)
			}
		})
	}
}

func TestExpectContinue(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	replace := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Path = ptr("/replace")
		s.Replace = &v1alpha1.HTTPChaosReplace{Body: base64.StdEncoding.EncodeToString([]byte("new"))}
	}))
	p := newTestProxy(t, hostOf(srv), NewSet(replace))
	c := newClient()
	for _, path := range []string{"/pass", "/replace"} {
		req, _ := http.NewRequest("PUT", p.url()+path, strings.NewReader(strings.Repeat("x", 4096)))
		req.Header.Set("Expect", "100-continue")
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		e := decodeEcho(t, resp.Body)
		resp.Body.Close()
		want := strings.Repeat("x", 4096)
		if path == "/replace" {
			want = "new"
		}
		if e.Body != want {
			t.Errorf("%s: server got %d bytes, want %d", path, len(e.Body), len(want))
		}
		// The client's 5s ExpectContinueTimeout was not what released
		// the body: someone answered 100 Continue.
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("%s: took %s: 100 Continue never came", path, d)
		}
	}
}

func TestUpgradeTunnel(t *testing.T) {
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "no upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.Copy(conn, brw)
	}))
	// A rule that would abort any request: after the 101 nothing is parsed.
	rule := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Path = ptr("/x")
		s.Abort = ptr(true)
	}))
	p := newTestProxy(t, hostOf(srv), NewSet(rule))
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	msg := "GET /x HTTP/1.1\r\n\r\n" // would match the rule if parsed
	c.Write([]byte(msg))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
		t.Fatalf("echo through tunnel: %q %v", got, err)
	}
	if rule.Stats().Matched != 0 {
		t.Error("tunnel bytes were parsed as a request")
	}
}

func TestH2CUpgradeRefused(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	p := newTestProxy(t, hostOf(srv), NewSet())
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	e := decodeEcho(t, resp.Body)
	if resp.StatusCode != 200 || e.Header["Upgrade"] != nil || e.Header["Http2-Settings"] != nil {
		t.Errorf("status %d, server headers %v: want the h2c upgrade removed", resp.StatusCode, e.Header)
	}
}

func TestConcurrentClients(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	rule := mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
		s.Path = ptr("/odd/*")
		s.Replace = &v1alpha1.HTTPChaosReplace{Code: ptr[int32](418)}
	}))
	set := NewSet(rule)
	p := newTestProxy(t, hostOf(srv), set)
	c := newClient()
	const workers, each = 8, 25
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				path := "/even/x"
				want := 200
				if (w+i)%2 == 1 {
					path, want = "/odd/x", 418
				}
				resp, err := c.Get(p.url() + path)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					bad.Add(1)
				}
			}
		}(w)
	}
	withTimeout(t, 30*time.Second, "concurrent clients", wg.Wait)
	if bad.Load() != 0 {
		t.Errorf("%d of %d requests failed or got the wrong code", bad.Load(), workers*each)
	}
	if st := rule.Stats(); st.Matched != workers*each/2 {
		t.Errorf("matched %d, want %d", st.Matched, workers*each/2)
	}
}

// TestLiveSet: a rule added to the Set reaches an open keep-alive
// connection at its next request, and removing it stops it.
func TestLiveSet(t *testing.T) {
	var calls atomic.Int64
	srv := startServer(t, echoHandler(&calls))
	set := NewSet()
	p := newTestProxy(t, hostOf(srv), set)
	c := newClient()
	code := func() int {
		resp, err := c.Get(p.url() + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code() != 200 {
		t.Fatal("baseline")
	}
	remove := set.Add(mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
		s.Replace = &v1alpha1.HTTPChaosReplace{Code: ptr[int32](503)}
	})))
	if got := code(); got != 503 {
		t.Errorf("with the rule: %d", got)
	}
	remove()
	remove()
	if got := code(); got != 200 {
		t.Errorf("after removal: %d", got)
	}
	if p.served.Load() != 1 {
		t.Errorf("%d connections, want the one keep-alive connection", p.served.Load())
	}
}

// TestStreamingNotStalled: a chunked response streamed slowly reaches the
// client piece by piece while a rule (that does not need the body) holds
// the connection.
func TestStreamingNotStalled(t *testing.T) {
	step := make(chan struct{})
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "tok%d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-step:
			case <-time.After(10 * time.Second):
				return
			}
		}
	}))
	rule := mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
		s.Patch = &v1alpha1.HTTPChaosPatch{Headers: [][]string{{"X-P", "1"}}}
	}))
	p := newTestProxy(t, hostOf(srv), NewSet(rule))
	resp, err := newClient().Get(p.url() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		var line string
		withTimeout(t, 5*time.Second, "a streamed token", func() { line, _ = br.ReadString('\n') })
		if line != fmt.Sprintf("tok%d\n", i) {
			t.Fatalf("token %d: %q", i, line)
		}
		step <- struct{}{}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		spec *v1alpha1.HTTPChaosSpec
		want string
	}{
		{"tls", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
			s.Abort = ptr(true)
			s.TLS = &v1alpha1.HTTPChaosTLS{SecretName: "x"}
		}), "kube engine"},
		{"target", spec("Both", func(s *v1alpha1.HTTPChaosSpec) { s.Abort = ptr(true) }), "Request or Response"},
		{"no action", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {}), "no action"},
		{"delay", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) { s.Delay = ptr("soon") }), "delay"},
		{"body base64", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
			s.Replace = &v1alpha1.HTTPChaosReplace{Body: "!!"}
		}), "base64"},
		{"patch type", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
			s.Patch = &v1alpha1.HTTPChaosPatch{Body: &v1alpha1.HTTPChaosPatchBody{Type: "XML", Value: "<a/>"}}
		}), "only JSON"},
		{"patch pair", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
			s.Patch = &v1alpha1.HTTPChaosPatch{Headers: [][]string{{"a"}}}
		}), "pair"},
		{"header injection", spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
			s.Replace = &v1alpha1.HTTPChaosReplace{Headers: map[string]string{"X": "a\r\nEvil: 1"}}
		}), "not a valid header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v: want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "/a/b", true}, {"/a*", "/a", true}, {"/a/*/c", "/a/b/x/c", true},
		{"/a/?", "/a/bc", false}, {"/src", "/src/", false}, {"/src?", "/src/", true},
		{"*a*b*c*", "xxaxxbxxc", true}, {"*a*b*c*", "xxaxxcxxb", false}, {"", "", true},
		{strings.Repeat("*a", 30) + "b", strings.Repeat("a", 60), false},
	}
	for _, tc := range cases {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func TestMergePatch(t *testing.T) {
	// Examples from RFC 7396 appendix A.
	cases := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{`{"n":12345678901234567890}`, `{}`, `{"n":12345678901234567890}`},
	}
	for _, tc := range cases {
		pv, err := decodeJSON([]byte(tc.patch))
		if err != nil {
			t.Fatal(err)
		}
		got, err := (&patchAction{body: pv}).patchBody([]byte(tc.target))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("merge(%s, %s) = %s, want %s", tc.target, tc.patch, got, tc.want)
		}
	}
}
