package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseDuration parses a Go duration ("300ms", "1h30m") as Chaos Mesh does.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

// validateDuration checks an optional duration string (nil or "" is absent).
// Negative durations are rejected; zero is allowed only when allowZero.
func validateDuration(p Path, s *string, required, allowZero bool, ps *Problems) {
	if s == nil || *s == "" {
		if required {
			ps.Required(p, "write a duration such as 30s, 500ms or 1h")
		}
		return
	}
	d, err := parseDuration(*s)
	if err != nil {
		ps.Add(p, err.Error(), "write a number with a unit: ns, us, ms, s, m or h, e.g. 30s or 1m30s")
		return
	}
	if d < 0 || (d == 0 && !allowZero) {
		ps.Add(p, fmt.Sprintf("duration %q must be greater than zero", *s), "write a positive duration such as 30s")
	}
}

// validatePercentString checks a string holding a number from 0 to 100, the
// way Chaos Mesh writes correlation and loss ("25", "0.5").
func validatePercentString(p Path, s string, required bool, ps *Problems) {
	if s == "" {
		if required {
			ps.Required(p, `write a percentage from "0" to "100" as a string, e.g. "25"`)
		}
		return
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		ps.Add(p, fmt.Sprintf("%q is not a number", s), `write a percentage from "0" to "100", e.g. "25"`)
		return
	}
	if f < 0 || f > 100 {
		ps.Add(p, fmt.Sprintf("%s is out of range", s), `a percentage is from "0" to "100"`)
	}
}

// validateEnum checks that v is one of allowed (an empty v is left to the
// caller's required check).
func validateEnum(p Path, v string, allowed []string, ps *Problems) bool {
	if v == "" {
		return true
	}
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	hint := "valid values: " + strings.Join(allowed, ", ")
	if s := suggest(v, allowed); s != "" {
		hint = fmt.Sprintf("did you mean %q? %s", s, hint)
	}
	ps.Add(p, fmt.Sprintf("unknown value %q", v), hint)
	return false
}
