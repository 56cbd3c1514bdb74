// Package schema builds JSON Schema (draft-07, the dialect yaml-language-server
// understands best) for every manifest kind from the api/v1alpha1 Go types
// and their doc comments, so editors complete fields, show the reference
// docs on hover and flag unknown fields as the user types.
package schema
