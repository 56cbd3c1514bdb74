package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
)

func newRecoverCmd(stdio IO) *cobra.Command {
	var force bool
	var output, envFile string
	c := &cobra.Command{
		Use:   "recover [--force] [-e KUBE-ENV.yaml]",
		Short: "Revert the faults a crashed faultline left behind",
		Long: `Revert every fault journaled by a faultline that is gone: one whose owner
process died (even by SIGKILL) or stopped renewing its lease. Each is undone
from its journal entry — the frozen replica thawed, leftover stress-ng
processes killed, the node brought back up or uncordoned, the service
scaled back — through the environment's supervisor when it still runs,
directly otherwise. Then every environment whose supervisor died is
cleaned up: its processes, cgroups and control socket.

With -e KUBE-ENV.yaml it recovers a cluster instead: every injection
journaled there (a Lease labelled faultline.dev/journal in the journal
namespace) whose holder is gone or whose lease ran out is undone — pods'
images restored, nodes uncordoned and untainted, workloads scaled back,
delegated Chaos Mesh objects deleted — and its Lease removed.

Faults held by a running faultline are left alone unless --force is given.
'faultline inject' does the same recovery when it starts.
Exit status: 0 everything found was reverted, 1 something could not be.`,
		Example: `  faultline recover
  faultline recover --force -o json
  faultline recover -e demo/kube/environment.yaml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if envFile != "" {
				return recoverKube(c.Context(), stdio, envFile, output, force)
			}
			rep, err := local.Recover(c.Context(), engine.StateDir(), local.RecoverOptions{Force: force})
			if output != outTable {
				if werr := writeStructured(stdio.Out, output, rep); werr != nil {
					return werr
				}
			} else {
				printRecover(stdio.Out, rep)
			}
			if err != nil || !rep.OK() {
				if err != nil {
					fmt.Fprintln(stdio.Err, "error:", err)
				}
				return silentExit(ExitInvalid)
			}
			return nil
		},
	}
	addOutputFlag(c, &output)
	c.Flags().BoolVar(&force, "force", false, "also revert faults that a running faultline still holds")
	c.Flags().StringVarP(&envFile, "environment", "e", "", "a kube Environment file: recover that cluster's journaled faults")
	return c
}

func printRecover(w io.Writer, rep *local.RecoverReport) {
	if len(rep.Injections) == 0 && len(rep.Environments) == 0 {
		fmt.Fprint(w, "nothing to recover")
		if rep.Held > 0 {
			fmt.Fprintf(w, " (%d %s held by running faultline processes; --force reverts them too)", rep.Held, pluralWord(rep.Held, "fault", "faults"))
		}
		fmt.Fprintln(w)
		return
	}
	for _, i := range rep.Injections {
		result := "reverted"
		if !i.Reverted {
			result = "NOT reverted: " + i.Error
		}
		env := ""
		if i.Environment != "" {
			env = " in environment " + i.Environment
		}
		fmt.Fprintf(w, "injection %s (%s %s%s): %s; %s\n", i.ID, i.Kind, i.Name, env, i.Why, result)
		for _, s := range i.Steps {
			if s.Error != "" {
				fmt.Fprintf(w, "  %-14s failed: %s\n", s.Action, s.Error)
			} else {
				fmt.Fprintf(w, "  %-14s %s\n", s.Action, s.Result)
			}
		}
	}
	for _, e := range rep.Environments {
		if e.Error != "" {
			fmt.Fprintf(w, "environment %s (supervisor pid %d is gone): cleanup failed: %s\n", e.Name, e.PID, e.Error)
		} else {
			fmt.Fprintf(w, "environment %s (supervisor pid %d is gone): processes, cgroups and socket cleaned up\n", e.Name, e.PID)
		}
	}
	if rep.Held > 0 {
		fmt.Fprintf(w, "%d %s held by running faultline processes left alone\n", rep.Held, pluralWord(rep.Held, "fault", "faults"))
	}
}

// printRecoverSummary says briefly what the automatic recovery at the start
// of a command did.
func printRecoverSummary(w io.Writer, rep *local.RecoverReport, err error) {
	reverted := 0
	for _, i := range rep.Injections {
		if i.Reverted {
			reverted++
		}
	}
	if len(rep.Injections) > 0 {
		fmt.Fprintf(w, "recovered %d of %d orphaned %s left by a faultline that is gone\n", reverted, len(rep.Injections), pluralWord(len(rep.Injections), "fault", "faults"))
	}
	for _, e := range rep.Environments {
		fmt.Fprintf(w, "cleaned up environment %s (its supervisor, pid %d, is gone)\n", e.Name, e.PID)
	}
	if err != nil {
		fmt.Fprintf(w, "warning: recovery incomplete (run 'faultline recover'): %v\n", err)
	}
}
