//go:build linux

package load

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline-dev/faultline/internal/timeline"
)

// The comparison with vegeta behind docs/BENCHMARKS.md ("Load generator").
// It is a benchmark so that `go test ./...` (CI) does not run it:
//
//	go test ./internal/load -run '^$' -bench Vegeta -benchtime 1x -timeout 30m -v
//
// Both tools run in this process against the same loopback net/http server,
// with the same worker (and connection) cap, one after the other at each
// step so that they see the same machine.
const benchWorkers = 64

// outcome is one tool's run at one rate.
type outcome struct {
	asked     int
	ok, errs  int
	wall      time.Duration // start until the last answer
	cpu       time.Duration // process CPU (both tools' and the server's) over the run
	latencies []time.Duration
}

// processCPU is this process's user+system CPU time so far. The server is
// the same for both tools, so the difference in CPU per request between
// two runs at one rate is the difference between the generators.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerRequest is process CPU per answered request.
func (o outcome) cpuPerRequest() time.Duration {
	return o.cpu / time.Duration(max(o.ok+o.errs, 1))
}

// achieved is successful answers per second of wall time.
func (o outcome) achieved() float64 { return float64(o.ok) / o.wall.Seconds() }

// sustained is the benchmark's criterion: < 1 % errors and < 5 % shortfall
// against the asked rate.
func (o outcome) sustained() bool {
	n := o.ok + o.errs
	return n > 0 && float64(o.errs) < 0.01*float64(n) && o.achieved() >= 0.95*float64(o.asked)
}

func (o outcome) pct(q float64) time.Duration {
	if len(o.latencies) == 0 {
		return 0
	}
	l := slices.Clone(o.latencies)
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

func runOurs(b *testing.B, url string, rate int, d time.Duration) outcome {
	rec := timeline.NewRecorder("bench", time.Now())
	g := New(Config{URL: url, Rate: float64(rate), Duration: d, MaxWorkers: benchWorkers}, rec)
	start, cpu := time.Now(), processCPU()
	if err := g.Run(context.Background(), start); err != nil {
		b.Fatal(err)
	}
	o := outcome{asked: rate, wall: time.Since(start), cpu: processCPU() - cpu}
	for _, r := range rec.Snapshot().Requests {
		if r.OK {
			o.ok++
			o.latencies = append(o.latencies, r.Latency)
		} else {
			o.errs++
		}
	}
	return o
}

// runVegeta uses vegeta as a library the way its CLI does, with a minimal
// consumer (no Metrics, which would only slow it down).
func runVegeta(url string, rate int, d time.Duration) outcome {
	atk := vegeta.NewAttacker(vegeta.Workers(benchWorkers), vegeta.MaxWorkers(benchWorkers),
		vegeta.Connections(benchWorkers), vegeta.KeepAlive(true), vegeta.Timeout(DefaultTimeout))
	tgt := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: url})
	o := outcome{asked: rate}
	start, cpu := time.Now(), processCPU()
	for res := range atk.Attack(tgt, vegeta.ConstantPacer{Freq: rate, Per: time.Second}, d, "bench") {
		if res.Error == "" && res.Code >= 200 && res.Code < 400 {
			o.ok++
			o.latencies = append(o.latencies, res.Latency)
		} else {
			o.errs++
		}
	}
	o.wall, o.cpu = time.Since(start), processCPU()-cpu
	return o
}

func BenchmarkVegeta(b *testing.B) {
	for b.Loop() {
		benchMaxRate(b)
		benchLatencyAccuracy(b)
	}
}

func benchMaxRate(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	const stepLen = 3 * time.Second
	rates := []int{2000, 5000, 10000, 20000, 30000, 40000, 45000, 50000, 55000, 60000, 70000, 80000}
	// The box is shared and noisy: a step a tool fails is tried once more,
	// and a tool's maximum is the last rate before it fails a step twice.
	tools := []struct {
		name string
		run  func(rate int) outcome
		best int
		done bool
		last outcome // at the current rate
	}{
		{name: "ours", run: func(rate int) outcome { return runOurs(b, srv.URL, rate, stepLen) }},
		{name: "vegeta", run: func(rate int) outcome { return runVegeta(srv.URL, rate, stepLen) }},
	}
	b.Logf("%-6s %-7s | achieved/s  err%%       p50       p99 cpu/req sustained", "tool", "rate")
	var cpuRatios []float64
	for i, rate := range rates {
		for k := range tools {
			// Alternate who goes first so neither always gets the warmer box.
			t := &tools[(k+i)%len(tools)]
			if t.done {
				continue
			}
			for try := 0; try < 2; try++ {
				runtime.GC()
				o := t.run(rate)
				t.last = o
				b.Logf("%-6s %-7d | %s", t.name, rate, row(o))
				if o.sustained() {
					t.best = rate
					break
				}
				t.done = try == 1
			}
		}
		if o, v := tools[0].last, tools[1].last; o.asked == rate && v.asked == rate && o.sustained() && v.sustained() {
			cpuRatios = append(cpuRatios, float64(o.cpuPerRequest())/float64(v.cpuPerRequest()))
		}
		if tools[0].done && tools[1].done {
			break
		}
	}
	slices.Sort(cpuRatios)
	if len(cpuRatios) > 0 {
		r := cpuRatios[len(cpuRatios)/2]
		b.Logf("process CPU per request, ours/vegeta, median over the %d rates both sustained: %.2f", len(cpuRatios), r)
		b.ReportMetric(r, "cpu/req-ratio")
	}
	ours, veg := tools[0].best, tools[1].best
	b.Logf("max sustained rate: ours %d/s, vegeta %d/s, ratio %.2f", ours, veg, float64(ours)/float64(max(veg, 1)))
	b.ReportMetric(float64(ours), "ours-max-rps")
	b.ReportMetric(float64(veg), "vegeta-max-rps")
	b.ReportMetric(float64(ours)/float64(max(veg, 1)), "max-rate-ratio")
}

func row(o outcome) string {
	n := max(o.ok+o.errs, 1)
	return fmt.Sprintf("%10.0f %5.2f%% %9v %9v %5.1fµs %v", o.achieved(), 100*float64(o.errs)/float64(n),
		o.pct(0.5).Round(time.Microsecond), o.pct(0.99).Round(time.Microsecond),
		float64(o.cpuPerRequest())/float64(time.Microsecond), o.sustained())
}

// benchLatencyAccuracy: a server that holds each request for a known 2 ms.
// The handler also measures how long it really held each one (a Go sleep
// overshoots a little), which is the true floor of any client's latency.
func benchLatencyAccuracy(b *testing.B) {
	const delay = 2 * time.Millisecond
	var mu sync.Mutex
	var held []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.Now()
		time.Sleep(delay)
		d := time.Since(t)
		mu.Lock()
		held = append(held, d)
		mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	const rate, d = 200, 5 * time.Second
	// heldPct returns the server-side hold p50 and p99 since the last call.
	heldPct := func() (time.Duration, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		o := outcome{latencies: held}
		held = nil
		return o.pct(0.5), o.pct(0.99)
	}
	runtime.GC()
	o := runOurs(b, srv.URL, rate, d)
	s50o, s99o := heldPct()
	runtime.GC()
	v := runVegeta(srv.URL, rate, d)
	s50v, s99v := heldPct()
	b.Logf("latency at %d/s with a %v server delay (server-side hold p50/p99: %v/%v during ours, %v/%v during vegeta)",
		rate, delay, s50o.Round(time.Microsecond), s99o.Round(time.Microsecond), s50v.Round(time.Microsecond), s99v.Round(time.Microsecond))
	b.Logf("ours:   p50 %v (+%v over the hold) p99 %v (+%v)", o.pct(0.5).Round(time.Microsecond), (o.pct(0.5) - s50o).Round(time.Microsecond),
		o.pct(0.99).Round(time.Microsecond), (o.pct(0.99) - s99o).Round(time.Microsecond))
	b.Logf("vegeta: p50 %v (+%v over the hold) p99 %v (+%v)", v.pct(0.5).Round(time.Microsecond), (v.pct(0.5) - s50v).Round(time.Microsecond),
		v.pct(0.99).Round(time.Microsecond), (v.pct(0.99) - s99v).Round(time.Microsecond))
	b.ReportMetric(float64(o.pct(0.5))/float64(delay), "ours-p50/delay")
	b.ReportMetric(float64(v.pct(0.5))/float64(delay), "vegeta-p50/delay")
	b.ReportMetric(float64(o.pct(0.99))/float64(delay), "ours-p99/delay")
	b.ReportMetric(float64(v.pct(0.99))/float64(delay), "vegeta-p99/delay")
}
