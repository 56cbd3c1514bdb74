// Command upstream is the server the network data-path benchmarks run as a
// local environment's replicas, so that every path (direct, faultline's
// gateway hop, toxiproxy) reaches the same separate process over loopback.
//
//	upstream http   net/http on 127.0.0.1:$PORT; every request gets "ok\n"
//	upstream bulk   raw TCP on 127.0.0.1:$PORT, a request/response loop per
//	                connection: a 9-byte header (op, then n as a big-endian
//	                uint64); op 'd' answers with n bytes, op 'u' reads n bytes
//	                and answers one byte.
//
// It exits on SIGTERM like any Go program, which is how the supervisor stops
// it.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 || os.Getenv("PORT") == "" {
		fmt.Fprintln(os.Stderr, "usage: PORT=n upstream http|bulk")
		os.Exit(2)
	}
	addr := net.JoinHostPort("127.0.0.1", os.Getenv("PORT"))
	var err error
	switch os.Args[1] {
	case "http":
		err = serveHTTP(addr)
	case "bulk":
		err = serveBulk(addr)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	fmt.Fprintln(os.Stderr, "upstream:", err)
	os.Exit(1)
}

func serveHTTP(addr string) error {
	body := []byte("ok\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	return (&http.Server{Addr: addr, Handler: h}).ListenAndServe()
}

// chunk is the write and read size of the bulk server: large, so that the
// server's own system calls are not what limits a path.
const chunk = 1 << 20

func serveBulk(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	payload := make([]byte, chunk)
	for i := range payload {
		payload[i] = byte(i)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if err := bulkConn(c, payload); err != nil && !errors.Is(err, io.EOF) {
				fmt.Fprintln(os.Stderr, "bulk:", err)
			}
		}()
	}
}

func bulkConn(c net.Conn, payload []byte) error {
	br := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, chunk)
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint64(hdr[1:]))
		switch hdr[0] {
		case 'd':
			for n > 0 {
				m := min(n, int64(len(payload)))
				if _, err := c.Write(payload[:m]); err != nil {
					return err
				}
				n -= m
			}
		case 'u':
			for n > 0 {
				m, err := br.Read(buf[:min(n, int64(len(buf)))])
				if err != nil {
					return err
				}
				n -= int64(m)
			}
			if _, err := c.Write([]byte{'k'}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("bad op %q", hdr[0])
		}
	}
}
