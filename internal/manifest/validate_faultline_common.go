package manifest

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Helpers shared by the validators of faultline's own kinds. Their names
// start with fl so that they cannot clash with the Chaos Mesh validators'
// helpers in the same package.

var (
	flEnvVarRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	flHTTPTokenRE = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	flLabelNameRE = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	flMemoryRE    = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`)
)

// flHTTPMethods are the methods load and probes may use.
var flHTTPMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// flNames checks the names of a list's items: each a DNS-1123 label and
// unique. Empty names are reported as missing when required. It returns the
// set of valid names, for references from elsewhere.
func flNames(list Path, n int, name func(i int) string, required bool, what string, ps *Problems) map[string]bool {
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		p := list.Index(i).Child("name")
		v := name(i)
		if v == "" {
			if required {
				ps.Required(p, fmt.Sprintf("give the %s a name: lower-case letters, digits and '-', e.g. %s-1", what, strings.ToLower(strings.ReplaceAll(what, " ", "-"))))
			}
			continue
		}
		if len(v) > 63 || !dns1123Label.MatchString(v) {
			checkDNSLabel(p, v, ps)
			continue
		}
		if first, dup := seen[v]; dup {
			ps.Add(p, fmt.Sprintf("duplicate %s name %q", what, v),
				fmt.Sprintf("%s names must be unique; %s already uses it", what, list.Index(first).Child("name")))
			continue
		}
		seen[v] = i
	}
	out := make(map[string]bool, len(seen))
	for k := range seen {
		out[k] = true
	}
	return out
}

// flSortedKeys returns a set's members in order, for hints.
func flSortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// flReference checks that name is one of known, suggesting the closest.
func flReference(p Path, name, what string, known map[string]bool, ps *Problems) bool {
	if known[name] {
		return true
	}
	names := flSortedKeys(known)
	var hint string
	if len(names) == 0 {
		hint = fmt.Sprintf("define the %s first", what)
	} else {
		hint = fmt.Sprintf("known %ss: %s", what, strings.Join(names, ", "))
		if s := suggest(name, names); s != "" {
			hint = fmt.Sprintf("did you mean %q? %s", s, hint)
		}
	}
	ps.Add(p, fmt.Sprintf("unknown %s %q", what, name), hint)
	return false
}

// flDuration parses an optional duration field and reports problems: ok is
// false when the string is absent or invalid.
func flDuration(p Path, s string, required, allowZero bool, ps *Problems) (time.Duration, bool) {
	n := len(ps.List)
	validateDuration(p, &s, required, allowZero, ps)
	if s == "" || len(ps.List) > n {
		return 0, false
	}
	d, err := parseDuration(s)
	return d, err == nil
}

// flLabels checks Kubernetes label (values too) or annotation (keys
// only) maps.
func flLabels(p Path, m map[string]string, values bool, ps *Problems) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kp := p.Key(k)
		if msg := flLabelKeyProblem(k); msg != "" {
			ps.List = append(ps.List, Problem{Path: kp, AtKey: true, Message: msg,
				Hint: "a key is an optional DNS subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' or '.', e.g. app.kubernetes.io/name"})
			continue
		}
		if v := m[k]; values && v != "" && (len(v) > 63 || !flLabelNameRE.MatchString(v)) {
			ps.Add(kp, fmt.Sprintf("%q is not a valid label value", v),
				"use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (quote values such as \"true\")")
		}
	}
}

func flLabelKeyProblem(k string) string {
	name := k
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		prefix := k[:i]
		name = k[i+1:]
		if prefix == "" || len(prefix) > 253 || !dns1123Subdomain.MatchString(prefix) {
			return fmt.Sprintf("%q has an invalid prefix %q", k, prefix)
		}
	}
	if name == "" || len(name) > 63 || !flLabelNameRE.MatchString(name) {
		return fmt.Sprintf("%q is not a valid label key", k)
	}
	return ""
}

// flEnvVarName checks the name of an environment variable.
func flEnvVarName(p Path, name string, ps *Problems) {
	if !flEnvVarRE.MatchString(name) {
		ps.Add(p, fmt.Sprintf("%q is not a valid environment variable name", name),
			"use letters, digits and '_', not starting with a digit, e.g. MODEL_URL")
	}
}

// flPort checks a port number; zero is allowed when it means "pick one"
// or "the default".
func flPort(p Path, port int32, zeroMeans string, ps *Problems) {
	if port < 0 || port > 65535 {
		hint := "a port is from 1 to 65535"
		if zeroMeans != "" {
			hint = fmt.Sprintf("write a port from 1 to 65535, or 0 for %s", zeroMeans)
		}
		ps.Add(p, fmt.Sprintf("port %d is out of range", port), hint)
	}
}

// flHTTPURL checks an absolute http or https URL.
func flHTTPURL(p Path, s string, ps *Problems) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add(p, fmt.Sprintf("%q is not an http or https URL", s), "write a URL such as http://127.0.0.1:8080/path")
		return false
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			ps.Add(p, fmt.Sprintf("%q has an invalid port %q", s, port), "a port is from 1 to 65535")
			return false
		}
	}
	return true
}

// flHostPort checks a "host:port" address.
func flHostPort(p Path, s string, ps *Problems) {
	host, port, err := net.SplitHostPort(s)
	n, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		ps.Add(p, fmt.Sprintf("%q is not a host:port address", s), "write an address such as 127.0.0.1:8080 or db.internal:5432")
	}
}

// flRegexp checks a regular expression in Go's RE2 syntax.
func flRegexp(p Path, s string, ps *Problems) {
	if _, err := regexp.Compile(s); err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "error parsing regexp: ")
		ps.Add(p, "invalid regular expression: "+msg, "write an RE2 regular expression, e.g. \"ready|ok\"; escape literal characters such as '.' with '\\\\'")
	}
}

// flHTTPMethod checks an optional HTTP method.
func flHTTPMethod(p Path, m string, ps *Problems) {
	if m != "" && strings.ToUpper(m) == m {
		validateEnum(p, m, flHTTPMethods, ps)
		return
	}
	if m != "" {
		ps.Add(p, fmt.Sprintf("method %q must be written in upper case", m), fmt.Sprintf("write %s", strings.ToUpper(m)))
	}
}

// flHeaderNames checks the names of an HTTP header map.
func flHeaderNames(p Path, h map[string]string, ps *Problems) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !flHTTPTokenRE.MatchString(k) {
			ps.List = append(ps.List, Problem{Path: p.Key(k), AtKey: true, Message: fmt.Sprintf("%q is not a valid HTTP header name", k),
				Hint: "use letters, digits and '-', e.g. Content-Type"})
		}
	}
}

// flStatusCodes checks a list of expected HTTP statuses.
func flStatusCodes(p Path, codes []int32, ps *Problems) {
	for i, c := range codes {
		if c < 100 || c > 599 {
			ps.Add(p.Index(i), fmt.Sprintf("%d is not an HTTP status", c), "write a status from 100 to 599, e.g. 200")
		}
	}
}

// flPath checks a request path.
func flPath(p Path, s string, ps *Problems) {
	if s != "" && !strings.HasPrefix(s, "/") {
		ps.Add(p, fmt.Sprintf("path %q must start with '/'", s), fmt.Sprintf("write /%s", s))
	}
}

// flCommand checks a program-and-arguments list.
func flCommand(p Path, cmd []string, hint string, ps *Problems) {
	if len(cmd) == 0 {
		ps.Required(p, hint)
		return
	}
	if strings.TrimSpace(cmd[0]) == "" {
		ps.Add(p.Index(0), "the program name is empty", hint)
	}
}

// flFinite reports whether f is a usable number.
func flFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// flIsZero reports whether v holds its type's zero value: used to tell
// whether an inline spec was written at all.
func flIsZero(v any) bool { return v == nil || reflect.ValueOf(v).IsZero() }

// flSetFields returns the JSON names of the fields that are set, in order.
func flSetFields(fields ...flField) []string {
	var out []string
	for _, f := range fields {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// flField is one optional field and whether it was written.
type flField struct {
	name string
	set  bool
}

// flExclusive checks that at most one of fields is set (and, when required,
// exactly one), reporting at the fields themselves. It returns the one field
// set, or "" when none or several are, so that callers check the chosen
// field's details only when the choice is clear.
func flExclusive(p Path, required bool, hint string, ps *Problems, fields ...flField) (set string) {
	got := flSetFields(fields...)
	switch {
	case len(got) == 0 && required:
		ps.Required(p.Child(fields[0].name), hint)
	case len(got) > 1:
		for _, g := range got[1:] {
			ps.Add(p.Child(g), fmt.Sprintf("%s and %s exclude each other", got[0], g), hint)
		}
	}
	if len(got) == 1 {
		return got[0]
	}
	return ""
}

// flFormatDuration writes a duration compactly ("1m30s", "500ms").
func flFormatDuration(d time.Duration) string {
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}
