package packet

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
)

// CleanupOptions restrict Cleanup to some of our objects.
type CleanupOptions struct {
	// NamespacePrefix restricts namespaces (and their veths and host-side
	// qdiscs) to names with this prefix; "" is every "fl-" namespace.
	NamespacePrefix string
	// TablePrefix restricts nftables tables (in the host and in the
	// namespaces left alone) to names with this prefix; "" is every
	// "faultline_" table.
	TablePrefix string
	// KeepNamespaces removes only tables and qdiscs, not namespaces (a
	// recover pass for the faults of a live environment).
	KeepNamespaces bool
}

// CleanupReport lists what Cleanup removed.
type CleanupReport struct {
	Tables     []string `json:"tables,omitempty"`
	Qdiscs     []string `json:"qdiscs,omitempty"`
	Veths      []string `json:"veths,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// Empty reports whether nothing was removed.
func (r *CleanupReport) Empty() bool {
	return len(r.Tables)+len(r.Qdiscs)+len(r.Veths)+len(r.Namespaces) == 0
}

// Cleanup finds and removes what this package created and a crashed
// process left behind: our nftables tables in the host and in our
// namespaces, our tbf qdiscs on our veths (both sides), our veths and our
// namespaces. Nothing without our prefixes is touched. It goes on after an
// error and returns them all.
func Cleanup(ctx context.Context, o CleanupOptions) (*CleanupReport, error) {
	rep := &CleanupReport{}
	nsPrefix := o.NamespacePrefix
	if !strings.HasPrefix(nsPrefix, NamespacePrefix) {
		nsPrefix = NamespacePrefix
	}
	var errs []error
	names, err := ListNamespaces(nsPrefix)
	if err != nil {
		errs = append(errs, err)
	}
	veths := map[string]bool{}
	for _, ns := range names {
		veths[VethName(ns)] = true
	}
	// Tables first: a host table may hook one of the veths.
	for _, ns := range append([]string{""}, names...) {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		tables, err := ListTables(ns, o.TablePrefix)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range tables {
			if err := DeleteTable(ns, t); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Tables = append(rep.Tables, qualify(ns, t))
		}
	}
	// Our qdiscs: on the namespaces' eth0 and on the host-side veths.
	for _, ns := range names {
		for _, side := range []struct{ ns, dev string }{{ns, PeerDevice}, {"", VethName(ns)}} {
			removed, err := deleteOurQdisc(side.ns, side.dev)
			if err != nil {
				errs = append(errs, err)
			}
			if removed {
				rep.Qdiscs = append(rep.Qdiscs, qualify(side.ns, side.dev))
			}
		}
	}
	if o.KeepNamespaces {
		return rep, errors.Join(errs...)
	}
	// Veths whose namespace file is gone (a half-made namespace) are ours
	// too when no restriction applies.
	if o.NamespacePrefix == "" {
		if links, err := netlink.LinkList(); err == nil {
			for _, l := range links {
				if _, ok := l.(*netlink.Veth); ok && IsVethName(l.Attrs().Name) {
					veths[l.Attrs().Name] = true
				}
			}
		} else {
			errs = append(errs, fmt.Errorf("list links: %w", err))
		}
	}
	for v := range veths {
		l, err := netlink.LinkByName(v)
		if err != nil {
			continue
		}
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", v, err))
			continue
		}
		rep.Veths = append(rep.Veths, v)
	}
	for _, ns := range names {
		if err := DeleteNamespace(ns); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Namespaces = append(rep.Namespaces, ns)
	}
	return rep, errors.Join(errs...)
}

func qualify(ns, obj string) string {
	if ns == "" {
		return obj
	}
	return ns + "/" + obj
}

func deleteOurQdisc(ns, dev string) (bool, error) {
	if ns != "" && !namespaceExists(ns) {
		return false, nil
	}
	h, err := handle(ns)
	if err != nil {
		return false, err
	}
	defer h.Close()
	_, q, err := ourRoot(h, dev)
	if err != nil || q == nil {
		return false, err
	}
	if err := h.QdiscDel(q); err != nil {
		return false, fmt.Errorf("delete qdisc on %s in %s: %w", dev, nsLabel(ns), err)
	}
	return true, nil
}

// Leftovers lists every object with our prefixes that still exists (all of
// them, whatever the options of a Cleanup were): tests and `recover`
// use it to prove nothing is left.
func Leftovers() ([]string, error) {
	var out []string
	names, err := ListNamespaces(NamespacePrefix)
	if err != nil {
		return nil, err
	}
	for _, ns := range names {
		out = append(out, "netns "+ns)
	}
	for _, ns := range append([]string{""}, names...) {
		tables, err := ListTables(ns, TablePrefix)
		if err != nil {
			return out, err
		}
		for _, t := range tables {
			out = append(out, "table "+qualify(ns, t))
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		return out, fmt.Errorf("list links: %w", err)
	}
	h, err := handle("")
	if err != nil {
		return out, err
	}
	defer h.Close()
	for _, l := range links {
		if !IsVethName(l.Attrs().Name) {
			continue
		}
		out = append(out, "veth "+l.Attrs().Name)
		if _, q, err := ourRoot(h, l.Attrs().Name); err == nil && q != nil {
			out = append(out, "qdisc "+l.Attrs().Name)
		}
	}
	return out, nil
}
