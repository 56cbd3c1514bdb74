package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/demo/recsys"
)

// demo is the demo's data and model files, built once per test binary:
// under -race training v2 takes a second.
type demo struct {
	data   *recsys.Dataset
	models map[string]*recsys.Model
	files  map[string][]byte
}

var buildDemo = sync.OnceValues(func() (*demo, error) {
	d, err := recsys.Generate(recsys.DefaultDataConfig())
	if err != nil {
		return nil, err
	}
	out := &demo{data: d, models: map[string]*recsys.Model{}, files: map[string][]byte{}}
	for _, b := range recsys.Builds() {
		m, err := b.Run(d)
		if err != nil {
			return nil, err
		}
		if out.files[b.Version], err = m.Encode(); err != nil {
			return nil, err
		}
		out.models[b.Version] = m
	}
	return out, nil
})

func getDemo(t *testing.T) *demo {
	t.Helper()
	d, err := buildDemo()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// modelDir writes the demo's model files into a fresh directory; mutate
// may change a version's bytes first.
func modelDir(t *testing.T, mutate func(version string, b []byte) []byte) string {
	t.Helper()
	d := getDemo(t)
	dir := t.TempDir()
	for v, b := range d.files {
		b = bytes.Clone(b)
		if mutate != nil {
			b = mutate(v, b)
		}
		if err := os.WriteFile(filepath.Join(dir, recsys.FileName(v)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serve runs h on a loopback socket for the test's lifetime.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func featureStore(t *testing.T) *httptest.Server {
	t.Helper()
	return serve(t, NewFeatureStore(FeatureStoreConfig{Data: getDemo(t).data, Replica: "feature-store-0"}).Handler())
}

// modelServer starts a model server on dir and loads it (synchronously
// when the config has no delay).
func modelServer(t *testing.T, cfg ModelServerConfig) (*ModelServer, *httptest.Server) {
	t.Helper()
	s, err := NewModelServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, serve(t, s.Handler())
}

// response is one HTTP answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("status %d body %q: %v", r.status, r.body, err)
	}
}

var testClient = &http.Client{Timeout: 10 * time.Second}

func do(t *testing.T, method, url, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func inferBody(user int64, extra string) string {
	return `{"id":"t","inputs":[{"name":"user_id","shape":[1],"datatype":"INT64","data":[` + itoa(user) + `]}` + extra + `]}`
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
