package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"
)

// Output formats accepted by -o.
const (
	outTable = "table"
	outJSON  = "json"
	outYAML  = "yaml"
)

func addOutputFlag(c *cobra.Command, target *string) {
	c.Flags().StringVarP(target, "output", "o", outTable, "output format: table, json or yaml")
	_ = c.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{outTable, outJSON, outYAML}, cobra.ShellCompDirectiveNoFileComp
	})
}

func checkOutput(o string) error {
	switch o {
	case outTable, outJSON, outYAML:
		return nil
	}
	return usageErr("unknown output format %q; valid: table, json, yaml", o)
}

// writeStructured writes v as JSON (indented) or YAML with the JSON field names.
func writeStructured(w io.Writer, format string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if format == outYAML {
		data, err = yaml.JSONToYAML(data)
		if err != nil {
			return fmt.Errorf("encode output as YAML: %w", err)
		}
		_, err = w.Write(data)
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
}
