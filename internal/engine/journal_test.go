package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestJournalWriteListRemove(t *testing.T) {
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e := &Entry{ID: "inj-1", Engine: "local", Kind: "PodChaos", Name: "kill", Owner: Self(), Created: now, LeaseUntil: now.Add(time.Minute)}
	if err := j.Write(e); err != nil {
		t.Fatal(err)
	}
	if err := j.AddUndo(e, Undo{Action: "thaw-cgroup", Args: map[string]string{"path": "/x"}}); err != nil {
		t.Fatal(err)
	}
	list, err := j.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if got := list[0]; got.Undo[0].Args["path"] != "/x" || got.Orphaned(now) {
		t.Fatalf("entry read back wrong or orphaned: %+v", got)
	}
	if !list[0].Orphaned(now.Add(2 * time.Minute)) {
		t.Fatal("entry with an expired lease must be orphaned")
	}
	if err := j.Remove("inj-1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := j.List(); len(list) != 0 {
		t.Fatalf("entry not removed: %v", list)
	}
	if err := j.Write(&Entry{ID: "../evil"}); err == nil {
		t.Fatal("an id with a path separator must be refused")
	}
}

func TestJournalCorruptEntryDoesNotHideOthers(t *testing.T) {
	dir := t.TempDir()
	j, _ := OpenJournal(dir)
	if err := j.Write(&Entry{ID: "good", Owner: Self()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := j.List()
	if err == nil {
		t.Fatal("corrupt entry must be reported")
	}
	if len(list) != 1 || list[0].ID != "good" {
		t.Fatalf("good entry lost: %v", list)
	}
}

func TestOwnerAliveAndDead(t *testing.T) {
	if !Self().Alive() {
		t.Fatal("this process must be alive")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := Owner{PID: cmd.Process.Pid, StartTime: 1}
	if dead.Alive() {
		t.Fatal("an exited process must not be alive")
	}
	self := Self()
	self.StartTime++ // same PID, different process
	if self.Alive() {
		t.Fatal("a reused PID must not count as the owner")
	}
}
