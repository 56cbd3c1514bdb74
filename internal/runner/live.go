package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/internal/load"
)

// liveView shows progress while a run goes: phase, a progress bar, current
// request rate, p99, error rate and the active faults. On a terminal it
// redraws one line; otherwise (CI) it prints a plain line every LiveEvery.
type liveView struct {
	opts         Options
	r            *run
	gen          *load.Generator
	index, total int
	stopCh       chan struct{}
	wg           sync.WaitGroup
}

func newLiveView(opts Options, r *run, gen *load.Generator, index, total int) *liveView {
	return &liveView{opts: opts, r: r, gen: gen, index: index, total: total, stopCh: make(chan struct{})}
}

func (l *liveView) start(ctx context.Context) {
	if l.opts.Live == nil {
		return
	}
	every := l.opts.LiveEvery
	if every <= 0 {
		every = 5 * time.Second
		if l.opts.Interactive {
			every = 250 * time.Millisecond
		}
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.stopCh:
				return
			case <-t.C:
				l.draw(false)
			}
		}
	}()
}

func (l *liveView) stop() {
	if l.opts.Live == nil {
		return
	}
	close(l.stopCh)
	l.wg.Wait()
	l.draw(true)
}

func (l *liveView) draw(final bool) {
	r := l.r
	total := r.baseline + r.fault + r.recovery
	now := r.rec.Now()
	if now > total {
		now = total
	}
	phase := "baseline"
	switch {
	case now >= r.baseline+r.fault:
		phase = "recovery"
	case now >= r.baseline:
		phase = "fault"
	}
	if final {
		phase = "done"
	}
	frac := float64(now) / float64(max(total, 1))
	const width = 24
	filled := int(frac * width)
	bar := strings.Repeat("█", filled) + strings.Repeat("·", width-filled)
	stats := ""
	if l.gen != nil {
		s := l.gen.Live()
		stats = fmt.Sprintf(" | %6.1f req/s  p99 %-8s  errors %5.1f%%", s.SentRate, s.P99.Round(time.Millisecond), 100*s.ErrorRate)
	}
	faults := l.activeFaults()
	run := ""
	if l.total > 1 {
		run = fmt.Sprintf("run %d/%d ", l.index+1, l.total)
	}
	line := fmt.Sprintf("%s%-8s [%s] %5s/%s%s | faults: %s", run, phase, bar,
		now.Round(time.Second), total.Round(time.Second), stats, faults)
	if l.opts.Interactive {
		fmt.Fprintf(l.opts.Live, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(l.opts.Live)
		}
		return
	}
	fmt.Fprintln(l.opts.Live, line)
}

func (l *liveView) activeFaults() string {
	l.r.mu.Lock()
	var names []string
	for _, inj := range l.r.active {
		names = append(names, inj.Fault().Name)
	}
	l.r.mu.Unlock()
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
