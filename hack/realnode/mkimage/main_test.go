package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// untar returns a tarball's entries: name to content ("" for directories).
func untar(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = string(data)
	}
}

func TestPack(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bin := write("bin/recsys", "binary")
	write("models/recsys/1/model.json", "weights")
	write("models/golden.golden", "golden")
	opts := options{name: "localhost/recsys:demo", entrypoint: "/recsys", workdir: "/",
		files: []mapping{{dst: "/recsys", src: bin}, {dst: "/models", src: filepath.Join(dir, "models")}, {dst: "/opt/x/recsys", src: bin}}}

	var a, b bytes.Buffer
	if err := pack(&a, opts); err != nil {
		t.Fatal(err)
	}
	if err := pack(&b, opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two packs of the same inputs differ")
	}

	outer := untar(t, a.Bytes())
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal([]byte(outer["manifest.json"]), &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest.json: %v %s", err, outer["manifest.json"])
	}
	if !slices.Equal(manifest[0].RepoTags, []string{"localhost/recsys:demo"}) {
		t.Fatalf("tags %v", manifest[0].RepoTags)
	}
	var cfg struct {
		Config struct {
			Entrypoint []string
			WorkingDir string
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal([]byte(outer[manifest[0].Config]), &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/recsys"}) || cfg.Config.WorkingDir != "/" || len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("config %+v", cfg)
	}

	layer := untar(t, []byte(outer[manifest[0].Layers[0]]))
	for name, want := range map[string]string{
		"recsys":                     "binary",
		"models/":                    "",
		"models/recsys/":             "",
		"models/recsys/1/model.json": "weights",
		"models/golden.golden":       "golden",
		"opt/":                       "",
		"opt/x/":                     "",
		"opt/x/recsys":               "binary",
	} {
		got, ok := layer[name]
		if !ok || got != want {
			t.Errorf("layer entry %s = %q (present %v), want %q", name, got, ok, want)
		}
	}
	if len(layer) != 9 { // the above plus models/recsys/1/
		t.Errorf("layer has %d entries: %v", len(layer), layer)
	}
}

func TestPackRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pack(&buf, options{name: "x", files: []mapping{{dst: "/d", src: dir}}}); err == nil {
		t.Fatal("a symlink was packed")
	}
}
