package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/explain"
)

type explainDoc struct {
	File        string   `json:"file"`
	Document    int      `json:"document"`
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Explanation []string `json:"explanation"`
}

func newExplainCmd(stdio IO) *cobra.Command {
	var ff fileFlags
	var output string
	c := &cobra.Command{
		Use:   "explain -f FILE|DIR|-",
		Short: "Say in plain language what a manifest would do",
		Long: `Explain a manifest without running it: what it would select (from the
selector, before any target is resolved), what happens when and for how
long, and a Workflow as a tree. Invalid manifests are reported as by
'faultline validate' and not explained.`,
		Example: `  faultline explain -f experiment.yaml
  faultline explain -f workflow.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			res, err := ff.load(stdio)
			if err != nil {
				return err
			}
			var docs []explainDoc
			for _, d := range res.Documents {
				if res.ErrorsIn(d).HasErrors() {
					continue
				}
				docs = append(docs, explainDoc{File: d.File, Document: d.Index, Kind: d.Kind(), Name: d.Name(),
					Explanation: explain.Object(d.Object)})
			}
			if output != outTable {
				if docs == nil {
					docs = []explainDoc{}
				}
				if err := writeStructured(stdio.Out, output, map[string]any{"documents": docs, "diagnostics": res.Diagnostics}); err != nil {
					return err
				}
			} else {
				for i, d := range docs {
					if i > 0 {
						fmt.Fprintln(stdio.Out)
					}
					for _, l := range d.Explanation {
						fmt.Fprintln(stdio.Out, l)
					}
				}
				for _, x := range res.Diagnostics {
					fmt.Fprintln(stdio.Err, x.String())
				}
			}
			if res.Diagnostics.HasErrors() {
				return silentExit(ExitInvalid)
			}
			return nil
		},
	}
	ff.add(c)
	addOutputFlag(c, &output)
	return c
}
