package testwatch

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWatchDumpsTestGoroutinesLast(t *testing.T) {
	var out bytes.Buffer
	fired := make(chan struct{})
	block := make(chan struct{})
	defer close(block)
	go blockedInTest(block)
	stop := watch(10*time.Millisecond, &syncWriter{b: &out}, func() { close(fired) })
	defer stop()
	select {
	case <-fired:
	case <-time.After(30 * time.Second):
		t.Fatal("the watchdog did not fire")
	}
	s := out.String()
	i := strings.Index(s, "goroutines in test code")
	if i < 0 {
		t.Fatalf("no test section:\n%s", s)
	}
	if !strings.Contains(s[i:], "blockedInTest") {
		t.Fatalf("the blocked test goroutine is not in the last section:\n%s", s[i:])
	}
}

func TestStopDisarms(t *testing.T) {
	fired := make(chan struct{})
	stop := watch(50*time.Millisecond, &bytes.Buffer{}, func() { close(fired) })
	stop()
	select {
	case <-fired:
		t.Fatal("fired after stop")
	case <-time.After(200 * time.Millisecond):
	}
}

func blockedInTest(c chan struct{}) { <-c }

// syncWriter is written once by the watchdog goroutine and read after
// fired is closed, which orders the two.
type syncWriter struct{ b *bytes.Buffer }

func (w *syncWriter) Write(p []byte) (int, error) { return w.b.Write(p) }
