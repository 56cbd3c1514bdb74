package recsys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Checkpoint files are named ckpt-<step, 9 digits>.ckpt so that names sort
// by step.
const (
	checkpointPrefix = "ckpt-"
	checkpointSuffix = ".ckpt"
)

// CheckpointName is the file name of the checkpoint taken after step.
func CheckpointName(step int) string {
	return fmt.Sprintf("%s%09d%s", checkpointPrefix, step, checkpointSuffix)
}

// checkpointStep parses a checkpoint file name; ok is false for other files
// (temporary files of an interrupted write included).
func checkpointStep(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, checkpointPrefix)
	if !ok {
		return 0, false
	}
	if s, ok = strings.CutSuffix(s, checkpointSuffix); !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// WriteCheckpoint writes the trainer's state atomically into dir and
// returns the file's path.
func WriteCheckpoint(dir string, t *Trainer) (string, error) {
	path := filepath.Join(dir, CheckpointName(t.StepCount()))
	if err := t.Checkpoint().WriteFile(path); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	return path, nil
}

// listCheckpoints returns the steps of dir's checkpoint files, newest
// first. A missing directory holds none.
func listCheckpoints(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var steps []int
	for _, e := range entries {
		if n, ok := checkpointStep(e.Name()); ok && e.Type().IsRegular() {
			steps = append(steps, n)
		}
	}
	slices.Sort(steps)
	slices.Reverse(steps)
	return steps, nil
}

// SkippedCheckpoint is a checkpoint LatestCheckpoint would not load.
type SkippedCheckpoint struct {
	Path string
	Err  error
}

// LatestCheckpoint loads the newest checkpoint in dir that verifies. Those
// that do not (corrupt, truncated, or not a checkpoint) are skipped and
// returned, newest first, so the caller can log them; they are never
// loaded. path is "" and m nil when no checkpoint verifies.
func LatestCheckpoint(dir string) (m *Model, path string, skipped []SkippedCheckpoint, err error) {
	steps, err := listCheckpoints(dir)
	if err != nil {
		return nil, "", nil, err
	}
	for _, n := range steps {
		p := filepath.Join(dir, CheckpointName(n))
		c, err := ReadFile(p)
		if err == nil && c.Header.Kind != KindCheckpoint {
			err = fmt.Errorf("%w: kind %q, want %s", ErrCorrupt, c.Header.Kind, KindCheckpoint)
		}
		if err == nil && c.Header.Step != n {
			err = fmt.Errorf("%w: its header says step %d, its name %d", ErrCorrupt, c.Header.Step, n)
		}
		if err != nil {
			skipped = append(skipped, SkippedCheckpoint{Path: p, Err: err})
			continue
		}
		return c, p, skipped, nil
	}
	return nil, "", skipped, nil
}

// PruneCheckpoints removes all but the newest keep checkpoints of dir.
func PruneCheckpoints(dir string, keep int) error {
	steps, err := listCheckpoints(dir)
	if err != nil {
		return err
	}
	for _, n := range steps[min(max(keep, 1), len(steps)):] {
		if err := os.Remove(filepath.Join(dir, CheckpointName(n))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("prune checkpoints: %w", err)
		}
	}
	return nil
}
