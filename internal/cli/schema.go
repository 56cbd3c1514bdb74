package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/schema"
)

func newSchemaCmd(stdio IO) *cobra.Command {
	var output, dir string
	c := &cobra.Command{
		Use:   "schema [KIND]",
		Short: "Print JSON Schema for manifests, for editors and CI",
		Long: `Print the JSON Schema (draft-07) of one kind, or of every kind at once.

With no KIND the schema accepts any faultline or Chaos Mesh manifest and picks
the kind's schema from apiVersion and kind. Point yaml-language-server at it:

  # yaml-language-server: $schema=./faultline.schema.json

--dir writes all.json plus one <kind>.json per kind into a directory.`,
		Example: `  faultline schema > faultline.schema.json
  faultline schema PodChaos
  faultline schema --dir schemas/`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, k := range v1alpha1.Kinds() {
				names = append(names, k.Kind)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			if output != outJSON && output != outYAML {
				return usageErr("unknown output format %q; valid: json, yaml", output)
			}
			if dir != "" {
				if len(args) > 0 {
					return usageErr("give either KIND or --dir, not both")
				}
				return writeSchemaDir(stdio, dir)
			}
			if len(args) == 0 {
				return writeStructured(stdio.Out, output, schema.All())
			}
			k, err := schema.KindByName(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			return writeStructured(stdio.Out, output, schema.ForKind(k))
		},
	}
	c.Flags().StringVarP(&output, "output", "o", outJSON, "output format: json or yaml")
	c.Flags().StringVar(&dir, "dir", "", "write all.json and one file per kind into this directory")
	return c
}

func writeSchemaDir(stdio IO, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	write := func(name string, v any) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("write schema: %w", err)
		}
		if err := writeStructured(f, outJSON, v); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write("all.json", schema.All()); err != nil {
		return err
	}
	for _, k := range v1alpha1.Kinds() {
		if err := write(strings.ToLower(k.Kind)+".json", schema.ForKind(k)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdio.Out, "wrote %d schemas to %s\n", len(v1alpha1.Kinds())+1, dir)
	return nil
}

func newDocsCmd(stdio IO) *cobra.Command {
	c := &cobra.Command{
		Use:    "docs",
		Short:  "Generate documentation from the API types",
		Hidden: true,
	}
	c.AddCommand(&cobra.Command{
		Use:   "reference",
		Short: "Print the manifest reference (Markdown) generated from the API types",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return schema.WriteReference(stdio.Out)
		},
	})
	return c
}
