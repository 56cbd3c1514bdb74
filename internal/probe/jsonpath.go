package probe

import (
	"fmt"
	"strconv"
	"strings"
)

// jsonPath is the small JSONPath subset the API documents: `$`, then
// `.name`, `['name']` / `["name"]` and `[index]` steps (a negative index
// counts from the end, as in RFC 9535). It selects exactly one value.
//
// Written by hand on purpose: the subset is a dozen lines of grammar, while
// the JSONPath libraries available through the module proxy are either
// unmaintained (PaesslerAG/jsonpath, last release 2019, pulls in gval) or
// a whole JSON toolkit with its own parser (ohler55/ojg); RFC 9535 engines
// also select node lists through wildcards and filters, which would leave a
// comparison like `== 3` ill-defined. theory/jsonpath, the one small RFC
// 9535 package, is not served by the proxy here.
type jsonPath struct {
	src   string
	steps []pathStep
}

type pathStep struct {
	key     string
	index   int
	isIndex bool
}

func (p jsonPath) String() string { return p.src }

func parseJSONPath(src string) (jsonPath, error) {
	p := jsonPath{src: src}
	bad := func(i int, what string) (jsonPath, error) {
		return jsonPath{}, fmt.Errorf("JSON path %q: at offset %d: %s", src, i, what)
	}
	if !strings.HasPrefix(src, "$") {
		return bad(0, "must start with $")
	}
	i := 1
	for i < len(src) {
		switch src[i] {
		case '.':
			i++
			start := i
			for i < len(src) && src[i] != '.' && src[i] != '[' {
				i++
			}
			name := src[start:i]
			switch {
			case name == "" && start < len(src) && src[start] == '.':
				return bad(start, "recursive descent (..) is not supported; write each step")
			case name == "":
				return bad(start, "expected a member name after '.'")
			case name == "*":
				return bad(start, "wildcards are not supported; a check compares one value")
			}
			p.steps = append(p.steps, pathStep{key: name})
		case '[':
			i++
			if i >= len(src) {
				return bad(i, "unclosed '['")
			}
			if q := src[i]; q == '\'' || q == '"' {
				var b strings.Builder
				j := i + 1
				for ; j < len(src) && src[j] != q; j++ {
					if src[j] == '\\' && j+1 < len(src) {
						j++
					}
					b.WriteByte(src[j])
				}
				if j+1 >= len(src) || src[j+1] != ']' {
					return bad(i, "unclosed quoted name")
				}
				p.steps = append(p.steps, pathStep{key: b.String()})
				i = j + 2
				continue
			}
			end := strings.IndexByte(src[i:], ']')
			if end < 0 {
				return bad(i, "unclosed '['")
			}
			idx := src[i : i+end]
			n, err := strconv.Atoi(strings.TrimSpace(idx))
			if err != nil {
				if idx == "*" || strings.ContainsAny(idx, ":?,") {
					return bad(i, "wildcards, slices, unions and filters are not supported; a check compares one value")
				}
				return bad(i, fmt.Sprintf("%q is not an index; write [0] or ['name']", idx))
			}
			p.steps = append(p.steps, pathStep{index: n, isIndex: true})
			i += end + 1
		default:
			return bad(i, fmt.Sprintf("unexpected %q; steps are .name, ['name'] or [index]", src[i]))
		}
	}
	return p, nil
}

// lookup follows the path through a value decoded by encoding/json.
func (p jsonPath) lookup(doc any) (any, error) {
	v := doc
	at := "$"
	for _, s := range p.steps {
		if s.isIndex {
			arr, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: %s is %s, not an array", p.src, at, kindOf(v))
			}
			i := s.index
			if i < 0 {
				i += len(arr)
			}
			if i < 0 || i >= len(arr) {
				return nil, fmt.Errorf("%s: %s has %d elements, no index %d", p.src, at, len(arr), s.index)
			}
			v = arr[i]
			at = fmt.Sprintf("%s[%d]", at, s.index)
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s is %s, not an object", p.src, at, kindOf(v))
		}
		next, ok := obj[s.key]
		if !ok {
			return nil, fmt.Errorf("%s: %s has no member %q", p.src, at, s.key)
		}
		v = next
		at += "." + s.key
	}
	return v, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
