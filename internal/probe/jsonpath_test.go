package probe

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONPath(t *testing.T) {
	doc := decodeJSON(t, `{"a":{"b":[{"c":1},{"c":"two"}]},"x y":true,"q'":null,"arr":[[1,2],[3,4]]}`)
	tests := []struct {
		path, want, err string
	}{
		{path: "$", want: `{"a":{"b":[{"c":1},{"c":"two"}]},"arr":[[1,2],[3,4]],"q'":null,"x y":true}`},
		{path: "$.a.b[0].c", want: "1"},
		{path: "$.a.b[1].c", want: "two"},
		{path: "$.a.b[-1].c", want: "two"},
		{path: "$['x y']", want: "true"},
		{path: `$["x y"]`, want: "true"},
		{path: `$['q\'']`, want: "null"},
		{path: "$.arr[1][0]", want: "3"},
		{path: "$.a['b'][0]['c']", want: "1"},
		{path: "$.a.c", err: `$.a has no member "c"`},
		{path: "$.a.b[2]", err: "$.a.b has 2 elements, no index 2"},
		{path: "$.a.b[-3]", err: "no index -3"},
		{path: "$.a.b.c", err: "$.a.b is an array, not an object"},
		{path: "$.a[0]", err: "$.a is an object, not an array"},
		{path: "$.a.b[0].c.d", err: "$.a.b[0].c is a number, not an object"},
		{path: "a.b", err: "must start with $"},
		{path: "$..a", err: "recursive descent"},
		{path: "$.a.*", err: "wildcards are not supported"},
		{path: "$.a[*]", err: "wildcards, slices"},
		{path: "$.a[0:2]", err: "wildcards, slices"},
		{path: "$.a[?(@.c)]", err: "filters are not supported"},
		{path: "$.a[x]", err: `"x" is not an index`},
		{path: "$.a[0", err: "unclosed '['"},
		{path: "$['a", err: "unclosed quoted name"},
		{path: "$.", err: "expected a member name"},
		{path: "$a", err: "unexpected 'a'"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			p, err := parseJSONPath(tc.path)
			var v any
			if err == nil {
				v, err = p.lookup(doc)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := jsonText(v); got != tc.want {
				t.Errorf("value = %s, want %s", got, tc.want)
			}
		})
	}
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
