package local

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/cgroup"
)

func TestControlSocket(t *testing.T) {
	opts := testOptions(t)
	s := startEnv(t, testEnvironment("ctl"), opts)
	waitReady(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	fi, err := os.Stat(s.SocketPath())
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("control socket %v: %v", fi.Mode(), err)
	}
	c, err := Dial(opts.StateDir, "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	st, err := c.Status(ctx)
	if err != nil || st.Name != "ctl" || len(st.Replicas) != 4 || !st.Ready || len(st.Nodes) != 3 {
		t.Fatalf("status %+v: %v", st, err)
	}
	if st.Services[0].URL == "" || st.Owner.PID != os.Getpid() {
		t.Fatalf("services %+v owner %+v", st.Services, st.Owner)
	}
	ts, err := c.Targets(ctx)
	if err != nil || len(ts) != 4 || ts[0].Name != "backend-0" {
		t.Fatalf("targets %+v: %v", ts, err)
	}

	events, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.KillContainer(ctx, "api-0", "", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, func(e Event) bool { return e.Name == "api-0" && e.Reason == "Ready" })
	r, err := c.Replica(ctx, "api-0")
	if err != nil || r.Restarts != 1 {
		t.Fatalf("api-0 after kill %+v: %v", r, err)
	}

	if err := c.KillContainer(ctx, "nope-0", "", syscall.SIGKILL); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope-0") {
		t.Fatalf("unknown replica through the socket: %v", err)
	}
	if _, err := c.Replica(ctx, "nope-0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown replica: %v", err)
	}

	if err := c.SetReplicaFailed(ctx, "api-1", true); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Replica(ctx, "api-1"); !r.Frozen || r.Ready {
		t.Fatalf("api-1 failed: %+v", r)
	}
	if err := c.SetReplicaFailed(ctx, "api-1", false); err != nil {
		t.Fatal(err)
	}

	if err := c.Cordon(ctx, "node-3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Uncordon(ctx, "node-3"); err != nil {
		t.Fatal(err)
	}
	if err := c.NodeDown(ctx, "node-3"); err != nil {
		t.Fatal(err)
	}
	if err := c.NodeDown(ctx, "node-3"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("second node-down: %v", err)
	}
	if err := c.NodeUp(ctx, "node-3"); err != nil {
		t.Fatal(err)
	}
	if err := c.NodeDown(ctx, "node-9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown node: %v", err)
	}
	prev, err := c.Scale(ctx, "backend", 3)
	if err != nil || prev != 2 {
		t.Fatalf("scale: %d %v", prev, err)
	}
	dctx, dcancel := context.WithTimeout(ctx, time.Minute)
	if err := c.Drain(dctx, "node-2"); err != nil {
		t.Fatal(err)
	}
	dcancel()
	ns, err := c.Nodes(ctx)
	if err != nil || ns[1].Schedulable {
		t.Fatalf("nodes after drain %+v: %v", ns, err)
	}
	waitReady(t, s)

	if isRoot() {
		path, err := c.ReplicaCgroupPath(ctx, "api-0")
		if err != nil || path != "/faultline/ctl/api-0" {
			t.Fatalf("cgroup of api-0 %q: %v", path, err)
		}
	}

	rc, err := c.Logs(ctx, "api-0", LogOptions{Previous: true})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(data), "listening on") {
		t.Fatalf("previous log %q", data)
	}
	if _, err := c.Logs(ctx, "api-0", LogOptions{Container: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("log of unknown container: %v", err)
	}

	// Other packages extend the API.
	s.Server().Handle("GET /v1/extra", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"env": s.Name()})
	}))
	var extra map[string]string
	if err := c.Do(ctx, http.MethodGet, "/v1/extra", nil, &extra); err != nil || extra["env"] != "ctl" {
		t.Fatalf("extra route: %v %v", extra, err)
	}

	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, "supervisor done after Down", s.Done())
	if _, err := os.Stat(s.SocketPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after down: %v", err)
	}
	if _, err := Dial(opts.StateDir, "ctl"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("dial after down: %v", err)
	}
	for range events {
	}
}

func waitEvent(t *testing.T, ch <-chan Event, match func(Event) bool) Event {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("event stream ended")
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatal("timed out waiting for an event")
		}
	}
}

func TestCgroupsPerReplica(t *testing.T) {
	if !isRoot() {
		t.Skip("needs root: cgroups")
	}
	if _, err := cgroup.Available(); err != nil {
		t.Skipf("cgroups unavailable: %v", err)
	}
	env := testEnvironment("cg")
	env.Spec.Services[1].Resources = &v1alpha1.ServiceResources{CPU: ptr(0.5), Memory: "64Mi"}
	env.Spec.Services[1].Sidecars = []v1alpha1.ServiceContainer{{Name: "sidecar", Command: []string{testsvcBin},
		Env: []v1alpha1.ServiceEnvVar{{Name: "PORT", Value: "0"}}}}
	s := startEnv(t, env, testOptions(t))
	waitReady(t, s)
	g, err := s.ReplicaCgroup("api-0")
	if err != nil {
		t.Fatal(err)
	}
	if g.Path() != "/faultline/cg/api-0" {
		t.Fatalf("cgroup path %s", g.Path())
	}
	r := replicaOf(t, s, "api-0")
	if len(r.Containers) != 2 || r.TotalContainers != 2 || r.ReadyContainers != 2 {
		t.Fatalf("containers %+v", r.Containers)
	}
	procs, err := g.Processes()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Containers {
		found := false
		for _, p := range procs {
			found = found || p == c.PID
		}
		if !found {
			t.Fatalf("container %s (pid %d) not in its cgroup %v", c.Name, c.PID, procs)
		}
	}
	stats, err := g.Stats()
	if err != nil || stats.MemoryLimit != 64<<20 {
		t.Fatalf("stats %+v: %v", stats, err)
	}
	// container-kill of the sidecar restarts only the sidecar, back in the
	// same cgroup.
	if err := s.KillContainer("api-0", "sidecar", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the sidecar restarted", func() bool {
		r := replicaOf(t, s, "api-0")
		return r.Containers[1].RestartCount == 1 && r.Ready
	})
	r = replicaOf(t, s, "api-0")
	if r.Containers[0].RestartCount != 0 {
		t.Fatal("container-kill of the sidecar restarted the main container")
	}
	procs, _ = g.Processes()
	found := false
	for _, p := range procs {
		found = found || p == r.Containers[1].PID
	}
	if !found {
		t.Fatalf("restarted sidecar %d not in the cgroup %v", r.Containers[1].PID, procs)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left, err := cgroup.List("faultline/cg"); err != nil || len(left) != 0 {
		t.Fatalf("cgroups left: %v %v", left, err)
	}
}

func TestReplicaCgroupWithoutCgroups(t *testing.T) {
	opts := testOptions(t)
	opts.DisableCgroups = true
	s := startEnv(t, testEnvironment("nocg"), opts)
	waitReady(t, s)
	if _, err := s.ReplicaCgroup("api-0"); err == nil || !strings.Contains(err.Error(), "without cgroups") {
		t.Fatalf("ReplicaCgroup without cgroups: %v", err)
	}
}

// countingInterceptor sends every ingress connection through a Pipe that
// counts them, and leaves the rest on the fast path.
type countingInterceptor struct {
	hops chan Hop
}

func (ci *countingInterceptor) Intercept(h Hop) Pipe {
	select {
	case ci.hops <- h:
	default:
	}
	if h.Kind != HopIngress {
		return nil
	}
	return copyPipe{}
}

// copyPipe copies like the fast path, by hand, and gives the connection
// back when its context ends.
type copyPipe struct{}

func (copyPipe) Serve(ctx context.Context, client, upstream *net.TCPConn) error {
	errc := make(chan error, 2)
	cp := func(dst, src *net.TCPConn) {
		_, err := io.Copy(struct{ io.Writer }{dst}, struct{ io.Reader }{src})
		if err == nil {
			_ = dst.CloseWrite()
		}
		errc <- err
	}
	go cp(upstream, client)
	go cp(client, upstream)
	pending := 2
	for pending > 0 {
		select {
		case err := <-errc:
			pending--
			if err != nil && ctx.Err() == nil {
				// A real failure: end the connection (the gateway closes
				// both ends, which stops the other copy).
				return err
			}
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			// Stop the copies still running (Reintercept expired the read
			// deadlines already) and hand the connection back.
			_ = client.SetReadDeadline(time.Unix(1, 0))
			_ = upstream.SetReadDeadline(time.Unix(1, 0))
			for ; pending > 0; pending-- {
				<-errc
			}
			return ErrHandBack
		}
	}
	return nil
}

func TestInterceptorSeesEveryHop(t *testing.T) {
	s := startEnv(t, testEnvironment("hook"), testOptions(t))
	waitReady(t, s)
	api := gatewayURL(t, s, "api")

	// A keep-alive connection opened before the interceptor exists.
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() string {
		resp, err := cl.Get(api + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	first := get()

	ci := &countingInterceptor{hops: make(chan Hop, 100)}
	s.SetInterceptor(ci)
	// The live connection is re-examined at once and keeps working.
	var h Hop
	select {
	case h = <-ci.hops:
	case <-time.After(30 * time.Second):
		t.Fatalf("the live connection was not re-intercepted; live hops: %+v", s.Hops())
	}
	if h.Kind != HopIngress || h.Service != "api" || h.Replica != first {
		t.Fatalf("hop of the live connection %+v", h)
	}
	if got := get(); got != first {
		t.Fatalf("keep-alive connection moved from %s to %s", first, got)
	}
	// An egress hop names its source replica.
	if _, err := httpGet(replicaURL(t, s, "api-1") + "/dep?name=BACKEND"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for {
		var h Hop
		select {
		case h = <-ci.hops:
		case <-deadline:
			t.Fatal("no egress hop seen")
		}
		if h.Kind == HopEgress {
			if h.Source != "api-1" || h.SourceService != "api" || h.Service != "backend" {
				t.Fatalf("egress hop %+v", h)
			}
			break
		}
	}
	if len(s.Hops()) == 0 {
		t.Fatal("no live hop listed")
	}
	// Removing the interceptor hands the connection back to the fast path.
	s.SetInterceptor(nil)
	if got := get(); got != first {
		t.Fatalf("after the interceptor left: %s", got)
	}
}
