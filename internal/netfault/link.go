package netfault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Errors Serve returns.
var (
	// ErrStopped: ctx ended; the bytes already read were delivered and the
	// connection is open, with its deadlines cleared, for the caller to take
	// back (the gateway's ErrHandBack).
	ErrStopped = errors.New("netfault: link stopped, connection handed back")
	// ErrReset: a fault reset the connection; both ends are closed.
	ErrReset = errors.New("netfault: connection reset by fault")
	// ErrRefused: a fault refused the connection; both ends are closed.
	ErrRefused = errors.New("netfault: connection refused by fault")
)

const (
	chunkSize = 32 << 10
	// chunkBufs bounds the bytes in flight per direction (read but not yet
	// written), 512 KiB: a delayed direction keeps reading at arrival time
	// until it is this far ahead, then back-pressures the sender.
	chunkBufs = 16
)

// past is a deadline that has expired: setting it wakes a blocked read.
var past = time.Unix(1, 0)

// session is one Serve call.
type session struct {
	client, upstream *net.TCPConn
	set              *Set
	stop             context.CancelFunc // ends both directions

	once     sync.Once
	terminal atomic.Pointer[error] // ErrReset or ErrRefused once a fault ended it
}

// Serve copies between client and upstream until both directions are done,
// running each chunk through set's faults for its direction. It handles
// half-close (EOF on one side is forwarded with CloseWrite and the other
// direction carries on), and returns:
//   - nil when both directions ended with EOF (the caller closes the conns);
//   - ErrStopped (wrapping ctx's error) when ctx ends: both directions stop
//     reading, deliver what they had read at once, and leave the
//     connection open;
//   - ErrReset or ErrRefused when a fault ended the connection (closed);
//   - another error when a read or write failed (the caller closes).
//
// A read deadline that someone else sets on client or upstream while the
// link runs only interrupts the read: it is cleared and the read retried.
//
// Serve uses three goroutines besides its caller and leaves none behind.
func Serve(ctx context.Context, client, upstream *net.TCPConn, set *Set) error {
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &session{client: client, upstream: upstream, set: set, stop: cancel}
	// Stopping expires both read deadlines so the readers wake up.
	expired := make(chan struct{})
	stopReads := context.AfterFunc(ictx, func() {
		defer close(expired)
		_ = client.SetReadDeadline(past)
		_ = upstream.SetReadDeadline(past)
	})
	defer stopReads()

	var wg sync.WaitGroup
	var upErr error
	wg.Go(func() { upErr = s.pump(ctx, ictx, Upstream, client, upstream) })
	downErr := s.pump(ctx, ictx, Downstream, upstream, client)
	wg.Wait()

	if t := s.terminal.Load(); t != nil {
		return *t
	}
	if ctx.Err() != nil {
		cancel()
		if !stopReads() {
			<-expired // clear the deadlines after they were expired
		}
		_ = client.SetReadDeadline(time.Time{})
		_ = upstream.SetReadDeadline(time.Time{})
		return fmt.Errorf("%w: %w", ErrStopped, context.Cause(ctx))
	}
	return errors.Join(upErr, downErr)
}

// end closes both ends once, with an RST for Reset.
func (s *session) end(v Verdict, f Fault) error {
	err := ErrRefused
	if v == Reset {
		err = ErrReset
	}
	s.once.Do(func() {
		if v == Reset {
			_ = s.client.SetLinger(0)
			_ = s.upstream.SetLinger(0)
		}
		s.terminal.Store(&err)
		_ = s.client.Close()
		_ = s.upstream.Close()
		if c, ok := f.(connCounter); ok {
			c.countConn()
		}
		s.stop()
	})
	return *s.terminal.Load()
}

// read is what a reader hands its writer: a chunk or the end of the stream.
type read struct {
	buf     []byte
	n       int
	arrival time.Time
	err     error
}

// pump moves one direction: a reader goroutine stamps chunks with their
// arrival and queues them (bounded by chunkBufs buffers); this goroutine
// runs them through the faults and writes them.
func (s *session) pump(ctx, ictx context.Context, dir Direction, src, dst *net.TCPConn) error {
	free := make(chan []byte, chunkBufs)
	for range chunkBufs {
		free <- make([]byte, chunkSize)
	}
	// One slot more than the buffers: the final read (its error) never blocks.
	reads := make(chan read, chunkBufs+1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-ictx.Done():
				reads <- read{err: ictx.Err()}
				return
			}
			n, err := src.Read(buf)
			for n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && ictx.Err() == nil {
				// Someone else's read deadline expired (the local
				// gateway interrupts every live connection when any
				// hop's faults change) and this link is not stopping:
				// clear it and read on. ictx is checked again after
				// clearing because Serve's own stop sets the deadline
				// only after ictx has ended.
				_ = src.SetReadDeadline(time.Time{})
				if ictx.Err() != nil {
					break
				}
				n, err = src.Read(buf)
			}
			reads <- read{buf: buf, n: n, arrival: time.Now(), err: err}
			if err != nil {
				if !errors.Is(err, io.EOF) && ictx.Err() == nil {
					// The connection broke (reset, or closed under the
					// link by its owner): stop the whole session now,
					// so a chunk waiting in a fault (held by a
					// partition) does not keep it alive.
					s.stop()
				}
				return
			}
		}
	}()
	defer func() { <-done }()

	var offset int64
	cfg := s.set.load()
	// Show the faults the connection as it opens: a reset or refusal acts
	// before any byte arrives.
	if err := s.process(ictx, &Chunk{Dir: dir}, dst); err != nil {
		return s.finish(ctx, ictx, err, reads, dst)
	}
	for {
		var r read
		select {
		case r = <-reads:
		case <-cfg.changed:
			cfg = s.set.load()
			// Tell the new faults about the idle connection (a reset or
			// refusal acts at once).
			c := Chunk{Offset: offset, Dir: dir}
			if err := s.process(ictx, &c, dst); err != nil {
				return s.finish(ctx, ictx, err, reads, dst)
			}
			continue
		case <-ictx.Done():
			return s.finish(ctx, ictx, nil, reads, dst)
		}
		if r.n > 0 {
			c := Chunk{Data: r.buf[:r.n], Arrival: r.arrival, Offset: offset, Dir: dir}
			offset += int64(r.n)
			err := s.process(ictx, &c, dst)
			if err != nil && ictx.Err() != nil && s.terminal.Load() == nil {
				// Stopped while the chunk waited: deliver it anyway.
				_, err = dst.Write(c.Data)
			}
			free <- r.buf
			if (err != nil || ictx.Err() != nil) && r.err != nil {
				s.stop() // the reader is gone already
				return err
			}
			if err != nil || ictx.Err() != nil {
				return s.finish(ctx, ictx, err, reads, dst)
			}
		}
		if r.err != nil {
			if errors.Is(r.err, io.EOF) {
				if err := dst.CloseWrite(); err != nil {
					s.stop()
					return fmt.Errorf("netfault: %s: close write: %w", dir, err)
				}
				return nil
			}
			if ictx.Err() != nil {
				s.stop() // the reader is gone already: nothing left to flush
				return nil
			}
			s.stop()
			return fmt.Errorf("netfault: %s: read: %w", dir, r.err)
		}
	}
}

// finish ends a direction that was stopped or failed: on a hand-back (ctx
// ended, no fault closed the connection) it delivers the chunks already
// read, unfaulted, so none are lost.
func (s *session) finish(ctx, ictx context.Context, err error, reads <-chan read, dst *net.TCPConn) error {
	s.stop()
	handBack := ctx.Err() != nil && s.terminal.Load() == nil && err == nil
	for {
		r := <-reads
		if handBack && r.n > 0 {
			if _, werr := dst.Write(r.buf[:r.n]); werr != nil {
				handBack = false
				err = fmt.Errorf("netfault: flush: %w", werr)
			}
		}
		if r.err != nil {
			if errors.Is(r.err, io.EOF) && handBack {
				_ = dst.CloseWrite()
			}
			return err
		}
	}
}

// process runs c through the direction's current faults and writes what
// passes. If the faults change while c waits in one, c starts over with the
// new ones.
func (s *session) process(ictx context.Context, c *Chunk, dst *net.TCPConn) error {
	data := c.Data
	for {
		cfg := s.set.load()
		c.Data, c.changed = data, cfg.changed
		v, f, err := s.apply(ictx, c, cfg.of(c.Dir))
		if errors.Is(err, ErrInterrupted) {
			continue
		}
		if err != nil {
			return err
		}
		switch v {
		case Drop:
			return nil
		case Refuse:
			return s.end(Refuse, f)
		}
		if len(c.Data) > 0 {
			if _, err := dst.Write(c.Data); err != nil {
				s.stop()
				return fmt.Errorf("netfault: %s: write: %w", c.Dir, err)
			}
		}
		if v == Reset {
			return s.end(Reset, f)
		}
		return nil
	}
}

// apply runs the faults in order until one does not pass the chunk, and
// says which one.
func (s *session) apply(ictx context.Context, c *Chunk, fs []Fault) (Verdict, Fault, error) {
	for _, f := range fs {
		v, err := f.Apply(ictx, c)
		if err != nil {
			return Pass, f, err
		}
		if v != Pass {
			return v, f, nil
		}
	}
	return Pass, nil, nil
}

// Link is a Serve running on its own goroutine, for callers that own the
// connection pair outright.
type Link struct {
	client, upstream *net.TCPConn
	cancel           context.CancelFunc
	done             chan struct{}
	err              error
}

// Start serves client and upstream through set until both directions end,
// a fault ends the connection, or Close.
func Start(client, upstream *net.TCPConn, set *Set) *Link {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Link{client: client, upstream: upstream, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.err = Serve(ctx, client, upstream, set)
	}()
	return l
}

// Done is closed when the link has stopped.
func (l *Link) Done() <-chan struct{} { return l.done }

// Wait blocks until the link stops and returns Serve's error.
func (l *Link) Wait() error {
	<-l.done
	return l.err
}

// Close stops the link, closes both connections and waits for its
// goroutines to end.
func (l *Link) Close() error {
	l.cancel()
	<-l.done
	err := errors.Join(l.client.Close(), l.upstream.Close())
	if errors.Is(err, net.ErrClosed) {
		return nil // a fault closed them already
	}
	if err != nil {
		return fmt.Errorf("netfault: close link: %w", err)
	}
	return nil
}
