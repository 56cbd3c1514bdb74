package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// Document is one decoded manifest.
type Document struct {
	// File the document came from ("-" for standard input).
	File string
	// Index is the 1-based position of the document in its file.
	Index int
	// Pos is where the document starts.
	Pos Pos
	// Object is the typed manifest; nil when it could not be decoded.
	Object v1alpha1.Object
	// ItemPath is set for objects inside a `kind: List` document ("items[2]").
	ItemPath Path

	fields map[Path]fieldPos
}

type fieldPos struct {
	key, value Pos
}

// Kind is "apiVersion/kind" of the document's object, or "" if unknown.
func (d *Document) Kind() string {
	if d.Object == nil {
		return ""
	}
	tm := d.Object.GetTypeMeta()
	return tm.Kind
}

// Name is the object's metadata.name.
func (d *Document) Name() string {
	if d.Object == nil {
		return ""
	}
	return d.Object.GetObjectMeta().Name
}

// PosOf returns where the field at path was written. For a field that is
// absent (a missing required field) it returns the nearest written parent.
func (d *Document) PosOf(path Path, atKey bool) Pos {
	for p := path; ; p = p.Parent() {
		if fp, ok := d.fields[p]; ok {
			if atKey && p == path && fp.key.Line > 0 {
				return fp.key
			}
			return fp.value
		}
		if p == "" {
			return d.Pos
		}
	}
}

// Has reports whether the field at path was written in the document.
func (d *Document) Has(path Path) bool {
	_, ok := d.fields[path]
	return ok
}

var docSeparator = regexp.MustCompile(`^---[ \t]*(#.*)?$`)

// chunk is the text of one document and the line it starts on.
type chunk struct {
	text      []byte
	startLine int
	// explicit is true when a `---` opened this chunk.
	explicit bool
}

// splitDocuments cuts a YAML stream at `---` lines. Splitting before parsing
// lets a syntax error in one document leave the others readable.
func splitDocuments(data []byte) []chunk {
	var out []chunk
	lines := bytes.SplitAfter(data, []byte("\n"))
	cur := chunk{startLine: 1}
	var buf bytes.Buffer
	for i, ln := range lines {
		trimmed := bytes.TrimRight(ln, "\r\n")
		if docSeparator.Match(trimmed) {
			cur.text = append([]byte(nil), buf.Bytes()...)
			out = append(out, cur)
			buf.Reset()
			cur = chunk{startLine: i + 2, explicit: true}
			continue
		}
		if bytes.Equal(trimmed, []byte("...")) {
			// Document end marker: the rest until the next --- is ignored
			// by YAML, but we keep line numbers right by blanking it.
			buf.WriteString("\n")
			continue
		}
		buf.Write(ln)
	}
	cur.text = append([]byte(nil), buf.Bytes()...)
	out = append(out, cur)
	return out
}

// isBlank reports whether a chunk holds only whitespace and comments.
func isBlank(b []byte) bool {
	for _, ln := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(ln)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// Decode reads every document of one file. It returns the documents that
// decoded (possibly with an incomplete Object when the document had errors)
// and every problem found, sorted. It never panics.
func Decode(file string, data []byte) (docs []*Document, diags Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			diags = append(diags, Diagnostic{File: file, Severity: SeverityError,
				Message: fmt.Sprintf("internal error while reading the manifest: %v", r),
				Hint:    "please report this file to the faultline maintainers"})
		}
		diags.Sort()
	}()
	if len(data) > MaxFileBytes {
		return nil, Diagnostics{{File: file, Line: 1, Column: 1, Severity: SeverityError,
			Message: fmt.Sprintf("file is %d bytes, over the %d byte limit", len(data), MaxFileBytes),
			Hint:    "split it into smaller files"}}
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		data = data[3:] // UTF-8 byte order mark
	}
	chunks := splitDocuments(data)
	docIndex := 0
	for ci, ch := range chunks {
		if isBlank(ch.text) {
			// A leading header (before the first ---) and a trailing
			// separator are normal; an empty document in between is a
			// mistake worth naming.
			if ch.explicit && ci < len(chunks)-1 {
				docIndex++
				diags = append(diags, Diagnostic{File: file, Line: ch.startLine - 1, Column: 1, Document: docIndex,
					Severity: SeverityError, Message: "empty document",
					Hint: "remove the extra '---' separator or write a manifest between them"})
			}
			continue
		}
		docIndex++
		ds, dd := decodeChunk(file, docIndex, ch)
		docs = append(docs, ds...)
		diags = append(diags, dd...)
	}
	if docIndex == 0 {
		diags = append(diags, Diagnostic{File: file, Line: 1, Column: 1, Severity: SeverityError,
			Message: "no manifest in the file", Hint: "write at least one document with apiVersion, kind, metadata and spec"})
	}
	return docs, diags
}

func decodeChunk(file string, index int, ch chunk) ([]*Document, Diagnostics) {
	diag := func(pos Pos, path Path, msg, hint string) Diagnostic {
		return Diagnostic{File: file, Line: pos.Line, Column: pos.Col, Document: index, Path: string(path),
			Message: msg, Hint: hint, Severity: SeverityError}
	}
	start := Pos{Line: ch.startLine, Col: 1}
	if len(ch.text) > MaxDocumentBytes {
		return nil, Diagnostics{diag(start, "", fmt.Sprintf("document is %d bytes, over the %d byte limit", len(ch.text), MaxDocumentBytes),
			"split it into smaller documents; a Kubernetes API server would refuse it too")}
	}
	if d, ok := tabIndent(ch); ok {
		return nil, Diagnostics{diag(d, "", "tab character in indentation",
			"YAML indents with spaces only; replace the tab with spaces")}
	}
	f, err := parser.ParseBytes(ch.text, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, Diagnostics{syntaxDiag(file, index, ch.startLine, err)}
	}
	var docs []*Document
	var diags Diagnostics
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		c := &converter{lineOffset: ch.startLine - 1, anchors: map[string]ast.Node{}}
		root := c.convert(d.Body, "", 0)
		for _, p := range c.problems {
			diags = append(diags, diag(p.pos, p.path, p.msg, p.hint))
		}
		if c.aborted || root == nil {
			continue
		}
		if root.kind == nodeNull {
			diags = append(diags, diag(start, "", "empty document", "write a manifest with apiVersion, kind, metadata and spec"))
			continue
		}
		if root.kind != nodeMap {
			diags = append(diags, diag(root.pos, "", "a manifest must be an object, not "+root.kind.String(),
				"write apiVersion:, kind:, metadata: and spec: at the top level"))
			continue
		}
		if list, ok := listItems(root); ok {
			for i, it := range list.items {
				doc, dd := decodeObject(file, index, it, Path("items").Index(i))
				docs = append(docs, doc...)
				diags = append(diags, dd...)
			}
			continue
		}
		doc, dd := decodeObject(file, index, root, "")
		docs = append(docs, doc...)
		diags = append(diags, dd...)
	}
	return docs, diags
}

// listItems recognises a Kubernetes `kind: List` (as `kubectl get -o yaml`
// writes for several objects) and returns its items.
func listItems(root *node) (*node, bool) {
	kind, _ := lookup(root, "kind")
	items, _ := lookup(root, "items")
	if kind == nil || kind.kind != nodeString || !strings.HasSuffix(kind.str, "List") || items == nil || items.kind != nodeSeq {
		return nil, false
	}
	return items, true
}

func lookup(n *node, key string) (*node, Pos) {
	if n == nil || n.kind != nodeMap {
		return nil, Pos{}
	}
	for _, e := range n.entries {
		if e.key == key {
			return e.value, e.keyPos
		}
	}
	return nil, Pos{}
}

// decodeObject decodes one object node into its typed kind.
func decodeObject(file string, index int, root *node, prefix Path) ([]*Document, Diagnostics) {
	doc := &Document{File: file, Index: index, Pos: root.pos, ItemPath: prefix, fields: map[Path]fieldPos{}}
	dc := &decoder{doc: doc, prefix: prefix, types: map[reflect.Type]*structInfo{}}
	diag := func(pos Pos, path Path, msg, hint string) Diagnostic {
		return Diagnostic{File: file, Line: pos.Line, Column: pos.Col, Document: index, Path: string(prefixed(prefix, path)),
			Message: msg, Hint: hint, Severity: SeverityError}
	}
	if root.kind != nodeMap {
		return nil, Diagnostics{diag(root.pos, "", "a manifest must be an object, not "+root.kind.String(), "write apiVersion:, kind:, metadata: and spec:")}
	}
	av, avPos := lookup(root, "apiVersion")
	kd, kdPos := lookup(root, "kind")
	var diags Diagnostics
	if av == nil || av.kind != nodeString || av.str == "" {
		p := root.pos
		if av != nil {
			p = avPos
		}
		diags = append(diags, diag(p, "apiVersion", "apiVersion is missing or not a string",
			"write apiVersion: chaos-mesh.org/v1alpha1 for Chaos Mesh kinds or faultline.dev/v1alpha1 for faultline kinds"))
	}
	if kd == nil || kd.kind != nodeString || kd.str == "" {
		p := root.pos
		if kd != nil {
			p = kdPos
		}
		diags = append(diags, diag(p, "kind", "kind is missing or not a string", "valid kinds: "+strings.Join(kindNames(), ", ")))
	}
	if len(diags) > 0 {
		return nil, diags
	}
	info, ok := v1alpha1.LookupKind(av.str, kd.str)
	if !ok {
		return nil, Diagnostics{unknownKind(diag, av, kd)}
	}
	obj := info.New()
	dc.decode(root, reflect.ValueOf(obj).Elem(), "", Pos{})
	doc.Object = obj
	for _, p := range dc.problems {
		diags = append(diags, diag(p.pos, p.path, p.msg, p.hint))
	}
	return []*Document{doc}, diags
}

func prefixed(prefix, p Path) Path {
	if prefix == "" {
		return p
	}
	if p == "" {
		return prefix
	}
	if strings.HasPrefix(string(p), "[") {
		return prefix + p
	}
	return prefix + "." + p
}

func kindNames() []string {
	var names []string
	for _, k := range v1alpha1.Kinds() {
		names = append(names, k.Kind)
	}
	return names
}

func unknownKind(diag func(Pos, Path, string, string) Diagnostic, av, kd *node) Diagnostic {
	// Right kind, wrong group?
	for _, k := range v1alpha1.Kinds() {
		if k.Kind == kd.str {
			return diag(av.pos, "apiVersion", fmt.Sprintf("kind %s is not in %s", kd.str, av.str), "write apiVersion: "+k.APIVersion)
		}
	}
	hint := "valid kinds: " + strings.Join(kindNames(), ", ")
	if s := suggest(kd.str, kindNames()); s != "" {
		hint = fmt.Sprintf("did you mean %s? %s", s, hint)
	}
	if av.str != v1alpha1.ChaosMeshAPIVersion && av.str != v1alpha1.FaultlineAPIVersion {
		d := diag(av.pos, "apiVersion", fmt.Sprintf("unknown apiVersion %q with kind %q", av.str, kd.str),
			"faultline reads chaos-mesh.org/v1alpha1 and faultline.dev/v1alpha1; "+hint)
		d.foreign = true
		return d
	}
	return diag(kd.pos, "kind", fmt.Sprintf("unknown kind %q", kd.str), hint)
}

// syntaxDiag turns a parser error into a diagnostic at its token.
func syntaxDiag(file string, index, startLine int, err error) Diagnostic {
	d := Diagnostic{File: file, Document: index, Line: startLine, Column: 1, Severity: SeverityError,
		Message: "YAML syntax error", Hint: "check indentation, colons and quotes around this place"}
	var pe interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &pe) {
		if tk := pe.GetToken(); tk != nil && tk.Position != nil {
			d.Line = tk.Position.Line + startLine - 1
			d.Column = tk.Position.Column
		}
		if m := pe.GetMessage(); m != "" {
			d.Message = "YAML syntax error: " + m
		}
	} else {
		d.Message = "YAML syntax error: " + err.Error()
	}
	return d
}

// tabIndent finds a tab used as indentation in block YAML. JSON-style flow
// documents may use tabs freely, so they are exempt.
func tabIndent(ch chunk) (Pos, bool) {
	if t := bytes.TrimSpace(stripComments(ch.text)); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return Pos{}, false
	}
	for i, ln := range bytes.Split(ch.text, []byte("\n")) {
		for col, b := range ln {
			if b == '\t' {
				// A tab after only spaces/tabs at the start of a non-blank line is indentation.
				rest := bytes.TrimSpace(ln[col:])
				if len(rest) > 0 && rest[0] != '#' {
					return Pos{Line: ch.startLine + i, Col: col + 1}, true
				}
				break
			}
			if b != ' ' && b != '-' {
				break
			}
		}
	}
	return Pos{}, false
}

func stripComments(b []byte) []byte {
	var out bytes.Buffer
	for _, ln := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(ln)
		if len(t) > 0 && t[0] == '#' {
			continue
		}
		out.Write(ln)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// decoder fills typed values from nodes, recording where each field was
// written and every problem found (it does not stop at the first).
type decoder struct {
	doc      *Document
	prefix   Path
	types    map[reflect.Type]*structInfo
	problems []rawProblem
}

func (dc *decoder) fail(pos Pos, path Path, msg, hint string) {
	dc.problems = append(dc.problems, rawProblem{pos: pos, path: path, msg: msg, hint: hint})
}

type fieldInfo struct {
	name  string
	index []int
	typ   reflect.Type
}

type structInfo struct {
	fields map[string]fieldInfo
	names  []string
}

func (dc *decoder) info(t reflect.Type) *structInfo {
	if si, ok := dc.types[t]; ok {
		return si
	}
	si := &structInfo{fields: map[string]fieldInfo{}}
	dc.types[t] = si
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			si.fields[name] = fieldInfo{name: name, index: idx, typ: f.Type}
			si.names = append(si.names, name)
		}
	}
	walk(t, nil)
	sort.Strings(si.names)
	return si
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return t.String()
}

// decode stores n into v (addressable). keyPos is where the field's key was.
func (dc *decoder) decode(n *node, v reflect.Value, path Path, keyPos Pos) {
	dc.doc.fields[prefixed(dc.prefix, path)] = fieldPos{key: keyPos, value: n.pos}
	t := v.Type()
	if t.Kind() == reflect.Interface {
		if n.kind != nodeNull {
			v.Set(reflect.ValueOf(toAny(n)))
		}
		return
	}
	if n.kind == nodeNull {
		// null leaves the field unset, as in Kubernetes.
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		dc.decode(n, v.Elem(), path, keyPos)
	case reflect.Struct:
		if n.kind != nodeMap {
			dc.wrongType(n, path, t)
			return
		}
		si := dc.info(t)
		for _, e := range n.entries {
			fi, ok := si.fields[e.key]
			if !ok {
				dc.unknownField(e, path, si)
				continue
			}
			fv := v.FieldByIndex(fi.index)
			dc.decode(e.value, fv, path.Child(e.key), e.keyPos)
		}
	case reflect.Map:
		if n.kind != nodeMap {
			dc.wrongType(n, path, t)
			return
		}
		if t.Key().Kind() != reflect.String {
			dc.fail(n.pos, path, "unsupported map key type "+t.Key().String(), "")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(n.entries)))
		}
		for _, e := range n.entries {
			ev := reflect.New(t.Elem()).Elem()
			dc.decode(e.value, ev, path.Key(e.key), e.keyPos)
			v.SetMapIndex(reflect.ValueOf(e.key).Convert(t.Key()), ev)
		}
	case reflect.Slice:
		if n.kind != nodeSeq {
			dc.wrongType(n, path, t)
			return
		}
		s := reflect.MakeSlice(t, len(n.items), len(n.items))
		for i, it := range n.items {
			if it == nil {
				continue
			}
			dc.decode(it, s.Index(i), path.Index(i), Pos{})
		}
		v.Set(s)
	case reflect.String:
		if n.kind != nodeString {
			if n.kind == nodeInt || n.kind == nodeFloat || n.kind == nodeBool {
				dc.fail(n.pos, path, fmt.Sprintf("must be a string, not %s %s", n.kind, n.str),
					fmt.Sprintf("quote it: \"%s\"", n.str))
				return
			}
			dc.wrongType(n, path, t)
			return
		}
		v.SetString(n.str)
	case reflect.Bool:
		if n.kind != nodeBool {
			dc.wrongType(n, path, t)
			return
		}
		v.SetBool(n.b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := dc.integer(n, path, t)
		if !ok {
			return
		}
		if v.OverflowInt(i) {
			dc.fail(n.pos, path, fmt.Sprintf("%s is out of range for %s", n.str, t.Kind()), "write a smaller number")
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		if n.kind == nodeInt && n.isUint {
			u = n.u
		} else {
			i, ok := dc.integer(n, path, t)
			if !ok {
				return
			}
			if i < 0 {
				dc.fail(n.pos, path, fmt.Sprintf("must not be negative, got %d", i), "write 0 or a positive integer")
				return
			}
			u = uint64(i)
		}
		if v.OverflowUint(u) {
			dc.fail(n.pos, path, fmt.Sprintf("%s is out of range for %s", n.str, t.Kind()), "write a smaller number")
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		switch n.kind {
		case nodeFloat:
			if math.IsNaN(n.f) || math.IsInf(n.f, 0) {
				dc.fail(n.pos, path, "must be a finite number, not "+n.str, "write a number such as 0.5")
				return
			}
			v.SetFloat(n.f)
		case nodeInt:
			if n.isUint {
				v.SetFloat(float64(n.u))
			} else {
				v.SetFloat(float64(n.i))
			}
		default:
			dc.wrongType(n, path, t)
		}
	default:
		dc.fail(n.pos, path, "cannot decode into "+t.String(), "")
	}
}

func (dc *decoder) integer(n *node, path Path, t reflect.Type) (int64, bool) {
	switch n.kind {
	case nodeInt:
		if n.isUint {
			dc.fail(n.pos, path, fmt.Sprintf("%s is out of range", n.str), "write a smaller number")
			return 0, false
		}
		return n.i, true
	case nodeFloat:
		if n.f == math.Trunc(n.f) && math.Abs(n.f) < 1<<53 {
			return int64(n.f), true
		}
		dc.fail(n.pos, path, fmt.Sprintf("must be a whole number, not %s", n.str), "write an integer such as 3")
		return 0, false
	case nodeString:
		dc.fail(n.pos, path, fmt.Sprintf("must be %s, not a string %q", typeName(t), n.str), "write the number without quotes")
		return 0, false
	}
	dc.wrongType(n, path, t)
	return 0, false
}

func (dc *decoder) wrongType(n *node, path Path, t reflect.Type) {
	got := n.kind.String()
	if n.kind != nodeMap && n.kind != nodeSeq {
		got += " " + scalarText(n)
	}
	hint := "write " + typeName(t)
	switch t.Kind() {
	case reflect.Slice:
		hint = "write a list, e.g. one item per line starting with '- '"
		if n.kind != nodeMap && n.kind != nodeSeq {
			hint = fmt.Sprintf("write a list: [%s]", strings.Trim(scalarText(n), `"`))
		}
	case reflect.Struct, reflect.Map:
		hint = "write an object of key: value lines, indented under the field"
	case reflect.Bool:
		hint = "write true or false"
	}
	dc.fail(n.pos, path, fmt.Sprintf("must be %s, not %s", typeName(t), got), hint)
}

func (dc *decoder) unknownField(e entry, path Path, si *structInfo) {
	hint := "valid fields here: " + strings.Join(si.names, ", ")
	if len(si.names) == 0 {
		hint = "this object takes no fields"
	}
	if s := suggest(e.key, si.names); s != "" {
		hint = fmt.Sprintf("did you mean %q? %s", s, hint)
	}
	dc.fail(e.keyPos, path.Key(e.key), fmt.Sprintf("unknown field %q", e.key), hint)
}
