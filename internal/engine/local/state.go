package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
)

// State is what a supervisor records on disk (<state>/envs/<name>/state.json)
// so that another faultline can find it (the control socket) and clean up
// after it when it died (the processes and cgroups it left).
type State struct {
	Name      string       `json:"name"`
	Namespace string       `json:"namespace"`
	Owner     engine.Owner `json:"owner"`
	Started   time.Time    `json:"started"`
	Updated   time.Time    `json:"updated"`
	Socket    string       `json:"socket"`
	// Gateways maps each service to its gateway address.
	Gateways map[string]string `json:"gateways"`
	// CgroupParent is the cgroup every replica cgroup lives under, "" when
	// running without cgroups.
	CgroupParent string         `json:"cgroupParent,omitempty"`
	Replicas     []ReplicaState `json:"replicas"`
}

// ReplicaState is a replica's processes and cgroup.
type ReplicaState struct {
	Name      string         `json:"name"`
	Node      string         `json:"node,omitempty"`
	Port      int            `json:"port"`
	Cgroup    string         `json:"cgroup,omitempty"`
	Processes []ProcessState `json:"processes,omitempty"`
}

// ProcessState names one container process; PID and StartTime together
// identify it even after the PID is reused.
type ProcessState struct {
	Container string `json:"container"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

const stateFile = "state.json"

// ReadState reads the recorded state of environment name.
func ReadState(stateDir, name string) (*State, error) { return readState(EnvDir(stateDir, name)) }

func readState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("environment state %s is corrupt: %w", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}

func removeState(dir string) error {
	err := os.Remove(filepath.Join(dir, stateFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove environment state: %w", err)
	}
	return nil
}

// writeState writes the state atomically: temp file, fsync, rename.
func writeState(dir string, st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode environment state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state.tmp*")
	if err != nil {
		return fmt.Errorf("write environment state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write environment state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync environment state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write environment state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("commit environment state: %w", err)
	}
	return nil
}

// persistLocked asks the persister to write the state soon. Writes happen
// outside the lock (fsync can take a while); a process started between two
// writes is still covered after a crash: it dies with the supervisor
// (Pdeathsig) and its cgroup is found by listing.
func (s *Supervisor) persistLocked() {
	select {
	case s.persistKick <- struct{}{}:
	default:
	}
}

func (s *Supervisor) snapshotLocked() *State {
	st := &State{Name: s.plan.name, Namespace: s.plan.namespace, Owner: s.owner, Started: s.started,
		Updated: time.Now(), Socket: s.SocketPath(), Gateways: map[string]string{}}
	if s.cg != nil && s.cg.available() {
		st.CgroupParent = s.cg.parent
	}
	for _, svc := range s.services {
		if svc.gw != nil {
			st.Gateways[svc.plan.name] = svc.gw.addr()
		}
	}
	for _, r := range s.sortedReplicasLocked() {
		rs := ReplicaState{Name: r.name, Node: r.node, Port: r.port}
		if r.cg != nil {
			rs.Cgroup = r.cg.path
		}
		for _, c := range r.containers {
			if c.pid > 0 {
				rs.Processes = append(rs.Processes, ProcessState{Container: c.plan.name, PID: c.pid, StartTime: c.startTime})
			}
		}
		st.Replicas = append(st.Replicas, rs)
	}
	return st
}

func (s *Supervisor) writeStateNow() error {
	s.mu.Lock()
	st := s.snapshotLocked()
	s.mu.Unlock()
	return writeState(s.dir, st)
}

func (s *Supervisor) persistLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.persistKick:
		}
		if err := s.writeStateNow(); err != nil {
			s.mu.Lock()
			s.emitLocked(Event{Kind: EventEnvironment, Name: s.plan.name, Reason: "Warning", Message: err.Error()})
			s.mu.Unlock()
		}
	}
}

// Cleanup removes what a dead supervisor of environment envName left
// behind, in faultline's state directory: see CleanupDir.
func Cleanup(envName string) error { return CleanupDir(engine.StateDir(), envName) }

// CleanupDir removes what a dead supervisor left behind: it SIGKILLs the
// recorded replica processes (with their process groups) whose PID and
// start time still match — a reused PID is never touched —, thaws and
// deletes the environment's cgroups, and removes the control socket and the
// state file. Logs are kept. It refuses while the supervisor still runs
// (use the control socket's down then). Cleaning an environment that left
// nothing is not an error.
func CleanupDir(stateDir, envName string) error {
	dir := EnvDir(stateDir, envName)
	st, err := readState(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		// A corrupt state file still leaves cgroups and a socket to clean.
		st = nil
	}
	var errs []error
	if st != nil {
		if st.Owner.Alive() {
			return fmt.Errorf("environment %s is still run by supervisor pid %d; stop it with 'faultline env down --name %s'", envName, st.Owner.PID, envName)
		}
		for _, r := range st.Replicas {
			for _, p := range r.Processes {
				if err := killIfSame(p.PID, p.StartTime); err != nil {
					errs = append(errs, fmt.Errorf("replica %s container %s: %w", r.Name, p.Container, err))
				}
			}
		}
	}
	cs := &cgroupSupport{parent: "faultline/" + envName}
	if err := cs.removeAll(); err != nil {
		errs = append(errs, err)
	}
	// Network namespaces, veths, nftables tables and qdiscs of the
	// environment (Options.NetworkNamespaces, packet network faults).
	if err := cleanupEnvNetworks(envName); err != nil {
		errs = append(errs, err)
	}
	for _, f := range []string{"control.sock", stateFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", f, err))
		}
	}
	return errors.Join(errs...)
}

// killIfSame SIGKILLs a process and its group when the PID still names the
// process that was recorded (same start time), then waits briefly for it
// to go.
func killIfSame(pid int, startTime uint64) error {
	st, err := engine.ProcessStartTime(pid)
	if err != nil || st != startTime {
		return nil // gone, or the PID now belongs to someone else
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill pid %d: %w", pid, err)
	}
	// A stopped (SIGSTOP) process dies on SIGKILL; a process frozen by a
	// cgroup v1 freezer only once thawed, which removeAll does.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := engine.ProcessStartTime(pid); err != nil || st != startTime {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// EnvironmentInfo is one environment found in the state directory.
type EnvironmentInfo struct {
	Name string `json:"name"`
	// Running is true while its supervisor is alive.
	Running bool   `json:"running"`
	PID     int    `json:"pid"`
	Socket  string `json:"socket"`
	// Replicas is how many replicas the state file records.
	Replicas int       `json:"replicas"`
	Started  time.Time `json:"started"`
	Dir      string    `json:"dir"`
}

// ListEnvironments lists the environments with a state file under stateDir,
// by name.
func ListEnvironments(stateDir string) ([]EnvironmentInfo, error) {
	ents, err := os.ReadDir(filepath.Join(stateDir, "envs"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list environments: %w", err)
	}
	var out []EnvironmentInfo
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(stateDir, "envs", e.Name())
		st, err := readState(dir)
		if err != nil {
			continue
		}
		out = append(out, EnvironmentInfo{Name: st.Name, Running: st.Owner.Alive(), PID: st.Owner.PID,
			Socket: st.Socket, Replicas: len(st.Replicas), Started: st.Started, Dir: dir})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}
