package httpfault

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case b = <-acc:
	case <-time.After(5 * time.Second):
		t.Fatal("accept timed out")
	}
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestJoinMidResponse starts Serve while a streamed response is in
// flight (as after a fast-path round is interrupted): the rest of the
// response is relayed untouched, and the next request is in sync and
// faulted.
func TestJoinMidResponse(t *testing.T) {
	client, proxyClient := tcpPair(t)
	proxyUp, server := tcpPair(t)
	for _, c := range []net.Conn{client, proxyClient, proxyUp, server} {
		_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	}
	const req1 = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
	const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
	const tail = "6\r\nsecond\r\n0\r\n\r\n"
	// Relay the first request and the start of the answer by hand.
	client.Write([]byte(req1))
	buf := make([]byte, len(req1))
	io.ReadFull(proxyClient, buf)
	proxyUp.Write(buf)
	io.ReadFull(server, buf)
	server.Write([]byte(head))
	hb := make([]byte, len(head))
	io.ReadFull(proxyUp, hb)
	proxyClient.Write(hb)

	abort := mustCompile(t, spec(TargetRequest, func(s *v1alpha1.HTTPChaosSpec) {
		s.Path = ptr("/next")
		s.Abort = ptr(true)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, proxyClient, proxyUp, NewSet(abort))
	}()

	br := bufio.NewReader(client)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	server.Write([]byte(tail))
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "firstsecond" {
		t.Fatalf("streamed body %q, %v", body, err)
	}
	// The next request is parsed, matched and aborted.
	client.Write([]byte("GET /next HTTP/1.1\r\nHost: x\r\n\r\n"))
	rest, _ := io.ReadAll(br)
	if len(rest) != 0 {
		t.Errorf("aborted request got %q", rest)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if abort.Stats().Aborted != 1 {
		t.Errorf("abort stats %+v", abort.Stats())
	}
}

// TestHandBackPipelined: pipelined requests read before ctx was cancelled
// are answered first; then the connection is handed back and the next
// request travels raw, in order.
func TestHandBackPipelined(t *testing.T) {
	client, proxyClient := tcpPair(t)
	proxyUp, server := tcpPair(t)
	for _, c := range []net.Conn{client, proxyClient, proxyUp, server} {
		_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, proxyClient, proxyUp, NewSet()) }()
	const reqs = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
	client.Write([]byte(reqs))
	sb := bufio.NewReader(server)
	var paths []string
	for i := 0; i < 2; i++ {
		r, err := http.ReadRequest(sb)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, r.URL.Path)
		if i == 0 {
			// The rules change while both requests are in flight.
			cancel()
			past := time.Unix(1, 0)
			proxyClient.SetReadDeadline(past)
			proxyUp.SetReadDeadline(past)
		}
	}
	server.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/1HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/2"))
	select {
	case err := <-served:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Serve: %v, want ErrStopped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not hand back")
	}
	// The caller's raw relay.
	go io.Copy(proxyUp, proxyClient)
	go io.Copy(proxyClient, proxyUp)
	client.Write([]byte("GET /3 HTTP/1.1\r\nHost: x\r\n\r\n"))
	r3, err := http.ReadRequest(sb)
	if err != nil {
		t.Fatalf("third request lost: %v", err)
	}
	paths = append(paths, r3.URL.Path)
	if strings.Join(paths, ",") != "/1,/2,/3" {
		t.Errorf("server saw %v", paths)
	}
	server.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n/3"))
	cb := bufio.NewReader(client)
	for _, want := range []string{"/1", "/2", "/3"} {
		resp, err := http.ReadResponse(cb, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Errorf("response %q, want %q", b, want)
		}
	}
}

func FuzzServeHTTP1(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /p?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
		"\x00\x01garbage",
	} {
		f.Add([]byte(s))
	}
	patch := &v1alpha1.HTTPChaosSpec{Target: TargetRequest, HTTPChaosActions: v1alpha1.HTTPChaosActions{
		Patch: &v1alpha1.HTTPChaosPatch{Headers: [][]string{{"X", "1"}}, Queries: [][]string{{"q", "1"}},
			Body: &v1alpha1.HTTPChaosPatchBody{Type: "JSON", Value: `{"b":1}`}}}}
	path := "/p*"
	patch.Path = &path
	replace := &v1alpha1.HTTPChaosSpec{Target: TargetResponse, HTTPChaosActions: v1alpha1.HTTPChaosActions{
		Replace: &v1alpha1.HTTPChaosReplace{Code: ptr[int32](500), Headers: map[string]string{"Y": "2"}}}}
	r1, err := Compile(patch)
	if err != nil {
		f.Fatal(err)
	}
	r2, err := Compile(replace)
	if err != nil {
		f.Fatal(err)
	}
	set := NewSet(r1, r2)
	f.Fuzz(func(t *testing.T, data []byte) {
		cl, pc := net.Pipe()
		pu, sv := net.Pipe()
		defer cl.Close()
		defer sv.Close()
		deadline := time.Now().Add(5 * time.Second)
		for _, c := range []net.Conn{cl, pc, pu, sv} {
			_ = c.SetWriteDeadline(deadline)
		}
		// A server that answers every request it can parse.
		go func() {
			defer sv.Close()
			br := bufio.NewReader(sv)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				if _, err := sv.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")); err != nil {
					return
				}
			}
		}()
		go func() { _, _ = io.Copy(io.Discard, cl) }()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = Serve(context.Background(), pc, pu, set)
			pc.Close()
			pu.Close()
		}()
		_, _ = cl.Write(data)
		cl.Close()
		select {
		case <-done:
		case <-time.After(4 * time.Second):
			t.Fatalf("Serve did not end for input %q", truncate(data))
		}
	})
}

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
