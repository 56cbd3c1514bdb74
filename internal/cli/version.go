package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/version"
)

func newVersionCmd(stdio IO) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version of faultline",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			v := version.Get()
			if output != outTable {
				return writeStructured(stdio.Out, output, v)
			}
			commit := v.Commit
			if commit == "" {
				commit = "unknown"
			}
			_, err := fmt.Fprintf(stdio.Out, "faultline %s (commit %s, %s, %s)\n", v.Version, commit, v.GoVersion, v.Platform)
			return err
		},
	}
	addOutputFlag(c, &output)
	return c
}
