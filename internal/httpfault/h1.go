package httpfault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Connection modes, decided from the client's first bytes.
type mode int

const (
	modeUndecided mode = iota
	modeH1             // in sync with the HTTP/1 exchanges
	modeRaw            // relaying bytes until a request line shows up
	modeTunnel         // after a 101 or a CONNECT: raw for good
	modeH2
)

// h1conn is one connection served as HTTP/1. The calling goroutine reads
// requests from the client (clientLoop); upLoop reads what the upstream
// sends. Exchanges are queued before their request is written upstream,
// so upLoop always knows which request a response answers (pipelining
// included); upstream bytes that arrive with nothing queued (the tail of
// a response in flight when Serve started, a 408 before a close) are
// relayed as they are.
type h1conn struct {
	ctx  context.Context
	set  *Set
	port int

	client, upstream net.Conn
	cr, ur           *bufio.Reader
	cw, uw           *bufio.Writer
	cwMu             sync.Mutex // cw is written by both loops

	clientIdle atomic.Bool // clientLoop is at a boundary
	upIdle     atomic.Bool // upLoop is waiting with nothing queued
	stopping   atomic.Bool // clientLoop stopped reading: upLoop ends when idle

	closed    chan struct{} // closed when either side was closed by us
	closeOnce sync.Once
	aborted   atomic.Bool

	mu       sync.Mutex
	cond     *sync.Cond // signals queue changes and upLoop's end
	queue    []*exchange
	upDone   bool
	upErr    error
	mode     mode
	upSpoke  bool          // upstream bytes were relayed raw since the last client chunk
	upRaw    bool          // upstream bytes were relayed raw before the mode was decided
	decided  chan struct{} // closed when the mode is first decided
	upExited chan struct{}
	// upStopped: upLoop ended because it was asked to, at a boundary.
	upStopped bool
	stopCh    chan struct{}
	stopOnce  sync.Once
}

// exchange is one request in flight.
type exchange struct {
	view   requestView // as forwarded (response rules match it)
	method string
	// upgrade, when set, receives whether the response switched protocols
	// (101, or 2xx to CONNECT); the client loop waits for it.
	upgrade chan bool
}

func newH1(ctx context.Context, client, upstream net.Conn, set *Set, port int) *h1conn {
	c := &h1conn{ctx: ctx, set: set, port: port, client: client, upstream: upstream,
		closed: make(chan struct{}), decided: make(chan struct{}), upExited: make(chan struct{}),
		stopCh: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	cr := &wakeConn{Conn: client, giveUp: func() bool { return c.clientIdle.Load() && ctx.Err() != nil }}
	ur := &wakeConn{Conn: upstream, giveUp: func() bool { return c.upIdle.Load() && c.stopping.Load() }}
	c.cr = bufio.NewReaderSize(cr, 32<<10)
	c.ur = bufio.NewReaderSize(ur, 32<<10)
	c.cw = bufio.NewWriterSize(client, 32<<10)
	c.uw = bufio.NewWriterSize(upstream, 32<<10)
	return c
}

// shut closes both connections (abort, or an error that ends them).
func (c *h1conn) shut() {
	c.closeOnce.Do(func() {
		close(c.closed)
		_ = c.client.Close()
		_ = c.upstream.Close()
	})
}

func (c *h1conn) run() error {
	go c.upLoop()
	err := c.clientLoop()
	if errors.Is(err, errToH2) {
		return c.serveH2()
	}
	switch {
	case errors.Is(err, ErrStopped):
		c.stopUpLoop()
	case err != nil:
		c.shut()
		<-c.upExited
		return err
	case c.aborted.Load():
		<-c.upExited
		return nil
	default:
		// The client finished sending; the upstream may still be
		// answering. Wait for it, or hand back once it is idle.
		select {
		case <-c.upExited:
		case <-c.ctx.Done():
			c.stopUpLoop()
		}
	}
	c.mu.Lock()
	upErr, stopped := c.upErr, c.upStopped
	c.mu.Unlock()
	if c.aborted.Load() {
		return nil
	}
	if upErr != nil {
		return upErr
	}
	if !errors.Is(err, ErrStopped) && !stopped {
		return nil
	}
	if !stopped {
		// The upstream ended (closed) while the client side stopped:
		// nothing to hand back.
		return nil
	}
	// Hand back: anything already read from one side goes to the other
	// first, so no byte is lost or reordered.
	if err := c.flushBuffered(); err != nil {
		return err
	}
	_ = c.upstream.SetReadDeadline(time.Time{})
	_ = c.client.SetReadDeadline(time.Time{})
	return ErrStopped
}

// stopUpLoop makes upLoop end at its next boundary and waits for it.
func (c *h1conn) stopUpLoop() {
	c.stopOnce.Do(func() {
		c.stopping.Store(true)
		close(c.stopCh)
	})
	_ = c.upstream.SetReadDeadline(time.Unix(1, 0))
	<-c.upExited
}

// flushBuffered passes bytes read ahead on either side to the other side.
func (c *h1conn) flushBuffered() error {
	if n := c.cr.Buffered(); n > 0 {
		b, _ := c.cr.Peek(n)
		if _, err := c.upstream.Write(b); err != nil {
			return fmt.Errorf("write to upstream: %w", err)
		}
		_, _ = c.cr.Discard(n)
	}
	if n := c.ur.Buffered(); n > 0 {
		b, _ := c.ur.Peek(n)
		if _, err := c.client.Write(b); err != nil {
			return fmt.Errorf("write to client: %w", err)
		}
		_, _ = c.ur.Discard(n)
	}
	return nil
}

var errToH2 = errors.New("switch to HTTP/2")

// --- client side ------------------------------------------------------------

func (c *h1conn) clientLoop() error {
	first := true
	for {
		c.clientIdle.Store(true)
		if c.ctx.Err() != nil && c.cr.Buffered() == 0 {
			return ErrStopped
		}
		if _, err := c.cr.Peek(1); err != nil {
			switch {
			case isDeadline(err) && c.ctx.Err() != nil && c.cr.Buffered() == 0:
				return ErrStopped
			case errors.Is(err, io.EOF):
				// The client is done sending: pass the half-close on at
				// once, as the raw relay does, and let the upstream finish
				// its answers.
				closeWrite(c.upstream)
				return nil
			case c.aborted.Load():
				return nil
			}
			return fmt.Errorf("read from client: %w", err)
		}
		c.mu.Lock()
		m, spoke := c.mode, c.upSpoke
		c.upSpoke = false
		c.mu.Unlock()
		if m != modeH1 && m != modeTunnel && (first || spoke) {
			nm, err := c.classify(m)
			if err != nil {
				return err
			}
			m = nm
		}
		first = false
		c.clientIdle.Store(false)
		switch m {
		case modeRaw, modeTunnel:
			if err := c.relayClientChunk(); err != nil {
				return err
			}
			continue
		}
		stop, err := c.request()
		if err != nil || stop {
			return err
		}
	}
}

// classify decides, from the client's first bytes, how to serve them.
func (c *h1conn) classify(cur mode) (mode, error) {
	for {
		b, _ := c.cr.Peek(c.cr.Buffered())
		if cur == modeUndecided && len(b) > 0 && b[0] == 'P' {
			n := min(len(b), len(h2Preface))
			if string(b[:n]) == h2Preface[:n] {
				if n == len(h2Preface) {
					return c.decide(modeH2)
				}
				if _, err := c.cr.Peek(n + 1); err != nil {
					return c.peekFailed(err)
				}
				continue
			}
		}
		switch classifyRequestLine(b) {
		case lineYes:
			return c.decide(modeH1)
		case lineNo:
			return c.decide(modeRaw)
		}
		if _, err := c.cr.Peek(len(b) + 1); err != nil {
			return c.peekFailed(err)
		}
	}
}

func (c *h1conn) peekFailed(err error) (mode, error) {
	if isDeadline(err) && c.ctx.Err() != nil {
		// Nothing was consumed: the partial line is still buffered, so
		// hand-back is not possible; relay what we have and go raw.
		return c.decide(modeRaw)
	}
	if errors.Is(err, io.EOF) {
		return c.decide(modeRaw)
	}
	return 0, fmt.Errorf("read from client: %w", err)
}

func (c *h1conn) decide(m mode) (mode, error) {
	c.mu.Lock()
	first := c.mode == modeUndecided
	if m == modeH2 && c.upRaw {
		// Upstream bytes were already relayed as they were: an HTTP/2
		// connection cannot be joined in the middle.
		m = modeRaw
	}
	c.mode = m
	c.mu.Unlock()
	if first {
		close(c.decided)
	}
	if m == modeH2 {
		return m, errToH2
	}
	return m, nil
}

// relayClientChunk passes what the client sent so far upstream as is.
func (c *h1conn) relayClientChunk() error {
	b, _ := c.cr.Peek(c.cr.Buffered())
	if _, err := c.uw.Write(b); err != nil {
		return c.writeFailed("upstream", err)
	}
	_, _ = c.cr.Discard(len(b))
	if err := c.uw.Flush(); err != nil {
		return c.writeFailed("upstream", err)
	}
	return nil
}

func (c *h1conn) writeFailed(side string, err error) error {
	c.shut()
	if c.aborted.Load() {
		return nil
	}
	return fmt.Errorf("write to %s: %w", side, err)
}

// request serves one request; stop says the client loop is over.
func (c *h1conn) request() (stop bool, err error) {
	raw, err := readHead(c.cr)
	if err != nil {
		if errors.Is(err, errHeadTooLarge) {
			return true, c.localError(http.StatusRequestHeaderFieldsTooLarge, "request head too large")
		}
		return true, fmt.Errorf("read request from client: %w", err)
	}
	req, err := http.ReadRequest(headReader(raw))
	if err != nil {
		return true, c.localError(http.StatusBadRequest, err.Error())
	}
	h := parseHead(raw)
	fr := framing{}
	switch {
	case len(req.TransferEncoding) > 0:
		if len(req.Header.Values("Content-Length")) > 0 || hasHeaderLine(h, "Content-Length") {
			// Both framings: refuse rather than let us and the server
			// disagree on where the body ends (request smuggling).
			return true, c.localError(http.StatusBadRequest, "both Transfer-Encoding and Content-Length")
		}
		fr.kind = bodyChunked
	case req.ContentLength > 0:
		fr = framing{kind: bodyFixed, n: req.ContentLength}
	}
	view := requestView{method: req.Method, path: escapedPath(req), header: req.Header}
	ex := &exchange{method: req.Method}
	expect := strings.EqualFold(req.Header.Get("Expect"), "100-continue")

	var (
		body     []byte // the body to send instead of the client's
		haveBody bool
		consumed bool // the client's body was read
	)
	readOriginal := func(max int64) ([]byte, error) {
		if expect {
			if err := c.writeClient([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
				return nil, err
			}
			h.del("Expect")
			expect = false
		}
		consumed = true
		return readBody(c.cr, fr, max)
	}
	target := req.RequestURI
	method := req.Method
	for _, e := range c.set.matchingRequest(c.port, &view) {
		r := e.rule
		r.stats.matched.Add(1)
		if r.abort {
			r.stats.aborted.Add(1)
			return true, c.abortAfterDrain()
		}
		if r.delay > 0 {
			r.stats.observeDelay(sleep(c.ctx, r.delay, e, c.closed))
		}
		if rp := r.replace; rp != nil {
			if rp.method != "" {
				method = rp.method
			}
			if target, err = rewriteTarget(target, rp, nil); err != nil {
				return true, c.localError(http.StatusBadRequest, err.Error())
			}
			if rp.hasBody {
				body, haveBody = rp.body, true
			}
			for _, hp := range rp.headers {
				h.set(hp.name, hp.value)
			}
			r.stats.replaced.Add(1)
		}
		if pp := r.patch; pp != nil {
			if target, err = rewriteTarget(target, nil, pp); err != nil {
				return true, c.localError(http.StatusBadRequest, err.Error())
			}
			if pp.hasBody {
				if !haveBody {
					orig, err := readOriginal(c.set.maxBody.Load())
					if err != nil {
						if errors.Is(err, errBodyTooLarge) || errors.Is(err, errBadFraming) {
							r.stats.failed.Add(1)
							return true, c.abortAfterDrain()
						}
						return true, fmt.Errorf("read request body: %w", err)
					}
					body, haveBody = orig, true
				}
				patched, err := pp.patchBody(body)
				if err != nil {
					r.stats.failed.Add(1)
					return true, c.abortAfterDrain()
				}
				body = patched
			}
			for _, hp := range pp.headers {
				h.add(hp.name, hp.value)
			}
			r.stats.patched.Add(1)
		}
	}
	if method != req.Method || target != req.RequestURI {
		proto := req.Proto
		h.setFirst(method + " " + target + " " + proto)
	}
	if haveBody {
		if !consumed {
			if expect {
				if err := c.writeClient([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
					return true, err
				}
				h.del("Expect")
			}
			if err := discardBody(c.cr, fr); err != nil {
				return true, fmt.Errorf("read request body: %w", err)
			}
		}
		h.del("Transfer-Encoding")
		h.set("Content-Length", strconv.Itoa(len(body)))
	}
	upgrade := req.Header.Get("Upgrade")
	if upgrade != "" && headerHasToken(req.Header, "Upgrade", "h2c") {
		// Refuse the h2c upgrade: the server answers in HTTP/1.1, which
		// the rules can see (prior-knowledge h2c is served as HTTP/2).
		h.del("Upgrade")
		h.del("HTTP2-Settings")
		dropConnectionTokens(h, req.Header, "upgrade", "http2-settings")
		upgrade = ""
	}
	if upgrade != "" || method == http.MethodConnect {
		ex.upgrade = make(chan bool, 1)
	}
	fwd := req.Header
	if h.dirty {
		if fr2, err := http.ReadRequest(headReader(h.bytes())); err == nil {
			fwd = fr2.Header
		}
	}
	// The server frames its answer by the method it received (HEAD).
	ex.method = method
	ex.view = requestView{method: method, path: pathOf(target), header: fwd}
	c.enqueue(ex)
	if _, err := c.uw.Write(h.bytes()); err != nil {
		return true, c.writeFailed("upstream", err)
	}
	if haveBody {
		_, err = c.uw.Write(body)
	} else {
		err = copyBody(c.uw, c.cr, fr)
	}
	if err == nil {
		err = c.uw.Flush()
	}
	if err != nil {
		c.shut()
		if c.aborted.Load() {
			return true, nil
		}
		return true, fmt.Errorf("forward request: %w", err)
	}
	if ex.upgrade != nil {
		select {
		case up := <-ex.upgrade:
			if up {
				c.mu.Lock()
				c.mode = modeTunnel
				c.mu.Unlock()
			}
		case <-c.upExited:
			return true, nil
		}
	}
	return false, nil
}

// headReader lets net/http parse a head already read whole; the buffer is
// sized to it instead of net/http's 4 KiB default.
func headReader(raw []byte) *bufio.Reader {
	return bufio.NewReaderSize(bytes.NewReader(raw), len(raw)+16)
}

func hasHeaderLine(h *head, name string) bool {
	h.ensure()
	for _, l := range h.lines {
		if strings.EqualFold(lineName(l), name) {
			return true
		}
	}
	return false
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// dropConnectionTokens removes tokens from the Connection header.
func dropConnectionTokens(h *head, hdr http.Header, tokens ...string) {
	var keep []string
	for _, v := range hdr.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			drop := t == ""
			for _, d := range tokens {
				drop = drop || strings.EqualFold(t, d)
			}
			if !drop {
				keep = append(keep, t)
			}
		}
	}
	h.del("Connection")
	if len(keep) > 0 {
		h.add("Connection", strings.Join(keep, ", "))
	}
}

// escapedPath is the request's URI path as sent (still escaped).
func escapedPath(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	return req.URL.EscapedPath()
}

func pathOf(target string) string {
	if strings.HasPrefix(target, "/") {
		p, _, _ := strings.Cut(target, "?")
		return p
	}
	u, err := url.Parse(target)
	if err != nil {
		return ""
	}
	return u.EscapedPath()
}

func (c *h1conn) writeClient(b []byte) error {
	c.cwMu.Lock()
	defer c.cwMu.Unlock()
	if _, err := c.cw.Write(b); err != nil {
		return c.writeFailed("client", err)
	}
	if err := c.cw.Flush(); err != nil {
		return c.writeFailed("client", err)
	}
	return nil
}

// localError answers the client itself once the responses before it are
// delivered, then ends the connection: after a request it could not
// parse, nothing on the connection can be trusted.
func (c *h1conn) localError(code int, why string) error {
	c.waitDrained()
	body := http.StatusText(code) + ": " + strings.ReplaceAll(why, "\n", " ") + "\n"
	msg := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(body), body)
	_ = c.writeClient([]byte(msg))
	c.shut()
	return nil
}

// abortAfterDrain closes the connection without an answer, after the
// answers to earlier requests were delivered.
func (c *h1conn) abortAfterDrain() error {
	c.waitDrained()
	c.aborted.Store(true)
	c.shut()
	return nil
}

func (c *h1conn) enqueue(ex *exchange) {
	c.mu.Lock()
	c.queue = append(c.queue, ex)
	c.cond.Broadcast()
	c.mu.Unlock()
}

// waitDrained waits until every queued exchange was answered, or the
// upstream side ended.
func (c *h1conn) waitDrained() {
	c.mu.Lock()
	for len(c.queue) > 0 && !c.upDone {
		c.cond.Wait()
	}
	c.mu.Unlock()
}

// --- upstream side ----------------------------------------------------------

func (c *h1conn) upLoop() {
	stopped, err := c.upLoopErr()
	c.mu.Lock()
	c.upDone, c.upErr, c.upStopped = true, err, stopped
	queued := c.queue
	c.queue = nil
	c.cond.Broadcast()
	c.mu.Unlock()
	for _, ex := range queued {
		if ex.upgrade != nil {
			ex.upgrade <- false
		}
	}
	close(c.upExited)
}

func (c *h1conn) pending() *exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return nil
	}
	return c.queue[0]
}

func (c *h1conn) dequeue() {
	c.mu.Lock()
	c.queue = c.queue[1:]
	c.cond.Broadcast()
	c.mu.Unlock()
}

// upLoopErr relays what the upstream sends; stopped says it ended because
// it was asked to, at a boundary with nothing in flight.
func (c *h1conn) upLoopErr() (stopped bool, err error) {
	for {
		idle := c.pending() == nil
		c.upIdle.Store(idle)
		if idle && c.stopping.Load() {
			return true, nil
		}
		_, err := c.ur.Peek(1)
		c.upIdle.Store(false)
		if err != nil {
			switch {
			case isDeadline(err):
				return true, nil // asked to stop, at a boundary
			case c.aborted.Load():
				return false, nil
			case errors.Is(err, io.EOF):
				if c.pending() != nil {
					// The server closed instead of answering: so does the
					// proxy, as a client of the server itself would see.
					c.shut()
					return false, nil
				}
				closeWrite(c.client)
				return false, nil
			}
			c.shut()
			if c.aborted.Load() {
				return false, nil
			}
			return false, fmt.Errorf("read from upstream: %w", err)
		}
		c.mu.Lock()
		m := c.mode
		c.mu.Unlock()
		if m == modeUndecided && looksLikeH2Settings(c.ur) {
			// An HTTP/2 server speaks first; wait for the client's preface
			// before relaying anything, so the connection can still be
			// served as HTTP/2.
			select {
			case <-c.decided:
			case <-c.stopCh:
				return true, nil
			case <-c.closed:
				return false, nil
			}
			continue
		}
		ex := c.pending()
		if ex == nil {
			h2, err := c.relayUpstreamChunk()
			if err != nil || h2 {
				return h2, err
			}
			continue
		}
		done, err := c.response(ex)
		if err != nil || done {
			return false, err
		}
	}
}

// looksLikeH2Settings says whether the upstream's first bytes are an
// HTTP/2 SETTINGS frame on stream 0 (an HTTP/2 server's preface).
func looksLikeH2Settings(r *bufio.Reader) bool {
	b, _ := r.Peek(r.Buffered())
	if len(b) < 9 {
		return false
	}
	n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	return b[3] == 0x4 && b[4]&^0x1 == 0 && b[5]|b[6]|b[7]|b[8] == 0 && n%6 == 0
}

// relayUpstreamChunk passes what the upstream sent so far to the client
// as is; h2 says the connection became HTTP/2 and upLoop must end.
func (c *h1conn) relayUpstreamChunk() (h2 bool, err error) {
	c.mu.Lock()
	if c.mode == modeH2 {
		c.mu.Unlock()
		return true, nil
	}
	c.upSpoke = true
	if c.mode == modeUndecided {
		c.upRaw = true
	}
	c.mu.Unlock()
	b, _ := c.ur.Peek(c.ur.Buffered())
	c.cwMu.Lock()
	defer c.cwMu.Unlock()
	if _, err := c.cw.Write(b); err != nil {
		return false, c.writeFailed("client", err)
	}
	_, _ = c.ur.Discard(len(b))
	if err := c.cw.Flush(); err != nil {
		return false, c.writeFailed("client", err)
	}
	return false, nil
}

// response forwards the answer to ex; done says the connection is over.
func (c *h1conn) response(ex *exchange) (done bool, err error) {
	c.cwMu.Lock()
	defer c.cwMu.Unlock()
	for {
		raw, err := readHead(c.ur)
		if err != nil {
			if c.aborted.Load() {
				return true, nil
			}
			if errors.Is(err, errHeadTooLarge) {
				c.badGateway("response head too large")
				return true, nil
			}
			c.shut()
			return true, fmt.Errorf("read response from upstream: %w", err)
		}
		resp, err := http.ReadResponse(headReader(raw), &http.Request{Method: ex.method})
		if err != nil {
			c.badGateway(err.Error())
			return true, nil
		}
		code := resp.StatusCode
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			// Interim response (100 Continue, 103 Early Hints): relay it
			// and read on for the final one.
			if _, err := c.cw.Write(raw); err != nil {
				return true, c.writeFailed("client", err)
			}
			if err := c.cw.Flush(); err != nil {
				return true, c.writeFailed("client", err)
			}
			continue
		}
		return c.finalResponse(ex, raw, resp)
	}
}

func (c *h1conn) badGateway(why string) {
	body := "Bad Gateway: " + strings.ReplaceAll(why, "\n", " ") + "\n"
	fmt.Fprintf(c.cw, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	_ = c.cw.Flush()
	c.shut()
}

func (c *h1conn) finalResponse(ex *exchange, raw []byte, resp *http.Response) (bool, error) {
	code := resp.StatusCode
	switched := code == http.StatusSwitchingProtocols || ex.method == http.MethodConnect && code/100 == 2
	fr := framing{}
	switch {
	case ex.method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || switched:
	case len(resp.TransferEncoding) > 0:
		fr.kind = bodyChunked
	case resp.ContentLength >= 0:
		fr = framing{kind: bodyFixed, n: resp.ContentLength}
	default:
		fr.kind = bodyUntilClose
	}
	if fr.kind == bodyFixed && fr.n == 0 {
		fr.kind = bodyNone
	}
	h := parseHead(raw)
	var (
		body     []byte
		haveBody bool
		consumed bool
	)
	noBody := ex.method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || switched
	for _, e := range c.set.matchingResponse(c.port, &ex.view, code, resp.Header) {
		r := e.rule
		r.stats.matched.Add(1)
		if r.abort {
			r.stats.aborted.Add(1)
			c.aborted.Store(true)
			c.shut()
			return true, nil
		}
		if r.delay > 0 {
			r.stats.observeDelay(sleep(c.ctx, r.delay, e, c.closed))
		}
		if rp := r.replace; rp != nil {
			if rp.code != 0 {
				code = rp.code
				proto, _, _ := strings.Cut(h.firstLine(), " ")
				h.setFirst(fmt.Sprintf("%s %d %s", proto, code, http.StatusText(code)))
			}
			if rp.hasBody && !noBody {
				body, haveBody = rp.body, true
			}
			for _, hp := range rp.headers {
				h.set(hp.name, hp.value)
			}
			r.stats.replaced.Add(1)
		}
		if pp := r.patch; pp != nil {
			if pp.hasBody && !noBody {
				if !haveBody {
					orig, err := readBody(c.ur, fr, c.set.maxBody.Load())
					consumed = true
					if err != nil {
						r.stats.failed.Add(1)
						c.aborted.Store(true)
						c.shut()
						return true, nil
					}
					body, haveBody = orig, true
				}
				patched, err := pp.patchBody(body)
				if err != nil {
					r.stats.failed.Add(1)
					c.aborted.Store(true)
					c.shut()
					return true, nil
				}
				body = patched
			}
			for _, hp := range pp.headers {
				h.add(hp.name, hp.value)
			}
			r.stats.patched.Add(1)
		}
	}
	if haveBody {
		if !consumed {
			if err := discardBody(c.ur, fr); err != nil {
				c.shut()
				return true, fmt.Errorf("read response body: %w", err)
			}
		}
		h.del("Transfer-Encoding")
		h.set("Content-Length", strconv.Itoa(len(body)))
	}
	if _, err := c.cw.Write(h.bytes()); err != nil {
		return true, c.writeFailed("client", err)
	}
	var err error
	if haveBody {
		_, err = c.cw.Write(body)
	} else {
		err = copyBody(c.cw, c.ur, fr)
	}
	if err == nil {
		err = c.cw.Flush()
	}
	if err != nil {
		c.shut()
		if c.aborted.Load() {
			return true, nil
		}
		return true, fmt.Errorf("forward response: %w", err)
	}
	c.dequeue()
	if ex.upgrade != nil {
		ex.upgrade <- switched
	}
	if switched {
		c.mu.Lock()
		c.mode = modeTunnel
		c.mu.Unlock()
	}
	if fr.kind == bodyUntilClose && !haveBody {
		// The server ended the body by closing: so does the proxy.
		closeWrite(c.client)
		return true, nil
	}
	if fr.kind == bodyUntilClose {
		// The replaced body was framed with Content-Length, but the
		// server will close anyway: drop the rest and close.
		_ = discardBody(c.ur, fr)
		closeWrite(c.client)
		return true, nil
	}
	return false, nil
}
