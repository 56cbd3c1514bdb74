package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedDocsUpToDate fails when api/v1alpha1's doc comments changed
// without `go generate ./api/...`.
func TestGeneratedDocsUpToDate(t *testing.T) {
	want, err := Generate("../../api/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../api/v1alpha1/zz_generated_docs.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, have) {
		t.Fatal("api/v1alpha1/zz_generated_docs.go is stale: run `go generate ./api/...`")
	}
}
