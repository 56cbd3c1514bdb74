package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// LogOptions selects which log of a replica to read.
type LogOptions struct {
	// Container is the container's name; "" is the replica's main container.
	Container string `json:"container,omitempty"`
	// Previous reads the log of the container's previous run, like
	// `kubectl logs --previous`.
	Previous bool `json:"previous,omitempty"`
	// Follow keeps reading as the log grows, across restarts (like tail -F),
	// until the context ends.
	Follow bool `json:"follow,omitempty"`
}

// logFile is where a container's output goes: <logs>/<replica>.log for the
// main container, <logs>/<replica>.<container>.log for a sidecar. Replica and
// container names are DNS labels, so they hold no dots and never collide.
func logFile(dir, replica, container string, main bool) string {
	if main {
		return filepath.Join(dir, replica+".log")
	}
	return filepath.Join(dir, replica+"."+container+".log")
}

// openLog rotates the current log to .1 (the "previous" log) and opens a
// fresh one for a new run of a container. The file is passed to the child as
// its stdout and stderr, so the kernel writes to it directly and the output
// survives the supervisor.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	if err := os.Rename(path, path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("rotate log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// copyLog writes the log at path to w. With follow it keeps polling for new
// output until ctx ends, and switches to the new file when the container is
// restarted (the old one is renamed away), after draining the old one.
func copyLog(ctx context.Context, w io.Writer, path string, follow bool) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no log at %s: %w", path, os.ErrNotExist)
		}
		return fmt.Errorf("open log: %w", err)
	}
	defer func() { f.Close() }()
	flush := func() {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
	const poll = 100 * time.Millisecond
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		flush()
		if !follow {
			return nil
		}
		// Rotated? Then the old file is complete: drain it and move on.
		if cur, err := f.Stat(); err == nil {
			if st, err := os.Stat(path); err == nil && !os.SameFile(cur, st) {
				if _, err := io.Copy(w, f); err != nil {
					return fmt.Errorf("read log: %w", err)
				}
				nf, err := os.Open(path)
				if err == nil {
					f.Close()
					f = nf
					continue
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
