package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	cgroups "github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
)

// Mode is the cgroup layout faultline uses on this host.
type Mode int

const (
	// ModeUnavailable means cgroups cannot be used; Available says why.
	ModeUnavailable Mode = iota
	// ModeV1 uses one cgroup v1 hierarchy per controller (legacy or hybrid
	// hosts; on a hybrid host the v2 hierarchy has no controllers, so v1 is
	// the only place CPU and memory can be limited).
	ModeV1
	// ModeV2 uses the unified cgroup v2 hierarchy.
	ModeV2
)

func (m Mode) String() string {
	switch m {
	case ModeV1:
		return "v1"
	case ModeV2:
		return "v2"
	default:
		return "unavailable"
	}
}

// ErrUnavailable is wrapped by every error that means "this host cannot
// give faultline cgroups" (not root, no cgroup filesystem, a controller not
// mounted), so callers can fall back to running replicas without cgroups.
var ErrUnavailable = errors.New("cgroups unavailable")

const (
	// unifiedMount is where the unified hierarchy is mounted on a v2 host;
	// containerd/cgroups assumes the same place.
	unifiedMount = "/sys/fs/cgroup"
)

// v1Controllers are the v1 hierarchies a group lives in: freezer for
// freeze and kill, cpu for the quota, cpuacct for CPU usage, memory for the
// limit and usage. Other hierarchies (cpuset, blkio, devices, pids,
// name=systemd) are left alone so a replica stays where its supervisor put
// it there, e.g. in the supervisor's systemd unit.
func v1Controllers() []cgroup1.Name {
	return []cgroup1.Name{cgroup1.Freezer, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Memory}
}

// v2Controllers must be available in the unified hierarchy for limits and
// memory usage (CPU usage and freezing are core v2 features).
func v2Controllers() []string { return []string{"cpu", "memory"} }

// layout is what detect found: the mode and where each hierarchy is.
type layout struct {
	mode Mode
	// v1Roots maps each of v1Controllers to the directory that, joined
	// with the controller's name, is its mount point; containerd's v1
	// subsystem constructors take this form.
	v1Roots map[cgroup1.Name]string
	// v2Root is the unified hierarchy's mount point (ModeV2).
	v2Root string
	// v2NoControllers is set only by tests that drive the v2 code on a
	// hybrid host's controller-less unified hierarchy: groups get no
	// controllers, so limits are refused.
	v2NoControllers bool
}

// Available reports which cgroup layout faultline will use, or
// ModeUnavailable and why (not root, no cgroup filesystem, a needed
// controller missing). The error wraps ErrUnavailable.
func Available() (Mode, error) {
	l, err := detect()
	if err != nil {
		return ModeUnavailable, err
	}
	return l.mode, nil
}

// detect reads the host's cgroup layout. It is not cached: it is cheap,
// and a cache would be global mutable state.
func detect() (*layout, error) {
	if euid := os.Geteuid(); euid != 0 {
		return nil, fmt.Errorf("%w: creating cgroups needs root (running as uid %d)", ErrUnavailable, euid)
	}
	switch cgroups.Mode() {
	case cgroups.Unified:
		data, err := os.ReadFile(filepath.Join(unifiedMount, "cgroup.controllers"))
		if err != nil {
			return nil, fmt.Errorf("%w: reading the available cgroup v2 controllers: %w", ErrUnavailable, err)
		}
		have := strings.Fields(string(data))
		var missing []string
		for _, c := range v2Controllers() {
			if !slices.Contains(have, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: cgroup v2 controllers %s are not available in %s/cgroup.controllers (it lists %q)",
				ErrUnavailable, strings.Join(missing, ", "), unifiedMount, strings.TrimSpace(string(data)))
		}
		return &layout{mode: ModeV2, v2Root: unifiedMount}, nil
	case cgroups.Legacy, cgroups.Hybrid:
		roots, err := v1Mounts("/proc/self/mountinfo")
		if err != nil {
			return nil, err
		}
		return &layout{mode: ModeV1, v1Roots: roots}, nil
	default:
		return nil, fmt.Errorf("%w: no cgroup filesystem is mounted at %s", ErrUnavailable, unifiedMount)
	}
}

// v1Mounts finds where each of v1Controllers is mounted.
//
// Written by hand because containerd's cgroup1.Default assumes every
// controller sits at <directory of the first cgroup mount>/<name>; reading
// the mount table also handles co-mounted controllers ("cpu,cpuacct") as
// long as the conventional per-controller symlink exists, and lets the
// error name exactly which controller is missing.
func v1Mounts(mountinfo string) (map[cgroup1.Name]string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the mount table: %w", ErrUnavailable, err)
	}
	defer f.Close()
	mounts := map[cgroup1.Name]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// Fields: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+4 || fields[sep+1] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(fields[sep+3], ",") {
			name := cgroup1.Name(opt)
			if slices.Contains(v1Controllers(), name) {
				if _, seen := mounts[name]; !seen {
					mounts[name] = fields[4]
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading the mount table %s: %w", ErrUnavailable, mountinfo, err)
	}
	roots := map[cgroup1.Name]string{}
	var missing []string
	for _, name := range v1Controllers() {
		mp, ok := mounts[name]
		if !ok {
			missing = append(missing, string(name))
			continue
		}
		root := filepath.Dir(mp)
		if filepath.Base(mp) != string(name) {
			// Co-mounted, e.g. /sys/fs/cgroup/cpu,cpuacct: use the
			// /sys/fs/cgroup/cpu symlink distributions create.
			if _, err := os.Stat(filepath.Join(root, string(name))); err != nil {
				return nil, fmt.Errorf("%w: cgroup v1 controller %s is mounted at %s and %s does not exist",
					ErrUnavailable, name, mp, filepath.Join(root, string(name)))
			}
		}
		roots[name] = root
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: cgroup v1 controllers %s are not mounted", ErrUnavailable, strings.Join(missing, ", "))
	}
	return roots, nil
}

// v1Hierarchy is the set of containerd v1 subsystems a group uses.
func (l *layout) v1Hierarchy() cgroup1.Hierarchy {
	return func() ([]cgroup1.Subsystem, error) {
		return []cgroup1.Subsystem{
			cgroup1.NewFreezer(l.v1Roots[cgroup1.Freezer]),
			cgroup1.NewCpu(l.v1Roots[cgroup1.Cpu]),
			cgroup1.NewCpuacct(l.v1Roots[cgroup1.Cpuacct]),
			// Swap and kernel-memory accounting are absent on many
			// kernels and not needed for usage; without these options
			// Stat fails there.
			cgroup1.NewMemory(l.v1Roots[cgroup1.Memory], cgroup1.OptionalSwap(), cgroup1.IgnoreModules("kmem", "kmem.tcp")),
		}, nil
	}
}

// dirs returns the absolute directory of group path p in every hierarchy
// the layout uses, freezer first on v1.
func (l *layout) dirs(p string) []string {
	if l.mode == ModeV2 {
		return []string{filepath.Join(l.v2Root, p)}
	}
	out := make([]string, 0, len(v1Controllers()))
	for _, name := range v1Controllers() {
		out = append(out, filepath.Join(l.v1Roots[name], string(name), p))
	}
	return out
}
