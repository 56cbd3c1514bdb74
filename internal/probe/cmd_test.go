package probe

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestCmdProbe(t *testing.T) {
	dir := t.TempDir()
	env := StaticEnv{Dir: dir, URLs: map[string]string{"model-server": "http://127.0.0.1:9"}}
	tests := []struct {
		name string
		spec v1alpha1.ProbeCmd
		ok   bool
		msg  []string
	}{
		{"exit 0", v1alpha1.ProbeCmd{Command: []string{"true"}}, true, []string{"exit code 0"}},
		{"exit 1", v1alpha1.ProbeCmd{Command: []string{"false"}}, false, []string{"exit code 1, expected 0"}},
		{"expected exit code", v1alpha1.ProbeCmd{Command: []string{"sh", "-c", "exit 3"}, ExpectedExitCode: ptr(int32(3))}, true, nil},
		{"stderr in message", v1alpha1.ProbeCmd{Command: []string{"sh", "-c", "echo no route to model >&2; exit 2"}}, false,
			[]string{"exit code 2, expected 0", "stderr: no route to model"}},
		{"output regex", v1alpha1.ProbeCmd{Command: []string{"echo", "ready: 3/3"}, OutputRegex: `ready: \d/\d`}, true, nil},
		{"output regex fails", v1alpha1.ProbeCmd{Command: []string{"echo", "ready: 2/3"}, OutputRegex: `ready: 3/3`}, false,
			[]string{"output does not match /ready: 3/3/", `"ready: 2/3\n"`}},
		{"no shell", v1alpha1.ProbeCmd{Command: []string{"echo", "$HOME", "a;b"}, OutputRegex: `^\$HOME a;b\n$`}, true, nil},
		{"runs in the work dir", v1alpha1.ProbeCmd{Command: []string{"pwd"}, OutputRegex: "^" + regexpQuote(dir) + "\n$"}, true, nil},
		{"service URL in env", v1alpha1.ProbeCmd{Command: []string{"sh", "-c", "echo $MODEL_SERVER_URL"}, OutputRegex: `^http://127\.0\.0\.1:9\n$`}, true, nil},
		{"missing program", v1alpha1.ProbeCmd{Command: []string{"faultline-no-such-program"}}, false, []string{"start faultline-no-such-program"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, v1alpha1.ExperimentProbe{Name: "cmd", Type: v1alpha1.ProbeCmdType, Cmd: &tc.spec}, env)
			checkWant(t, check(t, p), tc.ok, tc.msg...)
		})
	}
}

// TestCmdProbeLeavesNoProcess: a timed-out command and whatever it started
// are killed, and so is a background child of a command that exited.
func TestCmdProbeLeavesNoProcess(t *testing.T) {
	tests := []struct {
		name   string
		script string
		ok     bool
		msg    []string
	}{
		{"killed on timeout", `echo $$ > pids; sleep 300 & echo $! >> pids; sleep 300`, false, []string{"sh killed: timed out after 300ms"}},
		{"background child of a finished command", `sleep 300 & echo $! > pids; exit 0`, true, []string{"exit code 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := mustNew(t, v1alpha1.ExperimentProbe{Name: "cmd", Type: v1alpha1.ProbeCmdType, Timeout: "300ms",
				Cmd: &v1alpha1.ProbeCmd{Command: []string{"sh", "-c", tc.script}}}, StaticEnv{Dir: dir})
			checkWant(t, check(t, p), tc.ok, tc.msg...)
			b, err := os.ReadFile(filepath.Join(dir, "pids"))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range strings.Fields(string(b)) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, "process "+f+" to die", func() bool { return !alive(pid) })
			}
		})
	}
}

// alive reports whether pid runs; a zombie (dead, not yet reaped by its
// new parent) counts as dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
