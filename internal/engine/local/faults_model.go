package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
)

// Undo actions of ModelChaos; performModelUndo carries them out.
const (
	// undoRestoreModelFile writes the backup of a corrupted model file back
	// over it (args path, backup, sha256 of the original) and removes the
	// backup.
	undoRestoreModelFile = "restore-model-file"
	// undoModelOverride records a stale-version (or slow-load) override of
	// a replica (arg replica). It lives in the supervisor's memory and ends
	// with it: recovery has nothing to undo once it is gone.
	undoModelOverride = "model-override"
	// undoModelView records the mount point directory of a slow-load view
	// (arg dir). The FUSE mount itself exists only in the replica's mount
	// namespace, which ends with the replica and the supervisor; recovery
	// removes the empty directory.
	undoModelView = "model-view"
)

// Undo step argument keys of ModelChaos.
const (
	undoPath   = "path"
	undoBackup = "backup"
	undoSHA256 = "sha256"
	undoDir    = "dir"
)

// maxModelDelay bounds slow-load's delay: longer is a typo, not a test.
const maxModelDelay = time.Hour

// flipCount is how many bytes corrupt-file flips, spread evenly over the
// file: enough to hit the header and the payload of any format.
const flipCount = 64

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// planModel plans a ModelChaos. Every action restarts the selected replicas
// so that they load the model under the fault, and restarts them again on
// revert (see docs/modelchaos.md).
func (e *Engine) planModel(f engine.Fault, spec *v1alpha1.ModelChaosSpec, o InjectOptions) (*faultPlan, error) {
	var delay time.Duration
	switch spec.Action {
	case v1alpha1.ModelStaleVersion:
		if spec.Version == "" {
			return nil, errors.New("stale-version needs version, the model version to serve (e.g. v1)")
		}
		if strings.ContainsAny(spec.Version, "\x00\n") {
			return nil, fmt.Errorf("version %q holds a control character", spec.Version)
		}
		if spec.VersionEnv != "" && !envName.MatchString(spec.VersionEnv) {
			return nil, fmt.Errorf("versionEnv %q is not an environment variable name (letters, digits, _; e.g. MODEL_VERSION)", spec.VersionEnv)
		}
	case v1alpha1.ModelCorruptFile, v1alpha1.ModelSlowLoad:
		if spec.Path == "" {
			return nil, fmt.Errorf("%s needs path, the model file (absolute, or relative to the replica's working directory)", spec.Action)
		}
		if spec.Action == v1alpha1.ModelCorruptFile {
			switch spec.Corruption {
			case "", v1alpha1.CorruptionFlip, v1alpha1.CorruptionTruncate:
			default:
				return nil, fmt.Errorf("unknown corruption %q; corrupt-file takes flip or truncate", spec.Corruption)
			}
			break
		}
		d, err := time.ParseDuration(spec.Delay)
		if err != nil || d <= 0 || d > maxModelDelay {
			return nil, fmt.Errorf("slow-load needs delay, a duration greater than zero and at most %s such as 20s (got %q)", maxModelDelay, spec.Delay)
		}
		delay = d
	case "":
		return nil, errors.New("no action given; ModelChaos takes stale-version, corrupt-file or slow-load")
	default:
		return nil, fmt.Errorf("unknown action %q; ModelChaos takes stale-version, corrupt-file or slow-load", spec.Action)
	}
	targets, err := e.selectReplicas(f.Kind, spec, o)
	if err != nil {
		return nil, err
	}
	p := &faultPlan{targets: targets}
	files := map[string]*modelFile{}
	for _, t := range targets {
		switch spec.Action {
		case v1alpha1.ModelStaleVersion:
			env := spec.VersionEnv
			if env == "" {
				env = v1alpha1.DefaultModelVersionEnv
			}
			p.actions = append(p.actions, &modelStale{restartWatch: restartWatch{sup: e.sup, replica: t.Name}, e: e, env: env, version: spec.Version, model: spec.Model})
		case v1alpha1.ModelCorruptFile, v1alpha1.ModelSlowLoad:
			dir, err := e.sup.replicaWorkDir(t.Name)
			if err != nil {
				return nil, err
			}
			path, err := resolveModelPath(dir, spec.Path, e.sup.opts.StateDir)
			if err != nil {
				return nil, fmt.Errorf("replica %s: %w", t.Name, err)
			}
			if spec.Action == v1alpha1.ModelSlowLoad {
				p.actions = append(p.actions, &modelSlow{restartWatch: restartWatch{sup: e.sup, replica: t.Name}, e: e, path: path, delay: delay})
				continue
			}
			mf := files[path]
			if mf == nil {
				c := spec.Corruption
				if c == "" {
					c = v1alpha1.CorruptionFlip
				}
				mf = &modelFile{path: path, corruption: c, backupDir: filepath.Join(e.sup.Dir(), "model-backups")}
				files[path] = mf
			}
			mf.replicas = append(mf.replicas, t.Name)
			p.actions = append(p.actions, &modelCorrupt{restartWatch: restartWatch{sup: e.sup, replica: t.Name}, e: e, file: mf})
		}
	}
	for _, mf := range files {
		if others := e.sharersOf(mf.path, spec.Path, mf.replicas); len(others) > 0 {
			p.notes = append(p.notes, fmt.Sprintf("model file %s is shared with %s, which are not restarted: any of them that restarts while the fault holds loads the corrupt file too", mf.path, strings.Join(others, ", ")))
		}
	}
	return p, nil
}

// sharersOf lists the replicas, other than the selected ones, whose path
// resolves to the same model file (replicas sharing a working directory,
// like pods sharing a volume).
func (e *Engine) sharersOf(real, path string, selected []string) []string {
	var out []string
	for _, t := range e.sup.Targets() {
		if contains(selected, t.Name) {
			continue
		}
		dir, err := e.sup.replicaWorkDir(t.Name)
		if err != nil {
			continue
		}
		if p, err := resolveModelPath(dir, path, e.sup.opts.StateDir); err == nil && p == real {
			out = append(out, t.Name)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// resolveModelPath finds the model file a replica working in dir loads as
// path, symlinks resolved (the file that is actually read is the one
// faulted). It refuses what is not a regular, existing file, and files of
// the kernel's pseudo filesystems or of faultline's own state.
func resolveModelPath(dir, path, stateDir string) (string, error) {
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(dir, path)
	}
	abs = filepath.Clean(abs)
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("model file %s does not exist (path %q, relative to the replica's working directory %s)", abs, path, dir)
	}
	if err != nil {
		return "", fmt.Errorf("model file %s: %w", abs, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("model file %s: %w", abs, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("model file %s is a directory; path must name the model file itself", abs)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("model file %s is not a regular file (%s)", abs, fi.Mode().Type())
	}
	for _, pseudo := range []string{"/proc", "/sys", "/dev"} {
		if within(real, pseudo) {
			return "", fmt.Errorf("model file %s is in %s; faultline corrupts or slows only ordinary files", abs, pseudo)
		}
	}
	if stateDir != "" {
		if sd, err := filepath.EvalSymlinks(stateDir); err == nil && within(real, sd) {
			return "", fmt.Errorf("model file %s is inside faultline's state directory %s", abs, sd)
		}
	}
	return real, nil
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// restartWatch restarts a replica and then watches it get ready, for the
// fidelity report.
type restartWatch struct {
	sup     *Supervisor
	replica string

	wg sync.WaitGroup
	mu sync.Mutex
	rr ReplicaRestart
	// readyAfter is how long the restarted process took to get ready, 0
	// until it did; readyErr says why it never will (it restarted again,
	// it is gone).
	readyAfter time.Duration
	readyErr   error
	// onReady runs (without mu) once the restarted process is ready.
	onReady func()
}

// restart restarts the replica and watches its readiness until ctx ends.
func (w *restartWatch) restart(ctx context.Context, why string) error {
	return w.restartWatching(ctx, why, true)
}

// restartBack is the revert's restart: not watched, so that the fidelity
// keeps what was measured under the fault.
func (w *restartWatch) restartBack(ctx context.Context, why string) error {
	return w.restartWatching(ctx, why, false)
}

func (w *restartWatch) restartWatching(ctx context.Context, why string, watch bool) error {
	// The restart completes even when the injection is reverted meanwhile:
	// a half-restarted replica would be worse.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restartTimeout)
	defer cancel()
	rr, err := w.sup.RestartReplica(rctx, w.replica, why)
	if err != nil {
		return err
	}
	if !watch {
		return nil
	}
	w.mu.Lock()
	w.rr, w.readyAfter, w.readyErr = rr, 0, nil
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		d, err := w.sup.waitReplicaReady(ctx, w.replica, rr.PID)
		if err != nil && ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.readyAfter, w.readyErr = d, err
		onReady := w.onReady
		w.mu.Unlock()
		if err == nil && onReady != nil {
			onReady()
		}
	}()
	return nil
}

// restartTimeout bounds one restart: the service's grace period plus the
// start.
const restartTimeout = 2 * time.Minute

// readiness returns what the watch saw.
func (w *restartWatch) readiness() (rr ReplicaRestart, readyAfter time.Duration, readyErr error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rr, w.readyAfter, w.readyErr
}

// injectionID is the owner of overrides and the name of backups.
func injectionID(rec undoRecorder) string {
	if rec.inj == nil {
		return "unknown"
	}
	return rec.inj.id
}

// modelStale is stale-version: the replica restarts with versionEnv set to
// the old version, and without it on revert.
type modelStale struct {
	restartWatch
	e       *Engine
	env     string
	version string
	model   string
	owner   string

	served string // the version the replica's OIP metadata reports
}

func (a *modelStale) apply(ctx context.Context, rec undoRecorder) (string, error) {
	a.owner = injectionID(rec)
	i, err := rec.add(undoModelOverride, map[string]string{undoReplica: a.replica})
	if err != nil {
		return "", err
	}
	if err := a.e.sup.SetReplicaOverride(a.replica, ReplicaOverride{Owner: a.owner, Env: map[string]string{a.env: a.version}}); err != nil {
		return "", errors.Join(err, rec.drop(i))
	}
	a.onReady = a.readServed
	if err := a.restart(ctx, fmt.Sprintf("ModelChaos stale-version: %s=%s", a.env, a.version)); err != nil {
		a.e.sup.ClearReplicaOverride(a.replica, a.owner)
		return "", err
	}
	return fmt.Sprintf("restarted with %s=%s; it loads model version %s", a.env, a.version, a.version), nil
}

// readServed asks the replica's OIP endpoint which version it serves.
func (a *modelStale) readServed() {
	if a.model == "" {
		return
	}
	st, ok := a.e.sup.Replica(a.replica)
	if !ok {
		return
	}
	v, err := oipVersion(a.e.ctx, net.JoinHostPort(st.IP, strconv.Itoa(st.Port)), a.model)
	if err != nil {
		return
	}
	a.mu.Lock()
	a.served = v
	a.mu.Unlock()
}

// oipVersion reads the served version from an Open Inference Protocol
// (KServe v2) server's model metadata: GET /v2/models/<model>.
func oipVersion(ctx context.Context, addr, model string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/models/"+model, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("OIP model metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("OIP model metadata: %s", resp.Status)
	}
	var meta struct {
		Versions []string `json:"versions"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta); err != nil {
		return "", fmt.Errorf("OIP model metadata: %w", err)
	}
	if len(meta.Versions) == 0 {
		return "", errors.New("OIP model metadata lists no version")
	}
	return meta.Versions[0], nil
}

func (a *modelStale) revert(ctx context.Context) (string, error) {
	a.e.sup.ClearReplicaOverride(a.replica, a.owner)
	a.wg.Wait()
	if a.e.stopping() {
		return "the environment is shutting down; override cleared", nil
	}
	if err := a.restartBack(ctx, "ModelChaos stale-version reverted"); err != nil {
		if errors.Is(err, ErrNotFound) {
			return "the replica is gone", nil
		}
		return "", err
	}
	return fmt.Sprintf("restarted without the %s override; it loads its own model version", a.env), nil
}

func (a *modelStale) fidelity() []engine.Fidelity {
	_, after, rerr := a.readiness()
	a.mu.Lock()
	served := a.served
	a.mu.Unlock()
	var measured string
	switch {
	case served != "":
		measured = served + " (OIP model metadata)"
	case after > 0 && a.model == "":
		measured = a.version + " (from the override; no model named, OIP not asked)"
	case after > 0:
		measured = a.version + " (from the override; OIP metadata not readable)"
	case rerr != nil:
		measured = "unknown: " + rerr.Error()
	default:
		measured = "not ready yet"
	}
	match := 0.0
	if served == a.version || (served == "" && after > 0) {
		match = 1
	}
	return []engine.Fidelity{{Target: a.replica, Quantity: "model version", Asked: a.version, Measured: measured, AskedValue: 1, MeasuredValue: match}}
}

// modelFile is one model file corrupted by a corrupt-file injection,
// shared by the actions of the replicas that load it: corrupted by the
// first apply, restored by the last revert, before any of them restarts.
type modelFile struct {
	path       string
	corruption v1alpha1.ModelCorruption
	backupDir  string
	replicas   []string

	mu         sync.Mutex
	refs       int
	backup     string
	origSum    string
	corruptSum string
	size       int64
	newSize    int64
	changed    int
	restored   chan struct{}
	restoreErr error
	restoredOK bool
	rec        undoRecorder
	undoIndex  int
}

// acquire corrupts the file unless this injection already did: backup
// first (its name derives from the path, created exclusively, so a second
// fault on the same file is refused), then the undo step, then the damage.
func (m *modelFile) acquire(rec undoRecorder) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs > 0 {
		m.refs++
		return nil
	}
	if err := os.MkdirAll(m.backupDir, 0o700); err != nil {
		return fmt.Errorf("model backups: %w", err)
	}
	h := sha256.Sum256([]byte(m.path))
	backup := filepath.Join(m.backupDir, hex.EncodeToString(h[:8])+".bak")
	sum, size, err := copyToNew(m.path, backup)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("model file %s is already corrupted by another fault (its backup %s exists; `faultline recover` restores it if that fault is gone)", m.path, backup)
	}
	if err != nil {
		return fmt.Errorf("back up model file %s: %w", m.path, err)
	}
	i, err := rec.add(undoRestoreModelFile, map[string]string{undoPath: m.path, undoBackup: backup, undoSHA256: sum})
	if err != nil {
		_ = os.Remove(backup)
		return err
	}
	changed, newSize, err := corruptFile(m.path, size, m.corruption)
	if err == nil {
		m.corruptSum, _, err = fileSum(m.path)
	}
	if err == nil && m.corruptSum == sum {
		err = fmt.Errorf("the %s corruption left the checksum unchanged (a file of %d bytes)", m.corruption, size)
	}
	if err != nil {
		rerr := restoreModelFile(m.path, backup, sum)
		if rerr == nil {
			rerr = rec.drop(i)
		}
		return errors.Join(fmt.Errorf("corrupt model file %s: %w", m.path, err), rerr)
	}
	m.refs, m.backup, m.origSum, m.size, m.newSize, m.changed = 1, backup, sum, size, newSize, changed
	m.restored, m.rec, m.undoIndex = make(chan struct{}), rec, i
	return nil
}

// release drops one user of the corruption; the last one restores the
// file. With wait, a user that is not the last waits until the file is
// restored (so that its replica restarts on the good file).
func (m *modelFile) release(ctx context.Context, wait bool) error {
	m.mu.Lock()
	m.refs--
	if m.refs > 0 {
		ch := m.restored
		m.mu.Unlock()
		if !wait {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for model file %s to be restored: %w", m.path, ctx.Err())
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.restoreErr
	}
	defer m.mu.Unlock()
	m.restoreErr = restoreModelFile(m.path, m.backup, m.origSum)
	m.restoredOK = m.restoreErr == nil
	close(m.restored)
	return m.restoreErr
}

// copyToNew copies src to dst, which must not exist, with fsync, and
// returns src's sha256 and size.
func copyToNew(src, dst string) (sum string, size int64, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

func fileSum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// corruptFile damages the file in place (same inode, so bind mounts and
// hard links see it too): flip XORs flipCount bytes spread over it, size
// unchanged; truncate cuts it to half.
func corruptFile(path string, size int64, how v1alpha1.ModelCorruption) (changed int, newSize int64, err error) {
	if size == 0 {
		return 0, 0, errors.New("the file is empty: nothing to corrupt")
	}
	if how == v1alpha1.CorruptionTruncate {
		if err := os.Truncate(path, size/2); err != nil {
			return 0, 0, err
		}
		return int(size - size/2), size / 2, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	n := int64(flipCount)
	if size < n {
		n = size
	}
	b := make([]byte, 1)
	for i := range n {
		off := i*size/n + size/(2*n)
		if _, err := f.ReadAt(b, off); err != nil {
			return changed, size, err
		}
		b[0] ^= 0xFF
		if _, err := f.WriteAt(b, off); err != nil {
			return changed, size, err
		}
		changed++
	}
	return changed, size, f.Sync()
}

// restoreModelFile writes backup over path in place and checks the result
// against sum; the backup is removed once the file is whole again. A file
// that is already whole with no backup left is fine (a restore that
// crashed after the write).
func restoreModelFile(path, backup, sum string) error {
	if _, err := os.Stat(backup); errors.Is(err, fs.ErrNotExist) {
		got, _, err := fileSum(path)
		if err != nil {
			return fmt.Errorf("model file %s: backup %s is gone and the file cannot be read: %w", path, backup, err)
		}
		if got != sum {
			return fmt.Errorf("model file %s: backup %s is gone and the file's sha256 %s is not the original %s", path, backup, got, sum)
		}
		return nil
	}
	if got, _, err := fileSum(backup); err != nil || got != sum {
		return fmt.Errorf("model file %s: backup %s does not hold the original (sha256 %s, want %s): %v", path, backup, got, sum, err)
	}
	in, err := os.Open(backup)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("restore model file %s: %w", path, err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore model file %s: %w", path, err)
	}
	got, _, err := fileSum(path)
	if err != nil {
		return err
	}
	if got != sum {
		return fmt.Errorf("restore model file %s: sha256 after the restore is %s, want %s", path, got, sum)
	}
	if err := os.Remove(backup); err != nil {
		return fmt.Errorf("remove backup %s: %w", backup, err)
	}
	return nil
}

// modelCorrupt is corrupt-file on one replica.
type modelCorrupt struct {
	restartWatch
	e    *Engine
	file *modelFile

	revertedAt time.Time
}

func (a *modelCorrupt) apply(ctx context.Context, rec undoRecorder) (string, error) {
	if err := a.file.acquire(rec); err != nil {
		return "", err
	}
	if err := a.restart(ctx, "ModelChaos corrupt-file: load the corrupt model"); err != nil {
		return "", errors.Join(err, a.file.release(ctx, false))
	}
	return fmt.Sprintf("model file %s corrupted (%s); restarted: it loads the corrupt file", a.file.path, a.file.describe()), nil
}

func (m *modelFile) describe() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.corruption == v1alpha1.CorruptionTruncate {
		return fmt.Sprintf("truncated from %d to %d bytes", m.size, m.newSize)
	}
	return fmt.Sprintf("%d of %d bytes flipped, size unchanged", m.changed, m.size)
}

func (a *modelCorrupt) revert(ctx context.Context) (string, error) {
	a.wg.Wait()
	a.mu.Lock()
	a.revertedAt = time.Now()
	a.mu.Unlock()
	if err := a.file.release(ctx, true); err != nil {
		return "", err
	}
	if a.e.stopping() {
		return "model file restored (sha256 matches the original); the environment is shutting down", nil
	}
	if err := a.restartBack(ctx, "ModelChaos corrupt-file reverted: load the restored model"); err != nil {
		if errors.Is(err, ErrNotFound) {
			return "model file restored; the replica is gone", nil
		}
		return "", err
	}
	return "model file restored (sha256 matches the original); restarted on it", nil
}

func (a *modelCorrupt) fidelity() []engine.Fidelity {
	rr, after, rerr := a.readiness()
	a.mu.Lock()
	end := a.revertedAt
	a.mu.Unlock()
	m := a.file
	m.mu.Lock()
	restored, orig, bad := m.restoredOK, m.origSum, m.corruptSum
	m.mu.Unlock()
	out := []engine.Fidelity{{Target: a.replica, Quantity: "model file damage", Asked: string(m.corruption),
		Measured: fmt.Sprintf("%s; sha256 %.12s… → %.12s…", m.describe(), orig, bad), AskedValue: 1, MeasuredValue: 1}}
	if !rr.Started.IsZero() {
		if end.IsZero() {
			end = time.Now()
		}
		var measured string
		ready := 0.0
		switch {
		case after > 0:
			measured = fmt.Sprintf("yes, after %s: the server accepted the corrupt file", after.Round(time.Millisecond))
			ready = 1
		case rerr != nil:
			measured = "unknown: " + rerr.Error()
		default:
			measured = fmt.Sprintf("no: unready for %s after its restart", end.Sub(rr.Started).Round(time.Millisecond))
		}
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "ready on the corrupt file", Asked: "no", Measured: measured, AskedValue: 0, MeasuredValue: ready})
	}
	if restored {
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "model file restored", Asked: "original bytes", Measured: "sha256 matches the original", AskedValue: 1, MeasuredValue: 1})
	}
	return out
}

// modelSlow is slow-load on one replica: the replica restarts in a mount
// namespace of its own where the model file is served through FUSE, and
// the first read of each open of it waits delay (see slowView).
type modelSlow struct {
	restartWatch
	e     *Engine
	path  string
	delay time.Duration
	owner string

	view *slowView
	dir  string
}

func (a *modelSlow) apply(ctx context.Context, rec undoRecorder) (string, error) {
	a.owner = injectionID(rec)
	a.dir = filepath.Join(a.e.sup.Dir(), "model-views", a.owner+"-"+a.replica)
	i, err := rec.add(undoModelView, map[string]string{undoReplica: a.replica, undoDir: a.dir})
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		a.e.sup.ClearReplicaOverride(a.replica, a.owner)
		var errs []error
		if a.view != nil {
			errs = append(errs, a.view.close())
			a.view = nil
		}
		if rerr := os.Remove(a.dir); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			errs = append(errs, rerr)
		}
		if len(errs) == 0 || errors.Join(errs...) == nil {
			errs = append(errs, rec.drop(i))
		}
		return "", errors.Join(append([]error{err}, errs...)...)
	}
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return fail(fmt.Errorf("slow-load mount point: %w", err))
	}
	v, err := newSlowView(a.dir, a.path, a.delay)
	if err != nil {
		return fail(err)
	}
	a.view = v
	if err := a.e.sup.SetReplicaOverride(a.replica, ReplicaOverride{Owner: a.owner, MountNS: v.ns}); err != nil {
		return fail(err)
	}
	if err := a.restart(ctx, "ModelChaos slow-load: load the model slowly"); err != nil {
		return fail(err)
	}
	return fmt.Sprintf("restarted in a mount namespace of its own where %s is served through FUSE, each open's first read %s late", a.path, a.delay), nil
}

func (a *modelSlow) revert(ctx context.Context) (string, error) {
	a.e.sup.ClearReplicaOverride(a.replica, a.owner)
	// Reads still waiting go on at once: the replica is restarted anyway.
	a.view.releaseReads()
	a.wg.Wait()
	var msg string
	if a.e.stopping() {
		msg = "the environment is shutting down; "
	} else if err := a.restartBack(ctx, "ModelChaos slow-load reverted"); err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}
	// The old process has exited: nothing uses the namespace any more.
	err := a.view.close()
	if rerr := os.Remove(a.dir); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return "", err
	}
	return msg + "restarted with the supervisor's own view of the model file; FUSE view unmounted", nil
}

func (a *modelSlow) fidelity() []engine.Fidelity {
	rr, after, rerr := a.readiness()
	if rr.Started.IsZero() {
		return nil
	}
	f := engine.Fidelity{Target: a.replica, Quantity: "extra time to ready", Asked: "+" + a.delay.String(), AskedValue: a.delay.Seconds(), Unit: "s"}
	prev := rr.PreviousReadyAfter
	switch {
	case after > 0 && prev > 0:
		extra := after - prev
		f.Measured = fmt.Sprintf("%+.2fs (ready after %s, %s before the fault)", extra.Seconds(), after.Round(time.Millisecond), prev.Round(time.Millisecond))
		f.MeasuredValue = extra.Seconds()
	case after > 0:
		f.Measured = fmt.Sprintf("ready after %s (no earlier time to ready to compare)", after.Round(time.Millisecond))
		f.MeasuredValue = after.Seconds()
	case rerr != nil:
		f.Measured = "unknown: " + rerr.Error()
	default:
		f.Measured = fmt.Sprintf("not ready yet, %s after its restart", time.Since(rr.Started).Round(time.Millisecond))
		f.MeasuredValue = time.Since(rr.Started).Seconds() - prev.Seconds()
	}
	out := []engine.Fidelity{f}
	if a.view != nil {
		out = append(out, engine.Fidelity{Target: a.replica, Quantity: "model reads delayed", Asked: "first read of each open", Measured: fmt.Sprintf("%d of %d opens", a.view.delayed.Load(), a.view.opens.Load()),
			AskedValue: float64(a.view.opens.Load()), MeasuredValue: float64(a.view.delayed.Load())})
	}
	return out
}

// performModelUndo carries out a ModelChaos undo step; ok is false for
// other steps.
func performModelUndo(u engine.Undo) (res string, ok bool, err error) {
	a := u.Args
	switch u.Action {
	case undoRestoreModelFile:
		if err := restoreModelFile(a[undoPath], a[undoBackup], a[undoSHA256]); err != nil {
			return "", true, err
		}
		return "model file " + a[undoPath] + " restored (sha256 matches the original)", true, nil
	case undoModelOverride:
		return "the model override of " + a[undoReplica] + " ended with the supervisor that held it", true, nil
	case undoModelView:
		if err := os.Remove(a[undoDir]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", true, fmt.Errorf("remove slow-load mount point: %w", err)
		}
		return "the slow-load view of " + a[undoReplica] + " ended with its mount namespace", true, nil
	}
	return "", false, nil
}
