package httpfault

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"time"
)

// ErrStopped is returned by Serve when ctx was cancelled and the
// connection was handed back at a request boundary: nothing is buffered,
// no exchange is in flight, and the caller can relay raw bytes again.
var ErrStopped = errors.New("httpfault: connection handed back at a request boundary")

// Serve proxies one connection between client and upstream, applying the
// rules of set to every request and response (see the package doc). It
// returns ErrStopped when it handed the connection back after ctx was
// cancelled, nil when the connection ended (either side closed it, or a
// rule aborted it), or the error that ended it. It closes neither
// connection unless an abort or an error ends the exchange; the caller
// closes both when Serve returns anything but ErrStopped.
//
// Cancelling ctx means "no rule is left for this connection": delays in
// progress end early too. To change rules without handing back, change the
// Set and keep ctx alive.
//
// Read deadlines on client and upstream are used only to wake blocked
// reads: a caller may expire them (together with cancelling ctx) to make
// Serve notice ctx, and Serve clears them again while it finishes an
// exchange.
func Serve(ctx context.Context, client, upstream net.Conn, set *Set) error {
	if set == nil {
		set = NewSet()
	}
	port := 0
	if a, ok := upstream.RemoteAddr().(*net.TCPAddr); ok {
		port = a.Port
	}
	c := newH1(ctx, client, upstream, set, port)
	return c.run()
}

// wakeConn is a connection whose reads survive expired read deadlines
// unless giveUp says the reader is at a point where it may stop. Deadlines
// set through it are ignored: only the caller of Serve (to wake us) and
// Serve itself (through the raw connection) set them.
type wakeConn struct {
	net.Conn
	giveUp func() bool
}

func (c *wakeConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		if c.giveUp() {
			return 0, err
		}
		// Someone wanted us awake, but we are in the middle of a message:
		// carry on. Each wake-up is one deadline set, so this cannot spin.
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
}

func (c *wakeConn) SetReadDeadline(time.Time) error { return nil }

func (c *wakeConn) SetDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(t) }

// bufConn is a connection whose first bytes were already read into r.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// closeWrite half-closes c when it can (TCP), else closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

// sleep waits d, or less when the rule leaves its set, ctx ends or the
// connection is closed; it returns how long it waited.
func sleep(ctx context.Context, d time.Duration, e *entry, closed <-chan struct{}) time.Duration {
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.removed:
	case <-ctx.Done():
	case <-closed:
	}
	return time.Since(start)
}
