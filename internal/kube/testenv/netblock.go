package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
)

// netBlock is the address space an environment owns. kwok hands out pod IPs
// from podCIDR, 10.<100+i>.0.0/16; those are what the API shows (status.podIP,
// EndpointSlices, which refuse loopback addresses). Each pod IP has a
// loopback twin, 127.<64+2i>.A.B for 10.<100+i>.A.B, on which an exec pod's
// process listens and through which probes and the Service stand-in reach it;
// Linux routes all of 127/8 to lo, so the twins are bindable and dialable
// without root or setup. The Service stand-in (svcproxy.go) listens on
// svcBase+<ClusterIP offset>.
//
// Several environments may run at once (parallel test packages, a test that
// starts its own next to a shared one), and two kwoks with the same --cidr
// would hand out the same pod IPs, so each environment takes a block under an
// exclusive flock on a file in the temp dir. The kernel drops the lock when
// the process dies, so a killed test never leaks a block.
type netBlock struct {
	index    int
	podCIDR  netip.Prefix // 10.<100+i>.0.0/16
	loopBase netip.Addr   // 127.<64+2i>.0.0: twin of podCIDR
	svcBase  netip.Addr   // 127.<65+2i>.0.0: ClusterIP 10.0.0.N -> 127.<65+2i>.0.N
	nodeIP   netip.Addr   // 10.99.<i>.1
	lock     *os.File
}

const (
	netBlocks     = 64 // pods 10.100-163.0.0/16; twins and services in 127.64-191
	netBlockFirst = 64
	// serviceCIDR is the apiserver's --service-cluster-ip-range.
	serviceCIDR = "10.0.0.0/24"
)

// allocNetBlock takes a free block, trying them from a random one so that
// environments starting together rarely contend.
func allocNetBlock() (*netBlock, error) {
	start := rand.IntN(netBlocks)
	var errs []error
	for n := range netBlocks {
		i := (start + n) % netBlocks
		path := filepath.Join(os.TempDir(), fmt.Sprintf("faultline-kubenet-%d.lock", i))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			_ = f.Close()
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				errs = append(errs, fmt.Errorf("flock %s: %w", path, err))
			}
			continue
		}
		hi := byte(netBlockFirst + 2*i)
		return &netBlock{
			index:    i,
			podCIDR:  netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(100 + i), 0, 0}), 16),
			loopBase: netip.AddrFrom4([4]byte{127, hi, 0, 0}),
			svcBase:  netip.AddrFrom4([4]byte{127, hi + 1, 0, 0}),
			nodeIP:   netip.AddrFrom4([4]byte{10, 99, byte(i), 1}),
			lock:     f,
		}, nil
	}
	return nil, fmt.Errorf("no free loopback block for pod IPs among %d (each environment holds one): %w", netBlocks, errors.Join(errs...))
}

// release gives the block back. Safe on nil.
func (b *netBlock) release() {
	if b == nil || b.lock == nil {
		return
	}
	_ = b.lock.Close() // closing the descriptor drops the flock
	b.lock = nil
}

// serviceAddr maps a ClusterIP of serviceCIDR to its loopback address.
func (b *netBlock) serviceAddr(clusterIP string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(clusterIP)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("cluster IP %q: %w", clusterIP, err)
	}
	cidr := netip.MustParsePrefix(serviceCIDR)
	if !ip.Is4() || !cidr.Contains(ip) {
		return netip.Addr{}, fmt.Errorf("cluster IP %s outside the service range %s", ip, cidr)
	}
	a, c := ip.As4(), b.svcBase.As4()
	c[3] = a[3] // a /24: the offset is the last byte
	return netip.AddrFrom4(c), nil
}

// loopback returns the loopback twin of a pod IP of this block, and false
// for any other address.
func (b *netBlock) loopback(podIP string) (string, bool) {
	ip, err := netip.ParseAddr(podIP)
	if err != nil || !b.podCIDR.Contains(ip) {
		return "", false
	}
	a, l := ip.As4(), b.loopBase.As4()
	l[2], l[3] = a[2], a[3]
	return netip.AddrFrom4(l).String(), true
}
