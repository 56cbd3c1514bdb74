package probe

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/goccy/go-yaml"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// GoldenSet is the content of an inference probe's goldenSetFile: a JSON or
// YAML list of golden requests, each an Open Inference Protocol request's
// inputs (and optional parameters) with the outputs it must produce. Field
// names are those of v1alpha1.GoldenRequest and InferenceTensor:
//
//	# golden.yaml
//	- name: user-42            # optional; default "#<position>", from 1
//	  parameters: {top_k: 5}   # optional, sent as the request's "parameters"
//	  inputs:                  # sent as the request's "inputs"
//	    - {name: user_id, shape: [1], datatype: INT64, data: [42]}
//	  expected:                # only outputs named here are compared
//	    - {name: items, shape: [5], datatype: INT64, data: [17, 3, 99, 4, 61]}
//	    - {name: scores, shape: [5], datatype: FP32, data: [0.93, 0.91, 0.88, 0.7, 0.69]}
//
// The same list in JSON (`[{"name": "user-42", "inputs": [...], ...}]`)
// reads the same, since YAML is a superset of JSON. Unknown fields are
// errors, so a misspelt "expect" cannot silently compare nothing. Tensor
// data may be flat (row-major) or nested like the shape; comparison
// flattens both sides.
type GoldenSet []v1alpha1.GoldenRequest

// ParseGoldenSet decodes and checks a golden set file's content; file names
// the file in errors.
func ParseGoldenSet(file string, data []byte) (GoldenSet, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("golden set %s is empty", file)
	}
	var gs GoldenSet
	if err := yaml.UnmarshalWithOptions(data, &gs, yaml.DisallowUnknownField()); err != nil {
		// The formatted error points at the line in the file; the original
		// stays reachable for errors.As.
		return nil, fmt.Errorf("golden set %s: %w", file, formattedError{yaml.FormatError(err, false, true), err})
	}
	if err := gs.check(); err != nil {
		return nil, fmt.Errorf("golden set %s: %w", file, err)
	}
	return gs, nil
}

// check names unnamed requests by position and rejects what could only
// compare nothing: no requests, no inputs, no expected outputs, or two
// requests whose mismatches could not be told apart.
func (gs GoldenSet) check() error {
	if len(gs) == 0 {
		return errors.New("holds no requests")
	}
	seen := map[string]int{}
	for i := range gs {
		r := &gs[i]
		if r.Name == "" {
			r.Name = "#" + strconv.Itoa(i+1)
		}
		if j, dup := seen[r.Name]; dup {
			return fmt.Errorf("requests %d and %d are both named %q; names tell mismatches apart", j+1, i+1, r.Name)
		}
		seen[r.Name] = i
		if len(r.Inputs) == 0 {
			return fmt.Errorf("request %s has no inputs", r.Name)
		}
		if len(r.Expected) == 0 {
			return fmt.Errorf("request %s has no expected outputs, so nothing would be compared", r.Name)
		}
		for _, t := range r.Expected {
			if t.Name == "" {
				return fmt.Errorf("request %s: an expected output has no name", r.Name)
			}
		}
	}
	return nil
}

// formattedError shows a decoder's error with its source excerpt while
// unwrapping to the error itself.
type formattedError struct {
	text string
	err  error
}

func (e formattedError) Error() string { return e.text }
func (e formattedError) Unwrap() error { return e.err }
