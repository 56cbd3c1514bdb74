package httpfault

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// h2cClient speaks HTTP/2 with prior knowledge over cleartext; dials
// counts the connections it opened.
func h2cClient(dials *atomic.Int64) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			if dials != nil {
				dials.Add(1)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// startH2CServer serves h with h2c: net/http's own unencrypted HTTP/2
// (prior knowledge), next to HTTP/1.
func startH2CServer(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "want HTTP/2", http.StatusHTTPVersionNotSupported)
			return
		}
		h.ServeHTTP(w, r)
	}))
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetHTTP1(true)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	t.Cleanup(s.Close)
	return hostOf(s)
}

// startH2PriorServer runs an HTTP/2-only server that sends its SETTINGS
// as soon as a connection is accepted, before the client's preface.
func startH2PriorServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv := &http2.Server{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.ServeConn(c, &http2.ServeConnOpts{Handler: h})
		}
	}()
	return ln.Addr().String()
}

func TestH2Rules(t *testing.T) {
	for _, server := range []string{"h2c", "prior-knowledge"} {
		t.Run(server, func(t *testing.T) {
			var calls atomic.Int64
			var upstream string
			if server == "h2c" {
				upstream = startH2CServer(t, echoHandler(&calls))
			} else {
				upstream = startH2PriorServer(t, echoHandler(&calls))
			}
			abort := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
				s.Path = ptr("/abort")
				s.Abort = ptr(true)
			}))
			reqPatch := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
				s.Path = ptr("/patch")
				s.Patch = &v1alpha1.HTTPChaosPatch{Headers: [][]string{{"X-Tag", "p"}}, Queries: [][]string{{"q", "1"}},
					Body: &v1alpha1.HTTPChaosPatchBody{Type: "JSON", Value: `{"b":2}`}}
			}))
			rspReplace := mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
				s.Path = ptr("/replace")
				s.Replace = &v1alpha1.HTTPChaosReplace{Code: ptr[int32](503), Headers: map[string]string{"X-Server": "chaos"},
					Body: base64.StdEncoding.EncodeToString([]byte("down"))}
			}))
			p := newTestProxy(t, upstream, NewSet(abort, reqPatch, rspReplace))
			var dials atomic.Int64
			c := h2cClient(&dials)

			// Aborted stream: reset, the server never sees it.
			if resp, err := c.Get(p.url() + "/abort"); err == nil {
				resp.Body.Close()
				t.Fatalf("aborted stream got %s", resp.Status)
			}
			if abort.Stats().Aborted < 1 {
				t.Errorf("abort stats %+v", abort.Stats())
			}
			before := calls.Load()

			// A non-matching stream passes.
			resp, err := c.Get(p.url() + "/plain?x=1")
			if err != nil {
				t.Fatal(err)
			}
			e := decodeEcho(t, resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || e.Path != "/plain" || fmt.Sprint(e.Query["x"]) != "[1]" {
				t.Errorf("plain: proto %d echo %+v", resp.ProtoMajor, e)
			}

			// Request patch.
			req, _ := http.NewRequest("POST", p.url()+"/patch", strings.NewReader(`{"a":1}`))
			req.Header.Set("X-Tag", "orig")
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			e = decodeEcho(t, resp.Body)
			resp.Body.Close()
			if e.Body != `{"a":1,"b":2}` || fmt.Sprint(e.Header["X-Tag"]) != "[orig p]" || fmt.Sprint(e.Query["q"]) != "[1]" {
				t.Errorf("patch: echo %+v", e)
			}

			// Response replace.
			resp, err = c.Get(p.url() + "/replace")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || string(b) != "down" || resp.Header.Get("X-Server") != "chaos" {
				t.Errorf("replace: %s %q %v", resp.Status, b, resp.Header)
			}
			if got := calls.Load() - before; got != 3 {
				t.Errorf("server saw %d requests after the abort, want 3", got)
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("client dialled %d times: an aborted stream must not kill the connection", n)
			}
		})
	}
}

func TestH2DelayAndConcurrentStreams(t *testing.T) {
	var calls atomic.Int64
	upstream := startH2CServer(t, echoHandler(&calls))
	const asked = 60 * time.Millisecond
	rule := mustCompile(t, spec(TargetResponse, func(s *v1alpha1.HTTPChaosSpec) {
		s.Path = ptr("/slow/*")
		s.Delay = ptr(asked.String())
	}))
	p := newTestProxy(t, upstream, NewSet(rule))
	var dials atomic.Int64
	c := h2cClient(&dials)
	const n = 16
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path := fmt.Sprintf("/slow/%d", i)
			if i%2 == 0 {
				path = fmt.Sprintf("/fast/%d", i)
			}
			start := time.Now()
			resp, err := c.Get(p.url() + path)
			if err != nil {
				bad.Add(1)
				return
			}
			var e echo
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Path != path {
				bad.Add(1)
			}
			resp.Body.Close()
			if i%2 == 1 && time.Since(start) < asked {
				bad.Add(1)
			}
		}(i)
	}
	withTimeout(t, 20*time.Second, "concurrent streams", wg.Wait)
	if bad.Load() != 0 {
		t.Errorf("%d of %d streams failed", bad.Load(), n)
	}
	st := rule.Stats()
	if st.Delayed != n/2 || st.DelayMean() < asked {
		t.Errorf("stats %+v: want %d delays of at least %s", st, n/2, asked)
	}
	t.Logf("h2: asked %s, measured mean %s over %d streams", asked, st.DelayMean(), st.Delayed)
}

// TestH2Drain: cancelling ctx drains an HTTP/2 connection (GOAWAY); the
// client carries on over a new connection.
func TestH2Drain(t *testing.T) {
	var calls atomic.Int64
	upstream := startH2CServer(t, echoHandler(&calls))
	p := newTestProxy(t, upstream, NewSet())
	var dials atomic.Int64
	c := h2cClient(&dials)
	get := func() {
		t.Helper()
		resp, err := c.Get(p.url() + "/d")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get()
	p.interrupt()
	withTimeout(t, 5*time.Second, "the drained connection to close", func() {
		for {
			p.mu.Lock()
			n := len(p.conns)
			p.mu.Unlock()
			if n == 0 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	get()
	if dials.Load() != 2 {
		t.Errorf("dials %d: want a second connection after the drain", dials.Load())
	}
	if p.handedBack.Load() != 0 {
		t.Error("an HTTP/2 connection was handed back to a raw relay")
	}
}
