package packet

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Impairment is what a table does to the packets it matches. Percentages
// are 0–100 with 0.01 % resolution. Partition drops everything; otherwise
// each packet is dropped with probability Loss and, if it survives,
// corrupted with probability Corrupt and, independently, duplicated with
// probability Duplicate (the copy of a corrupted packet is corrupted too),
// as netem draws them.
type Impairment struct {
	Partition bool
	Loss      float64
	Duplicate float64
	Corrupt   float64
}

func (im Impairment) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", im.Loss}, {"duplicate", im.Duplicate}, {"corrupt", im.Corrupt}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 100 {
			return fmt.Errorf("%s %v %% is not between 0 and 100", p.name, p.v)
		}
	}
	if !im.Partition && im.Loss == 0 && im.Duplicate == 0 && im.Corrupt == 0 {
		return errors.New("nothing to do: no partition, loss, duplicate or corrupt")
	}
	return nil
}

// Filter selects the IPv4 packets one device transmits. Peers and PeerPort
// narrow it to traffic with these peers: their addresses are matched as
// the destination (PeerIsSource false: the device sends to the peer) or as
// the source (PeerIsSource true: the device carries the peer's packets).
// PeerPort is the peer's TCP or UDP port (0: any).
type Filter struct {
	Device       string
	Peers        []netip.Prefix
	PeerPort     uint16
	PeerIsSource bool
}

// TableSpec is one nftables table: an impairment on the egress of some
// devices of one network namespace.
type TableSpec struct {
	// Name must start with TablePrefix.
	Name string
	// Netns is the namespace's name; "" is the host's.
	Netns      string
	Filters    []Filter
	Impairment Impairment
}

// Counters are what a table's counters say.
type Counters struct {
	// Matched counts the packets the filters selected (originals, not the
	// duplicates the table made).
	Matched uint64 `json:"matched"`
	// Dropped, Corrupted and Duplicated count the packets acted on.
	Dropped    uint64 `json:"dropped"`
	Corrupted  uint64 `json:"corrupted"`
	Duplicated uint64 `json:"duplicated"`
}

// Add adds c's counts to k.
func (k *Counters) Add(c Counters) {
	k.Matched += c.Matched
	k.Dropped += c.Dropped
	k.Corrupted += c.Corrupted
	k.Duplicated += c.Duplicated
}

// Rate is part/Matched as a percentage (0 when nothing matched): the
// measured loss.
func (k Counters) Rate(part uint64) float64 {
	if k.Matched == 0 {
		return 0
	}
	return 100 * float64(part) / float64(k.Matched)
}

// SurvivorRate is part as a percentage of the packets not dropped: the
// measured duplicate and corrupt rates, which are drawn among those.
func (k Counters) SurvivorRate(part uint64) float64 {
	if k.Matched <= k.Dropped {
		return 0
	}
	return 100 * float64(part) / float64(k.Matched-k.Dropped)
}

// Rule tags (rule user data) the counters are read back by.
const (
	tagMatched   = "matched"
	tagDropped   = "dropped"
	tagCorrupted = "corrupted"
	tagDup       = "duplicated"
	tagClone     = "clone"
)

// dupMark marks a duplicate while it is made: the copy passes the same
// egress hook again and must not be impaired (or duplicated) twice.
const dupMark = 0xfa17d0b1

// nft scales: numgen draws 0..9999, so a percentage has 0.01 % resolution.
const numgenModulus = 10000

// conn opens an nftables connection to the namespace ("" is the host's).
func conn(ns string) (*nftables.Conn, func(), error) {
	if ns == "" {
		c, err := nftables.New()
		if err != nil {
			return nil, nil, fmt.Errorf("nftables: %w", err)
		}
		return c, func() {}, nil
	}
	h, err := netns.GetFromPath(filepath.Join(NetnsDir, ns))
	if err != nil {
		return nil, nil, fmt.Errorf("open network namespace %s: %w", ns, err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("nftables in %s: %w", ns, err)
	}
	return c, func() { h.Close() }, nil
}

// InstallTable creates the table spec describes, atomically: either every
// chain and rule is in place or nothing is. A table of the same name is
// replaced.
func InstallTable(spec TableSpec) error {
	if !strings.HasPrefix(spec.Name, TablePrefix) {
		return fmt.Errorf("nftables table %q: the name must start with %q", spec.Name, TablePrefix)
	}
	if len(spec.Filters) == 0 {
		return fmt.Errorf("nftables table %s: no device", spec.Name)
	}
	if err := spec.Impairment.validate(); err != nil {
		return fmt.Errorf("nftables table %s: %w", spec.Name, err)
	}
	c, done, err := conn(spec.Netns)
	if err != nil {
		return err
	}
	defer done()
	ifindex, err := ifindexes(spec)
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: spec.Name, Family: nftables.TableFamilyNetdev}
	// Add+delete+add replaces an old table of the same name in one
	// transaction (deleting a missing table would fail the batch).
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	seen := map[string]bool{}
	for _, f := range spec.Filters {
		if seen[f.Device] {
			return fmt.Errorf("nftables table %s: device %s given twice", spec.Name, f.Device)
		}
		seen[f.Device] = true
		impair := c.AddChain(&nftables.Chain{Name: "impair_" + f.Device, Table: t})
		policy := nftables.ChainPolicyAccept
		base := c.AddChain(&nftables.Chain{Name: "egress_" + f.Device, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookEgress, Priority: nftables.ChainPriorityFilter, Device: f.Device, Policy: &policy})
		for _, m := range matchExprs(f) {
			c.AddRule(&nftables.Rule{Table: t, Chain: base, Exprs: append(m, &expr.Verdict{Kind: expr.VerdictJump, Chain: impair.Name})})
		}
		for _, r := range impairRules(spec.Impairment, ifindex[f.Device]) {
			r.Table, r.Chain = t, impair
			c.AddRule(r)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: install table %s in %s: %w", spec.Name, nsLabel(spec.Netns), err)
	}
	return nil
}

func nsLabel(ns string) string {
	if ns == "" {
		return "the host's network namespace"
	}
	return "network namespace " + ns
}

// ifindexes resolves the filters' devices in the table's namespace (dup
// needs the index).
func ifindexes(spec TableSpec) (map[string]uint32, error) {
	out := map[string]uint32{}
	err := InNamespace(spec.Netns, func() error {
		for _, f := range spec.Filters {
			ifi, err := netIfindex(f.Device)
			if err != nil {
				return fmt.Errorf("nftables table %s: device %s in %s: %w", spec.Name, f.Device, nsLabel(spec.Netns), err)
			}
			out[f.Device] = ifi
		}
		return nil
	})
	return out, err
}

// matchExprs are the match parts of the base chain's rules, one rule per
// peer and protocol: IPv4 only (ARP and IPv6 pass untouched), then the
// peer's address and port.
func matchExprs(f Filter) [][]expr.Any {
	ipv4 := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IP)},
	}
	// IPv4 header: saddr at 12, daddr at 16.
	addrOff := uint32(16)
	// TCP/UDP header: sport at 0, dport at 2.
	portOff := uint32(2)
	if f.PeerIsSource {
		addrOff, portOff = 12, 0
	}
	peers := f.Peers
	if len(peers) == 0 {
		peers = []netip.Prefix{{}}
	}
	var out [][]expr.Any
	for _, p := range peers {
		m := append([]expr.Any{}, ipv4...)
		if p.IsValid() {
			m = append(m, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: 4})
			if p.Bits() < 32 {
				mask := make([]byte, 4)
				copy(mask, netipMask(p.Bits()))
				m = append(m, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}})
			}
			a := p.Masked().Addr().As4()
			m = append(m, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]})
		}
		if f.PeerPort == 0 {
			out = append(out, m)
			continue
		}
		for _, proto := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			r := append(append([]expr.Any{}, m...),
				// ip protocol at offset 9 (no extension headers in IPv4).
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 9, Len: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: portOff, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(f.PeerPort)},
			)
			out = append(out, r)
		}
	}
	return out
}

func netipMask(bits int) []byte {
	m := uint32(0)
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return binaryutil.BigEndian.PutUint32(m)
}

// chance is "numgen random mod 10000 < p*100": the draw is converted to
// network byte order because cmp lt compares bytes (memcmp), as nft does.
func chance(pct float64) []expr.Any {
	threshold := uint32(math.Round(pct * numgenModulus / 100))
	return []expr.Any{
		&expr.Numgen{Register: 1, Modulus: numgenModulus, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(threshold)},
	}
}

// impairRules are the rules of the impair chain of one device.
func impairRules(im Impairment, ifindex uint32) []*nftables.Rule {
	rule := func(tag string, exprs ...expr.Any) *nftables.Rule {
		return &nftables.Rule{Exprs: exprs, UserData: []byte(tag)}
	}
	markIs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(dupMark)},
	}
	rules := []*nftables.Rule{
		// A duplicate we just made passes this hook again: let it go.
		rule(tagClone, append(markIs, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept})...),
		rule(tagMatched, &expr.Counter{}),
	}
	if im.Partition {
		return append(rules, rule(tagDropped, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}))
	}
	if im.Loss > 0 {
		rules = append(rules, rule(tagDropped, append(chance(im.Loss), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})...))
	}
	if im.Corrupt > 0 {
		// Flip every bit of the IPv4 header checksum without fixing it:
		// the receiver's IP layer drops the packet as a checksum error
		// (IpInHdrErrors, IpExtInCsumErrors), as it drops most netem
		// corrupted packets. A payload byte would not do: on veth the
		// transport checksum is offloaded and never verified.
		ex := append(chance(im.Corrupt),
			&expr.Counter{},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 10, Len: 2},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0xff, 0xff}, Xor: []byte{0xff, 0xff}},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 10, Len: 2, CsumType: expr.CsumTypeNone},
		)
		rules = append(rules, rule(tagCorrupted, ex...))
	}
	if im.Duplicate > 0 {
		ex := append(chance(im.Duplicate),
			&expr.Counter{},
			// Keep the packet's mark in register 2, mark it so the copy
			// is recognised, copy it out of the same device, restore.
			&expr.Meta{Key: expr.MetaKeyMARK, Register: 2},
			&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(dupMark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
			&expr.Immediate{Register: 3, Data: binaryutil.NativeEndian.PutUint32(ifindex)},
			&expr.Dup{RegDev: 3, IsRegDevSet: true},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 2},
		)
		rules = append(rules, rule(tagDup, ex...))
	}
	return rules
}

// ReadCounters sums the counters of table name in namespace ns.
func ReadCounters(ns, name string) (Counters, error) {
	var k Counters
	c, done, err := conn(ns)
	if err != nil {
		return k, err
	}
	defer done()
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyNetdev}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyNetdev)
	if err != nil {
		return k, fmt.Errorf("nftables: list chains in %s: %w", nsLabel(ns), err)
	}
	found := false
	for _, ch := range chains {
		if ch.Table.Name != name || !strings.HasPrefix(ch.Name, "impair_") {
			continue
		}
		found = true
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return k, fmt.Errorf("nftables: rules of %s/%s: %w", name, ch.Name, err)
		}
		for _, r := range rules {
			var n uint64
			for _, e := range r.Exprs {
				if ctr, ok := e.(*expr.Counter); ok {
					n = ctr.Packets
				}
			}
			switch string(r.UserData) {
			case tagMatched:
				k.Matched += n
			case tagDropped:
				k.Dropped += n
			case tagCorrupted:
				k.Corrupted += n
			case tagDup:
				k.Duplicated += n
			}
		}
	}
	if !found {
		return k, fmt.Errorf("nftables: no table %s in %s", name, nsLabel(ns))
	}
	return k, nil
}

// DeleteTable removes table name from namespace ns; a missing table or
// namespace is not an error.
func DeleteTable(ns, name string) error {
	if !strings.HasPrefix(name, TablePrefix) {
		return fmt.Errorf("nftables table %q is not ours (no %q prefix)", name, TablePrefix)
	}
	if ns != "" && !namespaceExists(ns) {
		return nil
	}
	c, done, err := conn(ns)
	if err != nil {
		return err
	}
	defer done()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyNetdev)
	if err != nil {
		return fmt.Errorf("nftables: list tables in %s: %w", nsLabel(ns), err)
	}
	for _, t := range tables {
		if t.Name == name {
			c.DelTable(t)
			if err := c.Flush(); err != nil {
				return fmt.Errorf("nftables: delete table %s in %s: %w", name, nsLabel(ns), err)
			}
		}
	}
	return nil
}

// ListTables lists the tables of ours in namespace ns whose names start
// with prefix (at least TablePrefix).
func ListTables(ns, prefix string) ([]string, error) {
	if !strings.HasPrefix(prefix, TablePrefix) {
		prefix = TablePrefix
	}
	c, done, err := conn(ns)
	if err != nil {
		return nil, err
	}
	defer done()
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("nftables: list tables in %s: %w", nsLabel(ns), err)
	}
	var out []string
	for _, t := range tables {
		if t.Family == nftables.TableFamilyNetdev && strings.HasPrefix(t.Name, prefix) {
			out = append(out, t.Name)
		}
	}
	return out, nil
}
