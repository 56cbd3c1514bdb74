package packet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needRoot skips a test that creates namespaces, veths, tables and qdiscs.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veth pairs, nftables tables and qdiscs")
	}
}

// testNamespace creates a namespace named for the test and removes it (and
// anything of ours in it) when the test ends.
func testNamespace(t *testing.T, suffix string) *Namespace {
	t.Helper()
	name := fmt.Sprintf("fl-pkttest%d-%s", os.Getpid(), suffix)
	_ = DeleteNamespace(name)
	n, err := CreateNamespace(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = Cleanup(context.Background(), CleanupOptions{NamespacePrefix: name, TablePrefix: testTable(t, "")})
		if err := DeleteNamespace(name); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	})
	return n
}

func testTable(t *testing.T, suffix string) string {
	return fmt.Sprintf("%spkttest%d_%s", TablePrefix, os.Getpid(), suffix)
}

// udpReceiver listens on the namespace's address and counts datagrams
// until stop is closed (or a bounded silence after it).
type udpReceiver struct {
	conn *net.UDPConn
	got  chan int
}

func listenUDP(t *testing.T, n *Namespace) *udpReceiver {
	t.Helper()
	var c *net.UDPConn
	err := n.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(n.PeerIP.AsSlice())})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(8 << 20)
	r := &udpReceiver{conn: c, got: make(chan int, 1)}
	go func() {
		buf := make([]byte, 2048)
		count := 0
		for {
			// The sender is done once nothing arrived for a while.
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(buf); err != nil {
				r.got <- count
				return
			}
			count++
		}
	}()
	t.Cleanup(func() { c.Close() })
	return r
}

// sendUDP sends count datagrams to addr, paced so that no socket buffer
// overflows (only the fault may lose packets), bounded in time.
func sendUDP(t *testing.T, addr netip.AddrPort, count int) {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, 200)
	deadline := time.Now().Add(60 * time.Second)
	for i := range count {
		if _, err := c.Write(payload); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("send packet %d: %v", i, err)
		}
		if i%200 == 199 {
			time.Sleep(2 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatalf("sending %d packets took over a minute", count)
		}
	}
}

func (r *udpReceiver) wait(t *testing.T) int {
	t.Helper()
	select {
	case n := <-r.got:
		return n
	case <-time.After(30 * time.Second):
		t.Fatal("receiver did not finish")
		return 0
	}
}

func receiverAddr(r *udpReceiver) netip.AddrPort {
	return r.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestImpairments sends ≥ 10,000 UDP datagrams from the host into a
// namespace through a table on the host-side veth's egress and compares
// what arrived with what was asked and with the table's counters.
func TestImpairments(t *testing.T) {
	needRoot(t)
	const sent = 12000
	tests := []struct {
		name string
		im   Impairment
		// measured is the impairment rate (%) seen by the receiver.
		measured func(received int, snmpHdrErrs uint64) float64
		asked    float64
		counter  func(Counters) uint64
	}{
		{"loss", Impairment{Loss: 30},
			func(rcv int, _ uint64) float64 { return 100 * float64(sent-rcv) / sent }, 30,
			func(k Counters) uint64 { return k.Dropped }},
		{"duplicate", Impairment{Duplicate: 20},
			func(rcv int, _ uint64) float64 { return 100 * float64(rcv-sent) / sent }, 20,
			func(k Counters) uint64 { return k.Duplicated }},
		// A corrupted datagram arrives with a broken IPv4 header checksum:
		// the namespace's IP layer drops it and counts it in InHdrErrors.
		// Both the missing datagrams and that counter must match the rate.
		{"corrupt", Impairment{Corrupt: 20},
			func(rcv int, hdr uint64) float64 {
				// Every missing datagram must be a header error (give or
				// take a stray packet of the namespace's own).
				if d := int(hdr) - (sent - rcv); d < -5 || d > 5 {
					return -1
				}
				return 100 * float64(sent-rcv) / sent
			}, 20,
			func(k Counters) uint64 { return k.Corrupted }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := testNamespace(t, tc.name)
			table := testTable(t, tc.name)
			r := listenUDP(t, n)
			if err := InstallTable(TableSpec{Name: table, Filters: []Filter{{Device: n.HostVeth, Peers: []netip.Prefix{netip.PrefixFrom(n.PeerIP, 32)}}}, Impairment: tc.im}); err != nil {
				t.Fatal(err)
			}
			before := hdrErrors(t, n)
			sendUDP(t, receiverAddr(r), sent)
			received := r.wait(t)
			after := hdrErrors(t, n)
			k, err := ReadCounters("", table)
			if err != nil {
				t.Fatal(err)
			}
			got := tc.measured(received, after-before)
			t.Logf("%s: asked %.0f %%, receiver measured %.2f %% (%d of %d arrived, %d header errors), counters %+v (%.2f %%)",
				tc.name, tc.asked, got, received, sent, after-before, k, k.Rate(tc.counter(k)))
			if got < tc.asked*0.9 || got > tc.asked*1.1 {
				t.Errorf("receiver measured %.2f %%, want %.0f %% ± 10 %%", got, tc.asked)
			}
			if k.Matched < sent {
				t.Errorf("the table matched %d packets, sent %d", k.Matched, sent)
			}
			if rate := k.Rate(tc.counter(k)); rate < tc.asked*0.9 || rate > tc.asked*1.1 {
				t.Errorf("counters say %.2f %%, want %.0f %% ± 10 %%", rate, tc.asked)
			}
			if err := DeleteTable("", table); err != nil {
				t.Fatal(err)
			}
			if ts, _ := ListTables("", table); len(ts) != 0 {
				t.Errorf("table still there after delete: %v", ts)
			}
		})
	}
}

// hdrErrors reads Ip InHdrErrors of the namespace (/proc/thread-self/net
// is the calling thread's namespace).
func hdrErrors(t *testing.T, n *Namespace) uint64 {
	t.Helper()
	var v uint64
	err := n.Do(func() error {
		f, err := os.Open("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		defer f.Close()
		var header []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || fields[0] != "Ip:" {
				continue
			}
			if header == nil {
				header = fields
				continue
			}
			for i, h := range header {
				if h == "InHdrErrors" && i < len(fields) {
					v, err = strconv.ParseUint(fields[i], 10, 64)
					return err
				}
			}
		}
		return errors.New("no Ip InHdrErrors in snmp")
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLossFromNamespace checks the other direction: the table in the
// namespace on eth0's egress, traffic leaving it.
func TestLossFromNamespace(t *testing.T) {
	needRoot(t)
	n := testNamespace(t, "lossout")
	table := testTable(t, "lossout")
	host, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(n.HostIP.AsSlice())})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	_ = host.SetReadBuffer(8 << 20)
	if err := InstallTable(TableSpec{Name: table, Netns: n.Name, Filters: []Filter{{Device: PeerDevice}}, Impairment: Impairment{Loss: 30}}); err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		buf := make([]byte, 2048)
		count := 0
		for {
			_ = host.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := host.Read(buf); err != nil {
				got <- count
				return
			}
			count++
		}
	}()
	const sent = 10000
	var c *net.UDPConn
	if err := n.Do(func() error {
		var err error
		c, err = net.DialUDP("udp4", nil, host.LocalAddr().(*net.UDPAddr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 200)
	for i := range sent {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		if i%200 == 199 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	var received int
	select {
	case received = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("receiver did not finish")
	}
	k, err := ReadCounters(n.Name, table)
	if err != nil {
		t.Fatal(err)
	}
	loss := 100 * float64(sent-received) / sent
	t.Logf("asked 30 %%, measured %.2f %% (%d/%d), counters %+v", loss, received, sent, k)
	if loss < 27 || loss > 33 {
		t.Errorf("measured loss %.2f %%, want 27–33 %%", loss)
	}
	// The namespace's own traffic (neighbour discovery is not IPv4) may
	// add a few matched packets, never fewer.
	if k.Matched < sent || k.Rate(k.Dropped) < 27 || k.Rate(k.Dropped) > 33 {
		t.Errorf("counters %+v: want ≥ %d matched and 27–33 %% dropped", k, sent)
	}
}

// TestPartition: no byte passes while the table is in place, and traffic
// flows again once it is deleted.
func TestPartition(t *testing.T) {
	needRoot(t)
	n := testNamespace(t, "part")
	table := testTable(t, "part")
	var ln net.Listener
	if err := n.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", net.JoinHostPort(n.PeerIP.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var received = make(chan int64, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				nb, _ := io.Copy(io.Discard, c)
				received <- nb
			}()
		}
	}()
	r := listenUDP(t, n)
	// Both directions: table on the host veth (into the namespace) and on
	// eth0 (out of it).
	spec := func(ns, dev string) TableSpec {
		return TableSpec{Name: table, Netns: ns, Filters: []Filter{{Device: dev}}, Impairment: Impairment{Partition: true}}
	}
	for _, s := range []TableSpec{spec("", n.HostVeth), spec(n.Name, PeerDevice)} {
		if err := InstallTable(s); err != nil {
			t.Fatal(err)
		}
	}
	// TCP cannot even connect.
	d := net.Dialer{Timeout: 2 * time.Second}
	if c, err := d.Dial("tcp4", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("TCP connected through a partition")
	}
	sendUDP(t, receiverAddr(r), 1000)
	if got := r.wait(t); got != 0 {
		t.Errorf("%d datagrams passed a partition", got)
	}
	k, err := ReadCounters("", table)
	if err != nil {
		t.Fatal(err)
	}
	if k.Dropped < 1000 || k.Dropped != k.Matched {
		t.Errorf("counters %+v: want every matched packet dropped, ≥ 1000", k)
	}
	for _, s := range []TableSpec{spec("", n.HostVeth), spec(n.Name, PeerDevice)} {
		if err := DeleteTable(s.Netns, s.Name); err != nil {
			t.Fatal(err)
		}
	}
	c, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatalf("after the partition: %v", err)
	}
	if _, err := c.Write(make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case nb := <-received:
		if nb != 100000 {
			t.Errorf("after the partition %d bytes arrived, want 100000", nb)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived after the partition")
	}
}

// TestBandwidth shapes a TCP bulk transfer into the namespace with a tbf
// of 1 MiB/s ("1mbps" in Chaos Mesh units) and measures the receiving
// rate over 4 seconds after a second of warm-up.
func TestBandwidth(t *testing.T) {
	needRoot(t)
	n := testNamespace(t, "bw")
	const rate = 1 << 20
	if err := AddTBF("", n.HostVeth, TBF{Rate: rate, Limit: 1 << 20, Buffer: 10000}); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if err := n.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", net.JoinHostPort(n.PeerIP.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp4", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		for ctx.Err() == nil {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	read := func(d time.Duration) int64 {
		var total int64
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			_ = c.SetReadDeadline(end)
			nb, err := c.Read(buf)
			total += int64(nb)
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
		}
		return total
	}
	read(time.Second)
	start := time.Now()
	got := read(4 * time.Second)
	measured := float64(got) / time.Since(start).Seconds()
	st, err := TBFStats("", n.HostVeth)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("asked %d B/s, measured %.0f B/s (%.1f %%), qdisc %+v", rate, measured, 100*measured/rate, st)
	if measured < rate*0.9 || measured > rate*1.1 {
		t.Errorf("measured %.0f B/s, want %d ± 10 %%", measured, rate)
	}
	cancel()
	if err := DeleteTBF("", n.HostVeth); err != nil {
		t.Fatal(err)
	}
	if _, err := TBFStats("", n.HostVeth); err == nil {
		t.Error("the tbf is still there after delete")
	}
}

func TestNetemCheck(t *testing.T) {
	needRoot(t)
	have, err := HaveNetem()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel has netem: %v", have)
}

// TestCrashCleanup: a child process creates a namespace, a host table, a
// namespace table and a qdisc, and is SIGKILLed; Cleanup removes all of it.
func TestCrashCleanup(t *testing.T) {
	needRoot(t)
	if os.Getenv("FL_PACKET_CRASH_CHILD") != "" {
		return
	}
	name := fmt.Sprintf("fl-pktcrash%d", os.Getpid())
	table := fmt.Sprintf("%spktcrash%d", TablePrefix, os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "FL_PACKET_CRASH_CHILD="+name, "FL_PACKET_CRASH_TABLE="+table)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "CHILD READY") {
				ok = true
				break
			}
		}
		ready <- ok
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatal("the child failed before creating everything")
		}
	case <-ctx.Done():
		t.Fatal("the child did not get ready")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	mine := func() []string {
		all, err := Leftovers()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range all {
			if strings.Contains(s, name) || strings.Contains(s, table) || strings.Contains(s, VethName(name)) {
				out = append(out, s)
			}
		}
		return out
	}
	before := mine()
	t.Logf("left by the killed child: %v", before)
	if len(before) < 4 {
		t.Errorf("the child left %v; want its namespace, veth, qdisc and tables", before)
	}
	rep, err := Cleanup(ctx, CleanupOptions{NamespacePrefix: name, TablePrefix: table})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cleanup: %+v", rep)
	if left := mine(); len(left) != 0 {
		t.Errorf("left after Cleanup: %v", left)
	}
}

// TestCrashChild is the child of TestCrashCleanup (it does nothing
// otherwise).
func TestCrashChild(t *testing.T) {
	name := os.Getenv("FL_PACKET_CRASH_CHILD")
	table := os.Getenv("FL_PACKET_CRASH_TABLE")
	if name == "" {
		t.Skip("only runs as TestCrashCleanup's child")
	}
	n, err := CreateNamespace(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := InstallTable(TableSpec{Name: table, Filters: []Filter{{Device: n.HostVeth}}, Impairment: Impairment{Loss: 50}}); err != nil {
		t.Fatal(err)
	}
	if err := InstallTable(TableSpec{Name: table, Netns: name, Filters: []Filter{{Device: PeerDevice}}, Impairment: Impairment{Duplicate: 50}}); err != nil {
		t.Fatal(err)
	}
	if err := AddTBF("", n.HostVeth, TBF{Rate: 1 << 20, Limit: 1 << 20, Buffer: 10000}); err != nil {
		t.Fatal(err)
	}
	if err := AddTBF(name, PeerDevice, TBF{Rate: 1 << 20, Limit: 1 << 20, Buffer: 10000}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("CHILD READY")
	// The parent kills us; bounded in case it does not.
	time.Sleep(30 * time.Second)
}

func TestNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"fl-env_api-0", true}, {"env", false}, {"fl-a/b", false}, {"fl-" + strings.Repeat("x", 300), false},
	}
	for _, tc := range tests {
		if err := CheckName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v", tc.name, err)
		}
	}
	v := VethName("fl-env_api-0")
	if len(v) > 15 || !IsVethName(v) || IsVethName("flannel.1") || IsVethName("eth0") {
		t.Errorf("veth name %q", v)
	}
}
