package manifest

import (
	"fmt"
	"regexp"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// Validate checks a decoded document against faultline's and Chaos Mesh's
// rules and returns the problems located at file:line:col.
func Validate(doc *Document) Diagnostics {
	if doc == nil || doc.Object == nil {
		return nil
	}
	var ps Problems
	validateObject(doc.Object, &ps)
	var out Diagnostics
	for _, p := range ps.List {
		full := prefixed(doc.ItemPath, p.Path)
		pos := doc.PosOf(full, p.AtKey)
		sev := SeverityError
		if p.Warning {
			sev = SeverityWarning
		}
		out = append(out, Diagnostic{File: doc.File, Line: pos.Line, Column: pos.Col, Document: doc.Index,
			Path: string(full), Message: p.Message, Hint: p.Hint, Severity: sev})
	}
	out.Sort()
	return out
}

// ValidateObject checks an object that did not come from a file (built in
// code, or decoded elsewhere); problems carry paths but no positions.
func ValidateObject(obj v1alpha1.Object) []Problem {
	var ps Problems
	validateObject(obj, &ps)
	return ps.List
}

func validateObject(obj v1alpha1.Object, ps *Problems) {
	validateMeta(obj.GetObjectMeta(), ps)
	spec := Path("spec")
	switch o := obj.(type) {
	case *v1alpha1.PodChaos:
		validatePodChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.NetworkChaos:
		validateNetworkChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.StressChaos:
		validateStressChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.HTTPChaos:
		validateHTTPChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.IOChaos:
		validateIOChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.DNSChaos:
		validateDNSChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.TimeChaos:
		validateTimeChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.Workflow:
		validateWorkflowSpec(spec, &o.Spec, ps)
	case *v1alpha1.Schedule:
		validateScheduleSpec(spec, &o.Spec, ps)
	case *v1alpha1.StatusCheck:
		validateStatusCheckSpec(spec, &o.Spec, ps)
	case *v1alpha1.Environment:
		validateEnvironmentSpec(spec, &o.Spec, ps)
	case *v1alpha1.Experiment:
		validateExperimentSpec(spec, &o.Spec, ps)
	case *v1alpha1.NodeChaos:
		validateNodeChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.ScaleChaos:
		validateScaleChaosSpec(spec, &o.Spec, ps)
	case *v1alpha1.ModelChaos:
		validateModelChaosSpec(spec, &o.Spec, ps)
	default:
		ps.Add("kind", fmt.Sprintf("kind %T has no validation", obj), "report this to the faultline maintainers")
	}
}

var (
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

func validateMeta(m *v1alpha1.ObjectMeta, ps *Problems) {
	p := Path("metadata")
	switch {
	case m.Name == "" && m.GenerateName == "":
		ps.Required(p.Child("name"), "write metadata.name: a lower-case name such as my-experiment")
	case m.Name != "":
		checkDNSSubdomain(p.Child("name"), m.Name, ps)
	}
	if m.Namespace != "" && (len(m.Namespace) > 63 || !dns1123Label.MatchString(m.Namespace)) {
		ps.Add(p.Child("namespace"), fmt.Sprintf("%q is not a valid namespace", m.Namespace),
			"use lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit")
	}
}

// checkDNSSubdomain checks a Kubernetes object name.
func checkDNSSubdomain(p Path, name string, ps *Problems) {
	if len(name) > 253 || !dns1123Subdomain.MatchString(name) {
		ps.Add(p, fmt.Sprintf("%q is not a valid name", name),
			"use lower-case letters, digits, '-' and '.', at most 253 characters, starting and ending with a letter or digit")
	}
}

// checkDNSLabel checks a name that must be a single DNS label (services,
// nodes, templates used as host or process names).
func checkDNSLabel(p Path, name string, ps *Problems) {
	if len(name) > 63 || !dns1123Label.MatchString(name) {
		ps.Add(p, fmt.Sprintf("%q is not a valid name", name),
			"use lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit")
	}
}
