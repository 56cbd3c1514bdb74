package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits are the resources of one group; zero fields mean "no limit".
type Limits struct {
	// CPUQuotaCores caps CPU time at this many cores (0.5 = half a core),
	// enforced by the CFS quota over a 100 ms period, like a Kubernetes
	// CPU limit. 0 means no limit.
	CPUQuotaCores float64
	// MemoryBytes caps memory (anonymous and page cache) in bytes; over it
	// the kernel reclaims and then OOM-kills inside the group. 0 means no
	// limit.
	MemoryBytes int64
}

// cpuPeriodMicros is the CFS period; 100 ms is the kernel's and
// Kubernetes' default, so quotas behave like a pod's CPU limit.
const cpuPeriodMicros = 100_000

// minQuotaMicros is the smallest quota the kernel accepts (1 ms).
const minQuotaMicros = 1000

func (l Limits) validate() error {
	if math.IsNaN(l.CPUQuotaCores) || math.IsInf(l.CPUQuotaCores, 0) || l.CPUQuotaCores < 0 {
		return fmt.Errorf("CPU quota %v cores: want a finite number >= 0", l.CPUQuotaCores)
	}
	if l.CPUQuotaCores > 0 && l.quotaMicros() < minQuotaMicros {
		return fmt.Errorf("CPU quota %v cores is below the kernel minimum of %v cores", l.CPUQuotaCores, float64(minQuotaMicros)/cpuPeriodMicros)
	}
	if l.MemoryBytes < 0 {
		return fmt.Errorf("memory limit %d bytes: want >= 0", l.MemoryBytes)
	}
	return nil
}

func (l Limits) quotaMicros() int64 {
	return int64(math.Round(l.CPUQuotaCores * cpuPeriodMicros))
}

func (l Limits) v1Resources() *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if l.CPUQuotaCores > 0 {
		quota, period := l.quotaMicros(), uint64(cpuPeriodMicros)
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if l.MemoryBytes > 0 {
		limit := l.MemoryBytes
		r.Memory = &specs.LinuxMemory{Limit: &limit}
	}
	return r
}

func (l Limits) v2Resources() *cgroup2.Resources {
	// CPU and Memory are always non-nil: containerd enables a controller
	// for the group only when its resource is set, and memory.current
	// (usage) exists only where the memory controller is enabled.
	r := &cgroup2.Resources{CPU: &cgroup2.CPU{}, Memory: &cgroup2.Memory{}}
	if l.CPUQuotaCores > 0 {
		quota, period := l.quotaMicros(), uint64(cpuPeriodMicros)
		r.CPU.Max = cgroup2.NewCPUMax(&quota, &period)
	}
	if l.MemoryBytes > 0 {
		limit := l.MemoryBytes
		r.Memory.Max = &limit
	}
	return r
}

// Group is one cgroup — a replica's, or a parent such as faultline/<env> —
// present in every hierarchy the host's mode uses. Its methods are safe for
// concurrent use; state changes (freeze, thaw, kill, delete) are
// serialised.
type Group struct {
	path string // canonical, "/faultline/env/replica"
	lay  *layout
	mode Mode
	// dirs are the group's directories, one per hierarchy (on v1 the
	// freezer's first); a group "exists" while any of them does.
	dirs []string
	v1   cgroup1.Cgroup   // ModeV1
	v2   *cgroup2.Manager // ModeV2
	mu   sync.Mutex
}

// Create makes the group parent/name with limits l, creating parent as
// needed (parent must be Root or below it, e.g. "faultline/<env>"). It
// fails if the group already exists: a leftover from a crash must be
// reattached with Open (or deleted) on purpose, not silently reused with
// old processes and limits in it.
func Create(parent, name string, l Limits) (*Group, error) {
	lay, err := detect()
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s/%s: %w", parent, name, err)
	}
	return create(lay, parent, name, l)
}

func create(lay *layout, parent, name string, l Limits) (*Group, error) {
	if err := childName(name); err != nil {
		return nil, fmt.Errorf("create cgroup under %q: %w", parent, err)
	}
	p, err := groupPath(parent + "/" + name)
	if err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", p, err)
	}
	dirs := lay.dirs(p)
	for _, d := range dirs {
		if _, err := os.Lstat(d); err == nil {
			return nil, fmt.Errorf("create cgroup %s: %s: %w (a leftover? reattach it with Open, or Delete it)", p, d, fs.ErrExist)
		}
	}
	// Claim the group with an exclusive mkdir in the first hierarchy, so
	// that of two concurrent Creates one fails instead of both sharing it
	// (containerd creates with MkdirAll, which never fails on existence).
	if err := os.MkdirAll(filepath.Dir(dirs[0]), 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", p, err)
	}
	if err := os.Mkdir(dirs[0], 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", p, err)
	}
	g := &Group{path: p, lay: lay, mode: lay.mode, dirs: dirs}
	switch lay.mode {
	case ModeV1:
		g.v1, err = cgroup1.New(cgroup1.StaticPath(p), l.v1Resources(), cgroup1.WithHierarchy(lay.v1Hierarchy()))
	case ModeV2:
		res := l.v2Resources()
		if lay.v2NoControllers {
			if l != (Limits{}) {
				_ = os.Remove(dirs[0])
				return nil, fmt.Errorf("create cgroup %s: limits %+v need the cpu and memory controllers", p, l)
			}
			res = &cgroup2.Resources{}
		}
		g.v2, err = cgroup2.NewManager(lay.v2Root, p, res)
	}
	if err != nil {
		// containerd stops at the first failing hierarchy and leaves the
		// directories it made; remove them so a failed Create leaves
		// nothing behind (they are ours: none existed above).
		for _, d := range dirs {
			_ = os.Remove(d)
		}
		return nil, fmt.Errorf("create cgroup %s (%s) with %+v: %w", p, lay.mode, l, err)
	}
	return g, nil
}

// Open reattaches to an existing group by its Path, e.g. after a crash, to
// kill or delete what is left in it. It fails with an error wrapping
// fs.ErrNotExist when the group exists in no hierarchy.
func Open(path string) (*Group, error) {
	lay, err := detect()
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", path, err)
	}
	return open(lay, path)
}

func open(lay *layout, path string) (*Group, error) {
	p, err := groupPath(path)
	if err != nil {
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	g := &Group{path: p, lay: lay, mode: lay.mode, dirs: lay.dirs(p)}
	if !g.exists() {
		return nil, fmt.Errorf("open cgroup %s: %w", p, fs.ErrNotExist)
	}
	switch lay.mode {
	case ModeV1:
		// Load keeps the hierarchies the group exists in, so a group half
		// created before a crash can still be killed and deleted.
		g.v1, err = cgroup1.Load(cgroup1.StaticPath(p), cgroup1.WithHierarchy(lay.v1Hierarchy()))
	case ModeV2:
		g.v2, err = cgroup2.Load(p, cgroup2.WithMountpoint(lay.v2Root))
	}
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s (%s): %w", p, lay.mode, err)
	}
	return g, nil
}

// List returns the paths of parent's child groups, sorted, for recovery:
// the union over every hierarchy, so a group that exists in only some of
// them (a crash during Create) is found too. A parent that does not exist
// has no children.
func List(parent string) ([]string, error) {
	p, err := groupPath(parent)
	if err != nil {
		return nil, fmt.Errorf("list cgroups: %w", err)
	}
	lay, err := detect()
	if err != nil {
		return nil, fmt.Errorf("list cgroups under %s: %w", p, err)
	}
	return listChildren(p, lay.dirs(p))
}

func listChildren(p string, dirs []string) ([]string, error) {
	var out []string
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list cgroups under %s: %w", p, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, p+"/"+e.Name())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Path is the group's path relative to the hierarchy roots, e.g.
// "/faultline/shop/api-0"; Open accepts it. It is what the journal records.
func (g *Group) Path() string { return g.path }

// Mode is the layout the group lives in.
func (g *Group) Mode() Mode { return g.mode }

func (g *Group) exists() bool {
	for _, d := range g.dirs {
		if _, err := os.Lstat(d); err == nil {
			return true
		}
	}
	return false
}

// AddProcess moves process pid (all its threads) into the group in every
// hierarchy. Its future children start in the group.
func (g *Group) AddProcess(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("add process %d to cgroup %s: invalid pid", pid, g.path)
	}
	var err error
	switch g.mode {
	case ModeV1:
		err = g.v1.AddProc(uint64(pid))
	case ModeV2:
		err = g.v2.AddProc(uint64(pid))
	}
	if err != nil {
		return fmt.Errorf("add process %d to cgroup %s: %w", pid, g.path, err)
	}
	return nil
}

// Processes returns the PIDs of every process in the group and its child
// groups, sorted. On v1 the freezer hierarchy is authoritative: it is the
// one Freeze and Kill act on.
func (g *Group) Processes() ([]int, error) {
	pids, err := g.processes()
	if err != nil {
		return nil, fmt.Errorf("list processes of cgroup %s: %w", g.path, err)
	}
	return pids, nil
}

func (g *Group) processes() ([]int, error) {
	if _, err := os.Lstat(g.stateDir()); err != nil {
		return nil, err
	}
	var pids []int
	switch g.mode {
	case ModeV1:
		procs, err := g.v1.Processes(cgroup1.Freezer, true)
		if err != nil {
			return nil, err
		}
		for _, p := range procs {
			pids = append(pids, p.Pid)
		}
	case ModeV2:
		procs, err := g.v2.Procs(true)
		if err != nil {
			return nil, err
		}
		for _, p := range procs {
			pids = append(pids, int(p))
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids), nil
}

// Stats is the group's resource usage, read from the kernel's accounting,
// so it includes processes that have already exited.
type Stats struct {
	// CPUUsage is the CPU time (user + system) used by every process
	// that has run in the group since it was created.
	CPUUsage time.Duration
	// MemoryBytes is the memory charged to the group now (anonymous
	// memory and page cache, as the kernel limits it).
	MemoryBytes int64
	// MemoryPeak is the highest MemoryBytes since the group was created;
	// 0 where the kernel does not report it (cgroup v2 before Linux 5.19).
	MemoryPeak int64
	// MemoryLimit is the group's memory limit, 0 when unlimited. StressChaos
	// sizes "50%" memory stressors from it.
	MemoryLimit int64
}

// Stats reads the group's CPU and memory usage.
func (g *Group) Stats() (Stats, error) {
	var s Stats
	switch g.mode {
	case ModeV1:
		m, err := g.v1.Stat()
		if err != nil {
			return Stats{}, fmt.Errorf("read stats of cgroup %s: %w", g.path, err)
		}
		if m.CPU != nil && m.CPU.Usage != nil {
			s.CPUUsage = time.Duration(m.CPU.Usage.Total) // nanoseconds
		}
		if m.Memory != nil && m.Memory.Usage != nil {
			s.MemoryBytes = clampBytes(m.Memory.Usage.Usage)
			s.MemoryPeak = clampBytes(m.Memory.Usage.Max)
			s.MemoryLimit = limitBytes(m.Memory.Usage.Limit)
		}
	case ModeV2:
		m, err := g.v2.StatFiltered(cgroup2.StatCPU | cgroup2.StatMemory)
		if err != nil {
			return Stats{}, fmt.Errorf("read stats of cgroup %s: %w", g.path, err)
		}
		if m.CPU != nil {
			s.CPUUsage = time.Duration(m.CPU.UsageUsec) * time.Microsecond
		}
		if m.Memory != nil {
			s.MemoryBytes = clampBytes(m.Memory.Usage)
			s.MemoryPeak = clampBytes(m.Memory.MaxUsage)
			s.MemoryLimit = limitBytes(m.Memory.UsageLimit)
		}
	}
	return s, nil
}

func clampBytes(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// limitBytes maps the kernel's "no limit" (v1: a page-rounded
// 2^63-1; v2: "max", which containerd reads as 2^64-1) to 0.
func limitBytes(v uint64) int64 {
	if v >= 1<<62 {
		return 0
	}
	return int64(v)
}

// Delete kills whatever still runs in the group (and its child groups),
// then removes its directory from every hierarchy. Deleting a group that
// no longer exists is not an error, so recovery can be repeated.
func (g *Group) Delete() error {
	if !g.exists() {
		return nil
	}
	children, err := listChildren(g.path, g.dirs)
	if err != nil {
		return fmt.Errorf("delete cgroup %s: %w", g.path, err)
	}
	for _, c := range children {
		child, err := open(g.lay, c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete cgroup %s: %w", g.path, err)
		}
		if err := child.Delete(); err != nil {
			return fmt.Errorf("delete cgroup %s: %w", g.path, err)
		}
	}
	if err := g.Kill(); err != nil {
		return fmt.Errorf("delete cgroup %s: %w", g.path, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch g.mode {
	case ModeV1:
		err = g.v1.Delete()
	case ModeV2:
		err = g.v2.Delete()
	}
	if err != nil {
		return fmt.Errorf("delete cgroup %s: %w", g.path, err)
	}
	for _, d := range g.dirs {
		if _, err := os.Lstat(d); err == nil {
			return fmt.Errorf("delete cgroup %s: %s is still there after removal", g.path, d)
		}
	}
	return nil
}

// dirOf returns the group's directory in the named v1 hierarchy, or its
// only directory on v2.
func (g *Group) dirOf(controller cgroup1.Name) string {
	if g.mode == ModeV2 {
		return g.dirs[0]
	}
	if i := slices.Index(v1Controllers(), controller); i >= 0 && i < len(g.dirs) {
		return g.dirs[i]
	}
	return ""
}
