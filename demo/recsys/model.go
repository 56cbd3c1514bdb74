package recsys

import (
	"errors"
	"fmt"
	"slices"
)

// ModelName is the demo model's name in files and OIP URLs.
const ModelName = "recsys"

// Kinds of file in the model format.
const (
	KindModel      = "model"
	KindCheckpoint = "checkpoint"
)

// Header is a model file's self-description; see the package doc.
type Header struct {
	// Format is always FormatName; a file of another format is refused.
	Format string `json:"format"`
	// Kind is "model" or "checkpoint".
	Kind string `json:"kind"`
	// Model is the model's name, e.g. "recsys".
	Model string `json:"model"`
	// Version is the model's version, e.g. "v2"; "" in a checkpoint.
	Version string `json:"version,omitempty"`
	// Users, Items and Dims are the shapes of the payload's matrices.
	Users int `json:"users"`
	Items int `json:"items"`
	Dims  int `json:"dims"`
	// DataSeed is the seed the training data was generated from, and
	// TrainSeed the trainer's.
	DataSeed  uint64 `json:"dataSeed"`
	TrainSeed uint64 `json:"trainSeed"`
	// Step is the number of training steps taken, and Loss the last
	// step's mean BPR loss.
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
	// SHA256 is the hex SHA-256 of the header with this field empty,
	// followed by the payload.
	SHA256 string `json:"sha256"`
}

// Model is a trained matrix-factorisation model.
type Model struct {
	Header Header
	// P is the users' factors (Users × Dims, row-major), Q the items'
	// (Items × Dims) and B the items' biases.
	P, Q, B []float64
}

// Scored is one recommended item.
type Scored struct {
	Item  int32
	Score float64
}

// ErrBadRequest marks an inference request the model cannot answer because
// of its input (an item id out of range, a bad k): a 400, not a 500.
var ErrBadRequest = errors.New("bad request")

// Recommend returns the top k items for user, best first, leaving out the
// items in history (the user's features). A user the model does not know
// is folded in as the mean factors of its history's items; with no history
// either, items rank by bias alone (popularity). Ties rank by item id, so
// the answer is a pure function of the model and the arguments.
func (m *Model) Recommend(user int64, history []int32, k int) ([]Scored, error) {
	h := m.Header
	if k < 1 || k > h.Items {
		return nil, fmt.Errorf("%w: top_k %d: want 1 to %d", ErrBadRequest, k, h.Items)
	}
	excluded := make([]bool, h.Items)
	for _, i := range history {
		if i < 0 || int(i) >= h.Items {
			return nil, fmt.Errorf("%w: history item %d: want 0 to %d", ErrBadRequest, i, h.Items-1)
		}
		excluded[i] = true
	}
	u := make([]float64, h.Dims)
	switch {
	case user >= 0 && user < int64(h.Users):
		copy(u, m.P[int(user)*h.Dims:])
	case len(history) > 0:
		for _, i := range history {
			row := m.Q[int(i)*h.Dims:]
			for f := range u {
				u[f] += row[f]
			}
		}
		for f := range u {
			u[f] /= float64(len(history))
		}
	}
	out := make([]Scored, 0, h.Items)
	for i := range h.Items {
		if excluded[i] {
			continue
		}
		out = append(out, Scored{Item: int32(i), Score: m.B[i] + dot(u, m.Q[i*h.Dims:(i+1)*h.Dims])})
	}
	slices.SortFunc(out, func(a, b Scored) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return int(a.Item - b.Item)
	})
	return out[:min(k, len(out))], nil
}

// dot is the dot product, each product rounded so that no FMA changes the
// result between targets (see the package doc).
func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i] * b[i])
	}
	return s
}

// Evaluation is how well a ranking predicts held-out interactions.
type Evaluation struct {
	// K is the list length evaluated.
	K int
	// Recall is the share of held-out interactions found in the top K.
	Recall float64
	// HitRate is the share of users with at least one held-out interaction
	// in their top K.
	HitRate float64
}

func (e Evaluation) String() string {
	return fmt.Sprintf("recall@%d %.3f, hit-rate@%d %.3f", e.K, e.Recall, e.K, e.HitRate)
}

// Evaluate measures the model's top k on the data's held-out interactions,
// each user's training history left out as the server does.
func Evaluate(m *Model, d *Dataset, k int) (Evaluation, error) {
	return evaluate(d, k, func(u int) ([]int32, error) {
		top, err := m.Recommend(int64(u), d.Train[u], k)
		if err != nil {
			return nil, err
		}
		items := make([]int32, len(top))
		for i, s := range top {
			items[i] = s.Item
		}
		return items, nil
	})
}

// EvaluatePopularity measures the baseline: the k most popular items the
// user has not interacted with.
func EvaluatePopularity(d *Dataset, k int) (Evaluation, error) {
	rank := d.PopularityRanking()
	return evaluate(d, k, func(u int) ([]int32, error) {
		items := make([]int32, 0, k)
		for _, i := range rank {
			if len(items) == k {
				break
			}
			if !d.Interacted(u, i) {
				items = append(items, i)
			}
		}
		return items, nil
	})
}

func evaluate(d *Dataset, k int, top func(u int) ([]int32, error)) (Evaluation, error) {
	e := Evaluation{K: k}
	hits, total, users := 0, 0, 0
	for u := range d.Train {
		items, err := top(u)
		if err != nil {
			return e, fmt.Errorf("user %d: %w", u, err)
		}
		found := 0
		for _, t := range d.Test[u] {
			if slices.Contains(items, t) {
				found++
			}
		}
		hits += found
		total += len(d.Test[u])
		if found > 0 {
			users++
		}
	}
	if total == 0 {
		return e, errors.New("the data holds no held-out interactions")
	}
	e.Recall = float64(hits) / float64(total)
	e.HitRate = float64(users) / float64(len(d.Train))
	return e, nil
}
