package v1alpha1

//go:generate go run ../../hack/gendocs -dir . -out zz_generated_docs.go

// TypeDoc is the documentation of one Go type of this package, extracted
// from its doc comments by hack/gendocs (see zz_generated_docs.go). The JSON
// Schema and the manifest reference are built from it, so the comments in
// this package are the single source of the reference docs.
type TypeDoc struct {
	// Doc is the type's doc comment.
	Doc string
	// Fields maps a Go field name to its doc comment.
	Fields map[string]string
	// Enum lists the values of the type's constants, for string enums.
	Enum []string
}

// Docs returns the documentation of every type, keyed by Go type name.
func Docs() map[string]TypeDoc { return generatedDocs() }
