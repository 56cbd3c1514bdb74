// Package serving holds the demo's services as HTTP handlers, so that
// tests run them in-process on loopback and demo/cmd/recsys runs them as
// real processes in a faultline environment:
//
//   - ModelServer: the Open Inference Protocol (KServe v2) server of the
//     recsys model. Ready only once the model file is loaded and verified;
//     a corrupt file keeps it unready for good (it never serves garbage).
//     Fetches a user's features from the feature store unless the request
//     carries them.
//   - FeatureStore: users' features (their history, segment) and item
//     facts, regenerated from the data seed the model was trained on.
//   - Gateway: the user-facing API, GET /recommend?user=42: features from
//     the feature store, then an infer call to the model server.
//   - Trainer: trains in steps, writes atomic checkpoints, resumes from
//     the newest that verifies, and reports /status.
//
// Every handler bounds request bodies, answers bad input with 400 and a
// reason in {"error": "..."}, and names the replica that answered in the
// X-Replica header. Serve runs a handler with a graceful shutdown.
package serving
