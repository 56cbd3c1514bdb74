package testenv

import (
	"sync"
	"testing"
)

// Shared is one environment for all tests of a package, started by the first
// test that asks for it (so `go test -run` of unrelated tests starts
// nothing) and stopped by Stop in TestMain.
type Shared struct {
	opts Options
	once sync.Once
	env  *Env
	err  error
}

// NewShared returns a Shared that starts with opts on first use.
func NewShared(opts Options) *Shared {
	return &Shared{opts: opts}
}

// Env returns the shared environment, starting it on the first call. Like
// Start, it skips the test when the binaries are unavailable outside CI and
// fails it otherwise. Tests must leave the cluster usable for the others:
// use their own namespace and delete what they create.
func (s *Shared) Env(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() { s.env, s.err = StartEnv(s.opts) })
	if s.err != nil {
		skipOrFail(t, s.err)
		return nil
	}
	return s.env
}

// Stop stops the environment if it was started. Call it from TestMain after
// m.Run.
func (s *Shared) Stop() error {
	// once.Do here makes a later Env call (none expected) not start anything.
	s.once.Do(func() {})
	if s.env == nil {
		return nil
	}
	return s.env.Stop()
}
