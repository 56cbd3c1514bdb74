// Package measure turns a run's timeline into the figures the resilience
// literature asks of a distributed AI service — availability, latency and
// throughput per phase, recovery time, consistency of model output — and
// the verdict: each SLO passed or failed, and a resilience score.
//
// Measurement is a pure function of the timeline: no clock, no I/O, no
// randomness. That makes it testable with synthetic timelines and lets a
// stored run be measured again with other SLOs.
//
// docs/measurement.md is the specification: every figure's definition,
// the recovery-time algorithm, the score's formula with a worked example
// (which the tests recompute), and how repeated runs are aggregated.
package measure
