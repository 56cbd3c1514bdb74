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
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
