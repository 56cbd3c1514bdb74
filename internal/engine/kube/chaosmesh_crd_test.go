package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindChaosMeshCRDs(t *testing.T) {
	tests := []struct {
		name    string
		gomod   string // the repository's go.mod; "" for none
		shared  bool   // ../shared/compat/chaos-mesh/crd.yaml exists
		wantErr string
	}{
		{"found beside the repository", "module github.com/faultline-dev/faultline\n\ngo 1.26\n", true, ""},
		{"shared folder missing", "module github.com/faultline-dev/faultline\n\ngo 1.26\n", false, "Chaos Mesh CRDs missing"},
		{"another module", "module example.com/other\n", true, "no go.mod of github.com/faultline-dev/faultline"},
		{"no module", "", true, "no go.mod of github.com/faultline-dev/faultline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			repo := filepath.Join(root, "main")
			pkg := filepath.Join(repo, "internal", "engine", "kube")
			if err := os.MkdirAll(pkg, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.gomod != "" {
				if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte(tt.gomod), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := filepath.Join(root, "shared", "compat", "chaos-mesh", "crd.yaml")
			if tt.shared {
				if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(want, []byte("---\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := findChaosMeshCRDs(pkg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
		})
	}
}
