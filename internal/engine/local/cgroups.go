package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/faultline-dev/faultline/internal/cgroup"
)

// cgroupSupport creates the per-replica cgroups of one environment, under
// faultline/<env>/<replica>. err says why cgroups are unavailable (not root,
// no cgroup filesystem, disabled); replicas then run without them.
type cgroupSupport struct {
	parent string
	mode   cgroup.Mode
	err    error
}

// replicaCgroup is one replica's cgroup.
type replicaCgroup struct {
	group *cgroup.Group
	path  string
	mode  cgroup.Mode
}

func newCgroupSupport(env string, disabled bool) *cgroupSupport {
	cs := &cgroupSupport{parent: cgroup.Root + "/" + env}
	if disabled {
		cs.err = errors.New("disabled by the supervisor's options")
		return cs
	}
	cs.mode, cs.err = cgroup.Available()
	return cs
}

func (cs *cgroupSupport) available() bool { return cs.err == nil }

// create makes a replica's cgroup with the service's limits. A leftover
// group of the same name (a crash, or the previous incarnation) is deleted
// first, with whatever still runs in it.
func (cs *cgroupSupport) create(replica string, cpuCores float64, memoryBytes int64) (*replicaCgroup, error) {
	if cs.err != nil {
		return nil, cs.err
	}
	if old, err := cgroup.Open(cs.parent + "/" + replica); err == nil {
		if err := old.Delete(); err != nil {
			return nil, fmt.Errorf("remove leftover cgroup: %w", err)
		}
	}
	g, err := cgroup.Create(cs.parent, replica, cgroup.Limits{CPUQuotaCores: cpuCores, MemoryBytes: memoryBytes})
	if err != nil {
		return nil, err
	}
	return &replicaCgroup{group: g, path: g.Path(), mode: g.Mode()}, nil
}

// prepare makes the process start inside the cgroup where the kernel can
// (cgroup v2: clone3 with CLONE_INTO_CGROUP), so not even its first
// instructions run outside; on v1 the process is moved right after start
// (add), before it can have done much.
func (rc *replicaCgroup) prepare(cmd *exec.Cmd) (cleanup func()) {
	if rc.mode != cgroup.ModeV2 {
		return func() {}
	}
	fd, err := syscall.Open(filepath.Join("/sys/fs/cgroup", rc.path), syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return func() {}
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = fd
	return func() { syscall.Close(fd) }
}

func (rc *replicaCgroup) add(pid int) error { return rc.group.AddProcess(pid) }
func (rc *replicaCgroup) freeze() error     { return rc.group.Freeze() }
func (rc *replicaCgroup) thaw() error       { return rc.group.Thaw() }
func (rc *replicaCgroup) kill() error       { return rc.group.Kill() }
func (rc *replicaCgroup) remove() error     { return rc.group.Delete() }

// removeAll deletes every cgroup of the environment, thawing and killing
// what runs in them (Cleanup, and the end of Shutdown).
func (cs *cgroupSupport) removeAll() error {
	if _, err := cgroup.Available(); err != nil {
		return nil // nothing can have been created
	}
	g, err := cgroup.Open(cs.parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", cs.parent, err)
	}
	if err := g.Delete(); err != nil {
		return fmt.Errorf("remove the environment's cgroups: %w", err)
	}
	return nil
}
