package recsys

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// DataConfig describes the synthetic interaction set.
type DataConfig struct {
	// Seed of everything random in the data.
	Seed uint64 `json:"seed"`
	// Users and Items are the numbers of users and items; ids run from 0.
	Users int `json:"users"`
	Items int `json:"items"`
	// Genres is the number of hidden item genres users prefer.
	Genres int `json:"genres"`
	// PerUser is the number of training interactions of each user.
	PerUser int `json:"perUser"`
	// HeldOut is the number of further interactions of each user kept for
	// evaluation.
	HeldOut int `json:"heldOut"`
}

// DefaultDataConfig is the demo's data set: small enough that training the
// demo model takes well under a second on one core, large enough that the
// model's top 10 beats popularity clearly.
func DefaultDataConfig() DataConfig {
	return DataConfig{Seed: 7, Users: 600, Items: 400, Genres: 12, PerUser: 30, HeldOut: 5}
}

// Limits on generated data, so a bad configuration (an environment variable
// with an extra zero) fails fast instead of exhausting memory.
const (
	maxUsers = 1 << 20
	maxItems = 1 << 16
)

func (c DataConfig) check() error {
	switch {
	case c.Users < 1 || c.Users > maxUsers:
		return fmt.Errorf("users %d: want 1 to %d", c.Users, maxUsers)
	case c.Items < 2 || c.Items > maxItems:
		return fmt.Errorf("items %d: want 2 to %d", c.Items, maxItems)
	case c.Genres < 1 || c.Genres > c.Items:
		return fmt.Errorf("genres %d: want 1 to items (%d)", c.Genres, c.Items)
	case c.PerUser < 1:
		return fmt.Errorf("perUser %d: want at least 1", c.PerUser)
	case c.HeldOut < 0:
		return fmt.Errorf("heldOut %d: want 0 or more", c.HeldOut)
	case c.PerUser+c.HeldOut > c.Items/2:
		// Sampling without replacement needs room; half the catalogue
		// keeps rejection sampling quick.
		return fmt.Errorf("perUser+heldOut %d: want at most half the items (%d)", c.PerUser+c.HeldOut, c.Items/2)
	case c.Users*(c.PerUser+c.HeldOut) > 1<<24:
		return fmt.Errorf("users × interactions %d: want at most %d", c.Users*(c.PerUser+c.HeldOut), 1<<24)
	}
	return nil
}

// Dataset is a generated interaction set.
type Dataset struct {
	Config DataConfig
	// ItemGenre is each item's genre.
	ItemGenre []int
	// Train holds each user's training interactions in the order they
	// happened: the history the feature store serves.
	Train [][]int32
	// Test holds each user's held-out interactions.
	Test [][]int32
	// trainSorted is Train per user, sorted, for membership tests.
	trainSorted [][]int32
	// pairs lists every (user, item) training interaction, user by user:
	// the population a BPR step samples positives from.
	pairs [][2]int32
	// popularity is each item's training interaction count.
	popularity []int
}

// Generate builds the interaction set of c. The same c always gives the
// same Dataset.
func Generate(c DataConfig) (*Dataset, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("data config: %w", err)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0xda7a))
	d := &Dataset{Config: c, ItemGenre: make([]int, c.Items), popularity: make([]int, c.Items)}

	// Popularity: a Zipf-like weight over a random ranking of the items.
	rank := rng.Perm(c.Items)
	pop := make([]float64, c.Items)
	for i := range c.Items {
		d.ItemGenre[i] = rng.IntN(c.Genres)
		pop[i] = 1 / math.Pow(float64(rank[i]+10), 0.8)
	}

	n := c.PerUser + c.HeldOut
	pref := make([]float64, c.Genres)
	cdf := make([]float64, c.Items)
	seen := make(map[int32]bool, n) // membership only; never iterated
	d.Train = make([][]int32, c.Users)
	d.Test = make([][]int32, c.Users)
	d.trainSorted = make([][]int32, c.Users)
	for u := range c.Users {
		// Two favourite genres carry most of a user's taste; the rest
		// share a little, so tastes overlap but differ.
		for g := range pref {
			pref[g] = 0.03
		}
		pref[rng.IntN(c.Genres)] += 1.0
		pref[rng.IntN(c.Genres)] += 0.5
		total := 0.0
		for i := range c.Items {
			total += float64(pop[i] * pref[d.ItemGenre[i]])
			cdf[i] = total
		}
		clear(seen)
		picks := make([]int32, 0, n)
		// Rejection of repeats is bounded: the config keeps n at most half
		// the catalogue, but a tiny catalogue could still be unlucky.
		for tries := 0; len(picks) < n && tries < 1000*n; tries++ {
			x := rng.Float64() * total
			i := int32(min(sortSearch(cdf, x), c.Items-1))
			if !seen[i] {
				seen[i] = true
				picks = append(picks, i)
			}
		}
		if len(picks) < n {
			return nil, errors.New("data config: could not draw enough distinct items; lower perUser or raise items")
		}
		d.Train[u] = picks[:c.PerUser:c.PerUser]
		d.Test[u] = picks[c.PerUser:]
		d.trainSorted[u] = slices.Sorted(slices.Values(d.Train[u]))
		for _, i := range d.Train[u] {
			d.pairs = append(d.pairs, [2]int32{int32(u), i})
			d.popularity[i]++
		}
	}
	return d, nil
}

// sortSearch is the first index whose cumulative weight exceeds x.
func sortSearch(cdf []float64, x float64) int {
	i, _ := slices.BinarySearchFunc(cdf, x, func(c, x float64) int {
		if c <= x {
			return -1
		}
		return 1
	})
	return i
}

// Interacted reports whether item is in user's training history.
func (d *Dataset) Interacted(user int, item int32) bool {
	if user < 0 || user >= len(d.trainSorted) {
		return false
	}
	_, ok := slices.BinarySearch(d.trainSorted[user], item)
	return ok
}

// Features are what the feature store knows about a user.
type Features struct {
	UserID int64 `json:"user_id"`
	// History is the user's interactions, oldest first; the model leaves
	// them out of its recommendations.
	History []int32 `json:"history"`
	// Segment is the user's favourite genre, as "genre-<n>".
	Segment string `json:"segment"`
}

// Features returns a user's features; ok is false for an unknown user.
func (d *Dataset) Features(user int64) (f Features, ok bool) {
	if user < 0 || user >= int64(len(d.Train)) {
		return Features{}, false
	}
	h := d.Train[user]
	counts := make([]int, d.Config.Genres)
	for _, i := range h {
		counts[d.ItemGenre[i]]++
	}
	best := 0
	for g, c := range counts {
		if c > counts[best] {
			best = g
		}
	}
	return Features{UserID: user, History: slices.Clone(h), Segment: fmt.Sprintf("genre-%d", best)}, true
}

// PopularityRanking is every item by training popularity, most popular
// first, ties by id: the baseline a model must beat.
func (d *Dataset) PopularityRanking() []int32 {
	items := make([]int32, len(d.popularity))
	for i := range items {
		items[i] = int32(i)
	}
	slices.SortFunc(items, func(a, b int32) int {
		if d.popularity[a] != d.popularity[b] {
			return d.popularity[b] - d.popularity[a]
		}
		return int(a - b)
	})
	return items
}

// Popularity is item's number of training interactions (0 for an unknown
// item).
func (d *Dataset) Popularity(item int32) int {
	if item < 0 || int(item) >= len(d.popularity) {
		return 0
	}
	return d.popularity[item]
}
