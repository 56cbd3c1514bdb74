package netpath

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine/local"
	"github.com/faultline-dev/faultline/internal/netfault"
)

// Paths, in the order they are reported.
const (
	pathDirect    = "direct"
	pathGateway   = "gateway"
	pathNetfault  = "netfault"
	pathToxiproxy = "toxiproxy"
)

// onlyPaths narrows the benchmarks to some paths, to profile or strace one
// path alone (ratios need direct and toxiproxy and are left out without
// them): go test -bench NetPath/bulk -args -paths gateway.
var onlyPaths = flag.String("paths", "", "comma-separated paths to benchmark (default: all)")

// netfaultSource is the loopback address the netfault path's client
// connects from: the interceptor routes a gateway connection to netfault
// when it comes from there, so the gateway and netfault paths share one
// gateway and one replica and differ only in how the hop copies.
const netfaultSource = "127.0.0.2"

// path is one way from the client to the upstream replicas.
type path struct {
	name string
	// web and bulk are the addresses the client dials for each service.
	web, bulk string
	dialer    net.Dialer
}

func (p *path) dial(addr string) (*net.TCPConn, error) {
	c, err := p.dialer.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s: %w", p.name, addr, err)
	}
	return c.(*net.TCPConn), nil
}

// fixture is a running environment, the toxiproxy proxies and the paths.
type fixture struct {
	paths []*path
	// webPID is the HTTP upstream's process, whose CPU time the rate
	// benchmark reads from /proc.
	webPID int
	// piped counts connections the netfault pipe served: proof that the
	// netfault path really is intercepted.
	piped *atomic.Int64
}

// newFixture builds the upstream server, starts an environment with one
// replica of each service, puts toxiproxy in front of both replicas, and
// stops everything when tb ends.
func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bin := filepath.Join(tb.TempDir(), "upstream")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./testdata/upstream").CombinedOutput(); err != nil {
		tb.Fatalf("build upstream: %v\n%s", err, out)
	}
	// Unix socket paths are limited to 107 bytes: keep the state short.
	state, err := os.MkdirTemp("", "flnp")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(state) })

	s, err := local.New(environment(bin), local.Options{StateDir: state, DisableCgroups: true,
		ReadinessPollInterval: 5 * time.Millisecond})
	if err != nil {
		tb.Fatalf("new environment: %v", err)
	}
	if err := s.Start(ctx); err != nil {
		tb.Fatalf("start environment: %v", err)
	}
	tb.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		if err := s.Shutdown(sctx); err != nil {
			tb.Errorf("shut the environment down: %v", err)
		}
	})
	if err := s.WaitReady(ctx); err != nil {
		tb.Fatalf("wait for the environment: %v", err)
	}

	ic := &sourceInterceptor{source: netfaultSource, set: netfault.NewSet(), piped: &atomic.Int64{}}
	s.SetInterceptor(ic)

	replica := func(name string) string {
		r, ok := s.Replica(name)
		if !ok {
			tb.Fatalf("no replica %s", name)
		}
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
	}
	gateway := func(svc string) string {
		addr, err := s.GatewayAddr(svc)
		if err != nil {
			tb.Fatal(err)
		}
		return addr
	}
	webReplica, bulkReplica := replica("web-0"), replica("bulk-0")
	pid := func(name string) int {
		r, _ := s.Replica(name)
		if len(r.Containers) == 0 || r.Containers[0].PID <= 0 {
			tb.Fatalf("replica %s has no process", name)
		}
		return r.Containers[0].PID
	}

	// toxiproxy as its own binary would use the same library: an
	// ApiServer holding proxies; the HTTP API is not needed to create a
	// proxy without toxics. Logging is off, as cheap as toxiproxy gets.
	tsrv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	toxi := func(name, upstream string) string {
		p := toxiproxy.NewProxy(tsrv, name, "127.0.0.1:0", upstream)
		if err := p.Start(); err != nil {
			tb.Fatalf("start toxiproxy proxy %s: %v", name, err)
		}
		tb.Cleanup(p.Stop)
		return p.Listen
	}

	return &fixture{piped: ic.piped, webPID: pid("web-0"), paths: []*path{
		{name: pathDirect, web: webReplica, bulk: bulkReplica},
		{name: pathGateway, web: gateway("web"), bulk: gateway("bulk")},
		{name: pathNetfault, web: gateway("web"), bulk: gateway("bulk"),
			dialer: net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(netfaultSource)}}},
		{name: pathToxiproxy, web: toxi("web", webReplica), bulk: toxi("bulk", bulkReplica)},
	}}
}

// environment is one node and two services of one replica each, running
// the upstream server; a TCP readiness probe keeps a replica out of its
// gateway until it listens.
func environment(bin string) *v1alpha1.Environment {
	one := int32(1)
	grace := int64(1)
	svc := func(name, mode string) v1alpha1.EnvironmentService {
		return v1alpha1.EnvironmentService{Name: name, Replicas: &one, Command: []string{bin, mode},
			TerminationGracePeriodSeconds: &grace,
			ReadinessProbe:                &v1alpha1.HealthProbe{TCPSocket: &v1alpha1.HealthProbeTCPSocket{}}}
	}
	return &v1alpha1.Environment{
		TypeMeta:   v1alpha1.TypeMeta{APIVersion: v1alpha1.FaultlineAPIVersion, Kind: "Environment"},
		ObjectMeta: v1alpha1.ObjectMeta{Name: "netpath"},
		Spec: v1alpha1.EnvironmentSpec{Namespace: "bench",
			Nodes:    []v1alpha1.EnvironmentNode{{Name: "node-1"}},
			Services: []v1alpha1.EnvironmentService{svc("web", "http"), svc("bulk", "bulk")}},
	}
}

// sourceInterceptor sends the gateway connections that come from source
// through netfault with set (no faults), and leaves the others on the
// gateway's fast path.
type sourceInterceptor struct {
	source string
	set    *netfault.Set
	piped  *atomic.Int64
}

func (i *sourceInterceptor) Intercept(h local.Hop) local.Pipe {
	host, _, err := net.SplitHostPort(h.Client)
	if err != nil || host != i.source {
		return nil
	}
	return netfaultPipe{i}
}

// netfaultPipe adapts netfault.Serve to the gateway's Pipe as the engine's
// hop router does: a stopped link hands the connection back.
type netfaultPipe struct{ i *sourceInterceptor }

func (p netfaultPipe) Serve(ctx context.Context, client, upstream *net.TCPConn) error {
	p.i.piped.Add(1)
	err := netfault.Serve(ctx, client, upstream, p.i.set)
	if errors.Is(err, netfault.ErrStopped) {
		return local.ErrHandBack
	}
	return err
}

// httpConn is a minimal HTTP/1.1 client on one keep-alive connection: the
// request is written from a fixed buffer and the response parsed with
// http.ReadResponse, so the client's own cost is small and the same on
// every path.
type httpConn struct {
	c   *net.TCPConn
	br  *bufio.Reader
	req []byte
}

func dialHTTP(p *path) (*httpConn, error) {
	c, err := p.dial(p.web)
	if err != nil {
		return nil, err
	}
	return &httpConn{c: c, br: bufio.NewReader(c), req: []byte("GET / HTTP/1.1\r\nHost: netpath\r\n\r\n")}, nil
}

// get sends one request and reads the whole response.
func (h *httpConn) get() error {
	if _, err := h.c.Write(h.req); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK || n != 3 {
		return fmt.Errorf("response %s with %d bytes, want 200 with 3", resp.Status, n)
	}
	return nil
}

// bulkConn drives the upstream's bulk protocol on one connection.
type bulkConn struct {
	c   *net.TCPConn
	buf []byte
}

func dialBulk(p *path) (*bulkConn, error) {
	c, err := p.dial(p.bulk)
	if err != nil {
		return nil, err
	}
	return &bulkConn{c: c, buf: make([]byte, 1<<20)}, nil
}

func (b *bulkConn) header(op byte, n int64) error {
	var hdr [9]byte
	hdr[0] = op
	binary.BigEndian.PutUint64(hdr[1:], uint64(n))
	if _, err := b.c.Write(hdr[:]); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	return nil
}

// download asks for n bytes and reads them; check verifies the payload's
// pattern (off in benchmarks: it would cost as much as the copy).
func (b *bulkConn) download(n int64, check bool) error {
	if err := b.header('d', n); err != nil {
		return err
	}
	var off int64
	for off < n {
		m, err := b.c.Read(b.buf[:min(n-off, int64(len(b.buf)))])
		if err != nil {
			return fmt.Errorf("read at %d of %d: %w", off, n, err)
		}
		if check {
			for i, c := range b.buf[:m] {
				// The server repeats a 1 MiB block of byte(i).
				if want := byte((off + int64(i)) % (1 << 20)); c != want {
					return fmt.Errorf("byte %d is %d, want %d", off+int64(i), c, want)
				}
			}
		}
		off += int64(m)
	}
	return nil
}

// upload sends n bytes and waits for the server's one-byte answer, so the
// time covers every byte having reached the server.
func (b *bulkConn) upload(n int64) error {
	if err := b.header('u', n); err != nil {
		return err
	}
	for off := int64(0); off < n; {
		m, err := b.c.Write(b.buf[:min(n-off, int64(len(b.buf)))])
		if err != nil {
			return fmt.Errorf("write at %d of %d: %w", off, n, err)
		}
		off += int64(m)
	}
	var ack [1]byte
	if _, err := io.ReadFull(b.c, ack[:]); err != nil || ack[0] != 'k' {
		return fmt.Errorf("read the upload's answer: %q, %v", ack[0], err)
	}
	return nil
}

// TestPathsCarryTheSameBytes checks what the benchmarks rely on: every path
// reaches the replicas, answers correctly both ways, and the netfault path
// is really served by netfault while the others are not.
func TestPathsCarryTheSameBytes(t *testing.T) {
	f := newFixture(t)
	for _, p := range f.paths {
		t.Run(p.name, func(t *testing.T) {
			before := f.piped.Load()
			h, err := dialHTTP(p)
			if err != nil {
				t.Fatal(err)
			}
			defer h.c.Close()
			bc, err := dialBulk(p)
			if err != nil {
				t.Fatal(err)
			}
			defer bc.c.Close()
			deadline := time.Now().Add(30 * time.Second)
			_ = h.c.SetDeadline(deadline)
			_ = bc.c.SetDeadline(deadline)
			for i := range 3 {
				if err := h.get(); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			// 3 MiB + 5 bytes: not a multiple of any buffer on the way.
			const n = 3<<20 + 5
			if err := bc.download(n, true); err != nil {
				t.Fatalf("download: %v", err)
			}
			if err := bc.upload(n); err != nil {
				t.Fatalf("upload: %v", err)
			}
			want := int64(0)
			if p.name == pathNetfault {
				want = 2 // the web and the bulk connection
			}
			if got := f.piped.Load() - before; got != want {
				t.Errorf("netfault served %d connections of this path, want %d", got, want)
			}
		})
	}
}

// BenchmarkNetPath measures the four paths of the package doc in one run:
// latency, request rate and bulk throughput, each as absolute figures per
// path and as ratios. One iteration is one interleaved round over all the
// paths; -benchtime Nx bounds the work (see docs/BENCHMARKS.md).
func BenchmarkNetPath(b *testing.B) {
	f := newFixture(b)
	paths := f.paths
	if *onlyPaths != "" {
		want := strings.Split(*onlyPaths, ",")
		paths = slices.DeleteFunc(slices.Clone(paths), func(p *path) bool { return !slices.Contains(want, p.name) })
		if len(paths) == 0 {
			b.Fatalf("-paths %q names none of %s, %s, %s, %s", *onlyPaths, pathDirect, pathGateway, pathNetfault, pathToxiproxy)
		}
	}
	b.Run("latency", func(b *testing.B) { benchLatency(b, paths) })
	b.Run("rate", func(b *testing.B) { benchRate(b, paths, f.webPID) })
	b.Run("bulk", func(b *testing.B) { benchBulk(b, paths) })
}

// rotated returns paths starting at index i mod len: the order changes
// every round so that no path always follows the same other path.
func rotated(paths []*path, i int) []int {
	out := make([]int, len(paths))
	for j := range out {
		out[j] = (i + j) % len(paths)
	}
	return out
}

// latencyRequests is how many requests each path sends per iteration, one
// at a time on its own keep-alive connection, interleaved request by
// request with the other paths.
const latencyRequests = 2000

func benchLatency(b *testing.B, paths []*path) {
	conns := make([]*httpConn, len(paths))
	for i, p := range paths {
		h, err := dialHTTP(p)
		if err != nil {
			b.Fatal(err)
		}
		defer h.c.Close()
		conns[i] = h
	}
	samples := make([][]time.Duration, len(paths))
	round := func(n int, record bool) {
		for _, h := range conns {
			_ = h.c.SetDeadline(time.Now().Add(time.Minute))
		}
		for r := range n {
			for _, i := range rotated(paths, r) {
				start := time.Now()
				if err := conns[i].get(); err != nil {
					b.Fatalf("%s: %v", paths[i].name, err)
				}
				if record {
					samples[i] = append(samples[i], time.Since(start))
				}
			}
		}
	}
	round(200, false) // warm up connections, buffers and the scheduler
	for b.Loop() {
		round(latencyRequests, true)
	}
	b.ReportMetric(0, "ns/op")
	p50, p99 := make([]float64, len(paths)), make([]float64, len(paths))
	for i := range paths {
		p50[i], p99[i] = micros(percentile(samples[i], 50)), micros(percentile(samples[i], 99))
	}
	for i, p := range paths {
		b.ReportMetric(p50[i], "p50-µs-"+p.name)
		b.ReportMetric(p99[i], "p99-µs-"+p.name)
		if i > 0 && paths[0].name == pathDirect {
			b.ReportMetric(p50[i]-p50[0], "added-p50-µs-"+p.name)
			b.ReportMetric(p99[i]-p99[0], "added-p99-µs-"+p.name)
		}
	}
}

// Request-rate load: rateConns keep-alive connections per path, each
// sending rateRequests requests back to back per iteration.
const (
	rateConns    = 16
	rateRequests = 1500
)

func benchRate(b *testing.B, paths []*path, upstreamPID int) {
	conns := make([][]*httpConn, len(paths))
	for i, p := range paths {
		for range rateConns {
			h, err := dialHTTP(p)
			if err != nil {
				b.Fatal(err)
			}
			defer h.c.Close()
			conns[i] = append(conns[i], h)
		}
	}
	elapsed := make([]time.Duration, len(paths))
	cpu := make([]time.Duration, len(paths))
	var upstreamCPU time.Duration
	requests := make([]int, len(paths))
	run := func(i, n int) {
		var wg sync.WaitGroup
		errs := make(chan error, len(conns[i]))
		deadline := time.Now().Add(time.Minute)
		cpu0, ucpu0 := processCPU(), pidCPU(upstreamPID)
		start := time.Now()
		for _, h := range conns[i] {
			_ = h.c.SetDeadline(deadline)
			wg.Go(func() {
				for range n {
					if err := h.get(); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed[i] += time.Since(start)
		cpu[i] += processCPU() - cpu0
		upstreamCPU += pidCPU(upstreamPID) - ucpu0
		requests[i] += n * len(conns[i])
		close(errs)
		if err := <-errs; err != nil {
			b.Fatalf("%s: %v", paths[i].name, err)
		}
	}
	for i := range paths {
		run(i, 50) // warm up
	}
	clear(elapsed)
	clear(cpu)
	clear(requests)
	upstreamCPU = 0
	r := 0
	for b.Loop() {
		for _, i := range rotated(paths, r) {
			run(i, rateRequests)
		}
		r++
	}
	b.ReportMetric(0, "ns/op")
	rate := make([]float64, len(paths))
	total := 0
	for i, p := range paths {
		total += requests[i]
		rate[i] = float64(requests[i]) / elapsed[i].Seconds()
		b.ReportMetric(rate[i], "req/s-"+p.name)
		// CPU of this process (client and, except for direct, the hop)
		// per request; the upstream runs in its own process.
		b.ReportMetric(micros(cpu[i])/float64(requests[i]), "cpu-µs/req-"+p.name)
	}
	// The upstream's CPU per request is the same on every path (in
	// 10 ms ticks, so over all of them): with the client's and the
	// hop's, it is the whole CPU budget of a request.
	b.ReportMetric(micros(upstreamCPU)/float64(total), "upstream-cpu-µs/req")
	reportRatios(b, paths, rate, "req/s")
}

// bulkBytes is what each path moves per iteration in each direction.
const bulkBytes = 256 << 20

func benchBulk(b *testing.B, paths []*path) {
	conns := make([]*bulkConn, len(paths))
	for i, p := range paths {
		c, err := dialBulk(p)
		if err != nil {
			b.Fatal(err)
		}
		defer c.c.Close()
		conns[i] = c
	}
	dirs := []struct {
		name string
		move func(c *bulkConn, n int64) error
	}{
		{"down", func(c *bulkConn, n int64) error { return c.download(n, false) }},
		{"up", func(c *bulkConn, n int64) error { return c.upload(n) }},
	}
	// rates[d][i] are path i's GB/s in direction d, one per iteration;
	// cpu[d][i] the process CPU it took.
	rates := make([][][]float64, len(dirs))
	cpu := make([][]time.Duration, len(dirs))
	for d := range dirs {
		rates[d] = make([][]float64, len(paths))
		cpu[d] = make([]time.Duration, len(paths))
	}
	move := func(d, i int, n int64) (time.Duration, time.Duration) {
		_ = conns[i].c.SetDeadline(time.Now().Add(time.Minute))
		cpu0 := processCPU()
		start := time.Now()
		if err := dirs[d].move(conns[i], n); err != nil {
			b.Fatalf("%s %s: %v", paths[i].name, dirs[d].name, err)
		}
		return time.Since(start), processCPU() - cpu0
	}
	for i := range paths {
		for d := range dirs {
			move(d, i, 16<<20) // warm up: windows, pipes, buffers
		}
	}
	r := 0
	for b.Loop() {
		for d := range dirs {
			for _, i := range rotated(paths, r) {
				t, c := move(d, i, bulkBytes)
				rates[d][i] = append(rates[d][i], bulkBytes/t.Seconds()/1e9)
				cpu[d][i] += c
			}
		}
		r++
	}
	b.ReportMetric(0, "ns/op")
	for d, dir := range dirs {
		med := make([]float64, len(paths))
		for i, p := range paths {
			med[i] = median(rates[d][i])
			b.ReportMetric(med[i], "GB/s-"+dir.name+"-"+p.name)
			gb := float64(len(rates[d][i])) * bulkBytes / 1e9
			b.ReportMetric(float64(cpu[d][i].Milliseconds())/gb, "cpu-ms/GB-"+dir.name+"-"+p.name)
		}
		reportRatios(b, paths, med, "GB/s-"+dir.name)
	}
}

// reportRatios reports the hop paths' figures over direct's and over
// toxiproxy's (higher is better for both).
func reportRatios(b *testing.B, paths []*path, v []float64, what string) {
	idx := func(name string) int {
		return slices.IndexFunc(paths, func(p *path) bool { return p.name == name })
	}
	if idx(pathDirect) < 0 || idx(pathToxiproxy) < 0 {
		return
	}
	direct, toxi := v[idx(pathDirect)], v[idx(pathToxiproxy)]
	for _, name := range []string{pathGateway, pathNetfault} {
		if idx(name) < 0 {
			continue
		}
		x := v[idx(name)]
		b.ReportMetric(x/direct, "x-"+what+"-"+name+"-vs-direct")
		b.ReportMetric(x/toxi, "x-"+what+"-"+name+"-vs-toxiproxy")
	}
	b.ReportMetric(toxi/direct, "x-"+what+"-toxiproxy-vs-direct")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pidCPU is the user and system CPU time process pid has used, from
// /proc/PID/stat (in clock ticks, USER_HZ = 100 on Linux); 0 when it cannot
// be read.
func pidCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
