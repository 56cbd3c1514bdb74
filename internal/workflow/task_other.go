//go:build !unix

package workflow

import (
	"os"
	"os/exec"
)

// ownProcessGroup is a no-op where process groups do not exist; ending a
// task kills only its first process there.
func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(*exec.Cmd) {}

func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }
