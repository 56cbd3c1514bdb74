package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

func TestRecoverCommand(t *testing.T) {
	t.Setenv("FAULTLINE_STATE_DIR", t.TempDir())
	code, out, _ := run(t, "", "recover")
	if code != ExitOK || !strings.Contains(out, "nothing to recover") {
		t.Fatalf("empty: exit %d %s", code, out)
	}
	j, err := engine.OpenJournal(filepath.Join(engine.StateDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	dead := engine.Owner{PID: os.Getpid(), StartTime: 1} // a start time no process has
	now := time.Now()
	// An orphan whose stressors and frozen replica are already gone.
	if err := j.Write(&engine.Entry{ID: "stresschaos-burn-1", Engine: "local", Environment: "gone", Kind: "StressChaos", Name: "burn",
		Owner: dead, Created: now, Undo: []engine.Undo{
			{Action: "kill-stressors", Args: map[string]string{"pids": "999999999", "cgroup": "/faultline/gone/api-0"}},
			{Action: "unfail-replica", Args: map[string]string{"replica": "api-0", "cgroup": "/faultline/gone/api-0"}},
		}}); err != nil {
		t.Fatal(err)
	}
	// One held by this live process.
	if err := j.Write(&engine.Entry{ID: "podchaos-held-1", Engine: "local", Kind: "PodChaos", Name: "held",
		Owner: engine.Self(), Created: now, LeaseUntil: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "", "recover")
	if code != ExitOK || !strings.Contains(out, "injection stresschaos-burn-1 (StressChaos burn in environment gone): its owner") ||
		!strings.Contains(out, "kill-stressors") || !strings.Contains(out, "1 fault held by running faultline processes left alone") {
		t.Fatalf("recover: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = run(t, "", "recover", "--force", "-o", "json")
	if code != ExitOK || !strings.Contains(out, `"id": "podchaos-held-1"`) || !strings.Contains(out, `"reverted": true`) {
		t.Fatalf("recover --force: exit %d\n%s", code, out)
	}
	if es, _ := j.List(); len(es) != 0 {
		t.Fatalf("journal after --force: %+v", es)
	}
	// What cannot be reverted is kept, and the exit status says so.
	if err := j.Write(&engine.Entry{ID: "x-1", Engine: "local", Kind: "PodChaos", Name: "x", Owner: dead, Created: now,
		Undo: []engine.Undo{{Action: "teleport-back"}}}); err != nil {
		t.Fatal(err)
	}
	code, out, errs = run(t, "", "recover")
	if code != ExitInvalid || !strings.Contains(out, "NOT reverted") || !strings.Contains(errs, "unknown undo action") {
		t.Fatalf("unrevertable: exit %d\n%s\n%s", code, out, errs)
	}
}
