// Package manifest reads faultline and Chaos Mesh manifests: it splits files
// into documents, decodes each strictly into the api/v1alpha1 types while
// remembering where every field was written, applies defaults and validates.
//
// Every problem is a Diagnostic that names file:line:col, the field path, what
// is wrong and what would be valid. All problems of a file are reported at
// once, sorted by position. No input makes this package panic; the fuzz test
// holds it to that.
package manifest
