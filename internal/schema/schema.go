package schema

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// Draft is the JSON Schema dialect produced.
const Draft = "http://json-schema.org/draft-07/schema#"

// IDBase prefixes the $id of every generated schema.
const IDBase = "https://faultline.dev/schemas/v1alpha1/"

// Schema is a JSON Schema node; map keys are schema keywords.
type Schema = map[string]any

type builder struct {
	docs map[string]v1alpha1.TypeDoc
	defs map[string]Schema
	// specKinds maps a kind's spec type to the kind (reference docs only).
	specKinds map[reflect.Type]string
}

func newBuilder() *builder {
	return &builder{docs: v1alpha1.Docs(), defs: map[string]Schema{}}
}

// ForKind returns the standalone schema of one kind.
func ForKind(k v1alpha1.KindInfo) Schema {
	b := newBuilder()
	root := b.kind(k)
	root["$schema"] = Draft
	root["$id"] = IDBase + strings.ToLower(k.Kind) + ".json"
	root["definitions"] = b.defs
	return root
}

// All returns one schema accepting any faultline or Chaos Mesh kind: the
// document's apiVersion and kind pick the kind's schema.
func All() Schema {
	b := newBuilder()
	var branches []any
	var kinds []any
	for _, k := range v1alpha1.Kinds() {
		name := defName(k)
		b.defs[name] = b.kind(k)
		kinds = append(kinds, k.Kind)
		branches = append(branches, Schema{
			"if": Schema{
				"properties": Schema{"apiVersion": Schema{"const": k.APIVersion}, "kind": Schema{"const": k.Kind}},
				"required":   []any{"apiVersion", "kind"},
			},
			"then": Schema{"$ref": "#/definitions/" + name},
		})
	}
	return Schema{
		"$schema":     Draft,
		"$id":         IDBase + "all.json",
		"title":       "faultline manifests",
		"description": "Any faultline (faultline.dev/v1alpha1) or Chaos Mesh (chaos-mesh.org/v1alpha1) manifest.",
		"type":        "object",
		"required":    []any{"apiVersion", "kind"},
		"properties": Schema{
			"apiVersion": Schema{"enum": []any{v1alpha1.ChaosMeshAPIVersion, v1alpha1.FaultlineAPIVersion}},
			"kind":       Schema{"enum": kinds},
		},
		"allOf":       branches,
		"definitions": b.defs,
	}
}

func defName(k v1alpha1.KindInfo) string {
	return "kind." + k.Kind
}

func (b *builder) kind(k v1alpha1.KindInfo) Schema {
	t := reflect.TypeOf(k.New()).Elem()
	s := b.structSchema(t)
	s["title"] = k.Kind
	if k.Short != "" {
		s["description"] = k.Short
	}
	props := s["properties"].(Schema)
	props["apiVersion"] = Schema{"const": k.APIVersion, "description": "API group and version of the kind."}
	props["kind"] = Schema{"const": k.Kind}
	s["required"] = []any{"apiVersion", "kind", "metadata"}
	return s
}

// typeSchema returns the schema for a Go type, registering named structs as
// definitions so recursive and shared types are written once.
func (b *builder) typeSchema(t reflect.Type) Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var s Schema
	switch t.Kind() {
	case reflect.Interface:
		return Schema{}
	case reflect.String:
		s = Schema{"type": "string"}
	case reflect.Bool:
		s = Schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s = Schema{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s = Schema{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		s = Schema{"type": "number"}
	case reflect.Slice:
		return Schema{"type": "array", "items": b.typeSchema(t.Elem())}
	case reflect.Map:
		return Schema{"type": "object", "additionalProperties": b.typeSchema(t.Elem())}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return b.structSchema(t)
		}
		if _, ok := b.defs[name]; !ok {
			b.defs[name] = Schema{} // placeholder breaks recursion
			b.defs[name] = b.structSchema(t)
		}
		return Schema{"$ref": "#/definitions/" + name}
	default:
		return Schema{}
	}
	if td, ok := b.docs[t.Name()]; ok && t.PkgPath() != "" && len(td.Enum) > 0 {
		vals := make([]any, len(td.Enum))
		for i, v := range td.Enum {
			vals[i] = v
		}
		s["enum"] = vals
	}
	return s
}

func (b *builder) structSchema(t reflect.Type) Schema {
	props := Schema{}
	s := Schema{"type": "object", "properties": props, "additionalProperties": false}
	if td, ok := b.docs[t.Name()]; ok && td.Doc != "" {
		s["description"] = td.Doc
	}
	b.addFields(t, props)
	return s
}

func (b *builder) addFields(t reflect.Type, props Schema) {
	td := b.docs[t.Name()]
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) && f.Type.Kind() == reflect.Struct {
			b.addFields(f.Type, props)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs := b.typeSchema(f.Type)
		if doc := td.Fields[f.Name]; doc != "" {
			if _, isRef := fs["$ref"]; isRef {
				// draft-07 ignores siblings of $ref; wrap to keep the description.
				fs = Schema{"allOf": []any{fs}}
			}
			fs["description"] = doc
		}
		props[name] = fs
	}
}

// KindByName finds a kind by its name, case-insensitively ("podchaos").
func KindByName(name string) (v1alpha1.KindInfo, error) {
	var names []string
	for _, k := range v1alpha1.Kinds() {
		if strings.EqualFold(k.Kind, name) {
			return k, nil
		}
		names = append(names, k.Kind)
	}
	return v1alpha1.KindInfo{}, fmt.Errorf("unknown kind %q; valid kinds: %s", name, strings.Join(names, ", "))
}
