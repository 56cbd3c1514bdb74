package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// BinEnv names the environment variable that points at a directory with the
// five binaries; when set, the build script is not run at all.
const BinEnv = "FAULTLINE_KUBE_BIN"

// modulePath identifies the repository root when searching for the script.
const modulePath = "github.com/faultline-dev/faultline"

// scriptRel is the build script, relative to the repository root.
const scriptRel = "hack/kube-testenv.sh"

// binaries are the executables an environment needs.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// ErrUnavailable marks failures to obtain the binaries (as opposed to
// failures of a started control plane): tests skip on it outside CI.
var ErrUnavailable = errors.New("kubernetes test binaries unavailable")

// Build makes sure the binaries exist (building them with hack/kube-testenv.sh
// when needed; cached between runs) and returns their directory. A cold build
// takes minutes; ctx bounds it. Errors wrap ErrUnavailable.
func Build(ctx context.Context) (string, error) {
	if dir := os.Getenv(BinEnv); dir != "" {
		if err := checkBinaries(dir); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %w", ErrUnavailable, BinEnv, dir, err)
		}
		return dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	script := filepath.Join(root, scriptRel)
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("%w: go toolchain not in PATH, needed to build them: %w", ErrUnavailable, err)
	}
	cmd := exec.CommandContext(ctx, "bash", script, "build")
	cmd.Dir = root
	// Own process group so a cancelled build takes its go/compile children with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%w: %s build did not finish in time (%w); run `%s build` once beforehand (cold build ~13 min): %s",
				ErrUnavailable, scriptRel, ctx.Err(), scriptRel, lastLines(stderr.String(), 5))
		}
		return "", fmt.Errorf("%w: %s build: %w: %s", ErrUnavailable, scriptRel, err, lastLines(stderr.String(), 15))
	}
	dir := ""
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), BinEnv+"="); ok {
			dir = v
		}
	}
	if dir == "" {
		return "", fmt.Errorf("%w: %s build printed no %s line", ErrUnavailable, scriptRel, BinEnv)
	}
	if err := checkBinaries(dir); err != nil {
		return "", fmt.Errorf("%w: after build: %w", ErrUnavailable, err)
	}
	return dir, nil
}

func checkBinaries(dir string) error {
	for _, b := range binaries {
		st, err := os.Stat(filepath.Join(dir, b))
		if err != nil {
			return fmt.Errorf("binary %s: %w", b, err)
		}
		if st.Mode()&0o111 == 0 {
			return fmt.Errorf("binary %s is not executable", b)
		}
	}
	return nil
}

// repoRoot walks up from the working directory (a package directory under
// `go test`) to the go.mod of this module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			if _, err := os.Stat(filepath.Join(dir, scriptRel)); err != nil {
				return "", fmt.Errorf("repository root %s has no %s: %w", dir, scriptRel, err)
			}
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s module above the working directory; set %s", modulePath, BinEnv)
		}
		dir = parent
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
