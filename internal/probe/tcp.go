package probe

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

type tcpProbe struct {
	spec v1alpha1.ProbeTCP
	env  Env
}

func newTCP(spec v1alpha1.ProbeTCP, env Env) (*tcpProbe, error) {
	if (spec.Address == "") == (spec.Service == "") {
		return nil, fmt.Errorf("tcp: exactly one of address and service is required")
	}
	if spec.Address != "" {
		if _, _, err := net.SplitHostPort(spec.Address); err != nil {
			return nil, fmt.Errorf("tcp: address: %w", err)
		}
	}
	if spec.Service != "" && env == nil {
		return nil, fmt.Errorf("tcp: service %q needs an environment to resolve it", spec.Service)
	}
	return &tcpProbe{spec: spec, env: env}, nil
}

// address is host:port; a service's gateway URL gives its host and port.
func (t *tcpProbe) address() (string, error) {
	if t.spec.Address != "" {
		return t.spec.Address, nil
	}
	base, err := t.env.ResolveService(t.spec.Service)
	if err != nil {
		return "", fmt.Errorf("resolve service %s: %w", t.spec.Service, err)
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("service %s: gateway URL %q has no host", t.spec.Service, base)
	}
	if u.Port() != "" {
		return u.Host, nil
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

func (t *tcpProbe) attempt(ctx context.Context, _ time.Time) Result {
	addr, err := t.address()
	if err != nil {
		return Result{Message: err.Error()}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Message: transportErr(ctx, "connect "+addr, err)}
	}
	_ = c.Close() // the connection opened; closing it cannot change that
	return Result{OK: true, Message: "connected to " + addr}
}
