package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// deadOwner names a process that is gone: a real PID with a start time no
// process has.
func deadOwner() engine.Owner {
	return engine.Owner{PID: os.Getpid(), StartTime: 1}
}

func journalIn(t *testing.T, stateDir string) *engine.Journal {
	t.Helper()
	j, err := engine.OpenJournal(filepath.Join(stateDir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestRecoverRevertsOrphansThroughALiveSupervisor(t *testing.T) {
	opts := testOptions(t)
	s := startEnv(t, testEnvironment("recalive"), opts)
	waitReady(t, s)
	j := journalIn(t, opts.StateDir)
	now := time.Now()

	// A fault whose holder died: api-0 frozen, node-2 down, api scaled to 1.
	if err := s.SetReplicaFailed("api-0", true); err != nil {
		t.Fatal(err)
	}
	if err := s.NodeDown("node-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scale("api", 1); err != nil {
		t.Fatal(err)
	}
	orphan := &engine.Entry{ID: "podchaos-orphan-1", Engine: "local", Environment: "recalive", Kind: "PodChaos", Name: "orphan",
		Owner: deadOwner(), Created: now, LeaseUntil: now.Add(time.Hour), Undo: []engine.Undo{
			{Action: undoScale, Args: map[string]string{undoEnvironment: "recalive", undoService: "api", undoReplicas: "2"}},
			{Action: undoNodeUp, Args: map[string]string{undoEnvironment: "recalive", undoNode: "node-2"}},
			{Action: undoUnfailReplica, Args: map[string]string{undoEnvironment: "recalive", undoReplica: "api-0"}},
			{Action: undoNone},
		}}
	// A fault held by a live owner (this process) with a valid lease.
	held := &engine.Entry{ID: "podchaos-held-1", Engine: "local", Environment: "recalive", Kind: "PodChaos", Name: "held",
		Owner: engine.Self(), Created: now, LeaseUntil: now.Add(time.Hour)}
	// A live owner that stopped renewing.
	expired := &engine.Entry{ID: "podchaos-expired-1", Engine: "local", Environment: "recalive", Kind: "PodChaos", Name: "expired",
		Owner: engine.Self(), Created: now, LeaseUntil: now.Add(-time.Minute)}
	for _, e := range []*engine.Entry{orphan, held, expired} {
		if err := j.Write(e); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := Recover(context.Background(), opts.StateDir, RecoverOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("Recover: %v %+v", err, rep)
	}
	if rep.Held != 1 || len(rep.Injections) != 2 {
		t.Fatalf("report %+v", rep)
	}
	byID := map[string]RecoveredInjection{}
	for _, i := range rep.Injections {
		byID[i.ID] = i
	}
	if o := byID["podchaos-orphan-1"]; !o.Reverted || !strings.Contains(o.Why, "is gone") || len(o.Steps) != 3 || o.Steps[0].Action != undoUnfailReplica {
		t.Fatalf("orphan %+v", o)
	}
	if x := byID["podchaos-expired-1"]; !x.Reverted || !strings.Contains(x.Why, "lease ran out") {
		t.Fatalf("expired %+v", x)
	}
	if r := replicaOf(t, s, "api-0"); r.Frozen {
		t.Fatal("api-0 still frozen after recover")
	}
	if !nodeReady(s, "node-2") {
		t.Fatal("node-2 still down after recover")
	}
	waitReady(t, s)
	if _, ok := s.Replica("api-1"); !ok {
		t.Fatal("api not scaled back")
	}
	left, _ := j.List()
	if len(left) != 1 || left[0].ID != "podchaos-held-1" {
		t.Fatalf("journal after recover: %+v", left)
	}

	// --force takes the held one too.
	rep, err = Recover(context.Background(), opts.StateDir, RecoverOptions{Force: true})
	if err != nil || len(rep.Injections) != 1 || !strings.Contains(rep.Injections[0].Why, "forced") {
		t.Fatalf("forced: %v %+v", err, rep)
	}
	if left, _ := j.List(); len(left) != 0 {
		t.Fatalf("journal after --force: %+v", left)
	}
}

func TestRecoverKeepsWhatItCannotRevert(t *testing.T) {
	stateDir := t.TempDir()
	j := journalIn(t, stateDir)
	e := &engine.Entry{ID: "x-1", Engine: "local", Kind: "PodChaos", Name: "x", Owner: deadOwner(), Created: time.Now(),
		Undo: []engine.Undo{{Action: "teleport-back"}}}
	if err := j.Write(e); err != nil {
		t.Fatal(err)
	}
	rep, err := Recover(context.Background(), stateDir, RecoverOptions{})
	if err == nil || rep.OK() || !strings.Contains(err.Error(), "unknown undo action") {
		t.Fatalf("Recover: %v %+v", err, rep)
	}
	if left, _ := j.List(); len(left) != 1 {
		t.Fatal("an entry that could not be reverted was removed")
	}
}

func TestRecoverCleansUpDeadEnvironments(t *testing.T) {
	stateDir := t.TempDir()
	dir := EnvDir(stateDir, "ghost")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeState(dir, &State{Name: "ghost", Owner: deadOwner(), Socket: filepath.Join(dir, "control.sock")}); err != nil {
		t.Fatal(err)
	}
	rep, err := Recover(context.Background(), stateDir, RecoverOptions{})
	if err != nil || len(rep.Environments) != 1 || rep.Environments[0].Name != "ghost" {
		t.Fatalf("Recover: %v %+v", err, rep)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); !os.IsNotExist(err) {
		t.Fatalf("state file left: %v", err)
	}
	// Nothing left: a second run finds nothing.
	rep, err = Recover(context.Background(), stateDir, RecoverOptions{})
	if err != nil || len(rep.Environments)+len(rep.Injections) != 0 {
		t.Fatalf("second Recover: %v %+v", err, rep)
	}
}
