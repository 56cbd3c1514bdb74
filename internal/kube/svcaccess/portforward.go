package svcaccess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	httpstream "k8s.io/streaming/pkg/httpstream"
)

// portForwardDialer opens streams to pods through the API server. It keeps
// one upgraded (SPDY) connection per pod and opens an error stream and a data
// stream on it per dialed connection, as kubectl port-forward does for each
// local connection.
type portForwardDialer struct {
	cfg         *rest.Config
	client      kubernetes.Interface
	dialTimeout time.Duration
	onError     func(ep endpoint, msg string)
	opened      *atomic.Int64 // pod connections negotiated

	mu     sync.Mutex
	closed bool
	pods   map[string]*podConn // namespace/pod
	wg     sync.WaitGroup      // negotiations and error-stream readers
}

func newPortForwardDialer(cfg *rest.Config, client kubernetes.Interface, dialTimeout time.Duration, onError func(endpoint, string), opened *atomic.Int64) (*portForwardDialer, error) {
	// Check the configuration once; each negotiation makes its own round
	// tripper (an SPDY round tripper holds the one connection it upgrades).
	if _, _, err := spdy.RoundTripperFor(cfg); err != nil {
		return nil, fmt.Errorf("svcaccess: port-forward transport: %w", err)
	}
	return &portForwardDialer{
		cfg:         cfg,
		client:      client,
		dialTimeout: dialTimeout,
		onError:     onError,
		opened:      opened,
		pods:        map[string]*podConn{},
	}, nil
}

// podConn is the upgraded connection to one pod, dialed once (ready closes
// when the dial is over; conn or err is set then).
type podConn struct {
	ready  chan struct{}
	conn   httpstream.Connection
	err    error
	nextID atomic.Int64
	active atomic.Int64 // streams pairs open
	stale  atomic.Bool  // pruned: close once the last stream pair closes
}

func (c *podConn) alive() bool {
	select {
	case <-c.ready:
	default:
		return true // still dialing
	}
	if c.err != nil {
		return false
	}
	select {
	case <-c.conn.CloseChan():
		return false
	default:
		return true
	}
}

func (d *portForwardDialer) dial(ctx context.Context, ep endpoint) (backendConn, error) {
	if ep.pod == "" {
		return nil, fmt.Errorf("endpoint %s names no pod to port-forward to", ep.hostPort())
	}
	// A pod connection that broke since its last use is replaced once.
	var lastErr error
	for range 2 {
		pc, err := d.podConn(ctx, ep)
		if err != nil {
			return nil, err
		}
		s, err := d.open(pc, ep)
		if err == nil {
			return s, nil
		}
		lastErr = err
		d.drop(ep.key(), pc)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// podConn returns the pod's connection, dialing it if there is none or it
// broke; concurrent callers share one dial.
func (d *portForwardDialer) podConn(ctx context.Context, ep endpoint) (*podConn, error) {
	key := ep.key()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("svcaccess: closed")
	}
	pc := d.pods[key]
	if pc == nil || !pc.alive() {
		if pc != nil && pc.conn != nil {
			_ = pc.conn.Close()
		}
		pc = &podConn{ready: make(chan struct{})}
		d.pods[key] = pc
		d.wg.Add(1)
		go d.negotiate(pc, ep)
	}
	d.mu.Unlock()

	select {
	case <-pc.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("port-forward to pod %s: %w", key, context.Cause(ctx))
	}
	if pc.err != nil {
		d.drop(key, pc)
		return nil, pc.err
	}
	return pc, nil
}

// negotiate upgrades a pods/portforward request. It is bounded by
// dialTimeout (connect, TLS and the upgrade response), independently of the
// callers waiting for it.
func (d *portForwardDialer) negotiate(pc *podConn, ep endpoint) {
	defer d.wg.Done()
	defer close(pc.ready)
	u := d.client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(ep.namespace).Name(ep.pod).SubResource("portforward").URL()
	ctx, cancel := context.WithTimeout(context.Background(), d.dialTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		pc.err = fmt.Errorf("port-forward request for pod %s: %w", ep.key(), err)
		return
	}
	transport, upgrader, err := spdy.RoundTripperFor(d.cfg)
	if err != nil {
		pc.err = fmt.Errorf("port-forward transport: %w", err)
		return
	}
	conn, proto, err := spdy.NegotiateStreaming(upgrader, &http.Client{Transport: transport}, req, portforward.PortForwardProtocolV1Name)
	if err != nil {
		pc.err = fmt.Errorf("port-forward to pod %s: %w", ep.key(), err)
		return
	}
	if proto != portforward.PortForwardProtocolV1Name {
		_ = conn.Close()
		pc.err = fmt.Errorf("port-forward to pod %s: server chose protocol %q, want %q", ep.key(), proto, portforward.PortForwardProtocolV1Name)
		return
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		_ = conn.Close()
		pc.err = errors.New("svcaccess: closed")
		return
	}
	pc.conn = conn
	d.opened.Add(1)
}

// drop forgets pc (if it is still the pod's connection) and closes it.
func (d *portForwardDialer) drop(key string, pc *podConn) {
	d.mu.Lock()
	if d.pods[key] == pc {
		delete(d.pods, key)
	}
	d.mu.Unlock()
	if pc.conn != nil {
		_ = pc.conn.Close()
	}
}

// open creates the error and data streams of one forwarded connection.
func (d *portForwardDialer) open(pc *podConn, ep endpoint) (*pfStream, error) {
	id := strconv.FormatInt(pc.nextID.Add(1)-1, 10)
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(int(ep.port)))
	h.Set(corev1.PortForwardRequestIDHeader, id)
	errStream, err := pc.conn.CreateStream(h)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: error stream: %w", ep.key(), err)
	}
	// Nothing is written to the error stream: half-close it at once.
	_ = errStream.Close()
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := pc.conn.CreateStream(h)
	if err != nil {
		_ = errStream.Reset()
		pc.conn.RemoveStreams(errStream)
		return nil, fmt.Errorf("port-forward to pod %s: data stream: %w", ep.key(), err)
	}
	pc.active.Add(1)
	s := &pfStream{d: d, pc: pc, conn: pc.conn, ep: ep, data: data, errStream: errStream, errMsg: make(chan string, 1)}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		msg, err := io.ReadAll(errStream)
		if err != nil && len(msg) == 0 {
			msg = []byte(err.Error())
		}
		m := strings.TrimSpace(string(msg))
		if m != "" && !isClosedConnMessage(m) && s.reported.CompareAndSwap(false, true) {
			// The pod side failed (nothing listening, the pod gone): say
			// so now and reset the data stream, so a read waiting on it
			// fails at once instead of when the client gives up.
			d.onError(ep, m)
			_ = data.Reset()
		}
		s.errMsg <- m
	}()
	return s, nil
}

// pfStream is one forwarded connection: its data stream, plus the error
// stream on which the pod side reports a failure (nothing listening, ...).
type pfStream struct {
	d         *portForwardDialer
	pc        *podConn
	conn      httpstream.Connection
	ep        endpoint
	data      httpstream.Stream
	errStream httpstream.Stream
	errMsg    chan string
	reported  atomic.Bool // the error stream's message was counted
	once      sync.Once
}

func (s *pfStream) Read(p []byte) (int, error)  { return s.data.Read(p) }
func (s *pfStream) Write(p []byte) (int, error) { return s.data.Write(p) }

// CloseWrite tells the pod side no more data will come (stream half-close).
func (s *pfStream) CloseWrite() error { return s.data.Close() }

// Close resets the data stream, collects the error stream's message (bounded
// by the dial timeout) and removes both streams from the pod connection.
func (s *pfStream) Close() error {
	s.once.Do(func() {
		_ = s.data.Reset()
		t := time.NewTimer(s.d.dialTimeout)
		defer t.Stop()
		select {
		case msg := <-s.errMsg:
			if msg != "" && !isClosedConnMessage(msg) && s.reported.CompareAndSwap(false, true) {
				s.d.onError(s.ep, msg)
			}
		case <-t.C:
			_ = s.errStream.Reset()
		}
		s.conn.RemoveStreams(s.errStream, s.data)
		if s.pc.active.Add(-1) == 0 && s.pc.stale.Load() {
			_ = s.conn.Close()
		}
	})
	return nil
}

// isClosedConnMessage: reading the error stream of a connection closed on
// purpose (Close, prune) is not a forwarding error.
func isClosedConnMessage(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "use of closed network connection") || strings.Contains(m, "stream reset")
}

// prune retires the connections to pods of ns that no slice names any more
// (deleted pods): no new stream goes to them, and each is closed once its
// last stream pair closes, so connections in flight end as they would with
// the pod, not earlier.
func (d *portForwardDialer) prune(ns string, keep map[string]bool) {
	var idle []*podConn
	d.mu.Lock()
	for key, pc := range d.pods {
		if !strings.HasPrefix(key, ns+"/") || keep[key] {
			continue
		}
		select {
		case <-pc.ready:
		default:
			continue // still dialing: left to the next prune
		}
		delete(d.pods, key)
		pc.stale.Store(true)
		if pc.active.Load() == 0 {
			idle = append(idle, pc)
		}
	}
	d.mu.Unlock()
	for _, pc := range idle {
		if pc.conn != nil {
			_ = pc.conn.Close()
		}
	}
}

// close closes every pod connection, which resets their streams; dials in
// progress close theirs when done.
func (d *portForwardDialer) close() {
	d.mu.Lock()
	d.closed = true
	pods := d.pods
	d.pods = map[string]*podConn{}
	d.mu.Unlock()
	for _, pc := range pods {
		select {
		case <-pc.ready:
			if pc.conn != nil {
				_ = pc.conn.Close()
			}
		default: // negotiate sees closed and closes it
		}
	}
}

// wait waits for the negotiations and error-stream readers to end.
func (d *portForwardDialer) wait() { d.wg.Wait() }
