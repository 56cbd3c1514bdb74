package engine

import (
	"errors"
	"fmt"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// CheckNodeChaos refuses a NodeChaos no engine can plan: a missing or
// unknown action, or an empty selector, which would hit every node. Both
// engines call it before resolving nodes, so the messages are the same.
func CheckNodeChaos(spec *v1alpha1.NodeChaosSpec) error {
	switch spec.Action {
	case v1alpha1.NodeDown, v1alpha1.NodeDrain:
	case "":
		return errors.New("no action given; NodeChaos takes node-down or node-drain")
	default:
		return fmt.Errorf("unknown action %q; NodeChaos takes node-down or node-drain", spec.Action)
	}
	if spec.Selector.IsEmpty() {
		return errors.New("selector is empty; name nodes, labelSelectors or expressionSelectors (an empty selector would hit every node)")
	}
	return nil
}
