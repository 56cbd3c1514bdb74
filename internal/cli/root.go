package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK      = 0
	ExitInvalid = 1 // invalid input, or a failed verdict
	ExitUsage   = 2
	ExitAborted = 3
)

// exitError carries an exit code through cobra. Its message, if any, has
// already been printed or is printed by Run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErr marks an error as a usage error (exit 2).
func usageErr(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// silentExit ends a command with a code without printing anything more.
func silentExit(code int) error { return &exitError{code: code} }

// IO is where commands read and write; tests pass buffers.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Run executes the faultline command line and returns the exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	root := NewRoot(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stdio.Err, "error:", ee.err)
		}
		return ee.code
	}
	// Anything cobra itself rejects (unknown flag, bad arguments) is a usage error.
	fmt.Fprintln(stdio.Err, "error:", err)
	return ExitUsage
}

// NewRoot builds the command tree.
func NewRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "faultline",
		Short: "Chaos engineering for distributed AI services",
		Long: `faultline injects the failures real clusters see into a running distributed
service while driving load, and measures availability, consistency,
performance and recovery. Manifests are Chaos Mesh compatible.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(
		newVersionCmd(stdio),
		newValidateCmd(stdio),
	)
	for _, add := range commandConstructors() {
		root.AddCommand(add(stdio))
	}
	return root
}
