// Package load is faultline's open-loop HTTP load generator: the traffic an
// experiment sends to a service while faults are injected, and the source of
// the availability, error and latency figures every verdict rests on.
//
// Open loop means the send times are fixed in advance from the configured
// rate (constant, or a linear ramp then held): request n is due at
// origin + t(n), whatever happened to the requests before it. A stalled
// service therefore shows up as latency and errors, never as fewer requests,
// and each request's latency is measured from its scheduled send time, not
// from the moment a worker got round to sending it (no coordinated
// omission, the flaw of closed-loop tools that hides exactly the stalls a
// chaos experiment is looking for).
//
// Workers are bounded. When every worker is busy a due request waits in a
// bounded queue and the wait counts in its latency; when the queue is full
// the request is recorded as the error "dropped: workers saturated", so an
// undersized generator is visible in the results rather than silently
// under-sending.
//
// Every outcome is recorded as a timeline.Request and handed to a Sink in
// batches at least every 100 ms; Live gives rolling last-second figures for
// the terminal view and Totals the whole-run summary (HdrHistogram).
package load
