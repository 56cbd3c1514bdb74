package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/measure"
	"github.com/faultline-dev/faultline/internal/timeline"
)

func failing() Report {
	return fixture(fixtureOptions{name: "checkout/pod-kill", seed: 7, rps: 20, failSLOs: true})
}

func passing() Report {
	return fixture(fixtureOptions{name: "gateway/delay", seed: 8, rps: 20, mild: true})
}

func aborted() Report {
	return fixture(fixtureOptions{name: "rollout", seed: 9, rps: 20, abortAt: 70 * time.Second})
}

func TestJSONRoundTrip(t *testing.T) {
	r := failing()
	r.Runs = []*measure.Result{r.Result, passing().Result}
	r.Aggregate = &measure.Aggregate{Runs: 2, Passed: 1, Metrics: map[string]measure.Spread{"availability": {Mean: 99, StdDev: 0.5, Min: 98.5, Max: 99.5}}}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	doc, err := ReadJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// Times lose their monotonic reading and location in JSON; compare
	// what the schema carries.
	want := *withArrays(r.Result)
	if !want.Start.Equal(doc.Start) {
		t.Errorf("start %v, want %v", doc.Start, want.Start)
	}
	want.Start = doc.Start
	if !reflect.DeepEqual(&want, doc.Result) {
		t.Errorf("result changed in the round trip:\ngot  %+v\nwant %+v", doc.Result, &want)
	}
	if len(doc.Runs) != 2 || doc.Aggregate == nil || doc.Aggregate.Metrics["availability"].StdDev != 0.5 {
		t.Errorf("repeats lost: runs %d, aggregate %+v", len(doc.Runs), doc.Aggregate)
	}
	s := BuildSeries(r.Timeline)
	if doc.Series == nil || doc.Series.Step != s.Step || len(doc.Series.TSec) != len(s.TSec) {
		t.Fatalf("series lost: %+v", doc.Series)
	}
	for i := range s.P99Ms {
		a, b := s.P99Ms[i], doc.Series.P99Ms[i]
		if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
			t.Fatalf("p99[%d] = %v after the round trip, want %v", i, b, a)
		}
	}
	if len(doc.Series.Probes) != len(s.Probes) {
		t.Errorf("probe lanes %d, want %d", len(doc.Series.Probes), len(s.Probes))
	}
	if got := doc.Report(); got.Result != doc.Result || got.Aggregate != doc.Aggregate {
		t.Error("Document.Report does not carry the document")
	}
}

// TestJSONFieldNames pins the schema's top-level names: consumers (CI
// scripts, dashboards) read them, so a rename is a breaking change.
func TestJSONFieldNames(t *testing.T) {
	r := aborted()
	r.Aggregate = &measure.Aggregate{Runs: 1, Passed: 0}
	r.Runs = []*measure.Result{r.Result}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schemaVersion", "experiment", "start", "duration", "phases", "overall", "recovery",
		"consistency", "probes", "fidelity", "slos", "score", "verdict", "aborted", "runs", "aggregate", "series"} {
		if _, ok := top[k]; !ok {
			t.Errorf("top-level field %q missing", k)
		}
	}
	var series map[string]json.RawMessage
	if err := json.Unmarshal(top["series"], &series); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"step", "tSec", "p50Ms", "p90Ms", "p99Ms", "okPerSec", "errorsPerSec", "errorRatePct", "probes"} {
		if _, ok := series[k]; !ok {
			t.Errorf("series field %q missing", k)
		}
	}
	var phase map[string]json.RawMessage
	var phases []json.RawMessage
	if err := json.Unmarshal(top["phases"], &phases); err != nil || len(phases) == 0 {
		t.Fatalf("phases: %v", err)
	}
	if err := json.Unmarshal(phases[0], &phase); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"phase", "availability", "errorRate", "throughput", "latency", "requests", "errors"} {
		if _, ok := phase[k]; !ok {
			t.Errorf("phase field %q missing", k)
		}
	}
}

func TestJSONEmptyListsAreArrays(t *testing.T) {
	res := &measure.Result{Experiment: "empty", Verdict: measure.VerdictPass}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, Report{Result: res}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, k := range []string{"phases", "recovery", "consistency", "probes", "fidelity", "slos"} {
		if !strings.Contains(out, `"`+k+`": []`) {
			t.Errorf("%q is not an empty array in:\n%s", k, out)
		}
	}
	if strings.Contains(out, `"series"`) || strings.Contains(out, `"runs"`) {
		t.Errorf("series or runs written without a timeline or repeats:\n%s", out)
	}
	if res.Phases != nil {
		t.Error("WriteJSON modified the caller's result")
	}
}

// junitDoc mirrors the JUnit schema for reading the output back.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Time       string `xml:"time,attr"`
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
		SystemOut string `xml:"system-out"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	fail, pass, abort := failing(), passing(), aborted()
	fail.Result.Fidelity[1].Error = `tc qdisc: "eth0" not found <netns>`
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, fail, pass, abort); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, buf.String())
	}
	if !strings.HasPrefix(buf.String(), "<?xml") {
		t.Error("no XML declaration")
	}
	if len(doc.Suites) != 3 {
		t.Fatalf("%d testsuites, want one per experiment", len(doc.Suites))
	}
	// 3 SLOs + 2 probes + 2 faults + the run = 8 cases per suite.
	type counts struct{ tests, failures, errors int }
	want := []counts{
		{8, 3, 1}, // availability and p99 SLOs, health probe; a fault not injected
		{8, 0, 0},
		{8, 2, 1}, // availability SLO, health probe; the aborted run
	}
	total := counts{}
	for i, s := range doc.Suites {
		got := counts{s.Tests, s.Failures, s.Errors}
		if got != want[i] {
			t.Errorf("suite %s: tests/failures/errors %+v, want %+v", s.Name, got, want[i])
		}
		n := counts{tests: len(s.Cases)}
		for _, c := range s.Cases {
			if c.Failure != nil {
				n.failures++
			}
			if c.Error != nil {
				n.errors++
			}
			if c.Name == "" || c.Classname == "" || c.Time == "" {
				t.Errorf("suite %s: testcase without name, classname or time: %+v", s.Name, c)
			}
		}
		if n != got {
			t.Errorf("suite %s: attributes say %+v, testcases say %+v", s.Name, got, n)
		}
		if s.Time == "" || s.Timestamp != "2026-05-14T09:30:00" {
			t.Errorf("suite %s: time %q timestamp %q", s.Name, s.Time, s.Timestamp)
		}
		total.tests += s.Tests
		total.failures += s.Failures
		total.errors += s.Errors
	}
	if (counts{doc.Tests, doc.Failures, doc.Errors}) != total {
		t.Errorf("testsuites totals %d/%d/%d, want %+v", doc.Tests, doc.Failures, doc.Errors, total)
	}

	s0 := doc.Suites[0]
	var p99 string
	for _, c := range s0.Cases {
		if c.Name == "p99-latency" && c.Failure != nil {
			p99 = c.Failure.Message
		}
		if c.Classname == "checkout/pod-kill.fault" && c.Name == "slow-network" {
			if c.Error == nil || !strings.Contains(c.Error.Message, `"eth0" not found <netns>`) {
				t.Errorf("fault error not reported intact: %+v", c.Error)
			}
		}
	}
	if !strings.Contains(p99, "objective ≤ 150ms") || !strings.Contains(p99, "observed 262ms") {
		t.Errorf("SLO failure message %q should say objective vs observed", p99)
	}
	var run string
	for _, c := range doc.Suites[2].Cases {
		if c.Name == "run" && c.Error != nil {
			run = c.Error.Message
		}
	}
	if !strings.Contains(run, "probe health failed 3 times") {
		t.Errorf("aborted run error %q", run)
	}
	if !strings.Contains(s0.SystemOut, "phase fault") {
		t.Errorf("system-out lacks the phase summary: %q", s0.SystemOut)
	}
	props := map[string]string{}
	for _, p := range s0.Properties {
		props[p.Name] = p.Value
	}
	if props["verdict"] != "fail" || props["score"] != "82" {
		t.Errorf("properties %v", props)
	}
}

// TestJUnitSchemaOrder checks the element order the JUnit XSD's sequences
// require, which encoding/xml's reader would not notice.
func TestJUnitSchemaOrder(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, aborted()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	props, firstCase := strings.Index(out, "<properties>"), strings.Index(out, "<testcase")
	lastCase, sysout := strings.LastIndex(out, "</testcase>"), strings.LastIndex(out, "<system-out>")
	if !(props < firstCase && lastCase < sysout) {
		t.Errorf("testsuite children out of schema order (properties, testcase*, system-out):\n%s", out)
	}
}

func TestMarkdown(t *testing.T) {
	fail := failing()
	fail.Result.Probes[0].Message = "GET /v2/health/ready | 503 <html>"
	fail.Aggregate = &measure.Aggregate{Runs: 3, Passed: 1, Metrics: map[string]measure.Spread{"score": {Mean: 80, StdDev: 2, Min: 78, Max: 82}}}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, fail, passing()); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"## ✗ faultline: 1 of 2 experiments passed",
		"### ✗ checkout/pod-kill — FAIL",
		"### ✓ gateway/delay — PASS",
		"**✗ FAIL** · score **82**/100 · 1 of 3 SLOs met",
		"#### SLOs",
		"| ✗ | p99-latency | fault | ≤ 150ms | 262ms |",
		"#### Phases",
		"| phase | window | requests | availability | p50 | p99 | throughput | errors |",
		"| fault | 0:30.0–1:00.0 | 600 |",
		"| **overall** |",
		"#### Recovery",
		"| ✓ | kill-one-replica | 0:35.0 | 40.0 ms | 3.20 s | 3.20 s |",
		"#### Consistency",
		"| probe | matched | baseline | fault | recovery |",
		"#### Fault fidelity (asked vs measured)",
		"| ✓ | slow-network | NetworkChaos | llm-0 | delay | 200ms | 203ms p50 | 101.5% |",
		"<details><summary>",
		"</summary>\n\n",
		"**Consistency mismatches**",
		"top-5 overlap 2/5",
		"**Repeats**: 1 of 3 runs passed",
		`GET /v2/health/ready \| 503 &lt;html&gt;`,
		"</details>",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "<html>") {
		t.Error("untrusted text reached the Markdown as HTML")
	}
	// Every table row has as many cells as its header.
	var cols int
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(line, -1)) - 1
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row has %d cells, header %d: %s", n, cols, line)
		}
	}
}

func TestMarkdownAborted(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, aborted()); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if !strings.HasPrefix(md, "### ✗ rollout — ABORTED") || !strings.Contains(md, "Why it did not pass:\n\n- aborted at 1m10s: probe health failed 3 times (stopOnFailure)\n- SLO availability-during-fault: observed") {
		t.Errorf("aborted run not headlined:\n%s", md[:min(len(md), 400)])
	}
	if !strings.Contains(md, "| ✗ | slow-network | 0:40.0–0:55.0 | 40.0 ms | never |") {
		t.Error("unrecovered fault not shown as never")
	}
}

func TestHTML(t *testing.T) {
	nasty := `evil </script><script>alert(1)</script> <!-- & "quotes"`
	bad := failing()
	bad.Result.Experiment = nasty
	bad.Timeline.Experiment = nasty
	bad.Timeline.Faults[0].Name = "</SCRIPT ><img src=x onerror=alert(2)>"
	var buf bytes.Buffer
	if err := WriteHTML(&buf, bad, passing()); err != nil {
		t.Fatal(err)
	}
	page := buf.String()

	uplot, _ := assets.ReadFile("assets/uPlot.iife.min.js")
	if !strings.Contains(page, string(uplot)) || !strings.Contains(page, "/*! https://github.com/leeoniya/uPlot (v1.6.32) */") {
		t.Error("uPlot is not embedded whole, with its license header")
	}
	if !strings.Contains(page, "Permission is hereby granted, free of charge") {
		t.Error("uPlot's MIT notice is not in the page")
	}
	css, _ := assets.ReadFile("assets/uPlot.min.css")
	if !strings.Contains(page, string(css)) {
		t.Error("uPlot's stylesheet is not embedded")
	}
	if n := strings.Count(page, "<script"); n != 3 {
		t.Errorf("%d <script> elements, want 3 (data, uPlot, report); the name escaped into a new one", n)
	}
	if strings.Contains(strings.ToLower(page), "</script><script>alert") || strings.Contains(page, "<img src=x") {
		t.Error("an experiment or fault name broke out of its context")
	}
	// No element loads anything from elsewhere.
	ext := regexp.MustCompile(`(?i)<(script|link|img|iframe|source|audio|video)\b[^>]*\b(src|href)\s*=`)
	if m := ext.FindString(page); m != "" {
		t.Errorf("page loads a resource: %s", m)
	}
	if m := regexp.MustCompile(`(?i)url\(\s*['"]?https?:|@import`).FindString(page); m != "" {
		t.Errorf("stylesheet fetches: %s", m)
	}

	// The chart data is valid JSON that carries the names intact.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="faultline-data">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no chart data element")
	}
	var data []chartData
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("chart data is not JSON: %v", err)
	}
	if len(data) != 2 || data[0].Name != nasty || data[0].Faults[0].Name != "</SCRIPT ><img src=x onerror=alert(2)>" {
		t.Errorf("names not carried intact: %q", data[0].Name)
	}
	if data[0].Series.Points() == 0 || len(data[0].Phases) != 3 || len(data[0].Faults) != 2 {
		t.Errorf("chart data incomplete: %d points, %d phases, %d faults", data[0].Series.Points(), len(data[0].Phases), len(data[0].Faults))
	}
	for _, want := range []string{
		`data-verdict="fail"`, `data-verdict="pass"`, "✗ FAIL", "✓ PASS",
		`id="exp-1-latency"`, `id="exp-1-throughput"`, `id="exp-1-errors"`, `id="exp-1-probes"`,
		"Service level objectives", "availability-during-fault", "Fault fidelity", "203ms p50", "101.5%",
		"Recovery", "Consistency", "top-5 overlap 2/5", "evil &lt;/script&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestHTMLWithoutTimeline(t *testing.T) {
	r := failing()
	r.Timeline = nil
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, `class="chart"`) || !strings.Contains(page, "no charts over time") {
		t.Error("a result without a timeline should say why it has no charts")
	}
	if !strings.Contains(page, `id="faultline-data">[]</script>`) {
		t.Error("chart data should be an empty list")
	}
}

// TestHTMLLongRunIsSmall: an hour at a high rate is bucketed to at most
// MaxPoints per series, so the report stays small.
func TestHTMLLongRunIsSmall(t *testing.T) {
	tl := &timeline.Timeline{Experiment: "soak", Duration: time.Hour,
		Phases: []timeline.Span{{Name: "baseline", End: 20 * time.Minute}, {Name: "fault", Start: 20 * time.Minute, End: 40 * time.Minute}, {Name: "recovery", Start: 40 * time.Minute, End: time.Hour}}}
	// 200 rps for an hour (720 k requests): the size depends on the bucket
	// count, not the rate, so this stands for 1,000 rps at a fifth of the
	// test's memory.
	const rps = 200
	tl.Requests = make([]timeline.Request, 0, rps*3600)
	for i := range rps * 3600 {
		at := time.Duration(i) * time.Second / rps
		tl.Requests = append(tl.Requests, timeline.Request{At: at, OK: i%97 != 0, Latency: time.Duration(10+i%40) * time.Millisecond})
	}
	for at := time.Duration(0); at < time.Hour; at += time.Second {
		tl.Probes = append(tl.Probes, timeline.ProbeResult{Probe: "health", At: at, OK: true})
	}
	s := BuildSeries(tl)
	if len(s.TSec) > MaxPoints || s.Step != 2*time.Second {
		t.Errorf("%d buckets of %v; want ≤ %d buckets of 2s", len(s.TSec), s.Step, MaxPoints)
	}
	res := &measure.Result{Experiment: "soak", Duration: time.Hour, Verdict: measure.VerdictPass}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, Report{Result: res, Timeline: tl}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 400_000 {
		t.Errorf("a one-hour report is %d bytes; want under 400 kB", buf.Len())
	}
	t.Logf("one hour at %d rps: %d bytes of HTML, %d buckets of %v", rps, buf.Len(), len(s.TSec), s.Step)
}

func TestBuildSeries(t *testing.T) {
	tl := &timeline.Timeline{Duration: 4 * time.Second}
	// Second 0: 10 requests, latencies 1..10 ms, one failed.
	for i := range 10 {
		tl.Requests = append(tl.Requests, timeline.Request{At: time.Duration(i) * 100 * time.Millisecond,
			Latency: time.Duration(i+1) * time.Millisecond, OK: i != 3})
	}
	// Second 1: nothing sent. Second 2: two requests, out of order.
	tl.Requests = append(tl.Requests,
		timeline.Request{At: 2900 * time.Millisecond, Latency: 50 * time.Millisecond, OK: false},
		timeline.Request{At: 2100 * time.Millisecond, Latency: 30 * time.Millisecond, OK: true})
	// Second 3: one request scheduled at the recorded end, which falls
	// into the last bucket rather than being lost.
	tl.Requests = append(tl.Requests, timeline.Request{At: 4 * time.Second, Latency: time.Millisecond, OK: true})
	tl.Probes = []timeline.ProbeResult{
		{Probe: "health", At: 0, OK: true}, {Probe: "health", At: 500 * time.Millisecond, OK: false},
		{Probe: "health", At: 2 * time.Second, OK: true},
	}
	tl.Checks = []timeline.Check{{Probe: "golden", At: 3 * time.Second, Match: false}}

	s := BuildSeries(tl)
	if s.Step != time.Second || !slices.Equal(s.TSec, []float64{0, 1, 2, 3}) {
		t.Fatalf("buckets %v of %v", s.TSec, s.Step)
	}
	nan := math.NaN()
	eq := func(name string, got Column, want ...float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
				t.Errorf("%s = %v, want %v", name, got, want)
				return
			}
		}
	}
	eq("p50", s.P50Ms, 5, nan, 30, 1)
	eq("p90", s.P90Ms, 9, nan, 50, 1)
	eq("p99", s.P99Ms, 10, nan, 50, 1)
	eq("ok/s", s.OKPerSec, 9, 0, 1, 1)
	eq("errors/s", s.ErrorsPerSec, 1, 0, 1, 0)
	eq("error rate", s.ErrorRatePct, 10, nan, 50, 0)
	if len(s.Probes) != 2 || s.Probes[0].Name != "health" || s.Probes[1].Kind != "consistency" {
		t.Fatalf("lanes %+v", s.Probes)
	}
	eq("health", s.Probes[0].Pass, 0.5, nan, 1, nan)
	eq("golden", s.Probes[1].Pass, nan, nan, nan, 0)
	// 3 values in each latency column and the error rate, 4 in each rate
	// column, 2 health buckets, 1 golden: gaps are not points.
	if got := s.Points(); got != 3*4+4*2+2+1 {
		t.Errorf("points %d, want 23", got)
	}
}

func TestChooseStep(t *testing.T) {
	for _, tc := range []struct {
		run, want time.Duration
	}{
		{0, time.Second},
		{90 * time.Second, time.Second},
		{2000 * time.Second, time.Second},
		{2001 * time.Second, 2 * time.Second},
		{time.Hour, 2 * time.Second},
		{24 * time.Hour, time.Minute},
		{3000 * time.Hour, 2 * time.Hour},
	} {
		if got := chooseStep(tc.run); got != tc.want {
			t.Errorf("chooseStep(%v) = %v, want %v", tc.run, got, tc.want)
		}
		if n := (tc.run + tc.want - 1) / tc.want; n > MaxPoints {
			t.Errorf("chooseStep(%v) gives %d buckets", tc.run, n)
		}
	}
}

func TestColumnJSON(t *testing.T) {
	c := Column{1.5, math.NaN(), 0}
	b, err := json.Marshal(c)
	if err != nil || string(b) != "[1.5,null,0]" {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var back Column
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 3 || back[0] != 1.5 || !math.IsNaN(back[1]) {
		t.Fatalf("unmarshal = %v, %v", back, err)
	}
	if _, err := json.Marshal(Column{math.Inf(1)}); err == nil {
		t.Error("infinity should not marshal")
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtPct(99.9996), "99.999%"},
		{fmtPct(100), "100%"},
		{fmtPct(97.126), "97.13%"},
		{fmtPct(-1), "—"},
		{fmtDur(850 * time.Microsecond), "850 µs"},
		{fmtDur(3200 * time.Millisecond), "3.20 s"},
		{fmtDur(-1), "—"},
		{fmtDur(95 * time.Second), "1m35s"},
		{fmtOffset(95*time.Second + 250*time.Millisecond), "1:35.3"},
		{fmtStep(2 * time.Second), "2 s"},
		{fmtStep(5 * time.Minute), "5 min"},
		{fmtRate(39.94), "39.9/s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWritersRejectMissingResult(t *testing.T) {
	var buf bytes.Buffer
	for name, err := range map[string]error{
		"json":     WriteJSON(&buf, Report{}),
		"junit":    WriteJUnit(&buf, passing(), Report{}),
		"markdown": WriteMarkdown(&buf),
		"html":     WriteHTML(&buf, Report{Timeline: &timeline.Timeline{Experiment: "x"}}),
	} {
		if err == nil {
			t.Errorf("%s: no error for a report without a result", name)
		}
	}
}

type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteErrorsAreWrapped(t *testing.T) {
	r := passing()
	for name, err := range map[string]error{
		"json":     WriteJSON(failWriter{}, r),
		"junit":    WriteJUnit(failWriter{}, r),
		"markdown": WriteMarkdown(failWriter{}, r),
		"html":     WriteHTML(failWriter{}, r),
	} {
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%s: error %v does not wrap the writer's", name, err)
		}
	}
}

func TestIndentJSON(t *testing.T) {
	src := []byte(`{"a":[1,2,null],"b":{"c":"x,\"[y]\"","d":[]},"e":[{"f":["g","h"]},{}],"i":{}}`)
	got := string(indentJSON(src))
	want := `{
  "a": [1,2,null],
  "b": {
    "c": "x,\"[y]\"",
    "d": []
  },
  "e": [
    {
      "f": ["g","h"]
    },
    {}
  ],
  "i": {}
}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	var a, b any
	if err := json.Unmarshal(src, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(got), &b); err != nil || !reflect.DeepEqual(a, b) {
		t.Errorf("indenting changed the value: %v", err)
	}
}

// TestUnmeasuredAndCapped covers what measure reports when it could not
// measure: a fault never injected, mismatches beyond its cap, a fault
// with no fidelity figures.
func TestUnmeasuredAndCapped(t *testing.T) {
	r := failing()
	res := r.Result
	res.Reasons = nil
	res.Aborted, res.AbortedAt, res.Verdict = "probe health failed", 12*time.Second, measure.VerdictAborted
	res.Recovery[1] = measure.Recovery{Fault: "slow-network", FaultStart: 40 * time.Second, FaultEnd: 55 * time.Second,
		TimeToFirstError: -1, FromRevert: -1, FromStart: -1, Unmeasured: "never injected"}
	res.Consistency[0].MismatchesOmitted = 250
	res.Fidelity[1].Items, res.Fidelity[1].Asked = nil, "delay 200ms on llm-0, llm-2"

	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"> **✗ Aborted by a stop condition** at 0:12.0: probe health failed",
		"| — | slow-network | 0:40.0–0:55.0 | — | not measured: never injected | — |",
		"…and 250 more.",
		"| — | slow-network | NetworkChaos | llm-0, llm-2 | — | delay 200ms on llm-0, llm-2 | not reported | — |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if worst, all, _ := worstRecovery(res); worst != 3200*time.Millisecond || !all {
		t.Errorf("an unmeasured fault counted in the worst recovery: %v %v", worst, all)
	}

	var page bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<tr class="unmeasured">`, "not measured: never injected", "250 more in the JSON result", "at 0:12.0"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// TestReportsOfMeasuredRun renders what measure.Measure makes of a
// fixture's timeline, so the writers are exercised on real results, not
// only on hand-made ones.
func TestReportsOfMeasuredRun(t *testing.T) {
	tl := fixture(fixtureOptions{name: "measured", seed: 3, rps: 20, abortAt: 75 * time.Second}).Timeline
	pct := func(v float64) *float64 { return &v }
	spec := &v1alpha1.ExperimentSpec{SLOs: []v1alpha1.SLO{
		{Name: "available", Metric: v1alpha1.SLOAvailability, Phase: v1alpha1.SLOPhaseFault, Min: pct(99.5)},
		{Name: "p99", Metric: v1alpha1.SLOLatency, Percentile: "p99", Phase: v1alpha1.SLOPhaseFault, MaxDuration: "500ms"},
		{Name: "recovers", Metric: v1alpha1.SLORecoveryTime, MaxDuration: "30s"},
		{Name: "consistent", Metric: v1alpha1.SLOConsistency, Min: pct(99)},
	}}
	res := measure.Measure(tl, spec)
	r := Report{Result: &res, Timeline: tl}

	var js, xm, md, page bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := WriteJUnit(&xm, r); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(xm.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// 4 SLOs + 2 probes + 2 faults + run; the run was aborted.
	if s := doc.Suites[0]; s.Tests != len(res.SLOs)+len(res.Probes)+len(res.Fidelity)+1 || s.Errors < 1 {
		t.Errorf("suite %+v", s)
	}
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "ABORTED") || !strings.Contains(md.String(), "| ✗ | available | fault |") {
		t.Errorf("markdown of a measured run:\n%s", md.String())
	}
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `data-verdict="aborted"`) {
		t.Error("HTML verdict missing")
	}
}
