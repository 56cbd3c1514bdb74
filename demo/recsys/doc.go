// Package recsys is the demo's recommendation model: a matrix-factorisation
// model trained with Bayesian Personalised Ranking (BPR) on a synthetic
// user–item interaction set, in pure Go and bit-for-bit deterministic.
//
// # Data
//
// Generate builds the interaction set from a seed (DataConfig): items have a
// genre and a Zipf-like popularity, users prefer a few genres, and each
// user's interactions are drawn from popularity × preference. The last
// HeldOut interactions of each user are kept apart (Dataset.Test) to measure
// the model's recall against a popularity baseline. The same seed always
// gives the same data, so the feature store regenerates the users' features
// (their training history) instead of shipping a file.
//
// # Training
//
// A Trainer runs BPR in steps of BatchSize (user, positive, negative)
// triples. Step n draws its triples from a random source seeded by
// (TrainConfig.Seed, n) alone, so a trainer resumed from a checkpoint taken
// after step n continues exactly as one that was never stopped: step count
// and loss continue, bit for bit. Floating-point products are rounded
// explicitly (float64(a*b)) so that no compiler fuses them into FMA
// instructions on some targets and not on others; maps are never iterated;
// nothing runs concurrently. (math.Exp, used by the loss, may take an
// FMA path on CPUs that have one, so bytes are promised equal on one
// machine; build the model files and golden set where they are served.)
//
// # Model file
//
// A model file (and a trainer checkpoint, the same format) is
//
//	FLRECSYS\n
//	{"format":"faultline.dev/recsys-v1","kind":"model","model":"recsys","version":"v2",...,"sha256":"…"}\n
//	payload: little-endian float64 user factors, item factors, item biases
//
// The header's sha256 is the SHA-256 of the header with an empty sha256
// field followed by the payload, so a flipped byte anywhere in the file,
// or a truncated file, is refused by Decode with an error wrapping
// ErrCorrupt rather than served.
//
// # Inference
//
// Model.Recommend scores every item for a user (dot product of the factors
// plus the item's bias), leaves out the items in the user's history (its
// features) and returns the top k, ties broken by item id. A user unknown
// to the model is folded in from its history (the mean of the history's
// item factors). GoldenSet turns those answers into the inference probe's
// golden set file.
package recsys
