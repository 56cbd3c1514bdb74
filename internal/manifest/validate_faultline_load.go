package manifest

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

var flDatatypes = []string{
	string(v1alpha1.DatatypeBool), string(v1alpha1.DatatypeUint8), string(v1alpha1.DatatypeUint16),
	string(v1alpha1.DatatypeUint32), string(v1alpha1.DatatypeUint64), string(v1alpha1.DatatypeInt8),
	string(v1alpha1.DatatypeInt16), string(v1alpha1.DatatypeInt32), string(v1alpha1.DatatypeInt64),
	string(v1alpha1.DatatypeFP16), string(v1alpha1.DatatypeFP32), string(v1alpha1.DatatypeFP64),
	string(v1alpha1.DatatypeBytes),
}

// flServiceOrURL checks a target written as a service name or a URL.
// It returns true for a URL.
func flServiceOrURL(p Path, target string, sc *experimentScope, ps *Problems) bool {
	if strings.Contains(target, "://") {
		flHTTPURL(p, target, ps)
		return true
	}
	flService(p, target, sc, ps)
	return false
}

// flService checks a reference to a service of the environment: a name,
// or for a kube environment also name.namespace and a port (name:port,
// name.namespace:port, the port by name or number).
func flService(p Path, name string, sc *experimentScope, ps *Problems) {
	host, port, hasPort := strings.Cut(name, ":")
	labels := strings.Split(host, ".")
	valid := host != "" && len(labels) <= 5
	for _, l := range labels {
		valid = valid && len(l) <= 63 && dns1123Label.MatchString(l)
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		valid = valid && (err == nil && n >= 1 && n <= 65535 || err != nil && len(port) <= 15 && dns1123Label.MatchString(port))
	}
	if !valid {
		ps.Add(p, fmt.Sprintf("%q is neither a service name nor an http(s) URL", name),
			"write a service of the environment, e.g. model-server (in a kube environment also model-server.recsys or model-server:http), or a URL such as http://127.0.0.1:8080")
		return
	}
	if sc == nil || sc.services == nil {
		return
	}
	// A local environment's services are named alone.
	if len(labels) > 1 || hasPort {
		ps.Add(p, fmt.Sprintf("%q names a namespace or port, which only kube environments have", name),
			"write the local service's name alone, e.g. "+labels[0])
		return
	}
	flReference(p, name, "service", sc.services, ps)
}

func validateLoadSpec(p Path, l *v1alpha1.LoadSpec, sc *experimentScope, ps *Problems) {
	isURL := false
	if l.Target == "" {
		ps.Required(p.Child("target"), "write the service to load, by name, or a URL such as http://127.0.0.1:8080/")
	} else {
		isURL = flServiceOrURL(p.Child("target"), l.Target, sc, ps)
	}

	loadLen, lenOK := flDuration(p.Child("duration"), l.Duration, false, false, ps)
	if lenOK && sc.runLength > 0 && loadLen > sc.runLength {
		ps.Warn(p.Child("duration"), fmt.Sprintf("the load lasts %s but the run ends after %s", l.Duration, flFormatDuration(sc.runLength)),
			"the load stops when the run ends; omit duration to load the whole run")
	}
	if l.Duration == "" && sc.runLength > 0 {
		loadLen, lenOK = sc.runLength, true
	}

	switch {
	case l.Rate == nil && l.Ramp == nil:
		ps.Required(p.Child("rate"), "write rate: requests per second, e.g. 50, or ramp: {from: 10, to: 100, over: 30s}")
	case l.Rate != nil && l.Ramp != nil:
		ps.Add(p.Child("ramp"), "rate and ramp exclude each other", "write rate for a constant rate, or ramp for a changing one")
	case l.Rate != nil:
		if r := *l.Rate; !(r > 0) || !flFinite(r) {
			ps.Add(p.Child("rate"), fmt.Sprintf("rate must be greater than 0, got %v", r),
				"write requests per second, e.g. 50 (0.5 sends one request every 2s)")
		}
	default:
		rp := p.Child("ramp")
		r := l.Ramp
		if r.From < 0 || !flFinite(r.From) {
			ps.Add(rp.Child("from"), fmt.Sprintf("from must not be negative, got %v", r.From), "write the starting rate in requests per second, 0 or more")
		}
		if r.To < 0 || !flFinite(r.To) {
			ps.Add(rp.Child("to"), fmt.Sprintf("to must not be negative, got %v", r.To), "write the final rate in requests per second, 0 or more")
		}
		if r.From == 0 && r.To == 0 {
			ps.Add(rp.Child("to"), "a ramp from 0 to 0 sends no requests", "write a final rate above 0, e.g. to: 100")
		}
		if over, ok := flDuration(rp.Child("over"), r.Over, false, false, ps); ok && lenOK && over > loadLen {
			ps.Add(rp.Child("over"), fmt.Sprintf("the ramp takes %s but the load lasts %s", r.Over, flFormatDuration(loadLen)),
				fmt.Sprintf("write over: %s or less, or omit it to ramp over the whole load", flFormatDuration(loadLen)))
		}
	}

	flHTTPMethod(p.Child("method"), l.Method, ps)
	if l.Path != "" {
		switch {
		case isURL:
			ps.Add(p.Child("path"), "path is for a service target; a URL target carries its own path",
				fmt.Sprintf("write the path in target, e.g. %s%s, and remove path", strings.TrimSuffix(l.Target, "/"), l.Path))
		case l.Inference != nil:
			ps.Add(p.Child("path"), "inference requests go to the model's infer endpoint, not to path",
				"remove path; the request is sent to /v2/models/<model>/infer")
		default:
			flPath(p.Child("path"), l.Path, ps)
		}
	}
	flHeaderNames(p.Child("headers"), l.Headers, ps)
	flExclusive(p, false, "a load sends one kind of body: body, bodyFile, bodies, bodiesFile or inference", ps,
		flField{"body", l.Body != ""}, flField{"bodyFile", l.BodyFile != ""}, flField{"bodies", len(l.Bodies) > 0},
		flField{"bodiesFile", l.BodiesFile != ""}, flField{"inference", l.Inference != nil})
	if l.Inference != nil {
		if l.Method != "" && l.Method != "POST" {
			ps.Add(p.Child("method"), fmt.Sprintf("inference requests are sent with POST, not %s", l.Method), "remove method or write POST")
		}
		validateInferenceRequest(p.Child("inference"), l.Inference, ps)
	}
	flStatusCodes(p.Child("expectedStatus"), l.ExpectedStatus, ps)
	flDuration(p.Child("timeout"), l.Timeout, false, false, ps)
	if l.MaxWorkers != nil && *l.MaxWorkers < 1 {
		ps.Add(p.Child("maxWorkers"), fmt.Sprintf("maxWorkers must be at least 1, got %d", *l.MaxWorkers),
			"write the most requests in flight at once, or omit it for rate × timeout")
	}
}

func validateInferenceRequest(p Path, r *v1alpha1.InferenceRequest, ps *Problems) {
	if r.Model == "" {
		ps.Required(p.Child("model"), "write the model's name as served, e.g. recsys")
	}
	validateInferenceTensors(p.Child("inputs"), r.Inputs, "input", ps)
	for i, o := range r.Outputs {
		if o.Name == "" {
			ps.Required(p.Child("outputs").Index(i).Child("name"), "write the name of an output tensor of the model")
		}
	}
}

// validateInferenceTensors checks a required, non-empty list of tensors
// with unique names.
func validateInferenceTensors(p Path, ts []v1alpha1.InferenceTensor, what string, ps *Problems) {
	if len(ts) == 0 {
		ps.Required(p, fmt.Sprintf("list at least one %s tensor: {name, shape, datatype, data}", what))
		return
	}
	seen := map[string]bool{}
	for i := range ts {
		t := &ts[i]
		tp := p.Index(i)
		if t.Name == "" {
			ps.Required(tp.Child("name"), fmt.Sprintf("write the %s tensor's name, e.g. user_id", what))
		} else if seen[t.Name] {
			ps.Add(tp.Child("name"), fmt.Sprintf("tensor %q is listed twice", t.Name), "each tensor appears once")
		}
		seen[t.Name] = true
		validateInferenceTensor(tp, t, ps)
	}
}

func validateInferenceTensor(p Path, t *v1alpha1.InferenceTensor, ps *Problems) {
	shapeOK := true
	if t.Shape == nil {
		ps.Required(p.Child("shape"), "write the tensor's dimensions, e.g. [1] or [1, 16]")
		shapeOK = false
	}
	elems := int64(1)
	for i, d := range t.Shape {
		if d < 0 {
			ps.Add(p.Child("shape").Index(i), fmt.Sprintf("dimension %d is negative", d), "write 0 or more")
			shapeOK = false
			continue
		}
		if elems <= 1<<40 {
			elems *= d
		}
	}
	if t.Datatype == "" {
		ps.Required(p.Child("datatype"), "valid values: "+strings.Join(flDatatypes, ", "))
	} else {
		validateEnum(p.Child("datatype"), string(t.Datatype), flDatatypes, ps)
	}
	if t.Data == nil {
		ps.Required(p.Child("data"), "write the tensor's elements, e.g. [42] or [[0.1, 0.2]]")
		return
	}
	if n, ok := flCountElements(t.Data); ok && shapeOK && int64(n) != elems {
		ps.Add(p.Child("data"), fmt.Sprintf("data holds %d elements but shape %v needs %d", n, t.Shape, elems),
			"make data and shape agree: the product of the dimensions is the element count")
	}
}

// flCountElements counts the scalars of a (possibly nested) list. ok is false
// when data is not a list.
func flCountElements(data any) (int, bool) {
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return 0, false
	}
	n := 0
	for i := 0; i < v.Len(); i++ {
		e := v.Index(i)
		if e.Kind() == reflect.Interface && !e.IsNil() {
			e = e.Elem()
		}
		if e.Kind() == reflect.Slice || e.Kind() == reflect.Array {
			c, _ := flCountElements(e.Interface())
			n += c
		} else {
			n++
		}
	}
	return n, true
}
