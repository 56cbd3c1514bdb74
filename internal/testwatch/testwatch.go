package testwatch

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Watch starts the watchdog and returns a function that stops it; call it
// once m.Run returns. budget bounds the whole test binary's run.
func Watch(budget time.Duration) (stop func()) {
	return watch(budget, os.Stderr, func() { os.Exit(2) })
}

func watch(budget time.Duration, w io.Writer, exit func()) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTimer(budget)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			Dump(w, fmt.Sprintf("testwatch: tests still running after %v", budget))
			exit()
		}
	}()
	return func() { close(done) }
}

// Dump writes every goroutine's stack to w, those running test code
// (a frame in a _test.go file) last, under a header naming them.
func Dump(w io.Writer, why string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var tests, others [][]byte
	first := true
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		// The first goroutine is the one dumping: the watchdog.
		if first {
			first = false
			continue
		}
		if bytes.Contains(g, []byte("_test.go:")) {
			tests = append(tests, g)
		} else {
			others = append(others, g)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s; all goroutines follow, test code last\n\n", why)
	for _, g := range others {
		b.Write(g)
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "=== %s: %d goroutines in test code:\n\n", why, len(tests))
	for _, g := range tests {
		b.Write(g)
		b.WriteString("\n\n")
	}
	_, _ = io.WriteString(w, b.String())
}
