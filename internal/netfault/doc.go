// Package netfault is the proxy backend of network faults: stream-level
// faults (latency, bandwidth, partition, reset) applied to one proxied TCP
// connection pair, in the spirit of toxiproxy's toxics.
//
// The extension point is Fault: it sees each chunk of one direction of the
// stream, in order, on that direction's writer goroutine, and says what to do
// with it (pass, drop, refuse, reset); it may wait before passing it (delay,
// shaping). Faults start no goroutines of their own, so a link costs four
// goroutines (a reader and a writer per direction) whatever its faults.
//
// A Set holds the faults of each direction and is shared by every link it
// shapes; replacing its faults reaches live links at their next chunk, wakes a
// chunk waiting in a fault, and is also announced to idle links, so
// injecting or reverting acts on existing connections at once.
//
// Serve has the shape of the local engine's gateway Pipe (client and upstream
// *net.TCPConn, a context whose cancellation hands the connection back), so
// wiring it into the supervisor's Interceptor is an adapter: ErrStopped maps
// to local.ErrHandBack.
//
// Every fault measures what it did (added delay per chunk, bytes per second
// actually passed, connections reset or black-holed) for the asked-vs-measured
// fidelity figures of the report.
//
// Written by hand rather than on toxiproxy's library: toxiproxy owns its
// listeners and proxies by name, while faultline's hops are sockets the
// supervisor already owns and hands over per connection.
package netfault
