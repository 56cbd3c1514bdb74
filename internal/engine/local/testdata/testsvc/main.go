// Command testsvc is the service the local engine's tests run as replicas:
// a small HTTP server whose health and behaviour the tests steer.
//
//	GET /            answers "<REPLICA_NAME>\n"
//	GET /healthz     200 unless /sick was called (liveness)
//	GET /ready       200 while ready (readiness); /ready/on and /ready/off toggle
//	GET /sick        makes /healthz fail from now on
//	GET /crash       exits with status 3
//	GET /slow?d=1s   answers after d
//	GET /pid         the process id
//	GET /env?k=NAME  the value of an environment variable
//	GET /dep?name=X  fetches $X_URL/ and answers with its body (egress hop)
//	GET /bulk?n=N    N bytes of payload
//
// Environment: PORT (required), READY=0 starts not ready, CRASH=N exits with
// status N at once, IGNORE_SIGTERM=1 ignores SIGTERM, TERM_DELAY=d waits d
// after SIGTERM before exiting. Every signal received is logged to stdout.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if c := os.Getenv("CRASH"); c != "" {
		n, _ := strconv.Atoi(c)
		fmt.Println("crashing with status", n)
		os.Exit(n)
	}
	name := os.Getenv("REPLICA_NAME")
	var ready, sick atomic.Bool
	ready.Store(os.Getenv("READY") != "0")

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, name) })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if sick.Load() {
			http.Error(w, "sick", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/ready/on", func(w http.ResponseWriter, r *http.Request) { ready.Store(true) })
	mux.HandleFunc("/ready/off", func(w http.ResponseWriter, r *http.Request) { ready.Store(false) })
	mux.HandleFunc("/sick", func(w http.ResponseWriter, r *http.Request) { sick.Store(true) })
	mux.HandleFunc("/crash", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("crash requested")
		os.Exit(3)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		time.Sleep(d)
		fmt.Fprintln(w, name)
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, os.Getpid()) })
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("/dep", func(w http.ResponseWriter, r *http.Request) {
		u := os.Getenv(r.URL.Query().Get("name") + "_URL")
		resp, err := http.Get(u + "/")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})
	mux.HandleFunc("/bulk", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		buf := make([]byte, 64<<10)
		for n > 0 {
			k := min(n, len(buf))
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			n -= k
		}
	})

	// POD_IP is 127.0.0.1 unless the replica runs in its own network
	// namespace, where it is the namespace's address.
	host := os.Getenv("POD_IP")
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, os.Getenv("PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", ln.Addr(), "as", name)
	srv := &http.Server{Handler: mux}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	go func() {
		for s := range sigs {
			fmt.Println("got signal", s)
			if s != syscall.SIGTERM && s != syscall.SIGINT {
				continue
			}
			if os.Getenv("IGNORE_SIGTERM") == "1" {
				fmt.Println("ignoring it")
				continue
			}
			if d, err := time.ParseDuration(os.Getenv("TERM_DELAY")); err == nil {
				time.Sleep(d)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			srv.Shutdown(ctx)
			cancel()
			fmt.Println("exiting after", s)
			os.Exit(0)
		}
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	select {}
}
