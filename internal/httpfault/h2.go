package httpfault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/http2"
)

// serveH2 serves a connection whose client sent the HTTP/2 preface: an
// http2.Server reads the client's streams and an http2.ClientConn over
// the upstream connection forwards them, so rules apply per stream. When
// ctx ends the connection is drained (GOAWAY) rather than handed back: the
// framing state cannot be given to a raw relay.
func (c *h1conn) serveH2() error {
	c.stopUpLoop()
	// From here on nothing hands back: reads ride out wake-ups.
	c.clientIdle.Store(false)
	c.upIdle.Store(false)
	c.stopping.Store(false)
	_ = c.upstream.SetReadDeadline(time.Time{})
	_ = c.client.SetReadDeadline(time.Time{})

	tr := &http2.Transport{AllowHTTP: true}
	cc, err := tr.NewClientConn(&bufConn{Conn: &wakeConn{Conn: c.upstream, giveUp: never}, r: c.ur})
	if err != nil {
		return fmt.Errorf("start HTTP/2 to upstream: %w", err)
	}
	defer cc.Close()

	hs := &http.Server{}
	h2s := &http2.Server{}
	if err := http2.ConfigureServer(hs, h2s); err != nil {
		return fmt.Errorf("configure HTTP/2 server: %w", err)
	}
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan struct{})
	go func() {
		select {
		case <-c.ctx.Done():
			// Drain: GOAWAY, streams in flight finish, new requests go to
			// a new connection (which the caller routes afresh).
			sctx, scancel := context.WithTimeout(context.Background(), time.Second)
			_ = hs.Shutdown(sctx)
			scancel()
		case <-served:
		}
	}()
	h := &h2handler{c: c, cc: cc}
	h2s.ServeConn(&bufConn{Conn: &wakeConn{Conn: c.client, giveUp: never}, r: c.cr},
		&http2.ServeConnOpts{Context: base, BaseConfig: hs, Handler: h})
	close(served)
	return nil
}

func never() bool { return false }

type h2handler struct {
	c  *h1conn
	cc *http2.ClientConn
}

// abortStream resets the stream: net/http's documented way for a handler
// to end a response abruptly (the server recovers it and sends
// RST_STREAM), which is what Chaos Mesh's abort amounts to on HTTP/2.
func abortStream() { panic(http.ErrAbortHandler) }

// patchStreamBody merge-patches a request's or response's body, reading it
// first (up to max bytes) unless an earlier rule did; a body that cannot
// be read or patched counts as failed and resets the stream.
func patchStreamBody(rule *Rule, pp *patchAction, src io.Reader, body []byte, have bool, max int64) ([]byte, bool) {
	var err error
	if !have {
		if body, err = readAllLimit(src, max); err != nil {
			rule.stats.failed.Add(1)
			abortStream()
		}
	}
	if body, err = pp.patchBody(body); err != nil {
		rule.stats.failed.Add(1)
		abortStream()
	}
	return body, true
}

func (h *h2handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	ctx := r.Context()
	view := requestView{method: r.Method, path: r.URL.EscapedPath(), header: r.Header}
	out := r.Clone(ctx)
	out.RequestURI = ""
	target := r.URL.RequestURI()
	method := r.Method
	var (
		body     []byte
		haveBody bool
		err      error
	)
	maxBody := c.set.maxBody.Load()
	for _, e := range c.set.matchingRequest(c.port, &view) {
		rule := e.rule
		rule.stats.matched.Add(1)
		if rule.abort {
			rule.stats.aborted.Add(1)
			abortStream()
		}
		if rule.delay > 0 {
			rule.stats.observeDelay(sleep(ctx, rule.delay, e, nil))
		}
		if rp := rule.replace; rp != nil {
			if rp.method != "" {
				method = rp.method
			}
			if target, err = rewriteTarget(target, rp, nil); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if rp.hasBody {
				body, haveBody = rp.body, true
			}
			for _, hp := range rp.headers {
				out.Header.Set(hp.name, hp.value)
			}
			rule.stats.replaced.Add(1)
		}
		if pp := rule.patch; pp != nil {
			if target, err = rewriteTarget(target, nil, pp); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if pp.hasBody {
				body, haveBody = patchStreamBody(rule, pp, r.Body, body, haveBody, maxBody)
			}
			for _, hp := range pp.headers {
				out.Header.Add(hp.name, hp.value)
			}
			rule.stats.patched.Add(1)
		}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		http.Error(w, "bad request target: "+err.Error(), http.StatusBadRequest)
		return
	}
	u.Scheme, u.Host = "http", r.Host
	out.URL, out.Method, out.Host = u, method, r.Host
	if haveBody {
		_ = r.Body.Close()
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.Header.Del("Content-Length")
	}
	fwd := requestView{method: method, path: u.EscapedPath(), header: out.Header}

	resp, err := h.cc.RoundTrip(out)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		http.Error(w, "Bad Gateway: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	var (
		rbody     []byte
		haveRBody bool
	)
	for _, e := range c.set.matchingResponse(c.port, &fwd, code, resp.Header) {
		rule := e.rule
		rule.stats.matched.Add(1)
		if rule.abort {
			rule.stats.aborted.Add(1)
			abortStream()
		}
		if rule.delay > 0 {
			rule.stats.observeDelay(sleep(ctx, rule.delay, e, nil))
		}
		if rp := rule.replace; rp != nil {
			if rp.code != 0 {
				code = rp.code
			}
			if rp.hasBody {
				rbody, haveRBody = rp.body, true
			}
			for _, hp := range rp.headers {
				resp.Header.Set(hp.name, hp.value)
			}
			rule.stats.replaced.Add(1)
		}
		if pp := rule.patch; pp != nil {
			if pp.hasBody {
				rbody, haveRBody = patchStreamBody(rule, pp, resp.Body, rbody, haveRBody, maxBody)
			}
			for _, hp := range pp.headers {
				resp.Header.Add(hp.name, hp.value)
			}
			rule.stats.patched.Add(1)
		}
	}
	wh := w.Header()
	for k, vs := range resp.Header {
		wh[k] = vs
	}
	if haveRBody {
		wh.Set("Content-Length", strconv.Itoa(len(rbody)))
	}
	for k := range resp.Trailer {
		wh.Add("Trailer", k)
	}
	w.WriteHeader(code)
	if haveRBody {
		_, _ = w.Write(rbody)
		return
	}
	// Stream, flushing as data arrives (token streams must not stall).
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				// The upstream stream broke: break ours too rather than
				// end it cleanly with a truncated body.
				abortStream()
			}
			break
		}
	}
	for k, vs := range resp.Trailer {
		wh[k] = vs
	}
}

func readAllLimit(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errBodyTooLarge
	}
	return b, nil
}
