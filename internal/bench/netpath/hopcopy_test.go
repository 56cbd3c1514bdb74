package netpath

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The gateway's idle hop copies with Go's TCPConn.ReadFrom, which splices
// through a pipe, alternating socket→pipe and pipe→socket. BenchmarkHopCopy
// asks whether another copy would make the hop cheaper, with the same
// minimal accept/dial/copy proxy around each strategy (so the only change
// is the copy), next to direct and the real gateway.

// copyFunc copies src to dst until src's EOF or an error.
type copyFunc func(dst, src *net.TCPConn) error

// copyStrategy is one hop copy of the comparison.
type copyStrategy struct {
	name string
	copy copyFunc
}

// copyStrategies are the hop copies compared.
func copyStrategies() []copyStrategy {
	return []copyStrategy{
		// What the gateway does: splice, drain and pump in turn.
		{"splice", func(dst, src *net.TCPConn) error { _, err := dst.ReadFrom(src); return err }},
		// Plain read(2)/write(2) through a 1 MiB user buffer.
		{"readwrite", func(dst, src *net.TCPConn) error {
			_, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, 1<<20))
			return err
		}},
		// splice with the drain and the pump overlapping.
		{"pipelined-splice", pipelinedSplice},
	}
}

// copyProxy is a minimal gateway in front of upstream: accept, dial, copy
// both ways with cp, pass half-closes on. It stops with tb.
func copyProxy(tb testing.TB, upstream string, cp copyFunc) string {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[*net.TCPConn]bool{}
	track := func(cs ...*net.TCPConn) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			conns[c] = true
		}
	}
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			uc := u.(*net.TCPConn)
			track(c, uc)
			wg.Go(func() {
				defer c.Close()
				defer uc.Close()
				var dir sync.WaitGroup
				dir.Go(func() {
					if cp(uc, c) == nil {
						_ = uc.CloseWrite()
					}
				})
				if cp(c, uc) == nil {
					_ = c.CloseWrite()
				}
				dir.Wait()
			})
		}
	})
	return ln.Addr().String()
}

// pipelinedSplice copies src to dst with splice(2) through one pipe of up
// to 1 MiB, a drain goroutine filling it from src while the caller pumps it
// into dst, so that reading and writing overlap (Go's ReadFrom alternates
// them). A prototype for the comparison, not used by the gateway.
func pipelinedSplice(dst, src *net.TCPConn) error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return os.NewSyscallError("pipe2", err)
	}
	size, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, 1<<20)
	if err != nil || size <= 0 {
		size = 64 << 10
	}
	srcRC, err := src.SyscallConn()
	if err != nil {
		return err
	}
	dstRC, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	// filled carries the byte counts the drain put in the pipe, drained
	// those the pump took out; the drain never asks for more than the
	// pipe's free space.
	filled := make(chan int, 64)
	drained := make(chan int, 64)
	drainErr := make(chan error, 1)
	go func() {
		defer close(filled)
		inPipe := 0
		take := func(block bool) bool {
			for {
				select {
				case n, ok := <-drained:
					if !ok {
						return false
					}
					inPipe -= n
					block = false
				default:
					if !block {
						return true
					}
					n, ok := <-drained
					if !ok {
						return false
					}
					inPipe -= n
					block = false
				}
			}
		}
		for {
			if !take(inPipe >= size) {
				drainErr <- nil
				return
			}
			var n int64
			var serr error
			err := srcRC.Read(func(fd uintptr) bool {
				n, serr = unix.Splice(int(fd), nil, p[1], nil, size-inPipe, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
				// EAGAIN: src is empty (wait for it) or the pipe is full
				// (let the pump catch up instead).
				return serr != syscall.EAGAIN || inPipe > 0
			})
			switch {
			case err != nil:
				drainErr <- err
				return
			case serr == syscall.EAGAIN:
				if !take(true) {
					drainErr <- nil
					return
				}
				continue
			case serr != nil:
				drainErr <- os.NewSyscallError("splice", serr)
				return
			case n == 0: // EOF
				drainErr <- nil
				return
			}
			inPipe += int(n)
			filled <- int(n)
		}
	}()
	var pumpErr error
	for n := range filled {
		for n > 0 && pumpErr == nil {
			var m int64
			var serr error
			err := dstRC.Write(func(fd uintptr) bool {
				m, serr = unix.Splice(p[0], nil, int(fd), nil, n, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
				return serr != syscall.EAGAIN
			})
			switch {
			case err != nil:
				pumpErr = err
			case serr != nil:
				pumpErr = os.NewSyscallError("splice", serr)
			default:
				n -= int(m)
				drained <- int(m)
			}
		}
		if pumpErr != nil {
			break
		}
	}
	// Stop the drain (it may wait for src or for room in the pipe), then
	// close the pipe only once nothing can use its descriptors.
	close(drained)
	if pumpErr != nil {
		_ = src.SetReadDeadline(time.Unix(1, 0))
	}
	for range filled {
	}
	err = <-drainErr
	unix.Close(p[0])
	unix.Close(p[1])
	if pumpErr != nil {
		return pumpErr
	}
	return err
}

// TestCopyStrategies checks each copy of BenchmarkHopCopy carries the bulk
// protocol both ways, byte for byte, and passes a half-close on.
func TestCopyStrategies(t *testing.T) {
	up, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	// The upstream echoes until EOF, then closes its side.
	go func() {
		for {
			c, err := up.AcceptTCP()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						_ = c.CloseWrite()
						return
					}
				}
			}()
		}
	}()
	for _, s := range copyStrategies() {
		t.Run(s.name, func(t *testing.T) {
			c, err := net.Dial("tcp", copyProxy(t, up.Addr().String(), s.copy))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			const n = 5<<20 + 7
			sent := make([]byte, n)
			for i := range sent {
				sent[i] = byte(i * 7)
			}
			werr := make(chan error, 1)
			go func() {
				_, err := c.Write(sent)
				if err == nil {
					err = c.(*net.TCPConn).CloseWrite()
				}
				werr <- err
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read the echo: %v", err)
			}
			if err := <-werr; err != nil {
				t.Fatalf("write: %v", err)
			}
			if len(got) != n || string(got) != string(sent) {
				t.Fatalf("echo of %d bytes came back as %d bytes (equal: %v)", n, len(got), string(got) == string(sent))
			}
		})
	}
}

// BenchmarkHopCopy runs the figures of BenchmarkNetPath for direct, the
// gateway and one minimal proxy per copy strategy.
func BenchmarkHopCopy(b *testing.B) {
	f := newFixture(b)
	direct := f.paths[0]
	paths := []*path{direct, f.paths[1]}
	for _, s := range copyStrategies() {
		paths = append(paths, &path{name: "proxy-" + s.name,
			web: copyProxy(b, direct.web, s.copy), bulk: copyProxy(b, direct.bulk, s.copy)})
	}
	b.Run("latency", func(b *testing.B) { benchLatency(b, paths) })
	b.Run("rate", func(b *testing.B) { benchRate(b, paths, f.webPID) })
	b.Run("bulk", func(b *testing.B) { benchBulk(b, paths) })
}
