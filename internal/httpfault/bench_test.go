package httpfault

import (
	"io"
	"sync/atomic"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// BenchmarkServe measures keep-alive GETs per second straight to a server,
// through Serve with an empty set, and through Serve with a rule that
// matches nothing (every request is parsed and matched). The ratio to
// "direct" is the proxy's cost, and tcp-relay (a plain byte relay in
// user space, like the gateway's fast path) separates the hop's cost from
// the HTTP parsing's; docs/http.md quotes them.
func BenchmarkServe(b *testing.B) {
	var calls atomic.Int64
	srv := startServer(b, echoHandler(&calls))
	miss := &v1alpha1.HTTPChaosSpec{Target: TargetRequest, Path: ptr("/never"),
		HTTPChaosActions: v1alpha1.HTTPChaosActions{Abort: ptr(true)}}
	rule, err := Compile(miss)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		url  func() string
	}{
		{"direct", func() string { return srv.URL }},
		{"tcp-relay", func() string { return newTestProxy(b, hostOf(srv), nil).url() }},
		{"serve-empty", func() string { return newTestProxy(b, hostOf(srv), NewSet()).url() }},
		{"serve-nomatch", func() string { return newTestProxy(b, hostOf(srv), NewSet(rule)).url() }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			u := tc.url() + "/bench"
			c := newClient()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := c.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
