package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Kubernetes objects kept next to chaos manifests are skipped (a warning)
// when a directory is walked, and refused when their file is named.
func TestLoadSkipsForeignObjectsOnlyInWalkedDirectories(t *testing.T) {
	dir := t.TempDir()
	mixed := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 2}
---
apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: kill}
spec:
  action: pod-kill
  mode: one
  selector: {labelSelectors: {app: web}}
`
	file := filepath.Join(dir, "mixed.yaml")
	if err := os.WriteFile(file, []byte(mixed), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		arg       string
		wantError bool
	}{
		{arg: dir, wantError: false},
		{arg: file, wantError: true},
	} {
		srcs, err := ReadSources([]string{tc.arg}, nil)
		if err != nil {
			t.Fatal(err)
		}
		res := Load(srcs)
		if got := res.Diagnostics.HasErrors(); got != tc.wantError {
			t.Errorf("-f %s: errors = %v, want %v:\n%s", tc.arg, got, tc.wantError, res.Diagnostics)
		}
		if len(res.Documents) != 1 || res.Documents[0].Kind() != "PodChaos" {
			t.Errorf("-f %s: want the PodChaos decoded, got %d documents", tc.arg, len(res.Documents))
		}
		want := `"apps/v1"`
		if !tc.wantError {
			want = "skipped 1 object of other API groups"
		}
		if len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0].Message, want) || res.Diagnostics[0].Line != 1 {
			t.Errorf("-f %s: want one diagnostic %q on the Deployment at line 1, got:\n%s", tc.arg, want, res.Diagnostics)
		}
	}
}
