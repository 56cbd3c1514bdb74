package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/internal/envref"
)

// probeKind is the mechanism of a probe, as in a Kubernetes probe handler.
type probeKind string

const (
	probeHTTP probeKind = "httpGet"
	probeTCP  probeKind = "tcpSocket"
	probeExec probeKind = "exec"
)

// probePlan is one probe with kubelet's defaults applied.
type probePlan struct {
	kind    probeKind
	scheme  string // http or https (httpGet)
	host    string // default 127.0.0.1
	path    string
	port    int // 0: the replica's port
	headers http.Header
	command []string // exec

	initialDelay time.Duration
	period       time.Duration
	timeout      time.Duration
	success      int
	failure      int
}

// String describes the probe like kubectl describe does.
func (p *probePlan) String() string {
	switch p.kind {
	case probeHTTP:
		return fmt.Sprintf("http-get %s://%s:%s%s", p.scheme, p.host, portString(p.port), p.path)
	case probeTCP:
		return fmt.Sprintf("tcp-socket %s:%s", p.host, portString(p.port))
	default:
		return fmt.Sprintf("exec %q", p.command)
	}
}

func portString(p int) string {
	if p == 0 {
		return "$PORT"
	}
	return strconv.Itoa(p)
}

// probeTarget is what a probe needs of the container it checks.
type probeTarget struct {
	port int      // the replica's port
	env  []string // for exec probes
	dir  string
	sp   *spawner
	// fastUntilOK, when set, replaces the period until the probe first
	// passes (Options.ReadinessPollInterval).
	fastUntilOK time.Duration
	// podIP, when set, replaces the default host 127.0.0.1 (a replica in
	// its own network namespace is reached at its address), and netns is
	// where exec probes run ("" the host's network).
	podIP string
	netns string
}

// check runs the probe once and returns why it failed, or nil.
func (p *probePlan) check(ctx context.Context, t probeTarget) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	port := p.port
	if port == 0 {
		port = t.port
	}
	host := p.host
	if host == "127.0.0.1" && t.podIP != "" {
		// The host's loopback is not the replica's: in its network
		// namespace the replica is at its pod IP.
		host = t.podIP
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	switch p.kind {
	case probeHTTP:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.scheme+"://"+addr+p.path, nil)
		if err != nil {
			return err
		}
		for k, vs := range p.headers {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		if h := req.Header.Get("Host"); h != "" {
			req.Host = h
		}
		req.Header.Set("User-Agent", "faultline-probe")
		// One connection per check, like kubelet: a probe must notice a
		// replica that stopped accepting connections.
		tr := &http.Transport{DisableKeepAlives: true,
			// Kubelet does not verify probe certificates either.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec
		defer tr.CloseIdleConnections()
		cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
		resp, err := cl.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %w", req.URL.String(), unwrapURLError(err))
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case probeTCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("dial tcp %s: %w", addr, unwrapOpError(err))
		}
		c.Close()
		return nil
	case probeExec:
		return p.runExec(ctx, t)
	}
	return fmt.Errorf("unknown probe kind %q", p.kind)
}

func (p *probePlan) runExec(ctx context.Context, t probeTarget) error {
	// Kubelet expands $(VAR) in exec probe commands from the container's
	// environment; so does faultline.
	vars := make(map[string]string, len(t.env))
	for _, kv := range t.env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	argv := make([]string, len(p.command))
	for i, a := range p.command {
		argv[i] = envref.Expand(a, lookup)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("exec probe: %w", err)
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: t.env, Dir: t.dir}
	if err := t.sp.startIn(cmd, t.netns); err != nil {
		return fmt.Errorf("exec probe: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("exec probe %q: %w", p.command, err)
		}
		return nil
	case <-ctx.Done():
		// The probe runs in its own process group: take down whatever it
		// forked too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("exec probe %q timed out after %s", p.command, p.timeout)
	}
}

func unwrapURLError(err error) error {
	for {
		var ue interface{ Unwrap() error }
		if !errors.As(err, &ue) {
			return err
		}
		inner := ue.Unwrap()
		if inner == nil {
			return err
		}
		if _, ok := inner.(*net.OpError); ok {
			return unwrapOpError(inner)
		}
		if errors.Is(inner, context.DeadlineExceeded) {
			return errors.New("probe timed out")
		}
		err = inner
	}
}

func unwrapOpError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
			return errors.New("probe timed out")
		}
		return oe.Err
	}
	return err
}

// probeResult is a prober's verdict change, or a failed check worth an
// event.
type probeResult struct {
	// ok is the probe's state after this check (after thresholds).
	ok bool
	// changed is true when ok differs from the previous state.
	changed bool
	// msg says why the check failed; "" on success.
	msg string
}

// runProber checks p every period until ctx ends and calls report after each
// check. initialOK is the state before the first check: false for readiness
// (not ready until it passes), true for liveness (alive until it fails).
// skipDelay starts checking at once (probes resumed after a pause).
func runProber(ctx context.Context, p *probePlan, t probeTarget, initialOK, skipDelay bool, report func(probeResult)) {
	state := initialOK
	everOK := false
	succ, fail := 0, 0
	wait := p.initialDelay
	if skipDelay {
		wait = 0
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		err := p.check(ctx, t)
		if ctx.Err() != nil {
			return
		}
		r := probeResult{ok: state}
		if err == nil {
			succ, fail = succ+1, 0
			if !state && succ >= p.success {
				state, r.ok, r.changed = true, true, true
			}
		} else {
			succ, fail = 0, fail+1
			r.msg = err.Error()
			if state && fail >= p.failure {
				state, r.ok, r.changed = false, false, true
			}
		}
		report(r)
		// Period is measured start to start, as kubelet does.
		period := p.period
		everOK = everOK || state
		if !everOK && t.fastUntilOK > 0 && t.fastUntilOK < period {
			period = t.fastUntilOK
		}
		next := period - time.Since(start)
		if next < 0 {
			next = 0
		}
		timer.Reset(next)
	}
}
