package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/ctxtime"
	"github.com/faultline-dev/faultline/internal/timeline"
)

// retryPause separates the attempts of a failing check. Retrying at once
// after a refused connection mostly observes the same instant again; a short
// pause lets a blip pass without stretching one check over the interval.
const retryPause = 200 * time.Millisecond

// maxBody caps how much of a response body is read for regexes and JSON
// paths, so a misbehaving endpoint cannot make a probe buffer gigabytes.
const maxBody = 4 << 20

// Env is what the runner knows that a probe needs. Services are resolved at
// every check, not at New, because gateways may start (or move) after the
// probes are built.
type Env interface {
	// ResolveService turns a service name into its gateway's base URL,
	// e.g. "http://127.0.0.1:41234".
	ResolveService(name string) (baseURL string, err error)
	// ReadFile reads a file named relative to the experiment file.
	ReadFile(path string) ([]byte, error)
	// WorkDir is where cmd probes run: the experiment file's directory.
	WorkDir() string
}

// ServiceLister is an Env that can name its services. cmd probes get each
// listed service's gateway URL in <NAME>_URL, as the API documents; an Env
// without it gives them none. It is separate from Env so that an Env for a
// run without cmd probes stays three methods.
type ServiceLister interface {
	Services() []string
}

// StaticEnv is an Env over a fixed directory and fixed service URLs.
type StaticEnv struct {
	// Dir is the experiment file's directory; "" is the current one.
	Dir string
	// URLs maps service names to gateway base URLs.
	URLs map[string]string
}

var (
	_ Env           = StaticEnv{}
	_ ServiceLister = StaticEnv{}
)

// ResolveService implements Env.
func (e StaticEnv) ResolveService(name string) (string, error) {
	u, ok := e.URLs[name]
	if !ok {
		return "", fmt.Errorf("unknown service %q", name)
	}
	return u, nil
}

// ReadFile implements Env.
func (e StaticEnv) ReadFile(path string) ([]byte, error) {
	if !filepath.IsAbs(path) && e.Dir != "" {
		path = filepath.Join(e.Dir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// WorkDir implements Env.
func (e StaticEnv) WorkDir() string { return e.Dir }

// Services implements ServiceLister.
func (e StaticEnv) Services() []string {
	names := make([]string, 0, len(e.URLs))
	for n := range e.URLs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Result is the outcome of one check of a probe (after its retries).
type Result struct {
	OK bool
	// Message says what was seen: why it failed, or what passed.
	Message string
	// Start is when the check began (its first attempt).
	Start time.Time
	// Latency is how long the last attempt took.
	Latency time.Duration
	// Checks are the golden-set comparisons of an inference probe's last
	// attempt. Their At is an offset from Start; the Scheduler rebases it
	// onto the run's origin. Probe is filled in.
	Checks []timeline.Check
}

// Timing is when and how patiently a probe checks, with defaults applied.
type Timing struct {
	Mode          v1alpha1.ProbeMode
	Interval      time.Duration
	InitialDelay  time.Duration
	Timeout       time.Duration
	Retries       int
	StopOnFailure bool
}

// Probe watches one aspect of the service.
type Probe interface {
	Name() string
	Mode() v1alpha1.ProbeMode
	Timing() Timing
	// Check runs one check: up to 1+retries attempts, each bounded by the
	// probe's timeout and by ctx. It never panics and always returns a
	// Result; a cancelled ctx yields a failed Result saying so.
	Check(ctx context.Context) Result
}

// attempter is one probe type's single attempt; the shared probe wrapper
// adds timeout, retries and timing. start is when the attempt began, so
// that golden checks can be stamped relative to it.
type attempter interface {
	attempt(ctx context.Context, start time.Time) Result
}

type probe struct {
	name   string
	timing Timing
	impl   attempter
}

// New builds a probe from its manifest. It checks what validation cannot
// (the golden set file exists and parses, regexes compile) and applies the
// documented defaults, so a probe that was built can always run.
func New(spec v1alpha1.ExperimentProbe, env Env) (Probe, error) {
	if spec.Name == "" {
		return nil, errors.New("probe has no name")
	}
	t, err := timingOf(spec)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", spec.Name, err)
	}
	var impl attempter
	switch spec.Type {
	case v1alpha1.ProbeHTTPType:
		if spec.HTTP == nil {
			return nil, fmt.Errorf("probe %s: type http needs http settings", spec.Name)
		}
		impl, err = newHTTP(*spec.HTTP, env)
	case v1alpha1.ProbeTCPType:
		if spec.TCP == nil {
			return nil, fmt.Errorf("probe %s: type tcp needs tcp settings", spec.Name)
		}
		impl, err = newTCP(*spec.TCP, env)
	case v1alpha1.ProbeCmdType:
		if spec.Cmd == nil {
			return nil, fmt.Errorf("probe %s: type cmd needs cmd settings", spec.Name)
		}
		impl, err = newCmd(*spec.Cmd, env)
	case v1alpha1.ProbePrometheusType:
		if spec.Prometheus == nil {
			return nil, fmt.Errorf("probe %s: type prometheus needs prometheus settings", spec.Name)
		}
		impl, err = newPrometheus(*spec.Prometheus, env)
	case v1alpha1.ProbeInferenceType:
		if spec.Inference == nil {
			return nil, fmt.Errorf("probe %s: type inference needs inference settings", spec.Name)
		}
		impl, err = newInference(spec.Name, *spec.Inference, env)
	default:
		return nil, fmt.Errorf("probe %s: unknown type %q", spec.Name, spec.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", spec.Name, err)
	}
	return &probe{name: spec.Name, timing: t, impl: impl}, nil
}

func timingOf(spec v1alpha1.ExperimentProbe) (Timing, error) {
	t := Timing{Mode: spec.Mode, Retries: int(spec.Retries), StopOnFailure: spec.StopOnFailure}
	switch t.Mode {
	case "":
		t.Mode = v1alpha1.ProbeModeContinuous
	case v1alpha1.ProbeModeSOT, v1alpha1.ProbeModeEOT, v1alpha1.ProbeModeEdge,
		v1alpha1.ProbeModeContinuous, v1alpha1.ProbeModeOnChaos:
	default:
		return t, fmt.Errorf("unknown mode %q", spec.Mode)
	}
	if t.Retries < 0 {
		return t, fmt.Errorf("retries must not be negative, got %d", spec.Retries)
	}
	var err error
	if t.Interval, err = duration("interval", spec.Interval, v1alpha1.DefaultProbeInterval, false); err != nil {
		return t, err
	}
	if t.InitialDelay, err = duration("initialDelay", spec.InitialDelay, "0s", true); err != nil {
		return t, err
	}
	if t.Timeout, err = duration("timeout", spec.Timeout, v1alpha1.DefaultProbeTimeout, false); err != nil {
		return t, err
	}
	return t, nil
}

func duration(field, s, def string, allowZero bool) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		s = def
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if d < 0 || (d == 0 && !allowZero) {
		return 0, fmt.Errorf("%s must be greater than zero, got %q", field, s)
	}
	return d, nil
}

func (p *probe) Name() string             { return p.name }
func (p *probe) Mode() v1alpha1.ProbeMode { return p.timing.Mode }
func (p *probe) Timing() Timing           { return p.timing }

func (p *probe) Check(ctx context.Context) Result {
	start := time.Now()
	attempts := p.timing.Retries + 1
	var r Result
	for i := 1; i <= attempts; i++ {
		if i > 1 && !ctxtime.Sleep(ctx, retryPause) {
			break
		}
		r = p.once(ctx)
		if r.OK || ctx.Err() != nil {
			if r.OK && i > 1 {
				r.Message = fmt.Sprintf("%s (passed on attempt %d of %d)", r.Message, i, attempts)
			}
			break
		}
		if i == attempts && attempts > 1 {
			r.Message = fmt.Sprintf("%s (failed %d attempts)", r.Message, attempts)
		}
	}
	// Golden checks are stamped relative to their attempt; rebase them to
	// the check's start so the Scheduler needs only one origin.
	shift := r.Start.Sub(start)
	for i := range r.Checks {
		r.Checks[i].Probe = p.name
		r.Checks[i].At += shift
	}
	r.Start = start
	return r
}

// once runs one attempt under the probe's timeout and turns a panic in a
// probe type into a failed result: a probe bug must not take the run (and
// its fault reverts) down with it.
func (p *probe) once(ctx context.Context) (r Result) {
	start := time.Now()
	actx, cancel := context.WithTimeoutCause(ctx, p.timing.Timeout,
		fmt.Errorf("timed out after %s", p.timing.Timeout))
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			r = Result{Message: fmt.Sprintf("probe panicked: %v", v)}
		}
		r.Start = start
		r.Latency = time.Since(start)
	}()
	return p.impl.attempt(actx, start)
}

// ctxErr describes why an attempt's context ended: the probe's own timeout
// says "timed out after 5s" rather than "context deadline exceeded".
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if c := context.Cause(ctx); c != nil {
			return c
		}
	}
	return err
}

// transportErr says why a request got no answer: the probe's own timeout
// by name ("GET http://…: timed out after 5s"), otherwise the transport's
// error, which already names the method and address.
func transportErr(ctx context.Context, what string, err error) string {
	if ctx.Err() != nil {
		return fmt.Sprintf("%s: %v", what, ctxErr(ctx, err))
	}
	return err.Error()
}

// snippet quotes the start of a body for a message.
func snippet(b []byte) string {
	const n = 120
	s := string(b)
	if len(s) > n {
		return fmt.Sprintf("%q…", s[:n])
	}
	return fmt.Sprintf("%q", s)
}
