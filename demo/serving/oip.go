package serving

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Open Inference Protocol (KServe v2) messages, as much of them as the
// demo serves.

// InferRequest is the body of POST /v2/models/{model}/infer.
type InferRequest struct {
	ID         string                     `json:"id,omitempty"`
	Parameters map[string]json.RawMessage `json:"parameters,omitempty"`
	Inputs     []Tensor                   `json:"inputs"`
	Outputs    []RequestedOutput          `json:"outputs,omitempty"`
}

// RequestedOutput names an output the client wants.
type RequestedOutput struct {
	Name string `json:"name"`
}

// Tensor is an input or output tensor. Data stays raw on input (flat or
// nested, decoded by ints) and is a typed slice on output.
type Tensor struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     any     `json:"data"`
}

// InferResponse is the answer of an infer call.
type InferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []Tensor       `json:"outputs"`
}

// TensorMeta describes a model input or output in its metadata.
type TensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the answer of GET /v2/models/{model}.
type ModelMetadata struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions"`
	Platform string       `json:"platform"`
	Inputs   []TensorMeta `json:"inputs"`
	Outputs  []TensorMeta `json:"outputs"`
}

// maxTensorElements bounds one input tensor.
const maxTensorElements = 1 << 16

// ints reads an integer tensor's data (flat or nested like the shape),
// checking the datatype and that the shape holds exactly the elements.
func (t Tensor) ints() ([]int64, error) {
	switch strings.ToUpper(t.Datatype) {
	case "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64":
	default:
		return nil, fmt.Errorf("input %s: datatype %q, want an integer type such as INT64", t.Name, t.Datatype)
	}
	want := int64(1)
	for _, d := range t.Shape {
		if d < 0 || d > maxTensorElements {
			return nil, fmt.Errorf("input %s: shape %v has a dimension outside 0 to %d", t.Name, t.Shape, maxTensorElements)
		}
		want *= d
		if want > maxTensorElements {
			return nil, fmt.Errorf("input %s: shape %v holds more than %d elements", t.Name, t.Shape, maxTensorElements)
		}
	}
	var out []int64
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > 8 {
			return fmt.Errorf("input %s: data nested deeper than 8", t.Name)
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				f, ferr := x.Float64()
				if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
					return fmt.Errorf("input %s: %s is not an integer", t.Name, x)
				}
				n = int64(f)
			}
			if len(out) >= maxTensorElements {
				return fmt.Errorf("input %s: more than %d elements", t.Name, maxTensorElements)
			}
			out = append(out, n)
		default:
			return fmt.Errorf("input %s: element %v is not a number", t.Name, v)
		}
		return nil
	}
	if err := walk(t.Data, 0); err != nil {
		return nil, err
	}
	if len(t.Shape) > 0 && int64(len(out)) != want {
		return nil, fmt.Errorf("input %s: shape %v holds %d elements, data has %d", t.Name, t.Shape, want, len(out))
	}
	return out, nil
}

// decodeInferRequest parses an infer body, keeping numbers exact.
func decodeInferRequest(b []byte) (InferRequest, error) {
	var req InferRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("body is not an inference request: %w", err)
	}
	if dec.More() {
		return req, fmt.Errorf("body holds more than one JSON value")
	}
	return req, nil
}
