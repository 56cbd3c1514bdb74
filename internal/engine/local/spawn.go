package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// spawner starts every process of an environment from one goroutine locked
// to its own OS thread.
//
// Why: replicas are started with Pdeathsig=SIGKILL so that a supervisor that
// dies (even by SIGKILL) takes its replicas with it. Linux delivers the
// parent-death signal when the *thread* that forked the child exits, not the
// process. The Go runtime runs goroutines on threads it may retire (a
// goroutine that exits while locked to its thread takes the thread down), so
// a child forked from an arbitrary goroutine could be SIGKILLed at a random
// moment, or — the other way round — outlive the thread it was tied to. By
// forking only from this goroutine, which locks its thread for as long as the
// supervisor lives and never runs anything else, the parent-death signal
// fires exactly when the supervisor's process dies or when the spawner is
// closed.
//
// close() returns from the goroutine while it is still locked: the runtime
// then terminates the thread, so any child that somehow survived the
// supervisor's graceful stop gets its SIGKILL too (a last line of defence;
// normally nothing is left by then).
type spawner struct {
	reqs     chan spawnReq
	quit     chan struct{}
	done     chan struct{}
	quitOnce sync.Once
}

type spawnReq struct {
	cmd *exec.Cmd
	// netns is the bind mount of the network namespace to start cmd in;
	// "" is the supervisor's own.
	netns string
	// mntns is the mount namespace to start cmd in; nil is the
	// supervisor's own (see replica_override.go).
	mntns *os.File
	reply chan error
}

var errSpawnerClosed = errors.New("the supervisor is shutting down; no new processes are started")

func newSpawner() *spawner {
	sp := &spawner{reqs: make(chan spawnReq), quit: make(chan struct{}), done: make(chan struct{})}
	go sp.run()
	return sp
}

func (sp *spawner) run() {
	runtime.LockOSThread()
	// Deliberately no UnlockOSThread: see the type's comment.
	defer close(sp.done)
	// stuck is set if the thread could not return from a replica's
	// network namespace: nothing is started from it any more.
	var stuck error
	var mnt spawnerMountNS
	defer mnt.close()
	for {
		select {
		case r := <-sp.reqs:
			if stuck != nil {
				r.reply <- stuck
				continue
			}
			var err error
			err, stuck = mnt.startWithMountNS(r.cmd, r.netns, r.mntns)
			r.reply <- err
		case <-sp.quit:
			return
		}
	}
}

// startIn starts cmd from the spawner's thread, inside the network
// namespace bind-mounted at netns ("" is the supervisor's own network).
// cmd must write its output to *os.File values (or nothing) so that
// os/exec starts no copying goroutine of its own; cmd.Wait may then be
// called from any goroutine.
func (sp *spawner) startIn(cmd *exec.Cmd, netns string) error {
	return sp.startInNS(cmd, netns, nil)
}

// startInNS is startIn, also in mount namespace mntns when it is not nil.
func (sp *spawner) startInNS(cmd *exec.Cmd, netns string, mntns *os.File) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Own process group: signals reach the whole container (the process and
	// whatever it forks) with kill(-pgid), and a Ctrl-C on the terminal of a
	// foreground `env up` reaches only the supervisor, which then stops the
	// replicas gracefully itself.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	reply := make(chan error, 1)
	select {
	case sp.reqs <- spawnReq{cmd: cmd, netns: netns, mntns: mntns, reply: reply}:
	case <-sp.quit:
		return errSpawnerClosed
	}
	if err := <-reply; err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return nil
}

func (sp *spawner) close() {
	sp.quitOnce.Do(func() { close(sp.quit) })
	<-sp.done
}

// startInNetns starts cmd, in the network namespace bind-mounted at path
// when path is not "". It runs on the spawner's locked thread, which
// enters the namespace for the fork only (the child inherits the thread's
// namespace) and returns to its own at once. stuck is non-nil when the
// thread could not return (short of a kernel bug, never): the process it
// started is killed, and the spawner must start nothing more from a thread
// in the wrong namespace.
func startInNetns(cmd *exec.Cmd, path string) (err, stuck error) {
	if path == "" {
		return cmd.Start(), nil
	}
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return fmt.Errorf("open the supervisor's network namespace: %w", err), nil
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err), nil
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", path, err), nil
	}
	startErr := cmd.Start()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		stuck = fmt.Errorf("the supervisor's process-starting thread could not return from network namespace %s: %w", path, err)
		if startErr == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return stuck, stuck
	}
	return startErr, nil
}
