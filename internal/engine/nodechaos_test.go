package engine

import (
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestCheckNodeChaos(t *testing.T) {
	named := v1alpha1.NodeChaosSelector{}
	named.Nodes = []string{"node-1"}
	tests := []struct {
		name string
		spec v1alpha1.NodeChaosSpec
		want string
	}{
		{"down", v1alpha1.NodeChaosSpec{Action: v1alpha1.NodeDown}, ""},
		{"no action", v1alpha1.NodeChaosSpec{}, "no action given"},
		{"unknown action", v1alpha1.NodeChaosSpec{Action: "reboot"}, `unknown action "reboot"`},
		{"empty selector", v1alpha1.NodeChaosSpec{Action: v1alpha1.NodeDrain}, "selector is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			if tt.name == "down" {
				spec.Selector = named
			}
			err := CheckNodeChaos(&spec)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("CheckNodeChaos = %v, want %q", err, tt.want)
			}
		})
	}
}
