package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/faultline-dev/faultline/internal/timeline"
)

// MaxPoints bounds the buckets of a Series: an hour at 1,000 requests per
// second (3.6 M requests) still becomes at most this many points per line,
// so the HTML report stays a few hundred kilobytes and charts stay fast.
const MaxPoints = 2000

// MinStep is the narrowest bucket. A percentile over fewer than a second's
// requests is noise at the rates faultline drives, and the load generator
// records in 100 ms buckets anyway.
const MinStep = time.Second

// Series is a run's timeline reduced to fixed-width time buckets: what the
// HTML report charts, and the "series" section of the JSON result. Every
// column has one value per bucket; a bucket without data is null in JSON
// (NaN in Go), which charts draw as a gap rather than as a false zero.
type Series struct {
	// Step is the bucket width (nanoseconds in JSON, like every duration
	// of the result schema).
	Step time.Duration `json:"step"`
	// TSec is each bucket's start, in seconds from the start of the run.
	TSec []float64 `json:"tSec"`
	// Latency percentiles of the bucket's requests (successful and failed
	// alike, from the scheduled send time, as measure computes them), ms.
	P50Ms Column `json:"p50Ms"`
	P90Ms Column `json:"p90Ms"`
	P99Ms Column `json:"p99Ms"`
	// OKPerSec and ErrorsPerSec are completed requests per second, by
	// outcome; zero (not null) when nothing was sent.
	OKPerSec     Column `json:"okPerSec"`
	ErrorsPerSec Column `json:"errorsPerSec"`
	// ErrorRatePct is failed over sent, percent; null when nothing was
	// sent.
	ErrorRatePct Column `json:"errorRatePct"`
	// Probes holds one lane per probe, then one per inference probe's
	// golden-set checks.
	Probes []ProbeSeries `json:"probes,omitempty"`
}

// ProbeSeries is one probe's state over time.
type ProbeSeries struct {
	Name string `json:"name"`
	// Kind is "probe" for probe evaluations and "consistency" for the
	// golden-set comparisons of an inference probe.
	Kind string `json:"kind"`
	Mode string `json:"mode,omitempty"`
	// Pass is the share of the bucket's evaluations that passed, 0–1; null
	// when the probe did not run in the bucket.
	Pass Column `json:"pass"`
}

// Points counts the non-null values of every column, which is how a test
// (or the browser check) knows a chart has something to draw.
func (s *Series) Points() int {
	n := 0
	for _, c := range []Column{s.P50Ms, s.P90Ms, s.P99Ms, s.OKPerSec, s.ErrorsPerSec, s.ErrorRatePct} {
		n += c.Valid()
	}
	for _, p := range s.Probes {
		n += p.Pass.Valid()
	}
	return n
}

// Column is one series' values. NaN means "no data" and is written as
// JSON null, which both Go and the charts read back as a gap.
type Column []float64

// Valid counts the values that are not NaN.
func (c Column) Valid() int {
	n := 0
	for _, v := range c {
		if !math.IsNaN(v) {
			n++
		}
	}
	return n
}

// MarshalJSON writes NaN as null, which encoding/json refuses to do for a
// plain float64.
func (c Column) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("[]"), nil
	}
	b := make([]byte, 0, 2+len(c)*6)
	b = append(b, '[')
	for i, v := range c {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case math.IsNaN(v):
			b = append(b, "null"...)
		case math.IsInf(v, 0):
			return nil, fmt.Errorf("report: series value %v at %d is not a number JSON can hold", v, i)
		default:
			b = strconv.AppendFloat(b, v, 'f', -1, 64)
		}
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads null back as NaN.
func (c *Column) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*c = nil
		return nil
	}
	var vs []*float64
	if err := json.Unmarshal(b, &vs); err != nil {
		return fmt.Errorf("report: series column: %w", err)
	}
	out := make(Column, len(vs))
	for i, v := range vs {
		if v == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *v
		}
	}
	*c = out
	return nil
}

// BuildSeries buckets a timeline for charts. The bucket width is the
// smallest round width (chooseStep) that keeps the run within MaxPoints buckets.
func BuildSeries(tl *timeline.Timeline) *Series {
	end := timelineEnd(tl)
	step := chooseStep(end)
	n := max(1, int((end+step-1)/step))
	bucket := func(at time.Duration) int {
		return min(max(0, int(at/step)), n-1)
	}

	s := &Series{
		Step:         step,
		TSec:         make([]float64, n),
		P50Ms:        nanColumn(n),
		P90Ms:        nanColumn(n),
		P99Ms:        nanColumn(n),
		OKPerSec:     make(Column, n),
		ErrorsPerSec: make(Column, n),
		ErrorRatePct: nanColumn(n),
	}
	for i := range n {
		s.TSec[i] = round3((time.Duration(i) * step).Seconds())
	}

	// Counting sort of the latencies by bucket: one flat slice instead of
	// a slice per bucket, so a long, busy run costs one allocation of
	// 8 bytes per request and works whatever order the requests are in.
	counts := make([]int, n+1)
	ok := make([]int, n)
	for _, r := range tl.Requests {
		b := bucket(r.At)
		counts[b+1]++
		if r.OK {
			ok[b]++
		}
	}
	for i := 1; i <= n; i++ {
		counts[i] += counts[i-1]
	}
	lat := make([]time.Duration, len(tl.Requests))
	next := slices.Clone(counts[:n])
	for _, r := range tl.Requests {
		b := bucket(r.At)
		lat[next[b]] = r.Latency
		next[b]++
	}
	secs := step.Seconds()
	for b := range n {
		l := lat[counts[b]:counts[b+1]]
		total := len(l)
		s.OKPerSec[b] = round3(float64(ok[b]) / secs)
		s.ErrorsPerSec[b] = round3(float64(total-ok[b]) / secs)
		if total == 0 {
			continue
		}
		s.ErrorRatePct[b] = round3(float64(total-ok[b]) / float64(total) * 100)
		slices.Sort(l)
		s.P50Ms[b] = ms(percentile(l, 50))
		s.P90Ms[b] = ms(percentile(l, 90))
		s.P99Ms[b] = ms(percentile(l, 99))
	}

	s.Probes = append(s.Probes, lanes(n, bucket, "probe", len(tl.Probes), func(i int) laneItem {
		p := tl.Probes[i]
		return laneItem{name: p.Probe, mode: p.Mode, at: p.At, ok: p.OK}
	})...)
	s.Probes = append(s.Probes, lanes(n, bucket, "consistency", len(tl.Checks), func(i int) laneItem {
		c := tl.Checks[i]
		return laneItem{name: c.Probe, at: c.At, ok: c.Match}
	})...)
	return s
}

// laneItem is one probe evaluation or golden-set check, as a lane sees it.
type laneItem struct {
	name, mode string
	at         time.Duration
	ok         bool
}

// lanes builds one ProbeSeries per distinct name, in order of first
// appearance, from count items read through get (a getter rather than a
// slice, so probe results and checks need no conversion copy).
func lanes(n int, bucket func(time.Duration) int, kind string, count int, get func(i int) laneItem) []ProbeSeries {
	var out []ProbeSeries
	index := map[string]int{}
	var passed, total [][]int
	for i := range count {
		it := get(i)
		l, seen := index[it.name]
		if !seen {
			l = len(out)
			index[it.name] = l
			out = append(out, ProbeSeries{Name: it.name, Kind: kind, Mode: it.mode})
			passed = append(passed, make([]int, n))
			total = append(total, make([]int, n))
		}
		b := bucket(it.at)
		total[l][b]++
		if it.ok {
			passed[l][b]++
		}
	}
	for l := range out {
		out[l].Pass = nanColumn(n)
		for b := range n {
			if total[l][b] > 0 {
				out[l].Pass[b] = round3(float64(passed[l][b]) / float64(total[l][b]))
			}
		}
	}
	return out
}

// timelineEnd is how long the charts must run: the recorded duration, or
// later if anything was recorded after it (a run measured before Finish).
func timelineEnd(tl *timeline.Timeline) time.Duration {
	end := tl.Duration
	for _, r := range tl.Requests {
		end = max(end, r.At)
	}
	for _, p := range tl.Probes {
		end = max(end, p.At)
	}
	for _, c := range tl.Checks {
		end = max(end, c.At)
	}
	for _, f := range tl.Faults {
		end = max(end, f.End)
	}
	for _, p := range tl.Phases {
		end = max(end, p.End)
	}
	return end
}

// chooseStep is the smallest round bucket width that keeps a run of
// length end within MaxPoints buckets; round widths keep the time axis
// readable.
func chooseStep(end time.Duration) time.Duration {
	nice := [...]time.Duration{
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour,
	}
	for _, s := range nice {
		if end <= s*MaxPoints {
			return s
		}
	}
	// Longer than 2,000 hours: whole hours, still within MaxPoints.
	return ((end/MaxPoints)/time.Hour + 1) * time.Hour
}

// percentile is the nearest-rank percentile of sorted latencies: an
// observed value, never an interpolation between two.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func nanColumn(n int) Column {
	c := make(Column, n)
	for i := range c {
		c[i] = math.NaN()
	}
	return c
}

// ms converts to milliseconds at microsecond resolution, which is finer
// than any chart shows and keeps the embedded JSON short.
func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
