// Package netpath benchmarks the network data path of the embedded engine:
// what a hop that faultline owns costs when no fault is active, against a
// direct connection and against toxiproxy, all measured in the same run.
//
// The package has no code of its own, only benchmarks (netpath_test.go) and
// the upstream server they drive (testdata/upstream). A real local
// environment runs that server as two replicas (an HTTP service and a raw
// TCP bulk service) in their own processes, and four paths reach the same
// replica over loopback:
//
//   - direct: the client connects to the replica's port;
//   - gateway: through the service's gateway, the idle hop (splice(2) both
//     ways), which is what every request crosses when no fault is active;
//   - netfault: through the same gateway, but the connection is intercepted
//     and served by netfault.Serve with an empty fault Set: the slow path a
//     network fault puts a hop on, without any fault's own cost;
//   - toxiproxy: through a github.com/Shopify/toxiproxy/v2 proxy (library,
//     no toxics) in front of the same replica.
//
// The figures are latency percentiles on one keep-alive connection (and
// what each hop adds to the direct path), requests per second over 16
// keep-alive connections, and bulk throughput in each direction, each path
// interleaved with the others so that a shared machine's drift hits all of
// them alike; ratios are reported next to the absolute figures. See
// docs/BENCHMARKS.md for the command and a reading of the results.
package netpath
