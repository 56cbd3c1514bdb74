package local

// Replicas in network namespaces (Options.NetworkNamespaces).
//
// Each replica gets its own network namespace "fl-<environment>_<replica>"
// joined to the host by a veth pair (internal/packet): the replica sees an
// eth0 with a /30 address from 10.213.0.0/16 (its POD_IP) and a default
// route through the host side. So that the packet network backend can
// fault one replica's packets on its own devices:
//   - the replica listens inside its namespace on POD_IP:PORT (a program
//     that binds 127.0.0.1 is unreachable there: bind $POD_IP or 0.0.0.0);
//   - gateways and probes dial POD_IP instead of 127.0.0.1 (an exec probe
//     runs inside the namespace);
//   - the replica's <DEP>_URL listeners listen on the host side of its
//     veth, the only host address it can reach;
//   - a call from replica A to replica B leaves faultline's proxy with A's
//     host-side address as its source, so B's namespace sees who calls it
//     and a fault with a target can pick A's traffic out on B's devices.
//
// The namespace lives as long as the replica (restarts and recreations
// keep it, as they keep its listener ports); it is removed when the
// replica is deleted, when the supervisor stops, and by CleanupDir after
// a crash.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/faultline-dev/faultline/internal/packet"
)

// netnsName is the network namespace of a replica.
func netnsName(env, replica string) string {
	return envNetnsPrefix(env) + replica
}

// envNetnsPrefix starts the names of every namespace of env; the "_"
// cannot occur in environment names, so no environment's prefix is
// another's.
func envNetnsPrefix(env string) string { return packet.NamespacePrefix + env + "_" }

// envTablePrefix starts the nftables tables of env's injections.
func envTablePrefix(env string) string { return packet.TablePrefix + env + "_" }

// checkNetworkNamespaces says why this process cannot put replicas in
// network namespaces, and removes namespaces a previous supervisor of env
// left (the caller has made sure none runs).
func checkNetworkNamespaces(env string) error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces for replicas need root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run faultline as root, or without network namespaces")
	}
	if strings.ContainsAny(env, "_/") {
		return fmt.Errorf("environment %q: a name with '_' or '/' cannot name network namespaces", env)
	}
	if _, err := packet.Cleanup(context.Background(), packet.CleanupOptions{NamespacePrefix: envNetnsPrefix(env), TablePrefix: envTablePrefix(env)}); err != nil {
		return fmt.Errorf("remove the network namespaces a previous run of %s left: %w", env, err)
	}
	return nil
}

// createNetnsLocked gives r its namespace when the supervisor runs
// replicas in namespaces (no-op otherwise, or when r has one).
func (s *Supervisor) createNetnsLocked(r *replica) error {
	if !s.opts.NetworkNamespaces || r.net != nil {
		return nil
	}
	n, err := packet.CreateNamespace(netnsName(s.plan.name, r.name))
	if err != nil {
		return fmt.Errorf("replica %s: %w", r.name, err)
	}
	r.net = n
	return nil
}

// removeNetnsLocked deletes r's namespace and veth.
func (s *Supervisor) removeNetnsLocked(r *replica) error {
	if r.net == nil {
		return nil
	}
	name := r.net.Name
	r.net = nil
	if err := packet.DeleteNamespace(name); err != nil {
		return fmt.Errorf("replica %s: %w", r.name, err)
	}
	return nil
}

// cleanupEnvNetworks removes env's namespaces, veths, tables and qdiscs
// after its supervisor died (CleanupDir).
func cleanupEnvNetworks(env string) error {
	names, err := packet.ListNamespaces(envNetnsPrefix(env))
	if err != nil {
		return err
	}
	// Without root or without nf_tables the host cannot hold tables of
	// ours: an environment that never used the packet backend must not
	// fail its cleanup over it.
	tables, _ := packet.ListTables("", envTablePrefix(env))
	if len(names) == 0 && len(tables) == 0 {
		return nil
	}
	_, err = packet.Cleanup(context.Background(), packet.CleanupOptions{NamespacePrefix: envNetnsPrefix(env), TablePrefix: envTablePrefix(env)})
	return err
}

// podIP is the address the replica listens on and is dialled at.
func (r *replica) podIP() string {
	if r.net != nil {
		return r.net.PeerIP.String()
	}
	return "127.0.0.1"
}

// hostIP is the host's address as the replica reaches it: where its
// <DEP>_URL listeners listen.
func (r *replica) hostIP() net.IP {
	if r.net != nil {
		return net.IP(r.net.HostIP.AsSlice())
	}
	return net.IPv4(127, 0, 0, 1)
}

// netnsPath is the bind mount of r's namespace, "" without one.
func (r *replica) netnsPath() string {
	if r.net == nil {
		return ""
	}
	return filepath.Join(packet.NetnsDir, r.net.Name)
}

// ReplicaNetwork is a replica's network namespace as the packet backend
// needs it.
type ReplicaNetwork struct {
	Namespace string
	// HostVeth is the host side of its veth pair; the namespace side is
	// eth0.
	HostVeth string
	// PodIP is the replica's address; HostIP the host side's.
	PodIP, HostIP string
}

// replicaNetwork returns the network namespace of replica name; ok is
// false when it has none.
func (s *Supervisor) replicaNetwork(name string) (ReplicaNetwork, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.replicas[name]
	if r == nil || r.net == nil {
		return ReplicaNetwork{}, false
	}
	return ReplicaNetwork{Namespace: r.net.Name, HostVeth: r.net.HostVeth, PodIP: r.net.PeerIP.String(), HostIP: r.net.HostIP.String()}, true
}

// NetworkNamespaces reports whether replicas run in network namespaces.
func (s *Supervisor) NetworkNamespaces() bool { return s.opts.NetworkNamespaces }
