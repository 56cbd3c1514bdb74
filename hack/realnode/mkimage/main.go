// Command mkimage packs files and directories into a one-layer container
// image, written as a docker-archive tarball that `ctr images import` loads:
// no registry, no base image, no Docker. hack/realnode.sh uses it for the
// real-node cluster's images (localhost/pause:local, localhost/recsys:demo).
//
//	mkimage -name localhost/recsys:demo -entrypoint /recsys -workdir / -o recsys.tar \
//	    /recsys=bin/recsys /models=models
//
// Each argument is IMAGE-PATH=HOST-PATH; a host directory is copied with its
// whole tree. The output is byte-for-byte reproducible: entries are sorted,
// owned by root and dated at the Unix epoch.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

func main() {
	var opts options
	flag.StringVar(&opts.name, "name", "", "image reference, e.g. localhost/recsys:demo")
	flag.StringVar(&opts.entrypoint, "entrypoint", "", "the image's entrypoint (one path)")
	flag.StringVar(&opts.workdir, "workdir", "/", "the image's working directory")
	out := flag.String("o", "", "output tarball")
	flag.Parse()
	if opts.name == "" || *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mkimage -name REF [-entrypoint PATH] [-workdir DIR] -o OUT.tar IMAGE-PATH=HOST-PATH...")
		os.Exit(2)
	}
	for _, a := range flag.Args() {
		dst, src, ok := strings.Cut(a, "=")
		if !ok || !path.IsAbs(dst) || src == "" {
			fmt.Fprintf(os.Stderr, "mkimage: %q: want IMAGE-PATH=HOST-PATH with an absolute image path\n", a)
			os.Exit(2)
		}
		opts.files = append(opts.files, mapping{dst: path.Clean(dst), src: src})
	}
	if err := writeFile(*out, opts); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

type mapping struct{ dst, src string }

type options struct {
	name, entrypoint, workdir string
	files                     []mapping
}

// epoch is every entry's modification time, so equal inputs give equal bytes.
var epoch = time.Unix(0, 0).UTC()

func writeFile(out string, opts options) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return pack(f, opts)
}

// pack writes the docker-archive: the config, the one layer and the
// manifest.json naming them.
func pack(w io.Writer, opts options) error {
	layer, err := buildLayer(opts.files)
	if err != nil {
		return err
	}
	layerSum := sha256.Sum256(layer)
	layerID := hex.EncodeToString(layerSum[:])
	cfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config": map[string]any{
			"Env":        []string{"PATH=/"},
			"WorkingDir": opts.workdir,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerID}},
	}
	if opts.entrypoint != "" {
		cfg["config"].(map[string]any)["Entrypoint"] = []string{opts.entrypoint}
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgSum := sha256.Sum256(cfgJSON)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	layerName := layerID + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": cfgName, "RepoTags": []string{opts.name}, "Layers": []string{layerName},
	}})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, e := range []struct {
		name string
		data []byte
	}{{cfgName, cfgJSON}, {layerName, layer}, {"manifest.json", manifest}} {
		if dir := path.Dir(e.name); dir != "." {
			if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// entry is one file or directory of the layer.
type entry struct {
	name string // without the leading slash
	src  string // host file; "" for a directory
	mode fs.FileMode
}

// buildLayer returns the layer tarball: every mapped file and directory
// tree, plus the parent directories they need, sorted by name.
func buildLayer(files []mapping) ([]byte, error) {
	entries := map[string]entry{}
	addParents := func(name string) {
		for d := path.Dir(name); d != "." && d != "/" && d != ""; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = entry{name: d, mode: fs.ModeDir | 0o755}
			}
		}
	}
	for _, m := range files {
		root := strings.TrimPrefix(m.dst, "/")
		if root == "" {
			return nil, fmt.Errorf("%s: cannot map onto /", m.src)
		}
		err := filepath.WalkDir(m.src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(m.src, p)
			if err != nil {
				return err
			}
			name := path.Join(root, filepath.ToSlash(rel))
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				entries[name] = entry{name: name, mode: fs.ModeDir | 0o755}
			case info.Mode().IsRegular():
				entries[name] = entry{name: name, src: p, mode: info.Mode().Perm()}
			default:
				return fmt.Errorf("%s: only regular files and directories can be packed", p)
			}
			addParents(name)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pack %s as /%s: %w", m.src, root, err)
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := entries[n]
		if e.mode.IsDir() {
			if err := tw.WriteHeader(&tar.Header{Name: n + "/", Typeflag: tar.TypeDir, Mode: int64(e.mode.Perm()), ModTime: epoch}); err != nil {
				return nil, err
			}
			continue
		}
		data, err := os.ReadFile(e.src)
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: int64(e.mode), Size: int64(len(data)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, errors.Join(errors.New("close layer"), err)
	}
	return buf.Bytes(), nil
}
