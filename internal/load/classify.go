package load

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"

	"github.com/faultline-dev/faultline/internal/timeline"
)

// Error classes recorded in timeline.Request.Error. They are few and fixed
// so that measurement can count failures by kind; "status NNN" and
// "other: …" carry the detail that does not fit a class.
const (
	ErrTimeout = "timeout"
	ErrRefused = "refused"
	ErrReset   = "reset"
	ErrEOF     = "eof"
	ErrDropped = timeline.ErrorDropped
)

// classify names the failure of one request. It looks through the
// *url.Error and net.OpError wrappers net/http adds, down to the errno.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, errDrainDeadline):
		return ErrTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ErrReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrEOF
	}
	// Keep the innermost message: the outer ones repeat the method and URL,
	// which would make every failure its own class.
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return "other: " + err.Error()
}

// statusClass is the error of an unexpected status, e.g. "status 503".
// Common ones are constants so a service failing every request does not
// allocate a string per request.
func statusClass(code int) string {
	switch code {
	case 500:
		return "status 500"
	case 502:
		return "status 502"
	case 503:
		return "status 503"
	case 504:
		return "status 504"
	case 404:
		return "status 404"
	case 429:
		return "status 429"
	}
	return "status " + strconv.Itoa(code)
}
