package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

// cmdWaitDelay bounds how long Wait lingers after the context ends if the
// killed process somehow does not exit.
const cmdWaitDelay = time.Second

type cmdProbe struct {
	argv     []string
	wantExit int
	outRE    *regexp.Regexp
	env      Env
}

func newCmd(spec v1alpha1.ProbeCmd, env Env) (*cmdProbe, error) {
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return nil, errors.New("cmd: command is required")
	}
	c := &cmdProbe{argv: append([]string(nil), spec.Command...), env: env}
	if spec.ExpectedExitCode != nil {
		c.wantExit = int(*spec.ExpectedExitCode)
	}
	if spec.OutputRegex != "" {
		re, err := regexp.Compile(spec.OutputRegex)
		if err != nil {
			return nil, fmt.Errorf("cmd: outputRegex: %w", err)
		}
		c.outRE = re
	}
	return c, nil
}

// environ is the probe's environment: faultline's own, plus each service's
// gateway URL as <NAME>_URL (upper case, '-' and '.' as '_').
func (c *cmdProbe) environ() []string {
	env := os.Environ()
	lister, ok := c.env.(ServiceLister)
	if !ok {
		return env
	}
	for _, name := range lister.Services() {
		u, err := c.env.ResolveService(name)
		if err != nil {
			continue // a service without a gateway yet has no URL to give
		}
		key := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name)) + "_URL"
		env = append(env, key+"="+u)
	}
	return env
}

func (c *cmdProbe) attempt(ctx context.Context, _ time.Time) Result {
	// Output goes to files, not pipes: exec then starts no copying
	// goroutines, and Wait returns when the command exits even if a
	// background child it left still holds its stdout; that child is then
	// killed with the group instead of stalling the check until timeout.
	stdout, err := os.CreateTemp("", "faultline-probe-out-*")
	if err != nil {
		return Result{Message: fmt.Sprintf("capture output: %v", err)}
	}
	defer closeRemove(stdout)
	stderr, err := os.CreateTemp("", "faultline-probe-err-*")
	if err != nil {
		return Result{Message: fmt.Sprintf("capture output: %v", err)}
	}
	defer closeRemove(stderr)

	// No shell: the argv runs as written, so probe arguments never need
	// quoting; users who want one write [sh, -c, "..."].
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	if c.env != nil {
		cmd.Dir = c.env.WorkDir()
	}
	cmd.Env = c.environ()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The command leads its own process group so that a timeout kills
	// everything it started (sh -c "curl ...", pipelines), not just the
	// first process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = cmdWaitDelay

	if err := cmd.Start(); err != nil {
		return Result{Message: fmt.Sprintf("start %s: %v", c.argv[0], err)}
	}
	pgid := cmd.Process.Pid
	err = cmd.Wait()
	// Whatever the command left running in its group dies with the check:
	// a probe leaves nothing behind.
	_ = killGroup(pgid)
	errText := stderrTail(stderr)

	if ctx.Err() != nil {
		return Result{Message: fmt.Sprintf("%s killed: %v%s", c.argv[0], ctxErr(ctx, ctx.Err()), errText)}
	}
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
		if code < 0 { // killed by a signal from outside
			return Result{Message: fmt.Sprintf("%s: %v%s", c.argv[0], exitErr, errText)}
		}
	case err != nil:
		return Result{Message: fmt.Sprintf("%s: %v%s", c.argv[0], err, errText)}
	}
	if code != c.wantExit {
		return Result{Message: fmt.Sprintf("exit code %d, expected %d%s", code, c.wantExit, errText)}
	}
	if c.outRE != nil {
		out, err := readHead(stdout, maxBody)
		if err != nil {
			return Result{Message: fmt.Sprintf("exit code %d, reading output: %v", code, err)}
		}
		if !c.outRE.Match(out) {
			return Result{Message: fmt.Sprintf("exit code %d, but output does not match /%s/: %s", code, c.outRE, snippet(out))}
		}
	}
	return Result{OK: true, Message: fmt.Sprintf("exit code %d", code)}
}

// killGroup sends SIGKILL to a process group; a group that is already gone
// is not an error.
func killGroup(pgid int) error {
	if pgid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pgid, err)
	}
	return nil
}

// stderrTail is the end of what the command wrote to stderr, where its
// complaint usually is, for a failure message.
func stderrTail(f *os.File) string {
	const n = 200
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if off > 0 {
		s = "…" + s
	}
	return "; stderr: " + s
}

// readHead reads at most n bytes from the start of f.
func readHead(f *os.File, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, n))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return b, nil
}

func closeRemove(f *os.File) {
	_ = f.Close()           // the check has read what it needs; a close error loses nothing
	_ = os.Remove(f.Name()) // a leftover temp file is harmless if this fails
}
