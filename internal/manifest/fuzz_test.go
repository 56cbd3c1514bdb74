package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeValidate holds decode + validate to "never panic, always
// locate": every diagnostic has a position inside the input.
func FuzzDecodeValidate(f *testing.F) {
	for _, file := range compatFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	if extra, _ := filepath.Glob("../../examples/*.yaml"); len(extra) > 0 {
		for _, file := range extra {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("\t- x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := Load([]Source{{Name: "f.yaml", Data: data}})
		for _, d := range res.Diagnostics {
			if d.Message == "" {
				t.Fatalf("diagnostic without a message: %+v", d)
			}
			if strings.Contains(d.Message, "internal error") {
				t.Fatalf("decoder panicked (recovered): %+v", d)
			}
			if d.Line < 0 || d.Column < 0 {
				t.Fatalf("negative position: %+v", d)
			}
		}
	})
}
