// Package cli wires faultline's commands (cobra): flag parsing, reading -f
// inputs, output formats (-o table|json|yaml) and exit codes. Commands stay
// thin; the work happens in the packages they call.
//
// Exit codes: 0 success, 1 invalid input or failed verdict, 2 usage error,
// 3 aborted by a stop condition.
package cli
