package recsys

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// TrainConfig is how a Trainer trains.
type TrainConfig struct {
	// Seed of the initial factors and of every step's samples.
	Seed uint64
	// Dims is the number of latent factors.
	Dims int
	// BatchSize is the number of (user, positive, negative) triples per
	// step.
	BatchSize int
	// LearnRate and Reg are SGD's step size and L2 regularisation.
	LearnRate, Reg float64
}

func (c TrainConfig) check() error {
	switch {
	case c.Dims < 1 || c.Dims > maxDims:
		return fmt.Errorf("dims %d: want 1 to %d", c.Dims, maxDims)
	case c.BatchSize < 1 || c.BatchSize > 1<<20:
		return fmt.Errorf("batch size %d: want 1 to %d", c.BatchSize, 1<<20)
	case !(c.LearnRate > 0 && c.LearnRate < 10):
		return fmt.Errorf("learn rate %v: want above 0 and below 10", c.LearnRate)
	case !(c.Reg >= 0 && c.Reg < 10):
		return fmt.Errorf("reg %v: want 0 to below 10", c.Reg)
	}
	return nil
}

// Trainer trains a model with BPR, one step at a time. It is not safe for
// concurrent use.
type Trainer struct {
	data    *Dataset
	cfg     TrainConfig
	step    int
	loss    float64
	p, q, b []float64
	// scratch is one user's factors before an update.
	scratch []float64
}

// NewTrainer starts training on d from factors drawn from cfg.Seed.
func NewTrainer(d *Dataset, cfg TrainConfig) (*Trainer, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("train config: %w", err)
	}
	if len(d.pairs) == 0 {
		return nil, errors.New("the data holds no training interactions")
	}
	c := d.Config
	t := &Trainer{
		data: d, cfg: cfg, loss: math.Ln2, // an untrained model's BPR loss
		p: make([]float64, c.Users*cfg.Dims), q: make([]float64, c.Items*cfg.Dims), b: make([]float64, c.Items),
		scratch: make([]float64, cfg.Dims),
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x1417))
	for _, m := range [][]float64{t.p, t.q} {
		for i := range m {
			m[i] = float64(rng.NormFloat64() * 0.1)
		}
	}
	return t, nil
}

// Resume continues training from a checkpoint (or model) file's content.
// The checkpoint must come from the same data and configuration; then the
// resumed trainer's steps are bit-for-bit those of one never stopped.
func Resume(d *Dataset, cfg TrainConfig, ckpt *Model) (*Trainer, error) {
	h := ckpt.Header
	c := d.Config
	switch {
	case h.Users != c.Users || h.Items != c.Items:
		return nil, fmt.Errorf("checkpoint has %d users and %d items, the data %d and %d", h.Users, h.Items, c.Users, c.Items)
	case h.Dims != cfg.Dims:
		return nil, fmt.Errorf("checkpoint has %d dims, the configuration %d", h.Dims, cfg.Dims)
	case h.DataSeed != c.Seed || h.TrainSeed != cfg.Seed:
		return nil, fmt.Errorf("checkpoint comes from data seed %d and train seed %d, not %d and %d", h.DataSeed, h.TrainSeed, c.Seed, cfg.Seed)
	case h.Step < 0:
		return nil, fmt.Errorf("checkpoint step %d is negative", h.Step)
	}
	t, err := NewTrainer(d, cfg)
	if err != nil {
		return nil, err
	}
	copy(t.p, ckpt.P)
	copy(t.q, ckpt.Q)
	copy(t.b, ckpt.B)
	t.step, t.loss = h.Step, h.Loss
	return t, nil
}

// StepCount is the number of steps taken.
func (t *Trainer) StepCount() int { return t.step }

// Loss is the mean BPR loss of the last step (ln 2 before the first).
func (t *Trainer) Loss() float64 { return t.loss }

// Step runs one step and returns its mean BPR loss, measured on the
// batch before each triple's update.
func (t *Trainer) Step() float64 {
	t.step++
	rng := rand.New(rand.NewPCG(t.cfg.Seed, uint64(t.step)))
	d, dims := t.data, t.cfg.Dims
	lr, reg := t.cfg.LearnRate, t.cfg.Reg
	total := 0.0
	for range t.cfg.BatchSize {
		pair := d.pairs[rng.IntN(len(d.pairs))]
		u, i := int(pair[0]), int(pair[1])
		j := rng.IntN(d.Config.Items)
		// A negative the user did interact with is redrawn; the data
		// config keeps histories to at most half the catalogue, so a few
		// draws suffice, and the bound keeps a step finite regardless.
		for tries := 0; d.Interacted(u, int32(j)) && tries < 32; tries++ {
			j = rng.IntN(d.Config.Items)
		}
		pu := t.p[u*dims : (u+1)*dims]
		qi := t.q[i*dims : (i+1)*dims]
		qj := t.q[j*dims : (j+1)*dims]
		x := t.b[i] - t.b[j]
		for f := range dims {
			x += float64(pu[f] * float64(qi[f]-qj[f]))
		}
		total += softplus(-x)
		g := sigmoid(-x) // d(−log σ(x))/dx = −σ(−x)
		copy(t.scratch, pu)
		for f := range dims {
			pu[f] += float64(lr * float64(float64(g*float64(qi[f]-qj[f]))-float64(reg*pu[f])))
			qi[f] += float64(lr * float64(float64(g*t.scratch[f])-float64(reg*qi[f])))
			qj[f] += float64(lr * float64(float64(-g*t.scratch[f])-float64(reg*qj[f])))
		}
		t.b[i] += float64(lr * float64(g-float64(reg*t.b[i])))
		t.b[j] += float64(lr * float64(-g-float64(reg*t.b[j])))
	}
	t.loss = total / float64(t.cfg.BatchSize)
	return t.loss
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// softplus is log(1+eˣ) without overflow for large x.
func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// snapshot is the trainer's state as a Model of the given kind.
func (t *Trainer) snapshot(kind, version string) *Model {
	c := t.data.Config
	return &Model{
		Header: Header{
			Format: FormatName, Kind: kind, Model: ModelName, Version: version,
			Users: c.Users, Items: c.Items, Dims: t.cfg.Dims,
			DataSeed: c.Seed, TrainSeed: t.cfg.Seed, Step: t.step, Loss: t.loss,
		},
		P: slices.Clone(t.p), Q: slices.Clone(t.q), B: slices.Clone(t.b),
	}
}

// Model returns the trained model, named version.
func (t *Trainer) Model(version string) *Model { return t.snapshot(KindModel, version) }

// Checkpoint returns the trainer's state as a checkpoint.
func (t *Trainer) Checkpoint() *Model { return t.snapshot(KindCheckpoint, "") }
