package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// Test helpers of the faultline validators; named fl* so they cannot clash
// with the Chaos Mesh validators' test helpers in the same package.

func flPtr[T any](v T) *T { return &v }

// flCase is one rule of a validator: a change to a valid value, and the
// error it must cause (path and a substring of the message), or none when
// path is empty (the passing case of the rule).
type flCase[T any] struct {
	name   string
	mutate func(*T)
	path   Path
	msg    string
	// hint, when set, must be part of the problem's hint.
	hint string
	// more allows other errors besides the expected one.
	more bool
}

// flRun validates base() changed by each case and checks the outcome.
func flRun[T any](t *testing.T, base func() *T, validate func(Path, *T, *Problems), cases []flCase[T]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := base()
			if c.mutate != nil {
				c.mutate(v)
			}
			var ps Problems
			validate("spec", v, &ps)
			errs := flErrors(ps.List)
			if c.path == "" {
				if len(errs) > 0 {
					t.Fatalf("want no error, got:\n%s", flFormat(errs))
				}
				return
			}
			found := false
			for _, e := range errs {
				if e.Path == c.path && strings.Contains(e.Message, c.msg) && strings.Contains(e.Hint, c.hint) {
					found = true
					if e.Hint == "" {
						t.Errorf("problem at %s has no hint saying what would be valid", e.Path)
					}
				}
			}
			if !found {
				t.Fatalf("want error at %s containing %q (hint %q), got:\n%s", c.path, c.msg, c.hint, flFormat(ps.List))
			}
			if len(errs) > 1 && !c.more {
				t.Fatalf("want exactly one error, got:\n%s", flFormat(errs))
			}
		})
	}
}

func flErrors(list []Problem) []Problem {
	var out []Problem
	for _, p := range list {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

func flWarnings(list []Problem) []Problem {
	var out []Problem
	for _, p := range list {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

func flFormat(list []Problem) string {
	if len(list) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, p := range list {
		kind := "error"
		if p.Warning {
			kind = "warning"
		}
		fmt.Fprintf(&b, "  %s %s: %s; %s\n", kind, p.Path, p.Message, p.Hint)
	}
	return b.String()
}
