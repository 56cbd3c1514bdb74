package cli

import "github.com/spf13/cobra"

// commandConstructors returns the constructors of the commands beyond
// version and validate. Add new commands here.
func commandConstructors() []func(IO) *cobra.Command {
	return []func(IO) *cobra.Command{
		newRunCmd,
		newExplainCmd,
		newSchemaCmd,
		newDocsCmd,
		newInjectCmd,
		newStopCmd,
		newRecoverCmd,
		newEnvCmd,
		newDemoCmd,
	}
}
