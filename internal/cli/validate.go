package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/internal/manifest"
)

// fileFlags holds -f values shared by every command that reads manifests.
type fileFlags struct {
	files []string
}

func (f *fileFlags) add(c *cobra.Command) {
	c.Flags().StringArrayVarP(&f.files, "filename", "f", nil,
		"manifest file, directory (read recursively) or - for stdin; repeatable")
	_ = c.MarkFlagFilename("filename", "yaml", "yml", "json")
}

// load reads and checks the -f inputs. A missing file is a usage error;
// invalid manifests are returned as diagnostics for the caller to report.
func (f *fileFlags) load(stdio IO) (manifest.Result, error) {
	if len(f.files) == 0 {
		return manifest.Result{}, usageErr("no manifests given; pass -f FILE, -f DIR or -f -")
	}
	srcs, err := manifest.ReadSources(f.files, stdio.In)
	if err != nil {
		return manifest.Result{}, usageErr("%v", err)
	}
	return manifest.Load(srcs), nil
}

// validateReport is the -o json|yaml form of `faultline validate`; its
// field names are a stable interface for editors and CI.
type validateReport struct {
	Valid       bool                  `json:"valid"`
	Documents   []validateDoc         `json:"documents"`
	Diagnostics []manifest.Diagnostic `json:"diagnostics"`
	Summary     map[string]int        `json:"summary"`
}

type validateDoc struct {
	File       string `json:"file"`
	Document   int    `json:"document"`
	Line       int    `json:"line"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Valid      bool   `json:"valid"`
}

func newValidateCmd(stdio IO) *cobra.Command {
	var ff fileFlags
	var output string
	c := &cobra.Command{
		Use:   "validate -f FILE|DIR|-",
		Short: "Check manifests and report every problem with file:line:col",
		Long: `Check Chaos Mesh and faultline manifests without running anything.

Every problem is printed as file:line:col: field.path: what is wrong; what
would be valid. All problems of every file are reported at once.
Exit status: 0 all valid, 1 some manifest is invalid, 2 usage error.`,
		Example: `  faultline validate -f experiment.yaml
  faultline validate -f examples/ -o json
  kubectl get podchaos -A -o yaml | faultline validate -f -`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			res, err := ff.load(stdio)
			if err != nil {
				return err
			}
			rep := buildValidateReport(res)
			if output != outTable {
				if err := writeStructured(stdio.Out, output, rep); err != nil {
					return err
				}
			} else {
				printValidateTable(stdio, res, rep)
			}
			if !rep.Valid {
				return silentExit(ExitInvalid)
			}
			return nil
		},
	}
	ff.add(c)
	addOutputFlag(c, &output)
	return c
}

func buildValidateReport(res manifest.Result) validateReport {
	rep := validateReport{Valid: !res.Diagnostics.HasErrors(), Diagnostics: res.Diagnostics,
		Documents: []validateDoc{}, Summary: map[string]int{"documents": len(res.Documents)}}
	if rep.Diagnostics == nil {
		rep.Diagnostics = []manifest.Diagnostic{}
	}
	for _, d := range res.Documents {
		tm := d.Object.GetTypeMeta()
		rep.Documents = append(rep.Documents, validateDoc{File: d.File, Document: d.Index, Line: d.Pos.Line,
			APIVersion: tm.APIVersion, Kind: tm.Kind, Name: d.Name(), Valid: !res.ErrorsIn(d).HasErrors()})
	}
	for _, x := range res.Diagnostics {
		rep.Summary[string(x.Severity)+"s"]++
	}
	return rep
}

func printValidateTable(stdio IO, res manifest.Result, rep validateReport) {
	if len(rep.Documents) > 0 {
		tw := newTable(stdio.Out)
		fmt.Fprintln(tw, "FILE\tDOC\tKIND\tNAME\tRESULT")
		for _, d := range rep.Documents {
			result := "valid"
			if !d.Valid {
				result = "invalid"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", d.File, d.Document, d.Kind, d.Name, result)
		}
		tw.Flush()
	}
	for _, x := range res.Diagnostics {
		fmt.Fprintln(stdio.Err, x.String())
	}
	errs, warns := rep.Summary["errors"], rep.Summary["warnings"]
	var parts []string
	parts = append(parts, fmt.Sprintf("%d document%s", len(rep.Documents), plural(len(rep.Documents))))
	parts = append(parts, fmt.Sprintf("%d error%s", errs, plural(errs)))
	if warns > 0 {
		parts = append(parts, fmt.Sprintf("%d warning%s", warns, plural(warns)))
	}
	fmt.Fprintln(stdio.Err, strings.Join(parts, ", "))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
