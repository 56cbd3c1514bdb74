package ctxtime

import (
	"context"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("a full wait must report true")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("a cancelled wait must report false")
	}
	if Sleep(ctx, 0) {
		t.Fatal("a zero wait on a done context must report false")
	}
	if !Until(context.Background(), time.Now().Add(-time.Second)) {
		t.Fatal("a moment in the past is reached at once")
	}
}
