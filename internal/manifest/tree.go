package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Limits that keep a hostile or mistaken manifest from exhausting memory.
const (
	// MaxDocumentBytes is the largest single document accepted: etcd's
	// default request limit, so nothing faultline accepts is too large for a
	// cluster either.
	MaxDocumentBytes = 1536 * 1024
	// MaxFileBytes is the largest file (or stdin) read.
	MaxFileBytes = 32 << 20
	// maxNodes bounds the nodes of one document after alias expansion; it
	// stops "billion laughs" anchor/alias bombs.
	maxNodes = 200_000
	// maxDepth bounds nesting, anchors included.
	maxDepth = 200
)

// Pos is a 1-based line and column.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"column"`
}

type nodeKind int

const (
	nodeNull nodeKind = iota
	nodeString
	nodeInt
	nodeFloat
	nodeBool
	nodeMap
	nodeSeq
)

func (k nodeKind) String() string {
	switch k {
	case nodeNull:
		return "null"
	case nodeString:
		return "a string"
	case nodeInt:
		return "an integer"
	case nodeFloat:
		return "a number"
	case nodeBool:
		return "a boolean"
	case nodeMap:
		return "an object"
	case nodeSeq:
		return "a list"
	}
	return "unknown"
}

// node is a YAML/JSON value with positions, independent of the parser: the
// typed decoder and the validators only ever see this tree.
type node struct {
	kind nodeKind
	pos  Pos
	// scalars
	str    string // the scalar's text (for strings, its value)
	i      int64
	u      uint64 // set for integers beyond int64
	isUint bool
	f      float64
	b      bool
	quoted bool // a string written in quotes (so not mistyped as a number)
	// maps, in document order
	entries []entry
	// sequences
	items []*node
}

type entry struct {
	key    string
	keyPos Pos
	value  *node
}

// converter turns a goccy AST into nodes, expanding aliases under a budget
// and reporting duplicate keys.
type converter struct {
	lineOffset int
	anchors    map[string]ast.Node
	count      int
	problems   []rawProblem
	aborted    bool
}

// rawProblem is a problem found before the document has a typed value.
type rawProblem struct {
	pos  Pos
	path Path
	msg  string
	hint string
}

func (c *converter) posOf(tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{Line: c.lineOffset + 1, Col: 1}
	}
	return Pos{Line: tk.Position.Line + c.lineOffset, Col: tk.Position.Column}
}

func (c *converter) fail(pos Pos, path Path, msg, hint string) {
	c.problems = append(c.problems, rawProblem{pos: pos, path: path, msg: msg, hint: hint})
}

func (c *converter) convert(n ast.Node, path Path, depth int) *node {
	if c.aborted {
		return nil
	}
	c.count++
	if c.count > maxNodes {
		c.aborted = true
		c.fail(c.posOf(tokenOf(n)), path, fmt.Sprintf("document expands to more than %d values", maxNodes),
			"an anchor/alias chain multiplies the document; write the values out or use fewer aliases")
		return nil
	}
	if depth > maxDepth {
		c.aborted = true
		c.fail(c.posOf(tokenOf(n)), path, fmt.Sprintf("document nests deeper than %d levels", maxDepth),
			"flatten the structure; no faultline manifest nests this deep")
		return nil
	}
	if n == nil {
		return &node{kind: nodeNull}
	}
	pos := c.posOf(n.GetToken())
	switch n := n.(type) {
	case *ast.NullNode:
		return &node{kind: nodeNull, pos: pos}
	case *ast.StringNode:
		quoted := n.Token != nil && (n.Token.Type == token.SingleQuoteType || n.Token.Type == token.DoubleQuoteType)
		return &node{kind: nodeString, pos: pos, str: n.Value, quoted: quoted}
	case *ast.LiteralNode:
		s := ""
		if n.Value != nil {
			s = n.Value.Value
		}
		return &node{kind: nodeString, pos: pos, str: s, quoted: true}
	case *ast.IntegerNode:
		out := &node{kind: nodeInt, pos: pos, str: tokenText(n.Token)}
		switch v := n.Value.(type) {
		case int64:
			out.i = v
		case uint64:
			if v <= math.MaxInt64 {
				out.i = int64(v)
			} else {
				out.u, out.isUint = v, true
			}
		default:
			out.kind = nodeString
		}
		return out
	case *ast.FloatNode:
		return &node{kind: nodeFloat, pos: pos, f: n.Value, str: tokenText(n.Token)}
	case *ast.InfinityNode:
		return &node{kind: nodeFloat, pos: pos, f: n.Value, str: tokenText(n.Token)}
	case *ast.NanNode:
		return &node{kind: nodeFloat, pos: pos, f: math.NaN(), str: tokenText(n.Token)}
	case *ast.BoolNode:
		return &node{kind: nodeBool, pos: pos, b: n.Value, str: tokenText(n.Token)}
	case *ast.TagNode:
		return c.convertTagged(n, path, depth)
	case *ast.AnchorNode:
		if name := anchorName(n.Name); name != "" {
			c.anchors[name] = n.Value
		}
		return c.convert(n.Value, path, depth+1)
	case *ast.AliasNode:
		name := anchorName(n.Value)
		target, ok := c.anchors[name]
		if !ok {
			c.fail(pos, path, fmt.Sprintf("alias *%s refers to no anchor defined before it", name), "define &"+name+" earlier in the document")
			return &node{kind: nodeNull, pos: pos}
		}
		out := c.convert(target, path, depth+1)
		if out != nil {
			out = relocate(out, pos)
		}
		return out
	case *ast.MappingNode:
		return c.convertMapping(n.Values, pos, path, depth)
	case *ast.MappingValueNode:
		return c.convertMapping([]*ast.MappingValueNode{n}, pos, path, depth)
	case *ast.SequenceNode:
		out := &node{kind: nodeSeq, pos: pos}
		for i, v := range n.Values {
			out.items = append(out.items, c.convert(v, path.Index(i), depth+1))
			if c.aborted {
				return out
			}
		}
		return out
	case *ast.MappingKeyNode:
		return c.convert(n.Value, path, depth+1)
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &node{kind: nodeNull, pos: pos}
	}
	c.fail(pos, path, fmt.Sprintf("unsupported YAML construct (%s)", n.Type()), "write plain mappings, lists and scalars")
	return &node{kind: nodeNull, pos: pos}
}

// relocate gives an alias expansion the alias's position, so errors inside
// an expanded value point at the place it was used.
func relocate(n *node, pos Pos) *node {
	cp := *n
	cp.pos = pos
	return &cp
}

func (c *converter) convertTagged(n *ast.TagNode, path Path, depth int) *node {
	tag := tokenText(n.Start)
	v := c.convert(n.Value, path, depth+1)
	if v == nil {
		return nil
	}
	switch tag {
	case "!!str":
		if v.kind != nodeMap && v.kind != nodeSeq {
			if v.kind == nodeNull {
				v.str = ""
			}
			v.kind, v.quoted = nodeString, true
		}
	case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!binary", "!!timestamp":
		// The value is already of the tagged type, or the typed decoder will
		// say it has the wrong type.
	default:
		c.fail(c.posOf(n.Start), path, fmt.Sprintf("unknown tag %s", tag), "remove the tag; faultline manifests need none")
	}
	return v
}

func (c *converter) convertMapping(values []*ast.MappingValueNode, pos Pos, path Path, depth int) *node {
	out := &node{kind: nodeMap, pos: pos}
	if len(values) > 0 && values[0] != nil && !values[0].IsFlowStyle {
		// A block mapping starts at its first key, not at the ':' the parser reports.
		out.pos = c.posOf(tokenOf(values[0].Key))
	}
	seen := map[string]Pos{}
	add := func(key string, keyPos Pos, v *node) {
		if first, dup := seen[key]; dup {
			c.fail(keyPos, path.Key(key), fmt.Sprintf("duplicate key %q (first written at line %d)", key, first.Line),
				"remove one of them; YAML keeps only the last, which hides mistakes")
			return
		}
		seen[key] = keyPos
		out.entries = append(out.entries, entry{key: key, keyPos: keyPos, value: v})
	}
	var merges []*node
	for _, mv := range values {
		if mv == nil {
			continue
		}
		keyPos := c.posOf(tokenOf(mv.Key))
		if isMergeKey(mv.Key) {
			m := c.convert(mv.Value, path, depth+1)
			if m != nil {
				merges = append(merges, m)
			}
			continue
		}
		key, ok := c.keyString(mv.Key, path, depth)
		if !ok {
			continue
		}
		v := c.convert(mv.Value, path.Key(key), depth+1)
		if c.aborted {
			return out
		}
		if v == nil {
			v = &node{kind: nodeNull}
		}
		if v.pos.Line == 0 {
			v.pos = keyPos
		}
		add(key, keyPos, v)
	}
	// Merge keys (<<) fill in keys the mapping did not write itself.
	for _, m := range merges {
		var srcs []*node
		switch m.kind {
		case nodeMap:
			srcs = []*node{m}
		case nodeSeq:
			srcs = m.items
		default:
			c.fail(m.pos, path, "merge key << needs an object or a list of objects", "write <<: *anchor where &anchor names an object")
			continue
		}
		for _, s := range srcs {
			if s == nil || s.kind != nodeMap {
				continue
			}
			for _, e := range s.entries {
				if _, ok := seen[e.key]; !ok {
					seen[e.key] = e.keyPos
					out.entries = append(out.entries, e)
				}
			}
		}
	}
	return out
}

func (c *converter) keyString(k ast.MapKeyNode, path Path, depth int) (string, bool) {
	kn := c.convert(k, path, depth+1)
	if kn == nil {
		return "", false
	}
	switch kn.kind {
	case nodeString, nodeInt, nodeFloat, nodeBool:
		if kn.kind == nodeString {
			return kn.str, true
		}
		return kn.str, true
	case nodeNull:
		return "", true
	}
	c.fail(kn.pos, path, "a key must be a plain value, not "+kn.kind.String(), "write key: value")
	return "", false
}

func isMergeKey(k ast.MapKeyNode) bool {
	_, ok := k.(*ast.MergeKeyNode)
	return ok
}

func anchorName(n ast.Node) string {
	if n == nil {
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return strings.TrimLeft(tk.Value, "&*")
	}
	return ""
}

func tokenOf(n ast.Node) *token.Token {
	if n == nil {
		return nil
	}
	return n.GetToken()
}

func tokenText(tk *token.Token) string {
	if tk == nil {
		return ""
	}
	return tk.Value
}

// toAny converts a node into plain Go values (map[string]any, []any,
// string, int64, float64, bool, nil), the form of a Raw field.
func toAny(n *node) any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case nodeString:
		return n.str
	case nodeInt:
		if n.isUint {
			return n.u
		}
		return n.i
	case nodeFloat:
		return n.f
	case nodeBool:
		return n.b
	case nodeMap:
		m := make(map[string]any, len(n.entries))
		for _, e := range n.entries {
			m[e.key] = toAny(e.value)
		}
		return m
	case nodeSeq:
		s := make([]any, len(n.items))
		for i, it := range n.items {
			s[i] = toAny(it)
		}
		return s
	}
	return nil
}

// scalarText is how a scalar was written, for messages.
func scalarText(n *node) string {
	switch n.kind {
	case nodeString:
		return strconv.Quote(n.str)
	case nodeInt, nodeFloat, nodeBool:
		if n.str != "" {
			return n.str
		}
	}
	return n.kind.String()
}
