package cli

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/cgroup"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/measure"
)

func TestParseDemoPhases(t *testing.T) {
	tests := []struct {
		in      string
		want    string // baseline/fault/recovery
		wantErr string
	}{
		{in: "baseline=3s,fault=7s,recovery=5s", want: "3s/7s/5s"},
		{in: " fault=9s , baseline=1s", want: "1s/9s/"},
		{in: "fault:7s", wantErr: "phase=duration"},
		{in: "fault=soon", wantErr: "fault"},
		{in: "cooldown=3s", wantErr: "unknown phase"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ph, err := parseDemoPhases(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ph.Baseline + "/" + ph.Fault + "/" + ph.Recovery; got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestDemoScenariosFitTheBudget checks the shipped scenarios: every default
// one exists, carries its seed comment and short phases that validate, and
// the short phases add up to the demo's three-minute budget.
func TestDemoScenariosFitTheBudget(t *testing.T) {
	root, err := findModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	all, err := loadScenarios(filepath.Join(root, "demo", "experiments"))
	if err != nil {
		t.Fatal(err)
	}
	picked, err := pickScenarios(all, nil)
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, s := range picked {
		src, err := os.ReadFile(s.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), "seed situation:") {
			t.Errorf("%s: no seed-situation comment", s.file)
		}
		if s.exp.Annotations[annotationDemoPhases] == "" || s.title == "" {
			t.Errorf("%s: needs the %s and %s annotations", s.file, annotationDemoPhases, annotationDemoTitle)
		}
		full := describePhases(s.exp.Spec.Phases)
		if err := setDemoPhases(s, false); err != nil {
			t.Fatal(err)
		}
		short := describePhases(s.exp.Spec.Phases)
		if short == full {
			t.Errorf("%s: short phases %s are the full ones", s.file, short)
		}
		for _, d := range []string{s.exp.Spec.Phases.Baseline, s.exp.Spec.Phases.Fault, s.exp.Spec.Phases.Recovery} {
			v, err := time.ParseDuration(d)
			if err != nil {
				t.Fatalf("%s: %v", s.file, err)
			}
			total += v
		}
	}
	// The rest of the three minutes is build, start-up and settling.
	if total > 150*time.Second {
		t.Fatalf("the short phases of %d scenarios add up to %s, more than the demo's budget", len(picked), total)
	}
	if _, err := pickScenarios(all, []string{"no-such"}); err == nil || !strings.Contains(err.Error(), "pod-kill") {
		t.Fatalf("an unknown scenario must be refused with the known ones listed: %v", err)
	}
}

func TestFindModuleRootOutsideTheRepository(t *testing.T) {
	_, err := findModuleRoot(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), demoModule) {
		t.Fatalf("err %v", err)
	}
}

func TestSummarizeWorstRecoveryAndStaleReplicas(t *testing.T) {
	res := &measure.Result{
		Verdict: measure.VerdictFail,
		Phases: []measure.PhaseStats{
			{Phase: "baseline", Requests: 10, Availability: 100},
			{Phase: "fault", Requests: 10, Availability: 90, Latency: measure.Latency{P99: 1500 * time.Millisecond}},
		},
		Recovery: []measure.Recovery{
			{Fault: "a", FromRevert: 2 * time.Second, Recovered: true, Impacted: true},
			{Fault: "b", FromRevert: 3 * time.Second, Recovered: true, Impacted: true},
			{Fault: "c", FromRevert: -1, Unmeasured: "never injected"},
			{Fault: "d", FromRevert: 0, FromStart: 2500 * time.Millisecond, Recovered: true, Impacted: true},
		},
		Consistency: []measure.Consistency{{Probe: "g", Checks: 30, Matched: 20, Mismatches: []measure.Mismatch{
			{Replica: "model-server-1"}, {Replica: "model-server-1"}, {Replica: "model-server-2"},
		}}},
	}
	row := summarize(&demoScenario{name: "x"}, "", res)
	if row.Availability != 90 || row.P99Fault != 1500*time.Millisecond {
		t.Fatalf("fault phase: %+v", row)
	}
	if row.Recovery == nil || *row.Recovery != 3*time.Second || row.RecoveryHow != recoveryAfterRevert {
		t.Fatalf("recovery %v %s, want the slowest measured, 3s after revert", row.Recovery, row.RecoveryHow)
	}
	res.Recovery[3].FromStart = 4 * time.Second
	if row := summarize(&demoScenario{name: "x"}, "", res); row.Recovery == nil || *row.Recovery != 4*time.Second || row.RecoveryHow != recoveryUnderFault {
		t.Fatalf("a failover under the fault counts from its start: %v %s", row.Recovery, row.RecoveryHow)
	}
	if int(row.Consistency) != 66 || row.StaleReplicas["model-server-1"] != 2 || row.StaleReplicas["model-server-2"] != 1 {
		t.Fatalf("consistency %.1f stale %v", row.Consistency, row.StaleReplicas)
	}
	res.Recovery[0].Recovered, res.Recovery[0].FromRevert = false, -1
	if row := summarize(&demoScenario{name: "x"}, "", res); row.Recovery == nil || *row.Recovery != -1 || row.RecoveryHow != recoveryNever {
		t.Fatalf("a fault that never recovered must show as never: %v", row.Recovery)
	}
	var buf bytes.Buffer
	printDemoSummary(&buf, []demoRow{row})
	if got := demoTableRows(buf.String())["x"]; len(got) != 6 || got[3] != "3s after revert" || got[1] != "90.00%" {
		t.Fatalf("table row %q:\n%s", got, buf.String())
	}
	if !strings.Contains(buf.String(), "came from: model-server-1 (2), model-server-2 (1)") {
		t.Fatalf("summary does not name the replicas:\n%s", buf.String())
	}
}

// TestDemoEndToEnd runs `faultline demo` for real — the recsys binary
// built, seven real processes on three nodes — on two scenarios: pod-kill
// (one model server and the trainer SIGKILLed under load) and stale-model
// (one replica restarted on model v1; the golden-set probe must catch it
// and name it). Then nothing of the demo may be left: no process, cgroup,
// socket or journaled fault.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo's real services")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the demo builds its services with the go command, not in PATH")
	}
	// A short state directory: unix socket paths are limited to 107 bytes.
	state, err := os.MkdirTemp("", "fl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	t.Setenv("FAULTLINE_STATE_DIR", state)
	html := filepath.Join(t.TempDir(), "demo.html")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, []string{"demo", "--scenario", "pod-kill", "--scenario", "stale-model", "--html", html},
		IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	rows := demoTableRows(out.String())
	pod, ok := rows["pod-kill"]
	if !ok {
		t.Fatalf("no pod-kill row:\n%s", out.String())
	}
	// A killed model server is hidden by the two others and the gateway's
	// retry; the trainer resumes from its checkpoint (trainer-resumed
	// probe): the scenario passes.
	if pct(t, pod[1]) < 99 || pod[4] != "100.0%" || pod[5] != "PASS" {
		t.Fatalf("pod-kill row %v\n%s\n%s", pod, out.String(), errb.String())
	}
	stale, ok := rows["stale-model"]
	if !ok {
		t.Fatalf("no stale-model row:\n%s", out.String())
	}
	if c := pct(t, stale[4]); c >= 100 || c <= 0 || stale[5] != "FAIL" {
		t.Fatalf("stale-model row %v: the stale replica must bring consistency below 100%%\n%s\n%s", stale, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "came from: model-server-") {
		t.Fatalf("the stale replica is not named:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "report: "+html) {
		t.Fatalf("report path not printed:\n%s", out.String())
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pod-kill", "stale-model"} {
		if !bytes.Contains(page, []byte(name)) {
			t.Fatalf("HTML report does not show %s", name)
		}
	}
	assertNothingLeft(t, state)
}

// demoTableRows parses the summary table: scenario → its columns, which
// tabwriter separates by at least three spaces (a value may hold one).
func demoTableRows(out string) map[string][]string {
	rows := map[string][]string{}
	sep := regexp.MustCompile(`\s{2,}`)
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		f := sep.Split(strings.TrimSpace(line), -1)
		switch {
		case f[0] == "SCENARIO":
			inTable = true
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "("):
			if len(rows) > 0 {
				inTable = false
			}
		case inTable && len(f) == 6:
			rows[f[0]] = f
		}
	}
	return rows
}

func pct(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		t.Fatalf("not a percentage: %q", s)
	}
	return v
}

// assertNothingLeft checks that no process started under this state
// directory still runs (replicas inherit FAULTLINE_STATE_DIR), and that the
// environment's cgroups, control socket and journal entries are gone.
func assertNothingLeft(t *testing.T, state string) {
	t.Helper()
	marker := []byte("FAULTLINE_STATE_DIR=" + state + "\x00")
	self := strconv.Itoa(os.Getpid())
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		pid := filepath.Base(filepath.Dir(p))
		if pid == self {
			continue
		}
		env, err := os.ReadFile(p)
		if err == nil && bytes.Contains(env, marker) {
			cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			t.Errorf("process %s still runs: %s", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		}
	}
	if _, err := cgroup.Open(cgroup.Root + "/" + demoEnvName); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cgroup %s/%s left behind (%v)", cgroup.Root, demoEnvName, err)
	}
	if socks, _ := filepath.Glob(filepath.Join(state, "envs", "*", "*.sock")); len(socks) > 0 {
		t.Errorf("control sockets left: %v", socks)
	}
	j, err := engine.OpenJournal(filepath.Join(state, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	if entries, err := j.List(); err != nil || len(entries) > 0 {
		t.Errorf("journal holds %d injections (%v)", len(entries), err)
	}
}
