// Command websvc is the quick-start example's service (and the one the
// runner's ground-truth tests drive): an HTTP server with an optional
// planted error rate.
//
//	GET /        200 "ok", except every ERROR_EVERY-th request (counted per
//	             process), which gets 503
//	GET /ready   200 (readiness)
//
// Environment: PORT (required), ERROR_EVERY=N (0 or unset: never fail).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
)

func main() {
	every, _ := strconv.ParseInt(os.Getenv("ERROR_EVERY"), 10, 64)
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if every > 0 && n.Add(1)%every == 0 {
			http.Error(w, "planted error", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ready") })
	// POD_IP is the replica's address (its own network namespace's with
	// `env up --network-namespaces`); 127.0.0.1 otherwise.
	host := os.Getenv("POD_IP")
	if host == "" {
		host = "127.0.0.1"
	}
	if err := http.ListenAndServe(net.JoinHostPort(host, os.Getenv("PORT")), mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
