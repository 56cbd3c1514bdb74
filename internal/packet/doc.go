// Package packet is faultline's kernel-level network fault backend: it puts
// a process in its own network namespace joined to the host by a veth pair,
// and impairs the packets crossing that pair with nftables (loss,
// duplicate, corrupt, partition) and a tbf qdisc (bandwidth). Everything it
// creates carries a fixed name prefix so that a recover pass after a crash
// finds and removes it (Cleanup):
//
//   - network namespaces "fl-…", bind-mounted under /run/netns like
//     `ip netns add` does, so `ip netns list` shows them;
//   - host-side veth devices "fl" + 10 hex digits (a hash of the namespace
//     name); the namespace side is always called eth0, as in a pod;
//   - nftables tables "faultline_…" (family netdev);
//   - tbf qdiscs with handle fa17: on those veths.
//
// Addresses: every namespace gets a /30 from 10.213.0.0/16 (host side .1,
// namespace side .2 of the block), chosen from a hash of its name and
// probed until no address of the host falls in it. 10.213.0.0/16 is a
// private range rarely used by real networks; CreateNamespace refuses to
// run when a host route that is not ours overlaps it.
//
// Why nftables rather than netem: the kernels faultline targets (e.g.
// Firecracker guests) often ship without sch_netem. nftables' numgen, dup
// and payload expressions express loss, duplication and corruption per
// packet, and rule counters measure what was actually done. Delay and
// reordering need a queue nftables does not have: they need netem (see
// HaveNetem) or faultline's proxy backend.
//
// All rules hook the netdev egress of the device that transmits the
// affected packets (the namespace's eth0 for traffic leaving the
// namespace, the host-side veth for traffic entering it), because a
// duplicate made there ("dup to" the same device) travels the right way.
// Rates count packets as the device sees them: a TSO/GSO super-packet
// counts once.
//
// Everything here needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
package packet
