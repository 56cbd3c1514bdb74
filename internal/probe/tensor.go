package probe

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// How an answer is compared with a golden request's expected outputs.
// Only outputs named in expected are compared, each by the probe's method;
// the answer matches when every one of them does. Tensor data, flat or
// nested, is flattened in row-major order on both sides first.
//
//   - exact: same datatype (when both say), same shape (when expected
//     gives one) and the same elements in the same order. Numbers compare
//     by value (3 equals 3.0; integers exactly, even beyond 2^53), strings
//     and booleans as themselves.
//   - topk: for a ranked-list output such as the item ids in "items":
//     E is the set of the first k expected elements and G the set of the
//     first k answered elements (fewer when a side is shorter). The answer
//     matches when |E ∩ G| ≥ ⌈minOverlap × |E|⌉, so k 10 with minOverlap
//     0.8 needs 8 of the expected top 10 among the answer's top 10, in any
//     order. Datatype and shape are not compared (a server may return more
//     than k). Elements compare by value as in exact, so list the id output
//     here, not the float scores; check scores with a numeric probe.
//   - numeric: same shape (when expected gives one) and element count, and
//     every number within tolerance of the expected one as an *absolute*
//     difference, |got − expected| ≤ tolerance (the API's tolerance field
//     is absolute; scale it to the output's magnitude). Non-numbers must be
//     equal; NaN is never within tolerance.

// element is one tensor element, normalised so that numbers from YAML
// (int64, uint64, float64) and from JSON (json.Number) compare by value.
type element struct {
	kind  byte // 'n' number, 's' string, 'b' bool, 'z' null, 'o' other
	f     float64
	i     int64
	isInt bool
	text  string
}

func toElement(v any) element {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return element{kind: 'n', i: i, f: float64(i), isInt: true}
		}
		f, err := x.Float64()
		if err != nil {
			return element{kind: 'o', text: x.String()}
		}
		return numElement(f)
	case int64:
		return element{kind: 'n', i: x, f: float64(x), isInt: true}
	case int:
		return element{kind: 'n', i: int64(x), f: float64(x), isInt: true}
	case uint64:
		if x <= math.MaxInt64 {
			return element{kind: 'n', i: int64(x), f: float64(x), isInt: true}
		}
		return element{kind: 'n', f: float64(x)}
	case float64:
		return numElement(x)
	case string:
		return element{kind: 's', text: x}
	case bool:
		return element{kind: 'b', text: strconv.FormatBool(x)}
	case nil:
		return element{kind: 'z', text: "null"}
	}
	return element{kind: 'o', text: jsonText(v)}
}

// numElement treats integral floats as integers so that 3.0 and 3 are the
// same item in a top-k set.
func numElement(f float64) element {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return element{kind: 'n', i: int64(f), f: f, isInt: true}
	}
	return element{kind: 'n', f: f}
}

func (e element) equal(o element) bool {
	if e.kind != o.kind {
		return false
	}
	if e.kind == 'n' {
		if e.isInt && o.isInt {
			return e.i == o.i
		}
		return e.f == o.f
	}
	return e.text == o.text
}

// key identifies an element in a set (topk); equal elements share a key.
func (e element) key() string {
	if e.kind == 'n' {
		if e.isInt {
			return "i" + strconv.FormatInt(e.i, 10)
		}
		return "f" + formatFloat(e.f)
	}
	return string(e.kind) + e.text
}

func (e element) String() string {
	switch {
	case e.kind == 'n' && e.isInt:
		return strconv.FormatInt(e.i, 10)
	case e.kind == 'n':
		return formatFloat(e.f)
	case e.kind == 's':
		return strconv.Quote(e.text)
	}
	return e.text
}

// flatten turns tensor data, flat or nested like the shape, into its
// elements in row-major order. A scalar counts as one element.
func flatten(v any) []element {
	var out []element
	var walk func(any)
	walk = func(v any) {
		if arr, ok := v.([]any); ok {
			for _, x := range arr {
				walk(x)
			}
			return
		}
		out = append(out, toElement(v))
	}
	walk(v)
	return out
}

// listText prints elements like "[3 7 9]", eliding the middle of long
// lists so that a Detail stays one readable line.
func listText(es []element) string {
	const head, tail = 16, 4
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range es {
		if len(es) > head+tail+1 && i == head {
			fmt.Fprintf(&b, " …%d more…", len(es)-head-tail)
		}
		if len(es) > head+tail+1 && i >= head && i < len(es)-tail {
			continue
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.String())
	}
	b.WriteByte(']')
	return b.String()
}

// answer compares the expected outputs with the answer's; detail names
// every output that differed.
func (c comparison) answer(expected []v1alpha1.InferenceTensor, outputs []oipTensor) (bool, string) {
	var diffs []string
	for _, want := range expected {
		i := slices.IndexFunc(outputs, func(o oipTensor) bool { return o.Name == want.Name })
		if i < 0 {
			names := make([]string, len(outputs))
			for j, o := range outputs {
				names[j] = o.Name
			}
			diffs = append(diffs, fmt.Sprintf("%s: missing from the answer (outputs: %s)", want.Name, strings.Join(names, ", ")))
			continue
		}
		if d := c.output(want, outputs[i]); d != "" {
			diffs = append(diffs, want.Name+": "+d)
		}
	}
	return len(diffs) == 0, strings.Join(diffs, "; ")
}

// output compares one tensor; "" means it matches.
func (c comparison) output(want v1alpha1.InferenceTensor, got oipTensor) string {
	exp, ans := flatten(want.Data), flatten(got.Data)
	if c.method == v1alpha1.CompareTopK {
		return c.topK(exp, ans)
	}
	if c.method == v1alpha1.CompareExact && want.Datatype != "" && got.Datatype != "" &&
		!strings.EqualFold(string(want.Datatype), got.Datatype) {
		return fmt.Sprintf("datatype expected %s, got %s", want.Datatype, got.Datatype)
	}
	if len(want.Shape) > 0 && !slices.Equal(want.Shape, got.Shape) {
		return fmt.Sprintf("shape expected %v, got %v: expected %s, got %s", want.Shape, got.Shape, listText(exp), listText(ans))
	}
	if c.method == v1alpha1.CompareNumeric {
		return c.numeric(exp, ans)
	}
	if first := firstDifference(exp, ans); first >= 0 {
		where := ""
		if len(exp) > 8 {
			where = fmt.Sprintf(" (first difference at element %d)", first)
		}
		return fmt.Sprintf("expected %s, got %s%s", listText(exp), listText(ans), where)
	}
	return ""
}

// firstDifference is the index of the first element that differs, or -1
// when the lists are equal.
func firstDifference(a, b []element) int {
	for i := range min(len(a), len(b)) {
		if !a[i].equal(b[i]) {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func (c comparison) topK(exp, ans []element) string {
	e, g := exp[:min(c.k, len(exp))], ans[:min(c.k, len(ans))]
	want := map[string]bool{}
	for _, x := range e {
		want[x.key()] = true
	}
	overlap := 0
	seen := map[string]bool{}
	for _, x := range g {
		if k := x.key(); want[k] && !seen[k] {
			seen[k] = true
			overlap++
		}
	}
	// The small epsilon keeps 0.8 × 10 at 8 despite binary floating point.
	need := int(math.Ceil(c.minOverlap*float64(len(want)) - 1e-9))
	if overlap >= need {
		return ""
	}
	return fmt.Sprintf("top-%d overlap %d/%d, need %d: expected %s, got %s", c.k, overlap, len(want), need, listText(e), listText(g))
}

func (c comparison) numeric(exp, ans []element) string {
	if len(exp) != len(ans) {
		return fmt.Sprintf("expected %d elements, got %d: expected %s, got %s", len(exp), len(ans), listText(exp), listText(ans))
	}
	off, worst, worstAt := 0, 0.0, -1
	for i := range exp {
		e, a := exp[i], ans[i]
		if e.kind != 'n' || a.kind != 'n' {
			if !e.equal(a) {
				off++
				if worstAt < 0 {
					worstAt, worst = i, math.Inf(1)
				}
			}
			continue
		}
		d := math.Abs(a.f - e.f)
		if e.isInt && a.isInt {
			// Integer ids beyond 2^53 differ by less than float64 can
			// tell; the unsigned difference is exact (and cannot overflow).
			d = float64(absDiff(a.i, e.i))
		}
		if !(d <= c.tolerance) { // NaN is never within tolerance
			off++
			if worstAt < 0 || !(d <= worst) {
				worstAt, worst = i, d
			}
		}
	}
	if off == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements beyond tolerance %s (largest off %s at element %d): expected %s, got %s",
		off, len(exp), formatFloat(c.tolerance), roughFloat(worst), worstAt, listText(exp), listText(ans))
}

func absDiff(a, b int64) uint64 {
	if a > b {
		return uint64(a) - uint64(b)
	}
	return uint64(b) - uint64(a)
}

// roughFloat prints a difference to 4 significant digits: 0.01, not the
// 0.010000000000000009 that binary subtraction leaves.
func roughFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', 4, 64)
}
