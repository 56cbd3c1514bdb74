package packet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// QdiscHandle is the handle (fa17:) of every qdisc this package adds, so a
// recover pass tells ours from the system's.
const QdiscHandle = 0xfa170000

// TBF is a token bucket filter, with Chaos Mesh's BandwidthSpec fields:
// Rate in bytes per second; Limit, the bytes that may wait for tokens
// (more are dropped); Buffer, the bucket in bytes (the burst sent at line
// rate; it must hold at least one packet, so it is raised to the device's
// MTU when smaller); Peakrate (bytes per second) and Minburst (bytes) are
// optional and go together.
type TBF struct {
	Rate     uint64
	Limit    uint32
	Buffer   uint32
	Peakrate uint64
	Minburst uint32
}

// QdiscStats are a qdisc's counters.
type QdiscStats struct {
	Bytes, Packets, Drops, Overlimits uint64
	Backlog                           uint32
}

// handle opens a netlink handle in namespace ns ("" is the host's).
func handle(ns string) (*netlink.Handle, error) {
	if ns == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
		return h, nil
	}
	nh, err := netns.GetFromPath(filepath.Join(NetnsDir, ns))
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	defer nh.Close()
	h, err := netlink.NewHandleAt(nh)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	return h, nil
}

func namespaceExists(ns string) bool {
	_, err := os.Stat(filepath.Join(NetnsDir, ns))
	return err == nil
}

// netIfindex is the index of dev in the calling thread's namespace.
func netIfindex(dev string) (uint32, error) {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return 0, err
	}
	return uint32(l.Attrs().Index), nil
}

// AddTBF makes a tbf the root qdisc of device dev in namespace ns (it
// shapes what dev transmits), replacing ours if there is one.
func AddTBF(ns, dev string, t TBF) error {
	if t.Rate == 0 {
		return errors.New("tbf: rate must be above 0")
	}
	if t.Limit == 0 {
		return errors.New("tbf: limit must be at least 1 byte")
	}
	if (t.Peakrate == 0) != (t.Minburst == 0) {
		return errors.New("tbf: peakrate and minburst go together")
	}
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("tbf: device %s in %s: %w", dev, nsLabel(ns), err)
	}
	buffer := t.Buffer
	// Packets larger than the bucket could never be sent (tbf drops
	// them); Chaos Mesh examples use buffers of 10000 bytes and more.
	if mtu := uint32(link.Attrs().MTU) + 14; buffer < mtu {
		buffer = mtu
	}
	q := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Handle: QdiscHandle, Parent: netlink.HANDLE_ROOT},
		Rate:       t.Rate, Limit: t.Limit,
		// The kernel wants the bucket as the time to send it at rate.
		Buffer:   netlink.Xmittime(t.Rate, buffer),
		Peakrate: t.Peakrate, Minburst: t.Minburst,
	}
	if err := h.QdiscReplace(q); err != nil {
		return fmt.Errorf("tbf: add on %s in %s: %w", dev, nsLabel(ns), err)
	}
	return nil
}

// ourRoot returns our root qdisc on dev, nil when there is none.
func ourRoot(h *netlink.Handle, dev string) (netlink.Link, netlink.Qdisc, error) {
	link, err := h.LinkByName(dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	qs, err := h.QdiscList(link)
	if err != nil {
		return nil, nil, err
	}
	for _, q := range qs {
		a := q.Attrs()
		if a.Parent == netlink.HANDLE_ROOT && a.Handle == QdiscHandle {
			return link, q, nil
		}
	}
	return link, nil, nil
}

// DeleteTBF removes our root qdisc from dev in ns; none (or no such device
// or namespace) is not an error.
func DeleteTBF(ns, dev string) error {
	if ns != "" && !namespaceExists(ns) {
		return nil
	}
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	_, q, err := ourRoot(h, dev)
	if err != nil {
		return fmt.Errorf("tbf: %s in %s: %w", dev, nsLabel(ns), err)
	}
	if q == nil {
		return nil
	}
	if err := h.QdiscDel(q); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("tbf: delete on %s in %s: %w", dev, nsLabel(ns), err)
	}
	return nil
}

// TBFStats reads the counters of our qdisc on dev in ns.
func TBFStats(ns, dev string) (QdiscStats, error) {
	var s QdiscStats
	h, err := handle(ns)
	if err != nil {
		return s, err
	}
	defer h.Close()
	_, q, err := ourRoot(h, dev)
	if err != nil {
		return s, fmt.Errorf("tbf: %s in %s: %w", dev, nsLabel(ns), err)
	}
	if q == nil {
		return s, fmt.Errorf("tbf: none of ours on %s in %s", dev, nsLabel(ns))
	}
	st := q.Attrs().Statistics
	if st == nil || st.Basic == nil {
		return s, fmt.Errorf("tbf: no statistics on %s in %s", dev, nsLabel(ns))
	}
	s.Bytes, s.Packets = st.Basic.Bytes, uint64(st.Basic.Packets)
	if st.Queue != nil {
		s.Drops, s.Overlimits, s.Backlog = uint64(st.Queue.Drops), uint64(st.Queue.Overlimits), st.Queue.Backlog
	}
	return s, nil
}

// HaveNetem reports whether the kernel can run the netem qdisc (delay,
// reorder), by trying to add one to a device of a throw-away namespace;
// the error says why not.
func HaveNetem() (bool, error) {
	var have bool
	err := onFreshThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("netem check: unshare: %w", err)
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("netem check: %w", err)
		}
		q := &netlink.Netem{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: lo.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}, Latency: 1000}
		err = netlink.QdiscAdd(q)
		have = err == nil
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("netem check: %w", err)
		}
		return nil
	})
	return have, err
}
