package manifest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Source is one input named with -f: a file, a directory or "-" for stdin.
type Source struct {
	Name string
	Data []byte
	// Walked is true for a file found by walking a directory: objects of
	// other API groups in it (the Deployments and Services kept next to
	// chaos manifests) are skipped with a warning instead of refused.
	Walked bool
}

// manifestExt reports whether a file in a directory is read as a manifest.
func manifestExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// ReadSources expands -f arguments: files as given, directories walked
// recursively for .yaml, .yml and .json files (sorted), "-" read from stdin.
// A missing path is an error (a usage error for the CLI).
func ReadSources(args []string, stdin io.Reader) ([]Source, error) {
	var out []Source
	stdinUsed := false
	for _, a := range args {
		if a == "-" {
			if stdinUsed {
				return nil, fmt.Errorf("-f - given more than once")
			}
			stdinUsed = true
			data, err := io.ReadAll(io.LimitReader(stdin, MaxFileBytes+1))
			if err != nil {
				return nil, fmt.Errorf("read standard input: %w", err)
			}
			out = append(out, Source{Name: "-", Data: data})
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", a, unwrapPathError(err))
		}
		if !st.IsDir() {
			data, err := readLimited(a)
			if err != nil {
				return nil, err
			}
			out = append(out, Source{Name: a, Data: data})
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != a && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && manifestExt(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", a, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no .yaml, .yml or .json files in the directory", a)
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := readLimited(f)
			if err != nil {
				return nil, err
			}
			out = append(out, Source{Name: f, Data: data, Walked: true})
		}
	}
	return out, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// Result is what reading and checking a set of sources found.
type Result struct {
	Documents   []*Document
	Diagnostics Diagnostics
}

// Load decodes and validates every document of every source. Documents
// that failed to decode are not returned; their problems are.
func Load(sources []Source) Result {
	var r Result
	for _, s := range sources {
		docs, diags := Decode(s.Name, s.Data)
		if s.Walked {
			diags = foldForeign(diags)
		}
		r.Diagnostics = append(r.Diagnostics, diags...)
		for _, d := range docs {
			r.Diagnostics = append(r.Diagnostics, dropShadowedWarnings(Validate(d), diags)...)
			r.Documents = append(r.Documents, d)
		}
	}
	r.Diagnostics.Sort()
	return r
}

// foldForeign turns the errors about objects of other API groups in a
// walked file into one warning at the first of them, counting them.
func foldForeign(diags Diagnostics) Diagnostics {
	var out Diagnostics
	first := -1
	n := 0
	for _, d := range diags {
		if !d.foreign {
			out = append(out, d)
			continue
		}
		n++
		if first < 0 {
			first = len(out)
			out = append(out, d)
		}
	}
	if first >= 0 {
		d := &out[first]
		d.Severity = SeverityWarning
		d.Path = ""
		d.Message = fmt.Sprintf("skipped %d %s of other API groups (Kubernetes objects such as Deployments and Services)", n, plural(n, "object", "objects"))
		d.Hint = "faultline reads chaos-mesh.org/v1alpha1 and faultline.dev/v1alpha1 objects; in a directory it skips the rest (apply those with kubectl); name the file with -f to see each refused"
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ErrorsIn returns the diagnostics of one document.
func (r Result) ErrorsIn(d *Document) Diagnostics {
	var out Diagnostics
	for _, x := range r.Diagnostics {
		if x.File == d.File && x.Document == d.Index && (d.ItemPath == "" || strings.HasPrefix(x.Path, string(d.ItemPath))) {
			out = append(out, x)
		}
	}
	return out
}

// dropShadowedWarnings removes validation warnings about an object that
// has a decode error inside it: a field that failed to decode is absent, so
// a warning such as "the selector is empty" would only mislead.
func dropShadowedWarnings(vals, decodeErrs Diagnostics) Diagnostics {
	var out Diagnostics
	for _, v := range vals {
		shadowed := false
		if v.Severity == SeverityWarning {
			for _, e := range decodeErrs {
				if e.File == v.File && e.Document == v.Document && strings.HasPrefix(e.Path, v.Path+".") {
					shadowed = true
					break
				}
			}
		}
		if !shadowed {
			out = append(out, v)
		}
	}
	return out
}
