//go:build unix

package workflow

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup starts the task in a process group of its own so that
// ending it reaches every process it started, not only the first: killing
// just `sh` would leave its children running and holding the output pipes.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killProcessGroup kills what the task left running after it exited, as a
// container's processes end with it.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// exitCode reports a signal the way Kubernetes does: 128+signal.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
