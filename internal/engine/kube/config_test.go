package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const twoContexts = `apiVersion: v1
kind: Config
current-context: a
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:6443"}
- name: b
  cluster: {server: "https://127.0.0.2:7443"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: a, user: u}
- name: b
  context: {cluster: b, user: u}
`

func TestRESTConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, kubeconfig, context, env, wantHost, wantErr string
	}{
		{name: "explicit file, current context", kubeconfig: path, wantHost: "https://127.0.0.1:6443"},
		{name: "explicit context", kubeconfig: path, context: "b", wantHost: "https://127.0.0.2:7443"},
		{name: "KUBECONFIG", env: path, context: "b", wantHost: "https://127.0.0.2:7443"},
		{name: "unknown context", kubeconfig: path, context: "nope", wantErr: "nope"},
		{name: "missing file", kubeconfig: filepath.Join(dir, "absent"), wantErr: "absent"},
		{name: "nothing at all", env: filepath.Join(dir, "absent"), wantErr: "not running in a pod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.env)
			t.Setenv("HOME", dir) // no ~/.kube/config
			t.Setenv("KUBERNETES_SERVICE_HOST", "")
			cfg, err := RESTConfig(tc.kubeconfig, tc.context)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tc.wantHost {
				t.Fatalf("host = %s, want %s", cfg.Host, tc.wantHost)
			}
		})
	}
}
