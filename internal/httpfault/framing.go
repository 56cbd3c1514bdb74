package httpfault

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strconv"
	"strings"
)

// maxHeadBytes bounds a request or response head (start line and
// headers), as net/http's DefaultMaxHeaderBytes does.
const maxHeadBytes = 1 << 20

// maxLineBytes bounds a chunk-size or trailer line.
const maxLineBytes = 16 << 10

var (
	errHeadTooLarge = errors.New("message head too large")
	errBadFraming   = errors.New("malformed chunked body")
	errBodyTooLarge = errors.New("body over the patch limit")
)

// flushingReader reads from r, flushing w first whenever a read could
// block (nothing buffered): bytes already received are always passed on
// before waiting for more, so streamed bodies (server-sent events, token
// streams) keep flowing while small messages still go out in one write.
type flushingReader struct {
	r *bufio.Reader
	w *bufio.Writer // nil: nothing to flush
}

func (f flushingReader) fill() error {
	if f.w != nil && f.r.Buffered() == 0 && f.w.Buffered() > 0 {
		return f.w.Flush()
	}
	return nil
}

func (f flushingReader) Read(p []byte) (int, error) {
	if err := f.fill(); err != nil {
		return 0, err
	}
	return f.r.Read(p)
}

// readLine reads one line (with its line break) of at most max bytes.
func (f flushingReader) readLine(max int) ([]byte, error) {
	var line []byte
	for {
		if err := f.fill(); err != nil {
			return nil, err
		}
		frag, err := f.r.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > max {
			return nil, errHeadTooLarge
		}
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// readHead reads a message head up to and including its empty line.
// Empty lines before the start line are skipped (RFC 9112 2.2).
func readHead(r *bufio.Reader) ([]byte, error) {
	f := flushingReader{r: r}
	var head []byte
	for {
		line, err := f.readLine(maxHeadBytes - len(head))
		if err != nil {
			if errors.Is(err, io.EOF) && len(head) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		blank := len(bytes.TrimRight(line, "\r\n")) == 0
		if blank && len(head) == 0 {
			continue
		}
		head = append(head, line...)
		if blank {
			return head, nil
		}
	}
}

// head is a message head that rules can edit; untouched, it is written
// back exactly as it was read (and never split into lines).
type head struct {
	raw   []byte
	first string
	lines []string
	split bool
	dirty bool
}

func parseHead(raw []byte) *head { return &head{raw: raw} }

func (h *head) ensure() {
	if h.split {
		return
	}
	h.split = true
	s := strings.TrimRight(string(h.raw), "\r\n")
	for i, l := range strings.Split(s, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if i == 0 {
			h.first = l
			continue
		}
		h.lines = append(h.lines, l)
	}
}

// firstLine is the start line.
func (h *head) firstLine() string {
	h.ensure()
	return h.first
}

func lineName(l string) string {
	name, _, ok := strings.Cut(l, ":")
	if !ok {
		return ""
	}
	return strings.TrimSpace(name)
}

// del removes every line of header name (and its obs-fold continuations).
func (h *head) del(name string) {
	h.ensure()
	out := h.lines[:0:0]
	skipping := false
	for _, l := range h.lines {
		if skipping && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			continue
		}
		skipping = strings.EqualFold(lineName(l), name)
		if skipping {
			h.dirty = true
			continue
		}
		out = append(out, l)
	}
	h.lines = out
}

func (h *head) set(name, value string) {
	h.del(name)
	h.add(name, value)
}

func (h *head) add(name, value string) {
	h.ensure()
	h.lines = append(h.lines, name+": "+value)
	h.dirty = true
}

func (h *head) setFirst(l string) {
	h.ensure()
	if l != h.first {
		h.first, h.dirty = l, true
	}
}

func (h *head) bytes() []byte {
	if !h.dirty {
		return h.raw
	}
	var b bytes.Buffer
	b.WriteString(h.first)
	b.WriteString("\r\n")
	for _, l := range h.lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// framingKind is how a body's end is found.
type framingKind int

const (
	bodyNone framingKind = iota
	bodyFixed
	bodyChunked
	bodyUntilClose
)

type framing struct {
	kind framingKind
	n    int64
}

// copyBody copies one body, framing included (chunk sizes, trailers), from
// r to w, flushing w whenever r would block.
func copyBody(w *bufio.Writer, r *bufio.Reader, fr framing) error {
	f := flushingReader{r: r, w: w}
	switch fr.kind {
	case bodyFixed:
		return pump(w, f, fr.n)
	case bodyUntilClose:
		return pump(w, f, -1)
	case bodyChunked:
		return copyChunked(w, f)
	}
	return nil
}

func copyChunked(w io.Writer, f flushingReader) error {
	for {
		line, err := f.readLine(maxLineBytes)
		if err != nil {
			return err
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		sz := strings.TrimSpace(strings.TrimRight(string(line), "\r\n"))
		sz, _, _ = strings.Cut(sz, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errBadFraming, sz)
		}
		if n == 0 {
			// Trailers, up to the empty line.
			for {
				l, err := f.readLine(maxLineBytes)
				if err != nil {
					return err
				}
				if _, err := w.Write(l); err != nil {
					return err
				}
				if len(bytes.TrimRight(l, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if err := pump(w, f, n); err != nil {
			return err
		}
		crlf, err := f.readLine(maxLineBytes)
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return fmt.Errorf("%w: no line break after a chunk", errBadFraming)
		}
		if _, err := w.Write(crlf); err != nil {
			return err
		}
	}
}

// pump copies n bytes (n < 0: up to EOF) from f to w. It does not use
// io.Copy: bufio.Writer.ReadFrom would read into its own buffer while
// f flushes that same buffer.
func pump(w io.Writer, f flushingReader, n int64) error {
	var buf [16 << 10]byte
	for n != 0 {
		p := buf[:]
		if n > 0 && n < int64(len(p)) {
			p = p[:n]
		}
		m, err := f.Read(p)
		if m > 0 {
			if _, werr := w.Write(p[:m]); werr != nil {
				return werr
			}
			if n > 0 {
				n -= int64(m)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if n < 0 {
					return nil
				}
				if n > 0 {
					return io.ErrUnexpectedEOF
				}
			}
			if n == 0 {
				return nil
			}
			return err
		}
	}
	return nil
}

// limitWriter fails once more than max bytes were written.
type limitWriter struct {
	buf bytes.Buffer
	max int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(l.buf.Len()+len(p)) > l.max {
		return 0, errBodyTooLarge
	}
	return l.buf.Write(p)
}

// readBody reads a whole body (decoded) of at most max bytes.
func readBody(r *bufio.Reader, fr framing, max int64) ([]byte, error) {
	lw := &limitWriter{max: max}
	if fr.kind == bodyChunked {
		// The raw chunked form is at most a little larger than the data;
		// allow for the framing, then bound the decoded size below.
		lw.max = max + max/8 + 4096
	}
	bw := bufio.NewWriterSize(lw, 4096)
	if err := copyBody(bw, r, fr); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if fr.kind != bodyChunked {
		return lw.buf.Bytes(), nil
	}
	data, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(&lw.buf), max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadFraming, err)
	}
	if int64(len(data)) > max {
		return nil, errBodyTooLarge
	}
	return data, nil
}

// discardBody reads and drops a body.
func discardBody(r *bufio.Reader, fr framing) error {
	bw := bufio.NewWriterSize(io.Discard, 512)
	return copyBody(bw, r, fr)
}

// requestLine classifies the start of a client's bytes.
type lineVerdict int

const (
	lineNo lineVerdict = iota
	lineYes
	lineMore // a plausible prefix: read more to decide
)

// h2Preface is what an HTTP/2 client sends first (RFC 9113 3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// classifyRequestLine says whether b starts with an HTTP/1.x request line
// (method SP target SP HTTP/d.d line break).
func classifyRequestLine(b []byte) lineVerdict {
	// Skip empty lines a client may send before a request.
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	if len(b) == 0 {
		return lineMore
	}
	i := 0
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	if i == len(b) {
		return more(len(b))
	}
	if i == 0 || b[i] != ' ' {
		return lineNo
	}
	j := i + 1
	for j < len(b) && b[j] > ' ' && b[j] < 0x7f {
		j++
	}
	if j == len(b) {
		return more(len(b))
	}
	if j == i+1 || b[j] != ' ' {
		return lineNo
	}
	rest := b[j+1:]
	const v = "HTTP/1.x"
	for k := 0; k < len(v); k++ {
		if k == len(rest) {
			return more(len(b))
		}
		c := rest[k]
		if v[k] == 'x' {
			if c != '0' && c != '1' {
				return lineNo
			}
		} else if c != v[k] {
			return lineNo
		}
	}
	rest = rest[len(v):]
	switch {
	case len(rest) == 0:
		return more(len(b))
	case rest[0] == '\n':
		return lineYes
	case rest[0] == '\r':
		if len(rest) == 1 {
			return more(len(b))
		}
		if rest[1] == '\n' {
			return lineYes
		}
	}
	return lineNo
}

func more(n int) lineVerdict {
	if n >= 8<<10 {
		return lineNo // no request line is that long in practice
	}
	return lineMore
}
