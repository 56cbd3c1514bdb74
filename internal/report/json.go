package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/faultline-dev/faultline/internal/measure"
)

// Document is the JSON result WriteJSON writes (`faultline run -o json`)
// and ReadJSON reads. Its top-level fields are:
//
//   - every field of measure.Result, inline: schemaVersion, experiment,
//     start, duration, phases, overall, recovery, consistency, probes,
//     fidelity, slos, score, verdict, aborted (when set), and whatever
//     measure adds later — the schema only ever grows;
//   - runs: each repeat's result (`--repeat N`), when there were repeats;
//   - aggregate: mean and spread over the repeats, when there were repeats;
//   - series: the run bucketed over time (see Series), when the timeline
//     was available. It is bounded by MaxPoints per column, so it stays
//     small whatever the run's length and rate.
//
// Durations are integer nanoseconds and percentages are 0–100, as in
// measure. Lists are always arrays, never null, so consumers need not
// special-case an empty run.
type Document struct {
	*measure.Result
	Runs      []*measure.Result  `json:"runs,omitempty"`
	Aggregate *measure.Aggregate `json:"aggregate,omitempty"`
	Series    *Series            `json:"series,omitempty"`
}

// WriteJSON writes the report as an indented Document.
func WriteJSON(w io.Writer, r Report) error {
	if err := check([]Report{r}); err != nil {
		return err
	}
	doc := Document{Result: withArrays(r.Result), Runs: r.Runs, Aggregate: r.Aggregate}
	if r.Timeline != nil {
		doc.Series = BuildSeries(r.Timeline)
	}
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	// The result is read by people and programs, not embedded in HTML:
	// "p99 < 300ms" should read as such, not as "\u003c".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("report: encoding JSON for %q: %w", r.name(), err)
	}
	if _, err := w.Write(indentJSON(bytes.TrimSpace(compact.Bytes()))); err != nil {
		return fmt.Errorf("report: writing JSON for %q: %w", r.name(), err)
	}
	return nil
}

// indentJSON indents compact JSON as json.Indent does with two spaces,
// except that an array holding only scalars stays on one line: the
// series' columns would otherwise take one line per value, thousands of
// lines per column. src must be compact, valid JSON (json.Marshal's).
func indentJSON(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(src)/4)
	depth := 0
	newline := func() {
		out = append(out, '\n')
		for range depth {
			out = append(out, "  "...)
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			end := jsonStringEnd(src, i)
			out = append(out, src[i:end]...)
			i = end - 1
		case '[', '{':
			if c == '[' {
				if end, ok := scalarArrayEnd(src, i); ok {
					out = append(out, src[i:end]...)
					i = end - 1
					continue
				}
			}
			if i+1 < len(src) && (src[i+1] == ']' || src[i+1] == '}') {
				out = append(out, c, src[i+1])
				i++
				continue
			}
			out = append(out, c)
			depth++
			newline()
		case ']', '}':
			depth--
			newline()
			out = append(out, c)
		case ',':
			out = append(out, ',')
			newline()
		case ':':
			out = append(out, ':', ' ')
		default:
			out = append(out, c)
		}
	}
	return append(out, '\n')
}

// jsonStringEnd is the index just past the string starting at src[i].
func jsonStringEnd(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(src)
}

// scalarArrayEnd reports whether the array starting at src[i] holds no
// objects or arrays, and the index just past it.
func scalarArrayEnd(src []byte, i int) (int, bool) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '"':
			j = jsonStringEnd(src, j) - 1
		case '[', '{':
			return 0, false
		case ']':
			return j + 1, true
		}
	}
	return 0, false
}

// ReadJSON reads a Document written by WriteJSON, e.g. a stored result to
// render again in another format.
func ReadJSON(rd io.Reader) (*Document, error) {
	var doc Document
	if err := json.NewDecoder(rd).Decode(&doc); err != nil {
		return nil, fmt.Errorf("report: reading JSON result: %w", err)
	}
	if doc.Result == nil {
		doc.Result = &measure.Result{}
	}
	return &doc, nil
}

// Report turns a read Document back into a Report (without a timeline:
// the JSON holds its series, not every request).
func (d *Document) Report() Report {
	return Report{Result: d.Result, Runs: d.Runs, Aggregate: d.Aggregate}
}

// withArrays returns a shallow copy of res whose lists are empty rather
// than nil, so the JSON says [] and never null. The caller's result is not
// touched.
func withArrays(res *measure.Result) *measure.Result {
	c := *res
	if c.Phases == nil {
		c.Phases = []measure.PhaseStats{}
	}
	if c.Recovery == nil {
		c.Recovery = []measure.Recovery{}
	}
	if c.Consistency == nil {
		c.Consistency = []measure.Consistency{}
	}
	if c.Probes == nil {
		c.Probes = []measure.ProbeStats{}
	}
	if c.Fidelity == nil {
		c.Fidelity = []measure.FaultFidelity{}
	}
	if c.SLOs == nil {
		c.SLOs = []measure.SLOResult{}
	}
	if c.RecoveryCriteria == nil {
		c.RecoveryCriteria = []string{}
	}
	if c.Score.Components == nil {
		c.Score.Components = map[string]float64{}
	}
	return &c
}
