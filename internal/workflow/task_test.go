package workflow

import (
	"context"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestRunLocalTask(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name      string
		c         v1alpha1.TaskContainer
		stdout    string
		exitCode  int
		errSubstr string
	}{{
		name: "command, args, env and workingDir",
		c: v1alpha1.TaskContainer{Name: "main", Command: []string{"sh", "-c"},
			Args:       []string{`printf '%s|%s|%s|%s\n' '$(GREETING)' "$GREETING" '$(UNKNOWN)' '$$(GREETING)'; pwd`},
			WorkingDir: dir,
			Env:        []v1alpha1.TaskEnvVar{{Name: "WHO", Value: "world"}, {Name: "GREETING", Value: "hello $(WHO)"}}},
		stdout: "hello world|hello world|$(UNKNOWN)|$(GREETING)\n" + dir + "\n",
	}, {
		name:     "exit code",
		c:        v1alpha1.TaskContainer{Name: "main", Command: []string{"sh", "-c", "exit 7"}},
		exitCode: 7,
	}, {
		name:     "killed by a signal reports 128+signal",
		c:        v1alpha1.TaskContainer{Name: "main", Command: []string{"sh", "-c", "kill -9 $$$$"}}, // $$ is Kubernetes' escape of $
		exitCode: 137,
	}, {
		name:   "a background child does not hold the task",
		c:      v1alpha1.TaskContainer{Name: "main", Command: []string{"sh", "-c", "sleep 30 & echo started"}},
		stdout: "started\n",
	}, {
		name:      "an image without command cannot run here",
		c:         v1alpha1.TaskContainer{Name: "main", Image: "busybox"},
		errSubstr: "no container images",
	}, {
		name:      "valueFrom is Kubernetes-only",
		c:         v1alpha1.TaskContainer{Name: "main", Command: []string{"true"}, Env: []v1alpha1.TaskEnvVar{{Name: "X", ValueFrom: map[string]any{"secretKeyRef": nil}}}},
		errSubstr: "valueFrom",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := RunLocalTask(context.Background(), &tt.c)
			if tt.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("error %v, want one containing %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RunLocalTask: %v", err)
			}
			if res.ExitCode != tt.exitCode || (tt.stdout != "" && res.Stdout != tt.stdout) {
				t.Errorf("got exit %d stdout %q, want exit %d stdout %q", res.ExitCode, res.Stdout, tt.exitCode, tt.stdout)
			}
		})
	}
}

func TestEvaluateBranches(t *testing.T) {
	t.Parallel()
	res := TaskResult{ExitCode: 0, Stdout: "  branch-b\n", Stderr: "warn\n"}
	tests := []struct {
		expr  string
		taken bool
		err   bool
	}{
		{`exitCode == 0 && stdout == "branch-b"`, true, false},
		{`stdout == "branch-a"`, false, false},
		{`stderr contains "warn"`, true, false},
		{`exitCode > 0 || len(stdout) == 8`, true, false},
		{``, true, false},
		{`exitCode + 1`, false, true},    // not a boolean
		{`exitcode == 0`, false, true},   // unknown variable
		{`exitCode == "0"`, false, true}, // mismatched types
	}
	for _, tt := range tests {
		out, err := evaluateBranches([]v1alpha1.ConditionalBranch{{Target: "x", Expression: tt.expr}}, res)
		if (err != nil) != tt.err || out[0].Taken != tt.taken {
			t.Errorf("%q: taken %v err %v, want taken %v err %v", tt.expr, out[0].Taken, err, tt.taken, tt.err)
		}
	}
}
