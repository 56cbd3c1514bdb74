package recsys

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// Build is how one model version is trained.
type Build struct {
	Version string
	Train   TrainConfig
	Steps   int
}

// DefaultTrainConfig is the newest version's training configuration; the
// trainer service trains with it.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Seed: 202, Dims: 32, BatchSize: 256, LearnRate: 0.05, Reg: 0.005}
}

// Builds are the demo's model versions, oldest first. v1 is a small model
// trained briefly from another seed, so a replica serving it (ModelChaos
// stale-version) answers with a visibly different top k; v2 is the model
// the demo serves.
func Builds() []Build {
	return []Build{
		{Version: "v1", Train: TrainConfig{Seed: 101, Dims: 8, BatchSize: 256, LearnRate: 0.1, Reg: 0.01}, Steps: 300},
		{Version: "v2", Train: DefaultTrainConfig(), Steps: 1200},
	}
}

// Run trains the build's model on d.
func (b Build) Run(d *Dataset) (*Model, error) {
	if b.Steps < 0 {
		return nil, fmt.Errorf("version %s: steps %d is negative", b.Version, b.Steps)
	}
	t, err := NewTrainer(d, b.Train)
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", b.Version, err)
	}
	for range b.Steps {
		t.Step()
	}
	return t.Model(b.Version), nil
}

// FileName is the name of a version's model file in a model directory.
func FileName(version string) string { return ModelName + "-" + version + ".model" }

// VersionOf parses a model file name back into its version; ok is false for
// other files.
func VersionOf(name string) (version string, ok bool) {
	v, ok := strings.CutPrefix(name, ModelName+"-")
	if !ok {
		return "", false
	}
	v, ok = strings.CutSuffix(v, ".model")
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

// NewestVersion picks the newest of versions: "v<N>" by N, other names
// after them by text. ok is false when there are none.
func NewestVersion(versions []string) (string, bool) {
	if len(versions) == 0 {
		return "", false
	}
	return slices.MaxFunc(versions, compareVersions), true
}

func compareVersions(a, b string) int {
	na, errA := strconv.Atoi(strings.TrimPrefix(a, "v"))
	nb, errB := strconv.Atoi(strings.TrimPrefix(b, "v"))
	switch {
	case errA == nil && errB == nil && na != nb:
		return na - nb
	case errA == nil && errB != nil:
		return -1
	case errA != nil && errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// GoldenUsers are the users of the demo's golden set: spread over all ids.
func GoldenUsers(d *Dataset, n int) []int64 {
	users := d.Config.Users
	n = max(1, min(n, users))
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i * users / n)
	}
	return out
}

// Output names of the OIP answer.
const (
	InputUserID   = "user_id"
	InputHistory  = "history"
	OutputItems   = "items"
	OutputScores  = "scores"
	ParameterTopK = "top_k"
)

// GoldenSet is the inference probe's golden set for m: one request per
// user (input user_id only, so the server fetches the user's features from
// the feature store, as the demo serves them) with the top k the server
// must answer, computed from the model file and the data the feature store
// serves. withScores adds the expected scores (FP32, as the server sends
// them) for exact or numeric comparison; leave it out for topk, which
// compares every expected output as a ranked set.
func GoldenSet(m *Model, d *Dataset, users []int64, k int, withScores bool) ([]v1alpha1.GoldenRequest, error) {
	out := make([]v1alpha1.GoldenRequest, 0, len(users))
	for _, u := range users {
		f, ok := d.Features(u)
		if !ok {
			return nil, fmt.Errorf("golden user %d is not in the data", u)
		}
		top, err := m.Recommend(u, f.History, k)
		if err != nil {
			return nil, fmt.Errorf("golden user %d: %w", u, err)
		}
		items, scores := Split(top)
		g := v1alpha1.GoldenRequest{
			Name:       fmt.Sprintf("user-%d", u),
			Parameters: map[string]v1alpha1.Raw{ParameterTopK: k},
			Inputs:     []v1alpha1.InferenceTensor{{Name: InputUserID, Shape: []int64{1}, Datatype: v1alpha1.DatatypeInt64, Data: []int64{u}}},
			Expected:   []v1alpha1.InferenceTensor{{Name: OutputItems, Shape: []int64{int64(len(items))}, Datatype: v1alpha1.DatatypeInt64, Data: items}},
		}
		if withScores {
			g.Expected = append(g.Expected, v1alpha1.InferenceTensor{Name: OutputScores, Shape: []int64{int64(len(scores))}, Datatype: v1alpha1.DatatypeFP32, Data: scores})
		}
		out = append(out, g)
	}
	return out, nil
}

// Split turns a ranking into the OIP outputs: item ids and FP32 scores.
func Split(top []Scored) (items []int64, scores []float32) {
	items = make([]int64, len(top))
	scores = make([]float32, len(top))
	for i, s := range top {
		items[i] = int64(s.Item)
		scores[i] = float32(s.Score)
	}
	return items, scores
}
