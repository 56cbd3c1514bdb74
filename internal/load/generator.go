package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline-dev/faultline/internal/timeline"
)

// Sink receives request outcomes in batches, at least every 100 ms while a
// load runs. It is called from one goroutine at a time and must not keep
// the slice after returning (the generator reuses it); timeline.Recorder
// copies, so it is a Sink.
type Sink interface {
	AddRequests(reqs ...timeline.Request)
}

// Generator runs one open-loop load. Create it with New, call Run once;
// Live and Totals may be called from other goroutines at any time.
type Generator struct {
	cfg     Config
	sink    Sink
	started atomic.Bool
	cur     atomic.Pointer[run]
}

// New returns a generator for cfg that records into sink (nil records
// nothing, for benchmarks). The config is checked by Run.
func New(cfg Config, sink Sink) *Generator {
	return &Generator{cfg: cfg, sink: sink}
}

// errDrainDeadline cancels requests still unanswered when Run stops
// waiting for them after the load's duration.
var errDrainDeadline = errors.New("load ended and the request outlived its timeout")

// drainGrace is added to the timeout when waiting for the last requests,
// so a request sent just before the end gets its full timeout.
const drainGrace = 100 * time.Millisecond

// Run sends the load, with request n due at origin + its offset in the
// schedule, and blocks until the duration has elapsed and the requests
// still in flight have finished (at most the timeout more), or until ctx
// is done. Every request that came due is recorded, except those cut off
// by ctx: an aborted run's last requests say nothing about the service.
// A Generator runs once.
func (g *Generator) Run(ctx context.Context, origin time.Time) error {
	if !g.started.CompareAndSwap(false, true) {
		return errors.New("load: the generator has already run")
	}
	cfg, err := g.cfg.resolve()
	if err != nil {
		return err
	}
	r, err := newRun(cfg, g.sink, origin)
	if err != nil {
		return err
	}
	g.cur.Store(r)
	defer r.transport.CloseIdleConnections()

	// Requests get their own cancellation so that an abort is marked
	// before any in-flight request sees it (and is discarded, not
	// recorded as "canceled").
	stopAbort := context.AfterFunc(ctx, func() {
		r.aborted.Store(true)
		r.cancelReqs(context.Cause(ctx))
	})
	defer stopAbort()
	defer r.cancelReqs(nil)

	stopFlush, flushed := make(chan struct{}), make(chan struct{})
	go r.flushLoop(stopFlush, flushed)

	err = r.dispatch(ctx)
	r.drain()
	close(stopFlush)
	<-flushed
	if err != nil {
		return fmt.Errorf("load: stopped early: %w", err)
	}
	return nil
}

// Live returns rolling figures over about the last second.
func (g *Generator) Live() LiveStats {
	r := g.cur.Load()
	if r == nil {
		return LiveStats{}
	}
	ls := r.st.liveStats(time.Now())
	ls.InFlight = r.inFlight.Load()
	ls.Queued = int64(len(r.jobs))
	return ls
}

// Totals summarise the load so far (all of it once Run has returned).
func (g *Generator) Totals() Totals {
	r := g.cur.Load()
	if r == nil {
		return Totals{ErrorsByKind: map[string]int64{}}
	}
	t := r.st.totals()
	t.Scheduled = r.scheduled.Load()
	t.Sent = r.sent.Load()
	return t
}

// run is the state of one Run.
type run struct {
	cfg       Config
	sink      Sink
	origin    time.Time
	sched     schedule
	transport *http.Transport
	tmpls     []template
	expected  [600]bool

	jobs       chan job
	reqCtx     context.Context
	cancelReqs context.CancelCauseFunc
	aborted    atomic.Bool // ctx done: discard what is cut off
	draining   atomic.Bool // past the drain deadline: stop sending

	started   int // workers started; dispatcher only
	idle      atomic.Int64
	inFlight  atomic.Int64
	scheduled atomic.Int64
	sent      atomic.Int64
	wg        sync.WaitGroup

	recMu     sync.Mutex
	recorders []*recorder
	st        *stats
}

// job is one due request: its offset and sequence number.
type job struct {
	at time.Duration
	n  int64
}

// template is a prepared request for one body. Each send makes a shallow
// copy (WithContext) and a fresh tiny reader over the shared body bytes:
// the URL is parsed and the headers built once, not per request.
type template struct {
	req  *http.Request
	body []byte
}

// recorder is one writer's batch of outcomes. Each worker has its own, so
// the lock is uncontended except for the flusher's visit every 50 ms.
type recorder struct {
	mu    sync.Mutex
	batch []timeline.Request
}

func (rc *recorder) add(r timeline.Request) {
	rc.mu.Lock()
	rc.batch = append(rc.batch, r)
	rc.mu.Unlock()
}

func newRun(cfg Config, sink Sink, origin time.Time) (*run, error) {
	r := &run{cfg: cfg, sink: sink, origin: origin, sched: cfg.schedule(), st: newStats(time.Now())}
	if len(cfg.ExpectedStatus) == 0 {
		for c := 200; c < 400; c++ {
			r.expected[c] = true
		}
	}
	for _, c := range cfg.ExpectedStatus {
		r.expected[c] = true
	}
	header := cfg.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	bodies := cfg.Bodies
	if len(bodies) == 0 {
		bodies = [][]byte{nil}
	}
	for _, b := range bodies {
		req, err := http.NewRequest(cfg.Method, cfg.URL, nil)
		if err != nil {
			return nil, fmt.Errorf("load: building the request: %w", err)
		}
		req.Header = header
		if b != nil {
			req.ContentLength = int64(len(b))
			// GetBody lets the transport retry a request whose kept-alive
			// connection the server had just closed, instead of recording
			// a spurious error.
			req.GetBody = func() (io.ReadCloser, error) { return &bodyReader{b: b}, nil }
		}
		r.tmpls = append(r.tmpls, template{req: req, body: b})
	}
	r.transport = &http.Transport{
		// Load goes straight to the target: a proxy from the environment
		// would measure the proxy.
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   cfg.Timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// One kept-alive connection per worker: every worker reuses its
		// connection instead of paying a handshake per request. HTTP/1.1
		// (no ForceAttemptHTTP2) so that workers are independent
		// connections a gateway balances, like independent clients.
		MaxIdleConns:        cfg.MaxWorkers,
		MaxIdleConnsPerHost: cfg.MaxWorkers,
		IdleConnTimeout:     90 * time.Second,
		// The body is discarded; decompressing it would only cost CPU.
		DisableCompression: true,
	}
	r.jobs = make(chan job, cfg.QueueSize)
	r.reqCtx, r.cancelReqs = context.WithCancelCause(context.Background())
	return r, nil
}

// dispatch walks the schedule, handing each request to a worker at its
// send time, and returns when the load's duration has elapsed.
func (r *run) dispatch(ctx context.Context) error {
	sl := newSleeper()
	drops := r.newRecorder()
	limit := r.sched.count() + 1 // bound: the schedule ends by itself before this
	var prev time.Duration
	for n := int64(0); n < limit; n++ {
		at, ok := r.sched.at(n)
		if !ok {
			break
		}
		due := r.origin.Add(at)
		if err := sl.until(ctx, due, at-prev); err != nil {
			return err
		}
		prev = at
		r.scheduled.Add(1)
		// Start another worker when the queued requests would use up the
		// idle ones: the pool grows to what the load needs, up to the cap,
		// and never shrinks during the run.
		if r.started < r.cfg.MaxWorkers && r.idle.Load() <= int64(len(r.jobs)) {
			r.startWorker()
		}
		select {
		case r.jobs <- job{at: at, n: n}:
		default:
			drops.add(timeline.Request{At: at, Latency: max(time.Since(due), 0), Error: ErrDropped})
		}
	}
	return sl.until(ctx, r.origin.Add(r.cfg.Duration), 0)
}

func (r *run) newRecorder() *recorder {
	rc := &recorder{}
	r.recMu.Lock()
	r.recorders = append(r.recorders, rc)
	r.recMu.Unlock()
	return rc
}

func (r *run) startWorker() {
	r.started++
	rc := r.newRecorder()
	r.idle.Add(1)
	r.wg.Add(1)
	go r.worker(rc)
}

func (r *run) worker(rc *recorder) {
	defer r.wg.Done()
	for j := range r.jobs { // closed by drain
		r.idle.Add(-1)
		r.serve(j, rc)
		r.idle.Add(1)
	}
}

// serve sends one request and records its outcome, latency counted from
// its scheduled send time.
func (r *run) serve(j job, rc *recorder) {
	due := r.origin.Add(j.at)
	switch {
	case r.aborted.Load():
		return
	case r.draining.Load():
		// Still queued when Run stopped waiting: never sent because the
		// workers were saturated.
		rc.add(timeline.Request{At: j.at, Latency: time.Since(due), Error: ErrDropped})
		return
	}
	// The dispatcher hands requests over up to a lead before they are
	// due (see sleeper); wait out the rest here, already awake.
	spinUntil(due)
	r.sent.Add(1)
	r.inFlight.Add(1)
	status, err := r.do(j.n)
	lat := time.Since(due)
	r.inFlight.Add(-1)
	out := timeline.Request{At: j.at, Latency: lat, Status: status}
	switch {
	case err != nil && r.aborted.Load():
		return // cut off by the abort
	case err != nil && r.draining.Load() && errors.Is(err, context.Canceled):
		out.Error = ErrTimeout
	case err != nil:
		out.Error = classify(err)
	case status < len(r.expected) && r.expected[status]:
		out.OK = true
	default:
		out.Error = statusClass(status)
	}
	rc.add(out)
}

// do performs request n and reads the response to its end, so that the
// latency covers the whole answer and the connection can be reused.
func (r *run) do(n int64) (int, error) {
	t := &r.tmpls[n%int64(len(r.tmpls))]
	ctx, cancel := context.WithTimeout(r.reqCtx, r.cfg.Timeout)
	defer cancel()
	req := t.req.WithContext(ctx)
	if t.body != nil {
		req.Body = &bodyReader{b: t.body}
	}
	// RoundTrip, not Client.Do: no redirects followed (a 3xx is an answer,
	// and counts as success by default), no cookie jar, no extra timer.
	resp, err := r.transport.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading the response: %w", err)
	}
	return resp.StatusCode, nil
}

// bodyReader reads a shared body without copying it.
type bodyReader struct {
	b   []byte
	off int
}

func (br *bodyReader) Read(p []byte) (int, error) {
	if br.off >= len(br.b) {
		return 0, io.EOF
	}
	n := copy(p, br.b[br.off:])
	br.off += n
	return n, nil
}

func (br *bodyReader) Close() error { return nil }

// drain closes the queue and waits for the workers: at most the timeout
// (plus a little), after which the remaining requests are cancelled and
// recorded as timeouts, and still-queued ones as dropped.
func (r *run) drain() {
	close(r.jobs)
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(r.cfg.Timeout + drainGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		r.draining.Store(true)
		r.cancelReqs(errDrainDeadline)
		<-done // prompt now: every request's context is cancelled
	}
}

// flushLoop hands outcomes to the sink and the statistics every
// flushPeriod, and once more when stopped; it lives exactly as long as Run.
func (r *run) flushLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(flushPeriod)
	defer t.Stop()
	var buf []timeline.Request
	var lastSent int64
	for {
		select {
		case <-t.C:
			buf, lastSent = r.flush(buf, lastSent)
			r.st.rotate(time.Now())
		case <-stop:
			r.flush(buf, lastSent)
			return
		}
	}
}

func (r *run) flush(buf []timeline.Request, lastSent int64) ([]timeline.Request, int64) {
	r.recMu.Lock()
	recs := r.recorders // append-only: the prefix we hold never changes
	r.recMu.Unlock()
	buf = buf[:0]
	for _, rc := range recs {
		rc.mu.Lock()
		buf = append(buf, rc.batch...)
		rc.batch = rc.batch[:0]
		rc.mu.Unlock()
	}
	sent := r.sent.Load()
	r.st.add(buf, sent-lastSent)
	if len(buf) > 0 && r.sink != nil {
		r.sink.AddRequests(buf...)
	}
	return buf, sent
}
