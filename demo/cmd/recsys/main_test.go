package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/demo/recsys"
	"github.com/faultline-dev/faultline/demo/serving"
	"github.com/faultline-dev/faultline/internal/probe"
)

// binary is the recsys binary built once for these tests: the tests run
// it as real processes and kill them with real signals.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "recsys-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "recsys")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build recsys: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// proc is a running recsys process with its log lines.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	err  error // Wait's, once done is closed

	mu    sync.Mutex
	lines []string
	added chan struct{} // signalled (non-blocking) on every new line
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), append([]string{"PORT=0"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{}), added: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.added <- struct{}{}:
			default:
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("process %d did not exit after SIGKILL", cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", args[0], strings.Join(p.logLines(), "\n"))
		}
	})
	m := p.waitLine(`msg=listening .*addr=(\S+)`, 10*time.Second)
	p.addr = "http://" + m[1]
	return p
}

func (p *proc) logLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// waitLine waits for a log line matching re and returns its submatches.
func (p *proc) waitLine(re string, bound time.Duration) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(bound)
	for {
		for _, l := range p.logLines() {
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		select {
		case <-p.added:
		case <-p.done:
			for _, l := range p.logLines() {
				if m := rx.FindStringSubmatch(l); m != nil {
					return m
				}
			}
			p.t.Fatalf("process exited (%v) without logging %q:\n%s", p.err, re, strings.Join(p.logLines(), "\n"))
		case <-deadline:
			p.t.Fatalf("no log line %q within %v:\n%s", re, bound, strings.Join(p.logLines(), "\n"))
		}
	}
}

// signal sends sig and waits (bounded) for the process to exit.
func (p *proc) signal(sig syscall.Signal) error {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(10 * time.Second):
		p.t.Fatalf("process did not exit within 10s of %v", sig)
		return nil
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

func get(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %d %q: %v", url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func poll(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(bound)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("%s: not within %v", what, bound)
		case <-tick.C:
		}
	}
}

// buildModels runs `recsys model build` into a fresh directory.
func buildModels(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "model", "build", "--out", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("model build: %v\n%s", err, out)
	}
	t.Logf("model build:\n%s", bytes.TrimSpace(out))
	return dir
}

// TestModelBuildIsDeterministic: two builds write the same bytes, and the
// golden sets parse as the inference probe reads them.
func TestModelBuildIsDeterministic(t *testing.T) {
	a, b := buildModels(t), buildModels(t)
	names := []string{recsys.FileName("v1"), recsys.FileName("v2"), "golden.golden", "golden-items.golden"}
	for _, n := range names {
		x, err := os.ReadFile(filepath.Join(a, n))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs between two builds", n)
		}
		if strings.HasSuffix(n, ".golden") {
			gs, err := probe.ParseGoldenSet(n, x)
			if err != nil || len(gs) != 24 {
				t.Fatalf("%s: %d requests, %v", n, len(gs), err)
			}
		} else if _, err := recsys.Decode(x); err != nil {
			t.Fatal(err)
		}
	}
}

// TestServeModelProcess: the real server process is live at once, ready
// only after its load delay, serves MODEL_VERSION, stays unready on a
// corrupt file, and stops cleanly on SIGTERM.
func TestServeModelProcess(t *testing.T) {
	dir := buildModels(t)
	p := start(t, []string{"MODEL_DIR=" + dir, "MODEL_LOAD_DELAY=2s", "REPLICA_NAME=model-server-0"}, "serve-model")
	if s := get(t, p.addr+"/v2/health/live", nil); s != 200 {
		t.Fatalf("live: %d", s)
	}
	if s := get(t, p.addr+"/v2/health/ready", nil); s != 503 {
		t.Fatalf("ready before the 2s load delay passed: %d", s)
	}
	startWait := time.Now()
	poll(t, 10*time.Second, "ready", func() bool { return get(t, p.addr+"/v2/health/ready", nil) == 200 })
	t.Logf("ready after %v more (MODEL_LOAD_DELAY=2s)", time.Since(startWait).Round(10*time.Millisecond))
	var meta serving.ModelMetadata
	if s := get(t, p.addr+"/v2/models/recsys", &meta); s != 200 || meta.Versions[0] != "v2" {
		t.Fatalf("metadata: %d %+v", s, meta)
	}
	if err := p.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}

	stale := start(t, []string{"MODEL_DIR=" + dir, "MODEL_LOAD_DELAY=0s", "MODEL_VERSION=v1"}, "serve-model")
	stale.waitLine(`msg="model loaded; ready"`, 10*time.Second)
	if s := get(t, stale.addr+"/v2/models/recsys", &meta); s != 200 || meta.Versions[0] != "v1" {
		t.Fatalf("MODEL_VERSION=v1: %d %+v", s, meta)
	}

	path := filepath.Join(dir, recsys.FileName("v2"))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := start(t, []string{"MODEL_DIR=" + dir, "MODEL_LOAD_DELAY=0s"}, "serve-model")
	bad.waitLine(`level=ERROR msg="model not loaded; staying unready".*checksum mismatch`, 10*time.Second)
	for range 10 {
		var st struct {
			Ready bool   `json:"ready"`
			Error string `json:"error"`
		}
		if s := get(t, bad.addr+"/v2/health/ready", &st); s != 503 || st.Ready || !strings.Contains(st.Error, "checksum mismatch") {
			t.Fatalf("ready on a corrupt file: %d %+v", s, st)
		}
		if s := get(t, bad.addr+"/v2/health/live", nil); s != 200 {
			t.Fatalf("live: %d", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := bad.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

var stepLine = regexp.MustCompile(`msg=step .*step=(\d+) loss=(\S+)`)

// steps are the step → loss lines a trainer process logged.
func (p *proc) steps(t *testing.T) map[int]float64 {
	t.Helper()
	out := map[int]float64{}
	for _, l := range p.logLines() {
		if m := stepLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			f, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatalf("loss in %q: %v", l, err)
			}
			out[n] = f
		}
	}
	return out
}

// reference is an uninterrupted trainer's loss per step, computed in this
// process with the trainer's default configuration.
type reference struct {
	tr     *recsys.Trainer
	losses []float64
}

func (r *reference) loss(step int) float64 {
	for len(r.losses) < step {
		r.losses = append(r.losses, r.tr.Step())
	}
	return r.losses[step-1]
}

func trainerStatus(t *testing.T, p *proc) serving.TrainerStatus {
	t.Helper()
	var st serving.TrainerStatus
	if s := get(t, p.addr+"/status", &st); s != 200 {
		t.Fatalf("status: %d", s)
	}
	return st
}

// TestTrainerResumesAfterSIGKILL: the real trainer, SIGKILLed mid-run,
// resumes from its newest checkpoint; its step count and loss continue
// exactly as an uninterrupted run's; a corrupt newest checkpoint is
// skipped, never loaded; SIGTERM saves the progress.
func TestTrainerResumesAfterSIGKILL(t *testing.T) {
	d, err := recsys.Generate(recsys.DefaultDataConfig())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := recsys.NewTrainer(d, recsys.DefaultTrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	ref := &reference{tr: tr}
	dir := t.TempDir()
	env := []string{"CHECKPOINT_DIR=" + dir, "CHECKPOINT_EVERY=10", "CHECKPOINT_KEEP=3", "STEP_DELAY=2ms", "TRAIN_STEPS=100000", "LOG_EVERY=1"}

	// checkSteps compares every step a process logged with the reference.
	checkSteps := func(p *proc, from int) int {
		t.Helper()
		steps := p.steps(t)
		last := 0
		for n, loss := range steps {
			if n <= from {
				t.Fatalf("logged step %d, but it resumed after step %d", n, from)
			}
			if want := ref.loss(n); loss != want {
				t.Fatalf("step %d: loss %v, an uninterrupted run's %v", n, loss, want)
			}
			last = max(last, n)
		}
		for n := from + 1; n <= last; n++ {
			if _, ok := steps[n]; !ok {
				t.Fatalf("step %d missing between %d and %d", n, from+1, last)
			}
		}
		return last
	}
	newest := func() int {
		t.Helper()
		c, path, skipped, err := recsys.LatestCheckpoint(dir)
		if err != nil || c == nil {
			t.Fatalf("no checkpoint: %v", err)
		}
		if len(skipped) > 0 {
			t.Fatalf("a SIGKILL left a corrupt checkpoint: %+v", skipped)
		}
		t.Logf("newest checkpoint %s: step %d, loss %.6f", filepath.Base(path), c.Header.Step, c.Header.Loss)
		return c.Header.Step
	}

	// Run 1: from scratch, killed mid-run.
	p1 := start(t, env, "trainer")
	p1.waitLine(`msg="no checkpoint; training from scratch"`, 5*time.Second)
	poll(t, 15*time.Second, "step 45", func() bool { return trainerStatus(t, p1).Step >= 45 })
	if err := p1.signal(syscall.SIGKILL); err == nil {
		t.Fatal("SIGKILLed trainer exited cleanly")
	}
	last1 := checkSteps(p1, 0)
	ck1 := newest()
	if ck1 > last1 || ck1 < last1-10 || ck1%10 != 0 {
		t.Fatalf("newest checkpoint step %d after logging step %d (every 10)", ck1, last1)
	}

	// Run 2: resumes from it; steps and losses continue exactly.
	p2 := start(t, env, "trainer")
	m := p2.waitLine(`msg="resumed from checkpoint" .*step=(\d+) loss=(\S+)`, 5*time.Second)
	if m[1] != strconv.Itoa(ck1) {
		t.Fatalf("resumed from step %s, newest checkpoint is %d", m[1], ck1)
	}
	if loss, _ := strconv.ParseFloat(m[2], 64); loss != ref.loss(ck1) {
		t.Fatalf("resumed loss %v, step %d's %v", loss, ck1, ref.loss(ck1))
	}
	st := trainerStatus(t, p2)
	if st.ResumedFrom == nil || *st.ResumedFrom != ck1 {
		t.Fatalf("status resumedFrom %v, want %d", st.ResumedFrom, ck1)
	}
	poll(t, 15*time.Second, "20 steps after resuming", func() bool { return trainerStatus(t, p2).Step >= ck1+20 })
	if err := p2.signal(syscall.SIGKILL); err == nil {
		t.Fatal("SIGKILLed trainer exited cleanly")
	}
	last2 := checkSteps(p2, ck1)
	t.Logf("run 1 logged steps 1–%d, killed; run 2 resumed at %d and logged %d–%d, every loss equal to an uninterrupted run's", last1, ck1, ck1+1, last2)
	ck2 := newest()

	// Run 3: the newest checkpoint is corrupt; it is skipped, the one
	// before is loaded.
	path := filepath.Join(dir, recsys.CheckpointName(ck2))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-100] ^= 0x10
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p3 := start(t, env, "trainer")
	p3.waitLine(`level=WARN msg="skipping corrupt checkpoint" .*`+regexp.QuoteMeta(recsys.CheckpointName(ck2))+`.*checksum mismatch`, 5*time.Second)
	m = p3.waitLine(`msg="resumed from checkpoint" .*step=(\d+)`, 5*time.Second)
	if m[1] != strconv.Itoa(ck2-10) {
		t.Fatalf("resumed from step %s, want %d (the newest good checkpoint)", m[1], ck2-10)
	}
	st = trainerStatus(t, p3)
	if st.ResumedFrom == nil || *st.ResumedFrom != ck2-10 || len(st.Skipped) != 1 {
		t.Fatalf("status %+v", st)
	}
	poll(t, 15*time.Second, "5 steps after resuming", func() bool { return trainerStatus(t, p3).Step >= ck2-10+5 })

	// SIGTERM: a graceful stop writes the steps since the last checkpoint.
	if err := p3.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	last3 := checkSteps(p3, ck2-10)
	c, _, _, err := recsys.LatestCheckpoint(dir)
	if err != nil || c == nil || c.Header.Step != last3 || c.Header.Loss != ref.loss(last3) {
		t.Fatalf("after SIGTERM at step %d the newest checkpoint is %+v (%v)", last3, c, err)
	}
}

// TestServersRefuseBadConfig: a misconfigured replica exits non-zero and
// says what is wrong, instead of running half-configured.
func TestServersRefuseBadConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"gateway"}, []string{"MODEL_SERVER_URL=http://127.0.0.1:1"}, "feature store URL"},
		{[]string{"serve-model"}, []string{"MODEL_LOAD_DELAY=soon"}, "MODEL_LOAD_DELAY"},
		{[]string{"trainer"}, []string{"CHECKPOINT_EVERY=ten"}, "CHECKPOINT_EVERY"},
		{[]string{"feature-store"}, []string{"PORT=70000"}, "PORT"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, binary, tc.args...)
		cmd.Env = append(os.Environ(), tc.env...)
		out, err := cmd.CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v %v: %v, output %q; want exit 1 saying %q", tc.args, tc.env, err, out, tc.want)
		}
	}
}
