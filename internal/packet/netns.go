package packet

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Name prefixes of everything this package creates; Cleanup looks for them.
const (
	// NamespacePrefix starts every network namespace name.
	NamespacePrefix = "fl-"
	// VethPrefix starts every host-side veth name.
	VethPrefix = "fl"
	// TablePrefix starts every nftables table name.
	TablePrefix = "faultline_"
	// PeerDevice is the namespace side of every veth pair.
	PeerDevice = "eth0"
)

// NetnsDir is where named network namespaces are bind-mounted, as by
// iproute2.
const NetnsDir = "/run/netns"

// AddressRange is the private range the /30 point-to-point links are
// carved from.
var AddressRange = netip.MustParsePrefix("10.213.0.0/16")

// allocLock serializes address allocation between faultline processes.
const allocLock = "/run/faultline-netns.lock"

// Namespace is one named network namespace joined to the host by a veth
// pair with point-to-point addresses.
type Namespace struct {
	// Name is the namespace's name under /run/netns ("fl-…").
	Name string
	// HostVeth is the host-side device; PeerDevice (eth0) its peer inside.
	HostVeth string
	// HostIP is the host side's address; PeerIP the namespace side's (its
	// "pod IP"); both in Prefix, a /30.
	HostIP, PeerIP netip.Addr
	Prefix         netip.Prefix
}

// Path is the namespace's bind mount.
func (n *Namespace) Path() string { return filepath.Join(NetnsDir, n.Name) }

// VethName is the host-side veth of the namespace called name: "fl" and
// ten hex digits of its hash (device names have at most 15 bytes).
func VethName(namespace string) string {
	sum := sha256.Sum256([]byte(namespace))
	return VethPrefix + hex.EncodeToString(sum[:5])
}

// IsVethName reports whether dev is named like one of our host-side veths.
func IsVethName(dev string) bool {
	rest, ok := strings.CutPrefix(dev, VethPrefix)
	if !ok || len(rest) != 10 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// CheckName says why name cannot be a namespace of ours.
func CheckName(name string) error {
	if !strings.HasPrefix(name, NamespacePrefix) {
		return fmt.Errorf("network namespace %q: the name must start with %q", name, NamespacePrefix)
	}
	if len(name) > 200 || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return fmt.Errorf("network namespace %q: not a valid file name", name)
	}
	return nil
}

// CreateNamespace creates the network namespace name ("fl-…") with a veth
// pair to the host: addresses, lo and both ends up, and a default route
// through the host side. On failure it removes whatever it created.
func CreateNamespace(name string) (n *Namespace, err error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", NetnsDir, err)
	}
	unlock, err := lockFile(allocLock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Lstat(filepath.Join(NetnsDir, name)); err == nil {
		return nil, fmt.Errorf("network namespace %s already exists", name)
	}
	prefix, err := allocPrefix(name)
	if err != nil {
		return nil, err
	}
	base := prefix.Addr().As4()
	host, peer := base, base
	host[3]++
	peer[3] += 2
	n = &Namespace{Name: name, HostVeth: VethName(name), HostIP: netip.AddrFrom4(host), PeerIP: netip.AddrFrom4(peer), Prefix: prefix}
	defer func() {
		if err != nil {
			_ = DeleteNamespace(name)
		}
	}()
	if err := newNamedNetns(name); err != nil {
		return nil, err
	}
	ns, err := netns.GetFromPath(n.Path())
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	defer ns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n.HostVeth}, PeerName: PeerDevice, PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("network namespace %s: add veth %s: %w", name, n.HostVeth, err)
	}
	hostLink, err := netlink.LinkByName(n.HostVeth)
	if err != nil {
		return nil, fmt.Errorf("veth %s: %w", n.HostVeth, err)
	}
	if err := netlink.AddrAdd(hostLink, p2pAddr(n.HostIP, prefix)); err != nil {
		return nil, fmt.Errorf("veth %s: add address %s: %w", n.HostVeth, n.HostIP, err)
	}
	if err := netlink.LinkSetUp(hostLink); err != nil {
		return nil, fmt.Errorf("veth %s: set up: %w", n.HostVeth, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: netlink: %w", name, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: lo: %w", name, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("network namespace %s: set lo up: %w", name, err)
	}
	peerLink, err := h.LinkByName(PeerDevice)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %s: %w", name, PeerDevice, err)
	}
	if err := h.AddrAdd(peerLink, p2pAddr(n.PeerIP, prefix)); err != nil {
		return nil, fmt.Errorf("network namespace %s: add address %s: %w", name, n.PeerIP, err)
	}
	if err := h.LinkSetUp(peerLink); err != nil {
		return nil, fmt.Errorf("network namespace %s: set %s up: %w", name, PeerDevice, err)
	}
	gw := net.IP(n.HostIP.AsSlice())
	if err := h.RouteAdd(&netlink.Route{LinkIndex: peerLink.Attrs().Index, Gw: gw}); err != nil {
		return nil, fmt.Errorf("network namespace %s: default route via %s: %w", name, n.HostIP, err)
	}
	return n, nil
}

func p2pAddr(ip netip.Addr, prefix netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(prefix.Bits(), 32)}}
}

// OpenNamespace describes the existing namespace name from the kernel: its
// veth and addresses.
func OpenNamespace(name string) (*Namespace, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	n := &Namespace{Name: name, HostVeth: VethName(name)}
	link, err := netlink.LinkByName(n.HostVeth)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: veth %s: %w", name, n.HostVeth, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("network namespace %s: veth %s has no IPv4 address (%v)", name, n.HostVeth, err)
	}
	ip, _ := netip.AddrFromSlice(addrs[0].IP.To4())
	ones, _ := addrs[0].Mask.Size()
	n.HostIP = ip
	n.Prefix = netip.PrefixFrom(ip, ones).Masked()
	peer := n.Prefix.Addr().As4()
	peer[3] += 2
	n.PeerIP = netip.AddrFrom4(peer)
	return n, nil
}

// DeleteNamespace removes the namespace name and its veth pair. A missing
// namespace or veth is not an error: recover passes call it repeatedly.
func DeleteNamespace(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	var errs []error
	// Deleting either end deletes the pair; the host side also goes when
	// the namespace dies, but a process still inside would keep it alive.
	if link, err := netlink.LinkByName(VethName(name)); err == nil {
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", link.Attrs().Name, err))
		}
	}
	p := filepath.Join(NetnsDir, name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
	}
	return errors.Join(errs...)
}

// ListNamespaces lists the named namespaces whose names start with prefix
// (at least NamespacePrefix).
func ListNamespaces(prefix string) ([]string, error) {
	if !strings.HasPrefix(prefix, NamespacePrefix) {
		prefix = NamespacePrefix
	}
	ents, err := os.ReadDir(NetnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", NetnsDir, err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// newNamedNetns makes a new network namespace and bind-mounts it at
// /run/netns/name, as `ip netns add` does.
func newNamedNetns(name string) error {
	p := filepath.Join(NetnsDir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	f.Close()
	return onFreshThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare the network namespace: %w", err)
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, p, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount the network namespace on %s: %w", p, err)
		}
		return nil
	})
}

// onFreshThread runs fn on a goroutine locked to its own OS thread and
// lets that thread die afterwards (no UnlockOSThread): fn may change the
// thread's namespaces, and a thread in a foreign namespace must never run
// other goroutines.
func onFreshThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- fn()
	}()
	return <-done
}

// Do runs fn on an OS thread inside the namespace; sockets fn opens belong
// to the namespace and may be used from any goroutine afterwards.
func (n *Namespace) Do(fn func() error) error { return InNamespace(n.Name, fn) }

// InNamespace runs fn on an OS thread inside the named namespace ("" is
// the caller's own: fn simply runs).
func InNamespace(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	ns, err := netns.GetFromPath(filepath.Join(NetnsDir, name))
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", name, err)
	}
	defer ns.Close()
	return onFreshThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", name, err)
		}
		return fn()
	})
}

// allocPrefix picks a free /30 in AddressRange for name: one no host
// address falls in, starting at a hash of the name so that names usually
// get the same block.
func allocPrefix(name string) (netip.Prefix, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list host addresses: %w", err)
	}
	used := map[int]bool{}
	base := AddressRange.Addr().As4()
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok || !AddressRange.Contains(ip) {
			continue
		}
		b := ip.As4()
		used[(int(b[2])<<8|int(b[3]))/4] = true
	}
	if err := checkRoutes(); err != nil {
		return netip.Prefix{}, err
	}
	blocks := 1 << (32 - AddressRange.Bits() - 2)
	h := fnv.New32a()
	h.Write([]byte(name))
	start := int(h.Sum32() % uint32(blocks))
	for i := range blocks {
		b := (start + i) % blocks
		if used[b] {
			continue
		}
		a := base
		a[2] = byte(b >> 6)
		a[3] = byte(b%64) * 4
		return netip.PrefixFrom(netip.AddrFrom4(a), 30), nil
	}
	return netip.Prefix{}, fmt.Errorf("no free /30 left in %s", AddressRange)
}

// checkRoutes refuses to use AddressRange when a host route inside it is
// not on one of our veths: our links would shadow a real network.
func checkRoutes() error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		dst := netip.PrefixFrom(ip, ones)
		// Broader routes (the default route, 10.0.0.0/8) are fine: our
		// /30s are more specific. A route inside the range is a network
		// that our links would shadow.
		if !dst.Overlaps(AddressRange) || dst.Bits() < AddressRange.Bits() {
			continue
		}
		if link, err := netlink.LinkByIndex(r.LinkIndex); err == nil && IsVethName(link.Attrs().Name) {
			continue
		}
		return fmt.Errorf("host route %s overlaps %s, the range faultline's network namespaces use", dst, AddressRange)
	}
	return nil
}

// lockFile takes an exclusive flock on path (created if needed).
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
