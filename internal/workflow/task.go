package workflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/envref"
)

const (
	// maxTaskOutput bounds what RunLocalTask keeps of each of stdout and
	// stderr: enough for any expression, not enough to exhaust memory.
	maxTaskOutput = 1 << 20
	// maxRecordedOutput bounds the output kept in a Result (reports).
	maxRecordedOutput = 16 << 10
)

// task runs a Task template: its container, then every branch whose
// expression holds, at once.
func (r *runner) task(ctx context.Context, n *Node, t *v1alpha1.Template) outcome {
	c := t.Task.Container
	res, err := r.deps.RunTask(ctx, c)
	if ctx.Err() != nil {
		return r.interrupted(ctx, n, StatusDeadlineExceeded, "the deadline came before the task ended")
	}
	if err != nil {
		return outcome{status: StatusFailed, msg: fmt.Sprintf("task container %s: %v", c.Name, err)}
	}
	n.Task = &TaskOutcome{TaskResult: TaskResult{
		ExitCode: res.ExitCode, Stdout: clip(res.Stdout), Stderr: clip(res.Stderr),
	}}
	branches, evalErr := evaluateBranches(t.ConditionalBranches, res)
	n.Task.Branches = branches
	var taken []*Node
	var names []string
	for i, b := range t.ConditionalBranches {
		k := r.newNode(n, r.spec.Template(b.Target))
		switch {
		case evalErr != nil:
			r.skip(k, "not started: a branch expression of "+t.Name+" could not be evaluated")
		case branches[i].Taken:
			taken = append(taken, k)
			names = append(names, b.Target)
		default:
			r.skip(k, fmt.Sprintf("branch not taken: %q is false", b.Expression))
		}
	}
	if evalErr != nil {
		return outcome{status: StatusFailed, msg: fmt.Sprintf("exit code %d; %v", res.ExitCode, evalErr)}
	}
	summary := fmt.Sprintf("exit code %d; no branch taken", res.ExitCode)
	if len(names) > 0 {
		summary = fmt.Sprintf("exit code %d; branches taken: %s", res.ExitCode, strings.Join(names, ", "))
	}
	n.Messages = append(n.Messages, summary)
	r.startAll(ctx, taken)
	return r.childrenOutcome(ctx, n)
}

// evaluateBranches evaluates every branch over the task's result, as Chaos
// Mesh does: exitCode, and stdout trimmed of surrounding white space (plus
// stderr, which Chaos Mesh folds into the pod log). When any expression
// cannot be evaluated no branch is taken (Chaos Mesh then starts none).
func evaluateBranches(bs []v1alpha1.ConditionalBranch, res TaskResult) ([]BranchOutcome, error) {
	env := map[string]any{
		"exitCode": res.ExitCode,
		"stdout":   strings.TrimSpace(res.Stdout),
		"stderr":   strings.TrimSpace(res.Stderr),
	}
	out := make([]BranchOutcome, len(bs))
	var errs []error
	for i, b := range bs {
		out[i] = BranchOutcome{Target: b.Target, Expression: b.Expression}
		if strings.TrimSpace(b.Expression) == "" {
			out[i].Taken = true
			continue
		}
		taken, err := evalBool(b.Expression, env)
		if err != nil {
			out[i].Error = err.Error()
			errs = append(errs, fmt.Errorf("branch to %s: expression %q: %w", b.Target, b.Expression, err))
			continue
		}
		out[i].Taken = taken
	}
	if len(errs) > 0 {
		for i := range out {
			out[i].Taken = false
		}
		return out, errors.Join(errs...)
	}
	return out, nil
}

func evalBool(expression string, env map[string]any) (bool, error) {
	prog, err := expr.Compile(expression, expr.Env(env), expr.AsBool())
	if err != nil {
		return false, err
	}
	v, err := expr.Run(prog, env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("result %v is not a boolean", v)
	}
	return b, nil
}

func clip(s string) string {
	if len(s) <= maxRecordedOutput {
		return s
	}
	return s[:maxRecordedOutput] + "\n…(truncated)"
}

// RunLocalTask is the default Deps.RunTask. The embedded engine has no
// container images, so it runs the container's command followed by its
// args as a local process: in workingDir, with env added to faultline's
// environment, $(VAR) references to the container's env expanded in env
// values, command and args as Kubernetes expands them. The image is not
// used, and a container without command cannot run. When ctx ends, the
// process and every process it started are killed; when the process ends,
// what it left running is killed too, as a container's processes die with
// it.
func RunLocalTask(ctx context.Context, c *v1alpha1.TaskContainer) (TaskResult, error) {
	if c == nil {
		return TaskResult{}, errors.New("no container")
	}
	if len(c.Command) == 0 {
		if c.Image != "" {
			return TaskResult{}, fmt.Errorf("image %s cannot run here: the embedded engine has no container images and runs a task's command as a local process; write command, e.g. [sh, -c, '...']", c.Image)
		}
		return TaskResult{}, errors.New("no command to run")
	}
	env, lookup, err := containerEnv(c.Env)
	if err != nil {
		return TaskResult{}, err
	}
	argv := make([]string, 0, len(c.Command)+len(c.Args))
	for _, a := range c.Command {
		argv = append(argv, envref.Expand(a, lookup))
	}
	for _, a := range c.Args {
		argv = append(argv, envref.Expand(a, lookup))
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.WorkingDir
	cmd.Env = append(os.Environ(), env...)
	stdout, stderr := &cappedBuffer{max: maxTaskOutput}, &cappedBuffer{max: maxTaskOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Output pipes held open by a background child must not keep the task
	// waiting once the process itself has exited.
	cmd.WaitDelay = time.Second
	ownProcessGroup(cmd)
	err = cmd.Run()
	killProcessGroup(cmd)
	res := TaskResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.ExitCode = exitCode(ee.ProcessState)
		return res, nil
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil:
		res.ExitCode = exitCode(cmd.ProcessState)
		return res, nil
	case err != nil:
		return res, err
	}
	return res, nil
}

// containerEnv resolves a container's env the Kubernetes way: a value may
// refer to variables defined before it with $(NAME). It returns the
// NAME=value list and a lookup over all of them for command and args.
func containerEnv(vars []v1alpha1.TaskEnvVar) ([]string, func(string) (string, bool), error) {
	defined := map[string]string{}
	lookup := func(name string) (string, bool) {
		v, ok := defined[name]
		return v, ok
	}
	var env []string
	for _, v := range vars {
		if v.ValueFrom != nil {
			return nil, nil, fmt.Errorf("env %s uses valueFrom, which only the Kubernetes engine resolves; write value", v.Name)
		}
		val := envref.Expand(v.Value, lookup)
		defined[v.Name] = val
		env = append(env, v.Name+"="+val)
	}
	return env, lookup, nil
}

// cappedBuffer keeps the first max bytes written to it and discards the
// rest, without failing the writer.
type cappedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room < len(p) {
		c.buf.Write(p[:max(room, 0)])
		c.truncated = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.truncated {
		return c.buf.String() + "\n…(truncated)"
	}
	return c.buf.String()
}
