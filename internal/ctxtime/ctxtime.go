// Package ctxtime waits for a duration or a moment unless a context ends
// first: the one timer idiom the runner, probes and workflows share.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends; it reports whether the wait was full.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Until waits until t or until ctx ends; it reports whether t was reached.
func Until(ctx context.Context, t time.Time) bool {
	return Sleep(ctx, time.Until(t))
}
