package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/measure"
)

// The JUnit XML elements, in the shape of the common (Jenkins/Ant) JUnit
// schema that CI systems read: testsuites > testsuite > properties,
// testcase (failure | error), system-out — in that order, which the
// schema's sequence requires.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
	SystemOut  string           `xml:"system-out,omitempty"`
}

type junitProperties struct {
	Props []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string `xml:"name,attr"`
	Classname string `xml:"classname,attr"`
	Time      string `xml:"time,attr"`
	// Error before failure: the schema's sequence (error*, failure*).
	Error     *junitProblem `xml:"error,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes JUnit XML with one testsuite per experiment. Each
// suite holds, in this order:
//   - one testcase per SLO (classname <experiment>.slo), failed when the
//     objective was missed, the message saying objective vs observed;
//   - one testcase per probe (<experiment>.probe), failed when it failed;
//   - one testcase per fault (<experiment>.fault), an error when the fault
//     could not be injected as asked;
//   - one testcase "run" (<experiment>.run), an error when a stop condition
//     aborted the run: the other figures then cover only part of it.
//
// Test names do not contain observed values, so CI trend views can follow
// a testcase from run to run.
func WriteJUnit(w io.Writer, reports ...Report) error {
	if err := check(reports); err != nil {
		return err
	}
	doc := junitSuites{Name: "faultline"}
	var total time.Duration
	for _, r := range reports {
		s := junitSuiteOf(r)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		total += r.Result.Duration
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("report: writing JUnit XML: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("report: writing JUnit XML: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("report: writing JUnit XML: %w", err)
	}
	return nil
}

func junitSuiteOf(r Report) junitSuite {
	res := r.Result
	name := r.name()
	s := junitSuite{Name: name, Time: seconds(res.Duration)}
	if !res.Start.IsZero() {
		// The schema's timestamp has no zone; UTC keeps it unambiguous.
		s.Timestamp = res.Start.UTC().Format("2006-01-02T15:04:05")
	}
	s.Properties = &junitProperties{Props: []junitProperty{
		{Name: "verdict", Value: string(res.Verdict)},
		{Name: "score", Value: fmtScore(res.Score.Value)},
		{Name: "availability", Value: fmtPct(res.Overall.Availability)},
		{Name: "p99", Value: fmtDur(res.Overall.Latency.P99)},
		{Name: "recovery", Value: fmtRecovery(res)},
	}}
	if a := r.Aggregate; a != nil {
		s.Properties.Props = append(s.Properties.Props,
			junitProperty{Name: "repeats", Value: strconv.Itoa(a.Runs)},
			junitProperty{Name: "repeatsPassed", Value: strconv.Itoa(a.Passed)})
	}

	for _, slo := range res.SLOs {
		c := junitCase{Name: sloName(slo), Classname: name + ".slo", Time: "0"}
		if !slo.Pass {
			c.Failure = &junitProblem{Type: "SLO", Message: sloDetail(slo), Text: sloDetail(slo)}
		}
		s.Cases = append(s.Cases, c)
	}
	for _, p := range res.Probes {
		c := junitCase{Name: p.Probe, Classname: name + ".probe", Time: "0",
			SystemOut: fmt.Sprintf("mode %s: %d runs, %d passed, %d failed", orDash(p.Mode), p.Runs, p.Passed, p.Failed)}
		if !p.OK {
			msg := fmt.Sprintf("probe %s (%s) failed %d of %d runs", p.Probe, orDash(p.Mode), p.Failed, p.Runs)
			if p.Message != "" {
				msg += ": " + p.Message
			}
			c.Failure = &junitProblem{Type: "Probe", Message: msg, Text: msg}
		}
		s.Cases = append(s.Cases, c)
	}
	for _, f := range res.Fidelity {
		c := junitCase{Name: f.Fault, Classname: name + ".fault", Time: "0"}
		var out []string
		if f.Asked != "" {
			out = append(out, "asked: "+f.Asked)
		}
		for _, it := range f.Items {
			line := fmt.Sprintf("%s: asked %s, measured %s", it.Quantity, orDash(it.Asked), orDash(it.Measured))
			if it.Target != "" {
				line = it.Target + " " + line
			}
			out = append(out, line)
		}
		c.SystemOut = strings.Join(out, "\n")
		if f.Error != "" {
			c.Error = &junitProblem{Type: "Fault", Message: f.Kind + " " + f.Fault + ": " + f.Error, Text: f.Error}
		}
		s.Cases = append(s.Cases, c)
	}
	run := junitCase{Name: "run", Classname: name + ".run", Time: seconds(res.Duration)}
	if res.Aborted != "" || res.Verdict == measure.VerdictAborted {
		msg := "aborted by a stop condition"
		if res.Aborted != "" {
			msg += ": " + res.Aborted
		}
		run.Error = &junitProblem{Type: "Aborted", Message: msg, Text: msg}
	}
	s.Cases = append(s.Cases, run)

	for _, c := range s.Cases {
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
	}
	s.SystemOut = summaryText(r)
	return s
}

// summaryText is a plain-text account of the run for system-out, where CI
// systems show it next to the testcases.
func summaryText(r Report) string {
	res := r.Result
	var b strings.Builder
	slos, probes := countPassed(res)
	fmt.Fprintf(&b, "%s: %s, score %s/100, %d of %d SLOs met, %d of %d probes passed, duration %s\n",
		r.name(), verdictWord(res.Verdict), fmtScore(res.Score.Value), slos, len(res.SLOs), probes, len(res.Probes), fmtDur(res.Duration))
	if res.Aborted != "" {
		fmt.Fprintf(&b, "aborted at %s: %s\n", fmtOffset(res.AbortedAt), res.Aborted)
	}
	for _, reason := range res.Reasons {
		fmt.Fprintf(&b, "reason: %s\n", reason)
	}
	for _, p := range res.Phases {
		fmt.Fprintf(&b, "phase %-10s %s  availability %s  p50 %s  p99 %s  throughput %s  errors %d\n",
			p.Phase, fmtWindow(p.Start, p.End), fmtPct(p.Availability), fmtDur(p.Latency.P50), fmtDur(p.Latency.P99), fmtRate(p.Throughput), p.Errors)
	}
	for _, rc := range res.Recovery {
		fmt.Fprintf(&b, "fault %s %s: first error %s, recovered after revert: %s\n",
			rc.Fault, fmtWindow(rc.FaultStart, rc.FaultEnd), fmtDur(rc.TimeToFirstError), recoveredText(rc))
	}
	return b.String()
}

func recoveredText(rc measure.Recovery) string {
	switch {
	case rc.Unmeasured != "":
		return "not measured: " + rc.Unmeasured
	case !rc.Impacted:
		return "(not impacted)"
	case !rc.Recovered || rc.FromRevert < 0:
		return "never"
	default:
		return fmtDur(rc.FromRevert)
	}
}

// seconds is a JUnit time attribute: seconds with millisecond precision.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(max(d, 0).Seconds(), 'f', 3, 64)
}
