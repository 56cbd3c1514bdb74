package probe

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/ctxtime"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// Sink receives probe results; *timeline.Recorder is one.
type Sink interface {
	AddProbe(timeline.ProbeResult)
	AddCheck(timeline.Check)
}

var _ Sink = (*timeline.Recorder)(nil)

// discard is the Sink of a Scheduler given none (a dry run of probes).
type discard struct{}

func (discard) AddProbe(timeline.ProbeResult) {}
func (discard) AddCheck(timeline.Check)       {}

// Scheduler runs a run's probes with Litmus' modes:
//
//   - SOT: once, in Start; Edge: once in Start and once in Finish;
//     EOT: once, in Finish. These checks run concurrently with each other
//     and synchronously for the caller, after each probe's initialDelay.
//   - Continuous: every interval from StartLoops (or Start) until Stop (or
//     Finish), first after initialDelay.
//   - OnChaos: every interval while chaos is active (SetChaosActive), first
//     after initialDelay counted from each time chaos becomes active. A
//     check that began during chaos is recorded even if it ends after.
//
// Every result goes to the Sink with At measured from origin; golden checks
// of inference probes go to it too. When a probe with stopOnFailure fails,
// onStop is called once for the whole run.
//
// Typical use by the runner: StartLoops at the start of the run (Continuous
// covers the baseline), Start at the start of the fault phase,
// SetChaosActive around fault windows, Finish at the end of recovery (or
// Stop when aborting). Results of checks cut short by Stop or by a
// cancelled context are dropped: they say nothing about the service.
type Scheduler struct {
	probes []Probe
	sink   Sink
	origin time.Time
	onStop func(string)

	stopOnce sync.Once
	loops    sync.WaitGroup

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	active  bool
	// changed is closed and replaced at every chaos toggle, waking the
	// OnChaos loops; a channel (not a sync.Cond) so they can also wait on
	// their context and a timer.
	changed chan struct{}
}

// NewScheduler prepares probes for one run. onStop may be nil; it is called
// from the goroutine of the failing check, so it must not block and must
// not call Finish or Stop (cancel the run's context and let the runner's
// own goroutine finish instead).
func NewScheduler(probes []Probe, sink Sink, origin time.Time, onStop func(reason string)) *Scheduler {
	if sink == nil {
		sink = discard{}
	}
	return &Scheduler{probes: probes, sink: sink, origin: origin, onStop: onStop, changed: make(chan struct{})}
}

// StartLoops starts the Continuous and OnChaos loops. They end with ctx,
// Stop or Finish. Calling it again does nothing.
func (s *Scheduler) StartLoops(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	lctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	for _, p := range s.probes {
		switch p.Mode() {
		case v1alpha1.ProbeModeContinuous:
			s.loops.Add(1)
			go func() {
				defer s.loops.Done()
				s.continuous(lctx, p)
			}()
		case v1alpha1.ProbeModeOnChaos:
			s.loops.Add(1)
			go func() {
				defer s.loops.Done()
				s.onChaos(lctx, p)
			}()
		}
	}
}

// Start starts the loops (if StartLoops was not called) and runs the SOT
// and Edge checks, returning the results that failed.
func (s *Scheduler) Start(ctx context.Context) []timeline.ProbeResult {
	s.StartLoops(ctx)
	return s.once(ctx, v1alpha1.ProbeModeSOT, v1alpha1.ProbeModeEdge)
}

// SetChaosActive tells OnChaos probes whether a fault is in effect.
func (s *Scheduler) SetChaosActive(active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == active {
		return
	}
	s.active = active
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Scheduler) chaos() (bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, s.changed
}

// Stop ends the loops and waits for them, dropping checks in flight.
// Calling it again does nothing.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	s.stopped = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.loops.Wait()
}

// Finish stops the loops, then runs the EOT and Edge checks and returns the
// results that failed. When it returns no probe goroutine is left.
func (s *Scheduler) Finish(ctx context.Context) []timeline.ProbeResult {
	s.Stop()
	return s.once(ctx, v1alpha1.ProbeModeEOT, v1alpha1.ProbeModeEdge)
}

// once runs every probe of the given modes one time, concurrently, so one
// slow probe's initialDelay does not delay the others.
func (s *Scheduler) once(ctx context.Context, modes ...v1alpha1.ProbeMode) []timeline.ProbeResult {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []timeline.ProbeResult
	)
	for _, p := range s.probes {
		if !hasMode(modes, p.Mode()) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !ctxtime.Sleep(ctx, p.Timing().InitialDelay) {
				return
			}
			if pr, ok := s.run(ctx, p); ok && !pr.OK {
				mu.Lock()
				failed = append(failed, pr)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

func hasMode(modes []v1alpha1.ProbeMode, m v1alpha1.ProbeMode) bool {
	for _, x := range modes {
		if x == m {
			return true
		}
	}
	return false
}

func (s *Scheduler) continuous(ctx context.Context, p Probe) {
	t := p.Timing()
	if !ctxtime.Sleep(ctx, t.InitialDelay) {
		return
	}
	for {
		began := time.Now()
		s.run(ctx, p)
		// Checks start every interval; one that overran starts the next at
		// once rather than piling up.
		if !ctxtime.Sleep(ctx, t.Interval-time.Since(began)) {
			return
		}
	}
}

func (s *Scheduler) onChaos(ctx context.Context, p Probe) {
	t := p.Timing()
	for {
		active, changed := s.chaos()
		if !active {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				continue
			}
		}
		if !wait(ctx, changed, t.InitialDelay) {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		for {
			began := time.Now()
			s.run(ctx, p)
			if !wait(ctx, changed, t.Interval-time.Since(began)) {
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// wait sleeps d unless ctx ends or changed closes first; it reports
// whether d elapsed. A closed changed wins over an elapsed timer, so a
// toggle is never missed.
func wait(ctx context.Context, changed <-chan struct{}, d time.Duration) bool {
	select {
	case <-changed:
		return false
	default:
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-changed:
			return false
		case <-t.C:
		}
	}
	select {
	case <-changed:
		return false
	default:
		return ctx.Err() == nil
	}
}

// run checks p once and records the result; ok is false when the check was
// cut short by ctx and so recorded nothing.
func (s *Scheduler) run(ctx context.Context, p Probe) (timeline.ProbeResult, bool) {
	r := p.Check(ctx)
	if ctx.Err() != nil {
		return timeline.ProbeResult{}, false
	}
	at := r.Start.Sub(s.origin)
	pr := timeline.ProbeResult{
		Probe:   p.Name(),
		Mode:    string(p.Mode()),
		At:      at,
		OK:      r.OK,
		Latency: r.Latency,
		Message: r.Message,
	}
	s.sink.AddProbe(pr)
	for _, c := range r.Checks {
		c.Probe = p.Name()
		c.At += at
		s.sink.AddCheck(c)
	}
	if !r.OK && p.Timing().StopOnFailure && s.onStop != nil {
		s.stopOnce.Do(func() {
			s.onStop(fmt.Sprintf("probe %s (%s) failed: %s", p.Name(), p.Mode(), r.Message))
		})
	}
	return pr, true
}
