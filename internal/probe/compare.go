package probe

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// compareNumbers applies an ordering or equality operator. NaN compares
// false with everything except !=, as in IEEE 754 and PromQL.
func compareNumbers(op v1alpha1.ComparisonOperator, got, want float64) (bool, error) {
	switch op {
	case v1alpha1.OpEqual, "":
		return got == want, nil
	case v1alpha1.OpNotEqual:
		return got != want, nil
	case v1alpha1.OpGreater:
		return got > want, nil
	case v1alpha1.OpGreaterOrEqual:
		return got >= want, nil
	case v1alpha1.OpLess:
		return got < want, nil
	case v1alpha1.OpLessOrEqual:
		return got <= want, nil
	}
	return false, fmt.Errorf("operator %q does not compare numbers", op)
}

// valueCheck is a compiled JSONPathCheck.
type valueCheck struct {
	path  jsonPath
	op    v1alpha1.ComparisonOperator
	want  string
	wantF float64
	wantN bool // want is a number
	re    *regexp.Regexp
}

func newValueCheck(c v1alpha1.JSONPathCheck) (valueCheck, error) {
	p, err := parseJSONPath(c.Path)
	if err != nil {
		return valueCheck{}, err
	}
	vc := valueCheck{path: p, op: c.Criteria, want: c.Value}
	if vc.op == "" {
		vc.op = v1alpha1.OpEqual
	}
	vc.wantF, vc.wantN = number(c.Value)
	switch vc.op {
	case v1alpha1.OpEqual, v1alpha1.OpNotEqual, v1alpha1.OpContains:
	case v1alpha1.OpGreater, v1alpha1.OpGreaterOrEqual, v1alpha1.OpLess, v1alpha1.OpLessOrEqual:
		if !vc.wantN {
			return vc, fmt.Errorf("%s %s: %q is not a number", c.Path, vc.op, c.Value)
		}
	case v1alpha1.OpMatches:
		if vc.re, err = regexp.Compile(c.Value); err != nil {
			return vc, fmt.Errorf("%s matches: %w", c.Path, err)
		}
	default:
		return vc, fmt.Errorf("%s: unknown criteria %q", c.Path, c.Criteria)
	}
	return vc, nil
}

// eval applies the check to a decoded JSON document (decoded with
// UseNumber). It returns "" when the check holds, else what differed.
func (vc valueCheck) eval(doc any) string {
	v, err := vc.path.lookup(doc)
	if err != nil {
		return err.Error()
	}
	text := jsonText(v)
	gotF, gotN := jsonNumber(v)
	var ok bool
	switch vc.op {
	case v1alpha1.OpEqual, v1alpha1.OpNotEqual:
		// Numbers compare by value so that "200" equals 200.0, as the API
		// documents; anything else compares as text.
		eq := text == vc.want
		if gotN && vc.wantN {
			eq = gotF == vc.wantF
		}
		ok = eq == (vc.op == v1alpha1.OpEqual)
	case v1alpha1.OpContains:
		ok = strings.Contains(text, vc.want)
	case v1alpha1.OpMatches:
		ok = vc.re.MatchString(text)
	default:
		if !gotN {
			return fmt.Sprintf("%s is %s, not a number, so %s %s cannot hold", vc.path, quoteIfString(v, text), vc.op, vc.want)
		}
		ok, _ = compareNumbers(vc.op, gotF, vc.wantF)
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("%s is %s, want %s %s", vc.path, quoteIfString(v, text), vc.op, vc.want)
}

// number parses a number written as text, as JSONPathCheck.Value is.
func number(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

// jsonNumber is the numeric value of a JSON value: a number, or a string
// holding one (Prometheus and many health endpoints quote their numbers).
func jsonNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case string:
		return number(x)
	}
	return 0, false
}

// jsonText is a JSON value as text: strings unquoted, numbers as written,
// objects and arrays as compact JSON.
func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func quoteIfString(v any, text string) string {
	if _, ok := v.(string); ok {
		return strconv.Quote(text)
	}
	return text
}

// formatFloat prints a number the shortest way that reads back the same.
func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
