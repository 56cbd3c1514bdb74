package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// Defaults of a Config, matching the documented LoadSpec defaults.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultMinWorkers = v1alpha1.DefaultLoadMinWorkers
	// maxDefaultWorkers caps the derived default (peak rate × timeout):
	// beyond it extra goroutines and sockets cost more than they buy on
	// one machine. An explicit MaxWorkers is honoured as written.
	maxDefaultWorkers = 10000
	// maxDefaultQueue caps the derived queue (16 bytes a slot).
	maxDefaultQueue = 1 << 20
)

// Config is one load, resolved: a concrete URL, bodies in memory, durations
// parsed. Build it with FromSpec, or by hand in tests and benchmarks.
type Config struct {
	// URL every request is sent to (http or https).
	URL string
	// Method is the HTTP method; default GET, or POST with a body.
	Method string
	// Header is sent with every request; it is shared by all requests and
	// must not be changed once Run has started.
	Header http.Header
	// Bodies are sent in turn, round robin; none means no body.
	Bodies [][]byte
	// Rate is the constant rate in requests per second, used when Ramp is
	// nil.
	Rate float64
	// Ramp changes the rate linearly, then holds Ramp.To.
	Ramp *Ramp
	// Duration of the load from the origin given to Run. Required: a load
	// spec without duration lasts the whole run, which only the runner
	// knows, so it sets this after FromSpec.
	Duration time.Duration
	// Timeout of one request on the wire; default 5 s.
	Timeout time.Duration
	// ExpectedStatus are the statuses that count as success; default
	// 200–399.
	ExpectedStatus []int
	// MaxWorkers caps the requests in flight; default peak rate × timeout,
	// at least 16 (and at most 10000 for the derived default).
	MaxWorkers int
	// QueueSize is how many due requests may wait for a free worker before
	// further ones are dropped; default one second of requests at the peak
	// rate, and at least MaxWorkers. Queued requests are not hidden (their
	// wait is in their latency), so the queue only has to be short enough
	// that drops mark lasting saturation, not a brief stall of the box.
	QueueSize int
}

// Ramp is a rate changing linearly from From to To (requests per second)
// over Over, then held at To. Over 0 means the whole Duration.
type Ramp struct {
	From, To float64
	Over     time.Duration
}

// FromSpec resolves a LoadSpec into a Config. baseURL is where the target
// lives: the spec's URL itself for a URL target, or the gateway URL the
// runner resolved for a service target. readFile reads bodyFile and
// bodiesFile (relative to the experiment file; the caller knows where that
// is). A spec without duration gives Duration 0: the caller sets it.
func FromSpec(spec *v1alpha1.LoadSpec, baseURL string, readFile func(string) ([]byte, error)) (Config, error) {
	if spec == nil {
		return Config{}, errors.New("load: no load spec")
	}
	base, err := url.Parse(baseURL)
	if err != nil {
		return Config{}, fmt.Errorf("load: target URL %q: %w", baseURL, err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return Config{}, fmt.Errorf("load: target URL %q is not an http(s) URL with a host", baseURL)
	}
	cfg := Config{Header: make(http.Header, len(spec.Headers)+1)}
	for k, v := range spec.Headers {
		cfg.Header.Set(k, v)
	}

	// Bodies first: they decide the default method and path.
	switch {
	case spec.Inference != nil:
		body, err := inferBody(spec.Inference)
		if err != nil {
			return Config{}, err
		}
		cfg.Bodies = [][]byte{body}
		if cfg.Header.Get("Content-Type") == "" {
			cfg.Header.Set("Content-Type", "application/json")
		}
		base.Path = strings.TrimSuffix(base.Path, "/") + inferPath(spec.Inference)
		base.RawPath = ""
	case spec.Body != "":
		cfg.Bodies = [][]byte{[]byte(spec.Body)}
	case spec.BodyFile != "":
		b, err := read(readFile, spec.BodyFile)
		if err != nil {
			return Config{}, err
		}
		cfg.Bodies = [][]byte{b}
	case len(spec.Bodies) > 0:
		for _, b := range spec.Bodies {
			cfg.Bodies = append(cfg.Bodies, []byte(b))
		}
	case spec.BodiesFile != "":
		b, err := read(readFile, spec.BodiesFile)
		if err != nil {
			return Config{}, err
		}
		cfg.Bodies = splitLines(b)
		if len(cfg.Bodies) == 0 {
			return Config{}, fmt.Errorf("load: bodiesFile %s holds no bodies", spec.BodiesFile)
		}
	}
	if spec.Inference == nil && spec.Path != "" {
		// The path may carry a query ("/recommend?user=42"): it is a
		// request target, not a bare path to escape.
		ref, err := url.Parse(spec.Path)
		if err != nil {
			return Config{}, fmt.Errorf("load: path %q: %w", spec.Path, err)
		}
		base.Path = strings.TrimSuffix(base.Path, "/") + ref.Path
		base.RawPath = ""
		if ref.RawQuery != "" {
			if base.RawQuery != "" {
				base.RawQuery += "&"
			}
			base.RawQuery += ref.RawQuery
		}
	}
	if base.Path == "" {
		base.Path = "/"
	}
	cfg.URL = base.String()

	cfg.Method = strings.ToUpper(spec.Method)
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
		if len(cfg.Bodies) > 0 {
			cfg.Method = http.MethodPost
		}
	}

	switch {
	case spec.Rate != nil && spec.Ramp != nil:
		return Config{}, errors.New("load: rate and ramp exclude each other")
	case spec.Rate != nil:
		cfg.Rate = *spec.Rate
	case spec.Ramp != nil:
		cfg.Ramp = &Ramp{From: spec.Ramp.From, To: spec.Ramp.To}
		if cfg.Ramp.Over, err = parseDuration("ramp.over", spec.Ramp.Over); err != nil {
			return Config{}, err
		}
	default:
		return Config{}, errors.New("load: rate or ramp is required")
	}
	if cfg.Duration, err = parseDuration("duration", spec.Duration); err != nil {
		return Config{}, err
	}
	if cfg.Timeout, err = parseDuration("timeout", spec.Timeout); err != nil {
		return Config{}, err
	}
	for _, s := range spec.ExpectedStatus {
		cfg.ExpectedStatus = append(cfg.ExpectedStatus, int(s))
	}
	if spec.MaxWorkers != nil {
		cfg.MaxWorkers = int(*spec.MaxWorkers)
	}
	// Check now what Run would reject later, so a bad spec fails at plan
	// time; Duration may legitimately still be unset.
	probe := cfg
	if probe.Duration == 0 {
		probe.Duration = time.Second
	}
	if _, err := probe.resolve(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// inferPath is the Open Inference Protocol endpoint of the model.
func inferPath(r *v1alpha1.InferenceRequest) string {
	p := "/v2/models/" + url.PathEscape(r.Model)
	if r.Version != "" {
		p += "/versions/" + url.PathEscape(r.Version)
	}
	return p + "/infer"
}

// inferWire is the KServe v2 infer request body: the spec's payload without
// model and version, which travel in the URL.
type inferWire struct {
	ID         string                              `json:"id,omitempty"`
	Parameters map[string]v1alpha1.Raw             `json:"parameters,omitempty"`
	Inputs     []v1alpha1.InferenceTensor          `json:"inputs"`
	Outputs    []v1alpha1.InferenceRequestedOutput `json:"outputs,omitempty"`
}

func inferBody(r *v1alpha1.InferenceRequest) ([]byte, error) {
	if r.Model == "" {
		return nil, errors.New("load: inference.model is required")
	}
	b, err := json.Marshal(inferWire{ID: r.ID, Parameters: r.Parameters, Inputs: r.Inputs, Outputs: r.Outputs})
	if err != nil {
		return nil, fmt.Errorf("load: encoding the inference request for model %s: %w", r.Model, err)
	}
	return b, nil
}

func read(readFile func(string) ([]byte, error), name string) ([]byte, error) {
	if readFile == nil {
		return nil, fmt.Errorf("load: cannot read %s: no file reader given", name)
	}
	b, err := readFile(name)
	if err != nil {
		return nil, fmt.Errorf("load: reading %s: %w", name, err)
	}
	return b, nil
}

// splitLines splits a JSON Lines file into bodies, skipping blank lines
// (a trailing newline is not an empty body).
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out = append(out, line)
	}
	return out
}

func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("load: %s: %w", field, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("load: %s %q must be greater than zero", field, s)
	}
	return d, nil
}

// resolve checks the config and fills in the defaults Run relies on.
func (c Config) resolve() (Config, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return c, fmt.Errorf("load: URL %q: %w", c.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("load: URL %q is not an http(s) URL with a host", c.URL)
	}
	if c.Method == "" {
		c.Method = http.MethodGet
		if len(c.Bodies) > 0 {
			c.Method = http.MethodPost
		}
	}
	if c.Duration <= 0 {
		return c, errors.New("load: duration must be greater than zero")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return c, fmt.Errorf("load: timeout %s is negative", c.Timeout)
	}
	if c.Ramp != nil {
		r := *c.Ramp
		if !finite(r.From) || !finite(r.To) || r.From < 0 || r.To < 0 || (r.From == 0 && r.To == 0) {
			return c, fmt.Errorf("load: ramp from %v to %v: rates must be 0 or more and not both 0", r.From, r.To)
		}
		if r.Over < 0 {
			return c, fmt.Errorf("load: ramp over %s is negative", r.Over)
		}
		if r.Over == 0 {
			r.Over = c.Duration
		}
		c.Ramp = &r
	} else if !finite(c.Rate) || c.Rate <= 0 {
		return c, fmt.Errorf("load: rate must be greater than 0, got %v", c.Rate)
	}
	for _, s := range c.ExpectedStatus {
		if s < 100 || s > 599 {
			return c, fmt.Errorf("load: expected status %d is not an HTTP status (100–599)", s)
		}
	}
	if c.MaxWorkers < 0 || c.QueueSize < 0 {
		return c, errors.New("load: maxWorkers and queue size must not be negative")
	}
	if c.MaxWorkers == 0 {
		w := math.Ceil(c.schedule().peak() * c.Timeout.Seconds())
		c.MaxWorkers = int(math.Min(math.Max(w, DefaultMinWorkers), maxDefaultWorkers))
	}
	if c.QueueSize == 0 {
		c.QueueSize = max(c.MaxWorkers, int(math.Min(math.Ceil(c.schedule().peak()), maxDefaultQueue)))
	}
	return c, nil
}

func (c Config) schedule() schedule {
	if c.Ramp != nil {
		return newSchedule(c.Ramp.From, c.Ramp.To, c.Ramp.Over, c.Duration)
	}
	return newSchedule(c.Rate, c.Rate, 0, c.Duration)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
