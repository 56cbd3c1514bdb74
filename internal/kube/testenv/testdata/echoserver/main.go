// Command echoserver is the process behind the exec pods of the testenv
// tests: it listens on $POD_IP:$PORT and answers
//
//	/ready    200 once $READY_FILE exists (or when READY_FILE is unset), else 503
//	/probes   how many /ready requests it has answered
//	/whoami   $POD_NAME
//	/env?name=X  the value of X
//	/pid      its pid
//
// and exits on SIGTERM.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := net.JoinHostPort(os.Getenv("POD_IP"), os.Getenv("PORT"))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	fmt.Println("echoserver: listening on", ln.Addr())
	var probes atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		if f := os.Getenv("READY_FILE"); f != "" {
			if _, err := os.Stat(f); err != nil {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/probes", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, probes.Load()) })
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getenv("POD_NAME")) })
	mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getpid()) })
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getenv(r.URL.Query().Get("name"))) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
	fmt.Println("echoserver: stopped")
}
