package local

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/packet"
)

// needNetns skips a test that puts replicas in network namespaces.
func needNetns(t *testing.T) {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root: replicas in network namespaces (veth pairs, nftables, qdiscs)")
	}
}

// netnsOptions are testOptions with replicas in network namespaces.
func netnsOptions(t *testing.T) Options {
	o := testOptions(t)
	o.NetworkNamespaces = true
	return o
}

// envLeftovers lists the kernel objects of env's namespaces, veths and
// tables that still exist.
func envLeftovers(t *testing.T, env string) []string {
	t.Helper()
	all, err := packet.Leftovers()
	if err != nil {
		t.Fatal(err)
	}
	names, _ := packet.ListNamespaces(envNetnsPrefix(env))
	veths := map[string]bool{}
	for _, n := range names {
		veths[packet.VethName(n)] = true
	}
	var out []string
	for _, s := range all {
		f := strings.Fields(s)
		if strings.Contains(s, envNetnsPrefix(env)) || strings.Contains(s, envTablePrefix(env)) || len(f) == 2 && veths[f[1]] {
			out = append(out, s)
		}
	}
	return out
}

func TestNetworkNamespacesNeedRoot(t *testing.T) {
	if isRoot() {
		t.Skip("runs as non-root only: checks the error a non-root user gets")
	}
	s, err := New(testEnvironment("nsnoroot"), netnsOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "need root") {
		t.Fatalf("Start without root: %v, want an error saying root is needed", err)
	}
}

// TestReplicasInNetworkNamespaces: every replica gets its namespace, its
// address, and is reached through the gateway, its dependencies through
// its <DEP>_URL; the namespaces go with the environment.
func TestReplicasInNetworkNamespaces(t *testing.T) {
	needNetns(t)
	const env = "nsenv"
	s := startEnv(t, testEnvironment(env), netnsOptions(t))
	waitReady(t, s)
	seen := map[string]bool{}
	for _, r := range s.Status().Replicas {
		ip, err := netip.ParseAddr(r.IP)
		if err != nil || !packet.AddressRange.Contains(ip) {
			t.Errorf("replica %s: IP %q, want one in %s", r.Name, r.IP, packet.AddressRange)
		}
		if seen[r.IP] {
			t.Errorf("replica %s: IP %s given twice", r.Name, r.IP)
		}
		seen[r.IP] = true
		if _, err := os.Stat("/run/netns/" + netnsName(env, r.Name)); err != nil {
			t.Errorf("replica %s: %v", r.Name, err)
		}
		n, ok := s.replicaNetwork(r.Name)
		if !ok || n.PodIP != r.IP {
			t.Errorf("replica %s: network %+v", r.Name, n)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("%d replicas with addresses, want 4\n%s", len(seen), dumpStatus(s))
	}
	// Ingress: the gateway reaches both replicas in their namespaces.
	names := map[string]bool{}
	for range 20 {
		body, err := httpGet(gatewayURL(t, s, "backend") + "/")
		if err != nil {
			t.Fatal(err)
		}
		names[body] = true
	}
	if !names["backend-0"] || !names["backend-1"] {
		t.Errorf("the gateway reached %v, want both backend replicas", names)
	}
	// The process sees its namespace's address as POD_IP.
	ip, err := httpGet(gatewayURL(t, s, "api") + "/env?k=POD_IP")
	if err != nil || !seen[ip] {
		t.Errorf("POD_IP %q (%v), want a replica's address", ip, err)
	}
	// Egress: api reaches backend through the listener on its veth's
	// host side.
	url, err := httpGet(gatewayURL(t, s, "api") + "/env?k=BACKEND_URL")
	if err != nil || !strings.HasPrefix(url, "http://10.213.") {
		t.Errorf("BACKEND_URL %q (%v), want the host side of the replica's veth", url, err)
	}
	body, err := httpGet(gatewayURL(t, s, "api") + "/dep?name=BACKEND")
	if err != nil || !strings.HasPrefix(body, "backend-") {
		t.Errorf("api → backend: %q, %v", body, err)
	}
	// The replica is not on the host's loopback any more.
	if _, err := httpGet(replicaURL(t, s, "backend-0") + "/"); err == nil {
		t.Error("backend-0 answers on the host's 127.0.0.1: it is not in its namespace")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if left := envLeftovers(t, env); len(left) != 0 {
		t.Errorf("left after shutdown: %v", left)
	}
}

// TestNetworkNamespacesScale: a replica added by a scale-up gets a
// namespace, one removed by a scale-down loses it.
func TestNetworkNamespacesScale(t *testing.T) {
	needNetns(t)
	const env = "nsscale"
	s := startEnv(t, testEnvironment(env), netnsOptions(t))
	waitReady(t, s)
	if _, err := s.Scale("backend", 3); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "backend-2 ready", func() bool { r, ok := s.Replica("backend-2"); return ok && r.Ready })
	if _, err := os.Stat("/run/netns/" + netnsName(env, "backend-2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scale("backend", 1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "backend-1 and -2 removed with their namespaces", func() bool {
		_, ok1 := s.Replica("backend-1")
		_, ok2 := s.Replica("backend-2")
		names, _ := packet.ListNamespaces(envNetnsPrefix(env) + "backend-")
		return !ok1 && !ok2 && len(names) == 1
	})
}
