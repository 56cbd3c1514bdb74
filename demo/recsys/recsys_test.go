package recsys

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/probe"
)

func testData(t *testing.T) *Dataset {
	t.Helper()
	d, err := Generate(DefaultDataConfig())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// built caches the demo's versions for the tests that only read them:
// under -race a build takes a second.
var built = sync.OnceValues(func() (map[string]*Model, error) {
	d, err := Generate(DefaultDataConfig())
	if err != nil {
		return nil, err
	}
	out := map[string]*Model{}
	for _, b := range Builds() {
		if out[b.Version], err = b.Run(d); err != nil {
			return nil, err
		}
	}
	return out, nil
})

// build returns a version's model (shared: do not modify it).
func build(t *testing.T, d *Dataset, version string) *Model {
	t.Helper()
	if !reflect.DeepEqual(d.Config, DefaultDataConfig()) {
		t.Fatal("build serves the default data only")
	}
	models, err := built()
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := models[version]; ok {
		return m
	}
	for _, b := range Builds() {
		if b.Version == version {
			m, err := b.Run(d)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no build %s", version)
	return nil
}

func encode(t *testing.T, m *Model) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := testData(t), testData(t)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generations from the same seed differ")
	}
	other := DefaultDataConfig()
	other.Seed++
	c, err := Generate(other)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Train, c.Train) {
		t.Fatal("another seed gave the same interactions")
	}
	for u := range a.Train {
		if len(a.Train[u]) != a.Config.PerUser || len(a.Test[u]) != a.Config.HeldOut {
			t.Fatalf("user %d: %d train, %d test interactions", u, len(a.Train[u]), len(a.Test[u]))
		}
		for _, i := range a.Test[u] {
			if a.Interacted(u, i) {
				t.Fatalf("user %d: held-out item %d is also in training", u, i)
			}
		}
	}
}

// TestBuildIsDeterministic: the demo's model files are the same bytes,
// and so the same checksum, every time they are built.
func TestBuildIsDeterministic(t *testing.T) {
	start := time.Now()
	d := testData(t)
	for _, b := range Builds() {
		m1, err := b.Run(d)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := b.Run(testData(t))
		if err != nil {
			t.Fatal(err)
		}
		b1, b2 := encode(t, m1), encode(t, m2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("%s: two builds differ", b.Version)
		}
		if m1.Header.SHA256 != m2.Header.SHA256 || len(m1.Header.SHA256) != 64 {
			t.Fatalf("%s: checksums %q and %q", b.Version, m1.Header.SHA256, m2.Header.SHA256)
		}
		t.Logf("%s: %d bytes, sha256 %s, step %d, loss %.4f", b.Version, len(b1), m1.Header.SHA256[:16], m1.Header.Step, m1.Header.Loss)
	}
	t.Logf("data + both versions built twice in %v", time.Since(start))
}

// TestModelBeatsPopularity: the top 10 is meaningful — v2 finds held-out
// interactions far more often than recommending the most popular items.
func TestModelBeatsPopularity(t *testing.T) {
	d := testData(t)
	pop, err := EvaluatePopularity(d, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("popularity baseline: %v", pop)
	want := map[string]float64{"v1": 1.5, "v2": 3} // recall as a multiple of the baseline's
	for _, b := range Builds() {
		m := build(t, d, b.Version)
		e, err := Evaluate(m, d, 10)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v (%.1f× popularity)", b.Version, e, e.Recall/pop.Recall)
		if e.Recall < want[b.Version]*pop.Recall {
			t.Errorf("%s: recall@10 %.3f, want at least %.1f× the baseline's %.3f", b.Version, e.Recall, want[b.Version], pop.Recall)
		}
	}
}

// TestStaleVersionDiffers: a replica serving v1 answers visibly differently
// from v2, so the golden set catches version skew.
func TestStaleVersionDiffers(t *testing.T) {
	d := testData(t)
	v1, v2 := build(t, d, "v1"), build(t, d, "v2")
	users := GoldenUsers(d, 24)
	overlap, identical := 0.0, 0
	for _, u := range users {
		f, _ := d.Features(u)
		a, err := v1.Recommend(u, f.History, 10)
		if err != nil {
			t.Fatal(err)
		}
		b, err := v2.Recommend(u, f.History, 10)
		if err != nil {
			t.Fatal(err)
		}
		ia, _ := Split(a)
		ib, _ := Split(b)
		n := 0
		for _, x := range ia {
			if slices.Contains(ib, x) {
				n++
			}
		}
		overlap += float64(n) / 10
		if slices.Equal(ia, ib) {
			identical++
		}
	}
	overlap /= float64(len(users))
	t.Logf("v1 vs v2 over %d golden users: mean top-10 overlap %.2f, identical lists %d", len(users), overlap, identical)
	if overlap > 0.6 || identical > 0 {
		t.Fatalf("v1 and v2 agree too much: overlap %.2f, %d identical lists", overlap, identical)
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	d := testData(t)
	m := build(t, d, "v1")
	m = &Model{Header: m.Header, P: slices.Clone(m.P), Q: slices.Clone(m.Q), B: slices.Clone(m.B)}
	good := encode(t, m)
	hdrEnd := len(magic) + bytes.IndexByte(good[len(magic):], '\n')
	shaAt := bytes.Index(good, []byte(m.Header.SHA256))
	flip := func(at ...int) []byte {
		b := bytes.Clone(good)
		for _, i := range at {
			b[i] ^= 0x5a
		}
		return b
	}
	nan := &Model{Header: m.Header, P: slices.Clone(m.P), Q: m.Q, B: m.B}
	nan.P[3] = math.NaN()
	spread := []int{}
	for i := 0; i < len(good); i += len(good) / 16 {
		spread = append(spread, i)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "does not start with"},
		{"magic flipped", flip(0), "does not start with"},
		{"header byte flipped", flip(len(magic) + 3), "header"},
		{"header value changed", bytes.Replace(good, []byte(`"dims":8`), []byte(`"dims":9`), 1), "truncated"},
		{"version renamed", bytes.Replace(good, []byte(`"version":"v1"`), []byte(`"version":"v7"`), 1), "checksum mismatch"},
		{"checksum flipped", flip(shaAt + 5), "checksum mismatch"},
		{"first payload byte flipped", flip(hdrEnd + 1), "checksum mismatch"},
		{"last byte flipped", flip(len(good) - 1), "checksum mismatch"},
		{"bytes flipped all over", flip(spread...), "corrupt model file"},
		{"truncated to half", good[:len(good)/2], "truncated"},
		{"one byte short", good[:len(good)-1], "truncated"},
		{"cut inside the header", good[:hdrEnd-2], "no header line"},
		{"trailing byte", append(bytes.Clone(good), 0), "trailing bytes"},
		{"NaN weight", encode(t, nan), "NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("decoded a damaged file (version %s)", got.Header.Version)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want ErrCorrupt saying %q", err, tc.want)
			}
		})
	}
	back, err := Decode(good)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatal("decode(encode(m)) differs from m")
	}
	path := filepath.Join(t.TempDir(), FileName("v1"))
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("truncated file on disk: %v", err)
	}
}

func TestRecommend(t *testing.T) {
	d := testData(t)
	m := build(t, d, "v2")
	f, _ := d.Features(5)
	top, err := m.Recommend(5, f.History, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 20 {
		t.Fatalf("%d items, want 20", len(top))
	}
	for i, s := range top {
		if slices.Contains(f.History, s.Item) {
			t.Fatalf("recommended item %d from the user's history", s.Item)
		}
		if i > 0 && (s.Score > top[i-1].Score || s.Score == top[i-1].Score && s.Item < top[i-1].Item) {
			t.Fatalf("ranking out of order at %d: %+v after %+v", i, s, top[i-1])
		}
	}
	// A user unknown to the model is folded in from its history: it ranks
	// like the known user whose history it has, roughly.
	folded, err := m.Recommend(int64(d.Config.Users)+5, f.History, 20)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Split(top)
	b, _ := Split(folded)
	common := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			common++
		}
	}
	t.Logf("fold-in shares %d of the known user's top 20", common)
	if common < 5 {
		t.Errorf("fold-in shares only %d of 20 items with the known user", common)
	}
	for _, tc := range []struct {
		name    string
		history []int32
		k       int
	}{
		{"k zero", nil, 0},
		{"k beyond items", nil, d.Config.Items + 1},
		{"history id negative", []int32{-1}, 10},
		{"history id too large", []int32{int32(d.Config.Items)}, 10},
	} {
		if _, err := m.Recommend(1, tc.history, tc.k); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: error %v, want ErrBadRequest", tc.name, err)
		}
	}
}

// TestResumeIsExact: a trainer resumed from a checkpoint file continues bit
// for bit as one never stopped.
func TestResumeIsExact(t *testing.T) {
	d := testData(t)
	cfg := DefaultTrainConfig()
	ref, err := NewTrainer(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []float64
	for range 50 {
		want = append(want, ref.Step())
	}
	a, err := NewTrainer(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		a.Step()
	}
	dir := t.TempDir()
	if _, err := WriteCheckpoint(dir, a); err != nil {
		t.Fatal(err)
	}
	c, path, skipped, err := LatestCheckpoint(dir)
	if err != nil || c == nil || len(skipped) > 0 {
		t.Fatalf("latest checkpoint: %v %v %v", path, skipped, err)
	}
	b, err := Resume(d, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if b.StepCount() != 20 || b.Loss() != want[19] {
		t.Fatalf("resumed at step %d loss %v, want 20 and %v", b.StepCount(), b.Loss(), want[19])
	}
	for s := 21; s <= 50; s++ {
		if got := b.Step(); got != want[s-1] {
			t.Fatalf("step %d: loss %v, uninterrupted %v", s, got, want[s-1])
		}
	}
	if !bytes.Equal(encode(t, b.Model("x")), encode(t, ref.Model("x"))) {
		t.Fatal("resumed model differs from the uninterrupted one")
	}
	other := cfg
	other.Seed++
	if _, err := Resume(d, other, c); err == nil {
		t.Fatal("resumed a checkpoint of another train seed")
	}
	t.Logf("loss step 1 %.4f → step 20 %.4f → step 50 %.4f, identical after resume", want[0], want[19], want[49])
}

func TestLatestCheckpointSkipsCorrupt(t *testing.T) {
	d := testData(t)
	tr, err := NewTrainer(d, TrainConfig{Seed: 1, Dims: 4, BatchSize: 16, LearnRate: 0.05, Reg: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for range 3 {
		for range 10 {
			tr.Step()
		}
		if _, err := WriteCheckpoint(dir, tr); err != nil {
			t.Fatal(err)
		}
	}
	// Leftovers of an interrupted write are not checkpoints.
	if err := os.WriteFile(filepath.Join(dir, "."+CheckpointName(40)+".tmp-123"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	newest := filepath.Join(dir, CheckpointName(30))
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint64(data[len(data)-8:], 12345)
	if err := os.WriteFile(newest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, path, skipped, err := LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c == nil || c.Header.Step != 20 || path != filepath.Join(dir, CheckpointName(20)) {
		t.Fatalf("loaded %s, want step 20's", path)
	}
	if len(skipped) != 1 || skipped[0].Path != newest || !errors.Is(skipped[0].Err, ErrCorrupt) {
		t.Fatalf("skipped %+v, want the corrupt step-30 checkpoint", skipped)
	}
	if err := PruneCheckpoints(dir, 2); err != nil {
		t.Fatal(err)
	}
	steps, err := listCheckpoints(dir)
	if err != nil || !slices.Equal(steps, []int{30, 20}) {
		t.Fatalf("after pruning to 2: %v %v", steps, err)
	}
	empty, path, _, err := LatestCheckpoint(filepath.Join(dir, "missing"))
	if err != nil || empty != nil || path != "" {
		t.Fatalf("missing dir: %v %q %v", empty, path, err)
	}
}

// TestGoldenSetParses: the golden set is in exactly the shape the
// inference probe reads.
func TestGoldenSetParses(t *testing.T) {
	d := testData(t)
	m := build(t, d, "v2")
	for _, withScores := range []bool{true, false} {
		gs, err := GoldenSet(m, d, GoldenUsers(d, 8), 10, withScores)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.MarshalIndent(gs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := probe.ParseGoldenSet("golden", data)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if withScores {
			want = 2
		}
		if len(parsed) != 8 || len(parsed[0].Expected) != want || parsed[0].Name != "user-0" {
			t.Fatalf("parsed %d requests, first %+v", len(parsed), parsed[0])
		}
	}
}

func TestNewestVersion(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"v1", "v2"}, "v2"},
		{[]string{"v10", "v9", "v2"}, "v10"},
		{[]string{"v1", "canary"}, "canary"},
		{[]string{"v3"}, "v3"},
	} {
		if got, _ := NewestVersion(tc.in); got != tc.want {
			t.Errorf("NewestVersion(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if _, ok := NewestVersion(nil); ok {
		t.Error("NewestVersion(nil) found one")
	}
	for name, want := range map[string]string{"recsys-v2.model": "v2", "recsys-.model": "", "other-v1.model": "", "recsys-v1.model.tmp": ""} {
		if got, _ := VersionOf(name); got != want {
			t.Errorf("VersionOf(%s) = %q, want %q", name, got, want)
		}
	}
}
