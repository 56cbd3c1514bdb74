// Package testwatch turns a hung test into a short, readable failure.
//
// `go test` kills a test binary after -timeout (10 minutes by default) and
// prints every goroutine, test goroutines among hundreds of others; CI logs
// keep only the tail of that, which rarely names the test that hung. A
// package whose tests drive real processes and sockets calls Watch from its
// TestMain with a budget far above its normal run time: when the budget is
// spent, the goroutines running test code are printed last, where a
// truncated log still shows them, and the binary exits with status 2.
package testwatch
