package stress

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/faultline-dev/faultline/internal/cgroup"
)

const (
	// startTimeout bounds how long Start waits for stress-ng to fork its
	// workers; it takes milliseconds unless the machine is overloaded.
	startTimeout = 10 * time.Second
	// stopGrace is how long Stop lets stress-ng wind down on SIGINT (it
	// stops and reaps its workers in ~15 ms, which makes the CPU
	// accounting complete) before SIGKILLing the process group; short, as
	// `faultline stop` must revert everything within a second.
	stopGrace = 300 * time.Millisecond
	// sampleEvery is how often a running stressor's processes are
	// sampled, for the peak memory and to keep oom_score_adj on respawned
	// memory workers.
	sampleEvery = 100 * time.Millisecond
	// outputLimit caps the stress-ng output kept for error messages.
	outputLimit = 16 << 10
)

// gateScript holds the stressor in a shell until faultline has moved it
// into the target cgroup and closes the gate (writes a line on fd 3); then
// the shell execs stress-ng in place, same pid, so stress-ng and every
// worker it forks run in the cgroup from their first instruction. If the
// gate is closed without a line (Start failed), it exits without running
// stress-ng. (clone3's CLONE_INTO_CGROUP would do this without a shell,
// but only for a cgroup v2 hierarchy; this works on v1 too.)
const gateScript = `read -r go <&3 || exit 97; exec 3<&-; exec "$0" "$@"`

// Stressor is a running stress-ng in a target's cgroup.
type Stressor struct {
	g     *cgroup.Group
	cmd   *exec.Cmd
	pid   int // stress-ng's main process, also its process group id
	c     command
	spec  Spec
	start time.Time
	out   *limitedBuffer

	// exited is closed when the main process has exited; it is not reaped
	// until Stop, so its pid and process group id cannot be reused while
	// Stop still signals them.
	exited   chan struct{}
	exitedAt time.Time // written before exited is closed

	quit        chan struct{} // closed by Stop: the sampler ends
	samplerDone chan struct{}
	stopOnce    sync.Once
	stopErr     error

	mu      sync.Mutex
	procs   []procID      // the stressor's processes at the last sample
	cpu     time.Duration // most CPU time seen (it only grows)
	mem     int64         // memory held at the last sample
	peak    int64
	stopped bool
}

// Measured is what a stressor actually did, next to what was asked.
type Measured struct {
	// Asked is what the Spec asked for (zero for a raw StressNG line).
	Asked Asked
	// Wall is how long the stressor has run (until Stop, or until it
	// ended on its own).
	Wall time.Duration
	// CPUTime is the CPU time used by the stressor's processes — not by
	// the target sharing the cgroup.
	CPUTime time.Duration
	// Cores is CPUTime / Wall: "asked 2 workers at 80 %, measured 1.6".
	Cores float64
	// MemoryBytes is the anonymous memory the memory workers hold now (0
	// once stopped).
	MemoryBytes int64
	// PeakMemoryBytes is the most they were seen to hold (sampled every
	// 100 ms and at every Measure).
	PeakMemoryBytes int64
}

// Start runs stress-ng for s inside g and returns once its workers are
// running. stress-ng is moved into g before it executes anything, carries
// s.SafetyTimeout as its own --timeout, and gets SIGKILL if faultline dies
// (Pdeathsig; workers follow their parent, stress-ng arranges that). When
// ctx is done the stressor is stopped, as exec.CommandContext would. The
// caller stops it when the fault's duration is up, and must call Stop in
// any case: it also reaps the process.
//
// Pdeathsig fires when the OS thread that started the process exits; Go
// keeps threads alive unless a goroutine locked to one exits, so do not
// call Start from a goroutine that has called runtime.LockOSThread.
func Start(ctx context.Context, g *cgroup.Group, s Spec) (*Stressor, error) {
	if g == nil {
		return nil, errors.New("start stressor: no target cgroup")
	}
	c, err := s.build(func() (int64, error) {
		st, err := g.Stats()
		if err != nil {
			return 0, err
		}
		if st.MemoryLimit > 0 {
			return st.MemoryLimit, nil
		}
		return totalMemory()
	})
	if err != nil {
		return nil, fmt.Errorf("start stressor in cgroup %s: %w", g.Path(), err)
	}
	bin, err := exec.LookPath("stress-ng")
	if err != nil {
		return nil, fmt.Errorf("start stressor in cgroup %s: stress-ng is not installed (hack/install-deps.sh installs it): %w", g.Path(), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start stressor in cgroup %s: %w", g.Path(), err)
	}
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start stressor in cgroup %s: %w", g.Path(), err)
	}
	out := &limitedBuffer{}
	cmd := exec.Command("/bin/sh", append([]string{"-c", gateScript, bin}, c.args...)...)
	cmd.ExtraFiles = []*os.File{gateR}
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group: Stop and KillLeftovers signal the whole tree.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Workers inherit stdout; should one outlive everything, do not let
	// Wait block on the pipe.
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	gateR.Close()
	if err != nil {
		gateW.Close()
		return nil, fmt.Errorf("start stress-ng %s in cgroup %s: %w", strings.Join(c.args, " "), g.Path(), err)
	}
	st := &Stressor{
		g: g, cmd: cmd, pid: cmd.Process.Pid, c: c, spec: s, start: time.Now(), out: out,
		exited: make(chan struct{}), quit: make(chan struct{}), samplerDone: make(chan struct{}),
	}
	go st.watchExit()

	fail := func(err error) (*Stressor, error) {
		gateW.Close() // an unopened gate makes the shell exit
		_ = syscall.Kill(-st.pid, syscall.SIGKILL)
		<-st.exited
		_ = cmd.Wait()
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			msg = "; stress-ng said: " + msg
		}
		return nil, fmt.Errorf("start stress-ng %s in cgroup %s: %w%s", strings.Join(c.args, " "), g.Path(), err, msg)
	}
	if c.memoryWorkers {
		// Inherited by stress-ng and its workers through exec and fork.
		if err := writeOOMScoreAdj(st.pid, s.MemoryOOMScoreAdj); err != nil {
			return fail(fmt.Errorf("set oomScoreAdj %d: %w (values below 0 need CAP_SYS_RESOURCE)", s.MemoryOOMScoreAdj, err))
		}
	}
	if err := g.AddProcess(st.pid); err != nil {
		return fail(err)
	}
	if _, err := gateW.Write([]byte("go\n")); err != nil {
		return fail(fmt.Errorf("open the gate: %w", err))
	}
	gateW.Close()
	if err := st.waitRunning(ctx); err != nil {
		return fail(err)
	}
	go st.sampler(ctx)
	return st, nil
}

// watchExit notes when the main process exits, without reaping it (Stop
// reaps it last, see exited).
func (st *Stressor) watchExit() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, st.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	st.exitedAt = time.Now()
	close(st.exited)
}

// waitRunning waits until stress-ng has exec'd and forked its workers.
func (st *Stressor) waitRunning(ctx context.Context) error {
	want := max(st.c.workers, 1)
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-st.exited:
			return errors.New("stress-ng exited as it started")
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("stress-ng did not start %d workers within %v", want, startTimeout)
		case <-tick.C:
		}
		if !isStressNG(st.pid) {
			continue // still the gate shell
		}
		members, err := st.members()
		if err != nil {
			return err
		}
		if len(members) > want { // the main process and its workers
			st.sample()
			return nil
		}
	}
}

// member is one process of the stressor.
type member struct {
	pid int
	procStat
}

// members lists the stressor's live processes: those in the target cgroup
// in the stressor's process group. Listing the cgroup rather than all of
// /proc keeps sampling cheap, and every stressor process is in it (forked
// there).
func (st *Stressor) members() ([]member, error) {
	pids, err := st.g.Processes()
	if err != nil {
		return nil, err
	}
	var out []member
	for _, pid := range pids {
		ps, err := readStat(pid)
		if err != nil || ps.pgid != st.pid || !ps.alive() {
			continue
		}
		out = append(out, member{pid, ps})
	}
	return out, nil
}

// sample reads the stressor's processes: CPU time, memory held, pids, and
// puts oom_score_adj back where the Spec wants it on memory workers
// stress-ng (re)started with its own value.
func (st *Stressor) sample() {
	members, err := st.members()
	if err != nil {
		return // the cgroup is gone (the target was killed); keep the last sample
	}
	var cpu time.Duration
	var mem int64
	var procs []procID
	for _, m := range members {
		procs = append(procs, procID{m.pid, m.start})
		cpu += m.cpu
		if st.holdsMemory(m) {
			if b, err := rssAnon(m.pid); err == nil {
				mem += b
			}
		}
		if st.c.memoryWorkers {
			_ = ensureOOMScoreAdj(m.pid, st.spec.MemoryOOMScoreAdj)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return
	}
	st.cpu = max(st.cpu, cpu)
	st.mem = mem
	st.peak = max(st.peak, mem)
	if len(procs) > 0 {
		st.procs = procs
	}
}

// holdsMemory says whether a process's anonymous memory counts as held by
// the stressor: the vm workers for a Spec with memory workers; for a raw
// stress-ng line, every worker but the CPU ones.
func (st *Stressor) holdsMemory(m member) bool {
	if m.pid == st.pid {
		return false
	}
	if st.c.memoryWorkers {
		return strings.HasPrefix(m.comm, "stress-ng-vm")
	}
	return st.spec.StressNG != "" && m.comm != "stress-ng-cpu"
}

func (st *Stressor) sampler(ctx context.Context) {
	defer close(st.samplerDone)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-st.quit:
			return
		case <-st.exited:
			return
		case <-ctx.Done():
			go func() { _ = st.Stop() }() // Stop waits for this goroutine
			return
		case <-tick.C:
			st.sample()
		}
	}
}

// PIDs returns the stressor's processes (stress-ng and its workers) at the
// last sample, sorted, for the crash journal; KillLeftovers takes them.
func (st *Stressor) PIDs() []int {
	st.mu.Lock()
	defer st.mu.Unlock()
	pids := []int{st.pid}
	for _, p := range st.procs {
		if p.pid != st.pid {
			pids = append(pids, p.pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// Measure reports what the stressor has done so far, or in total once it
// has stopped.
func (st *Stressor) Measure() Measured {
	select {
	case <-st.exited:
	default:
		st.sample()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	end, ended := time.Now(), false
	select {
	case <-st.exited:
		end, ended = st.exitedAt, true
	default:
	}
	m := Measured{
		Asked:           st.c.asked,
		Wall:            end.Sub(st.start),
		CPUTime:         st.cpu,
		MemoryBytes:     st.mem,
		PeakMemoryBytes: st.peak,
	}
	if st.stopped || ended {
		m.MemoryBytes = 0
	}
	if m.Wall > 0 {
		m.Cores = m.CPUTime.Seconds() / m.Wall.Seconds()
	}
	return m
}

// Stop ends the stressor: SIGINT first (stress-ng stops and reaps its
// workers, which makes the CPU accounting complete), then SIGKILL to the
// whole process group after a short grace. It returns once none of its
// processes runs. Calling it again returns the first result. (A process a
// raw stress-ng line detaches into a session of its own, as the --daemon
// stressor does, is outside the group; it stays in the target's cgroup and
// dies with the target.)
func (st *Stressor) Stop() error {
	st.stopOnce.Do(func() { st.stopErr = st.stop() })
	return st.stopErr
}

func (st *Stressor) stop() error {
	select {
	case <-st.exited:
	default:
		st.sample() // the last look at the live processes
	}
	close(st.quit)
	<-st.samplerDone
	var errs []error
	// The main process is not reaped before the end of this function, so
	// neither its pid nor its process group id can name anything else.
	if err := syscall.Kill(st.pid, syscall.SIGINT); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("SIGINT stress-ng %d: %w", st.pid, err))
	}
	select {
	case <-st.exited:
	case <-time.After(stopGrace):
	}
	if err := syscall.Kill(-st.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("SIGKILL stress-ng process group %d: %w", st.pid, err))
	}
	select {
	case <-st.exited:
	case <-time.After(5 * time.Second):
		errs = append(errs, fmt.Errorf("stress-ng %d still running 5s after SIGKILL", st.pid))
	}
	st.mu.Lock()
	left := slices.Clone(st.procs)
	st.mu.Unlock()
	if err := waitGone(left, 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	// The exit status is the signal we sent; only a failure to wait is news.
	var exitErr *exec.ExitError
	if err := st.cmd.Wait(); err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		errs = append(errs, fmt.Errorf("wait for stress-ng %d: %w", st.pid, err))
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.stopped = true
	if ps := st.cmd.ProcessState; ps != nil {
		// After a graceful stop this covers every worker stress-ng reaped.
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			st.cpu = max(st.cpu, total)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop stressor in cgroup %s: %w", st.g.Path(), errors.Join(errs...))
	}
	return nil
}

func writeOOMScoreAdj(pid, v int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte(strconv.Itoa(v)), 0)
}

// ensureOOMScoreAdj sets pid's oom_score_adj to v unless it already is.
func ensureOOMScoreAdj(pid, v int) error {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(data)) == strconv.Itoa(v) {
		return nil
	}
	return writeOOMScoreAdj(pid, v)
}

// limitedBuffer keeps the first outputLimit bytes written to it; stress-ng
// output is only wanted for error messages.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := outputLimit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
