// Package httpfault is an HTTP/1.x and h2c (HTTP/2 over cleartext, prior
// knowledge) fault proxy with Chaos Mesh HTTPChaos semantics: it sits on
// one proxied TCP connection and aborts, delays, replaces or patches the
// requests or responses that match a rule.
//
// Compile turns an HTTPChaosSpec into a Rule; a Set holds the live rules of
// a hop (read again for every request, so rules added to or removed from a
// Set reach connections already being served); Serve proxies one
// connection through a Set. Every Rule counts what it did (Stats) so a
// report can show asked versus measured.
//
// # Semantics (Chaos Mesh's chaos-tproxy, matched on purpose)
//
//   - Matching: port (the upstream's port), path (a glob on the request's
//     URI path where * matches any run of characters, / included, and ?
//     one character, like the wildmatch crate), method (exact), request
//     headers (every listed header has a value equal to the given one),
//     and for target Response also code and response headers. Request
//     rules match the request as the client sent it; response rules match
//     the request as it was forwarded (after request rules) and the
//     response as the server sent it. code is ignored for target Request.
//   - Every matching rule applies, in the Set's order; per rule the order is
//     abort → delay → replace → patch.
//   - abort: the connection is closed with no response (HTTP/1; earlier
//     pipelined responses are delivered first). On HTTP/2 only the stream
//     is reset (RST_STREAM), since other streams share the connection.
//   - delay: the request is held before it is forwarded (target Request),
//     or the response after its header arrived (target Response).
//   - replace: method, path (the query is kept), queries (set per name),
//     headers (set: every value of the name is replaced), code, body (the
//     original body is read and dropped; Content-Length is set to the new
//     body's length).
//   - patch: queries and headers are appended; body JSON is an RFC 7396
//     merge patch of the body. A body that is not JSON, or larger than the
//     Set's body limit (DefaultMaxBody), cannot be patched: like Chaos
//     Mesh, whose proxy fails the exchange, the connection is aborted and
//     the rule's Failed counter says so.
//
// # Where this differs from Chaos Mesh
//
//   - Chaos Mesh only intercepts connections opened after the fault
//     starts; here a Set reaches keep-alive connections too (the gateway
//     re-routes live connections), at their next request boundary.
//   - replace.queries keeps repeated values of the names it does not set
//     (Chaos Mesh collapses every name to one value) and encodes the
//     query sorted by name.
//   - TLS is refused: the embedded engine's hops are plaintext, so there
//     is nothing to decrypt; the kube engine with Chaos Mesh installed
//     handles HTTPChaos.tls.
//   - A bad request after the first one on a connection gets a 400 and
//     the connection is closed. Bytes that do not start with a request
//     line when Serve starts are relayed untouched (as Chaos Mesh falls
//     back to a TCP relay on a parse error): Serve may start in the middle
//     of an exchange on a live connection, and a server answers garbage
//     with its own 400.
//
// # Protocols
//
// HTTP/1.0 and 1.1 are parsed by hand so that a request or response no
// rule changes is relayed byte for byte (header order and case, chunk
// sizes, trailers). Bodies are streamed, never buffered, unless a patch
// needs them. Keep-alive, pipelining, chunked bodies, Expect:
// 100-continue (answered by the proxy when a rule buffers or replaces the
// body), Connection: close and close-delimited responses work. Upgrade
// (WebSocket and the like) is relayed as raw bytes after a 101; an h2c
// upgrade (Upgrade: h2c) is refused by removing the upgrade headers, so
// the exchange continues in HTTP/1.1, which the rules can see.
//
// HTTP/2 with prior knowledge (the client sends the "PRI * HTTP/2.0"
// preface) is served with golang.org/x/net/http2: an http2.Server on the
// client side and an http2.ClientConn over the upstream connection; rules
// apply per stream.
//
// # Handing back
//
// When ctx is cancelled Serve returns ErrStopped as soon as the
// connection is at a request boundary with nothing buffered and no
// exchange in flight (an idle keep-alive connection does so at once), so
// the caller can go back to relaying raw bytes without losing or
// reordering any. An HTTP/2 connection cannot be handed back in the middle
// of its framing: it is drained instead (GOAWAY; streams in flight finish,
// the client opens a new connection for new requests) and Serve returns
// nil. Callers that only change rules should swap them in the Set and
// keep ctx alive.
package httpfault
