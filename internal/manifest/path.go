package manifest

import (
	"strconv"
	"strings"
)

// Path is a field path inside a document, written as users read it:
// `spec.selector.labelSelectors.app`, `spec.templates[2].name`,
// `metadata.labels["app.kubernetes.io/name"]`.
type Path string

// Child is the path of a named field of the object at p.
func (p Path) Child(name string) Path {
	if p == "" {
		return Path(name)
	}
	return p + "." + Path(name)
}

// Index is the path of the i-th element of the list at p.
func (p Path) Index(i int) Path {
	return p + "[" + Path(strconv.Itoa(i)) + "]"
}

// Key is the path of a map entry of the object at p. Keys that are plain
// identifiers are written as fields, others quoted in brackets.
func (p Path) Key(k string) Path {
	if k != "" && isIdent(k) {
		return p.Child(k)
	}
	return p + "[" + Path(strconv.Quote(k)) + "]"
}

// Parent is the path of the object or list holding p, "" at the top.
func (p Path) Parent() Path {
	s := string(p)
	if strings.HasSuffix(s, "]") {
		// Find the matching '[' outside any quoted key.
		inQuote := false
		for i := len(s) - 2; i >= 0; i-- {
			switch s[i] {
			case '"':
				if i == 0 || s[i-1] != '\\' {
					inQuote = !inQuote
				}
			case '[':
				if !inQuote {
					return Path(s[:i])
				}
			}
		}
		return ""
	}
	if i := strings.LastIndexAny(s, ".]"); i >= 0 {
		if s[i] == ']' {
			return Path(s[:i+1])
		}
		return Path(s[:i])
	}
	return ""
}

func isIdent(k string) bool {
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Problem is one finding of validation, located by field path; the decoder
// turns it into a Diagnostic with file:line:col.
type Problem struct {
	Path    Path
	Message string
	Hint    string
	Warning bool
	// AtKey places the diagnostic on the field's key instead of its value.
	AtKey bool
}

// Problems collects validation findings.
type Problems struct {
	List []Problem
}

// Add records an error at path: what is wrong and what would be valid.
func (ps *Problems) Add(path Path, msg, hint string) {
	ps.List = append(ps.List, Problem{Path: path, Message: msg, Hint: hint})
}

// Warn records a warning: the manifest stays valid.
func (ps *Problems) Warn(path Path, msg, hint string) {
	ps.List = append(ps.List, Problem{Path: path, Message: msg, Hint: hint, Warning: true})
}

// Required records that a required field is missing.
func (ps *Problems) Required(path Path, hint string) {
	ps.List = append(ps.List, Problem{Path: path, Message: "required field is missing", Hint: hint})
}
