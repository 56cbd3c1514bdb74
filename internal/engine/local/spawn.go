package local

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
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
	cmd   *exec.Cmd
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
	for {
		select {
		case r := <-sp.reqs:
			r.reply <- r.cmd.Start()
		case <-sp.quit:
			return
		}
	}
}

// start starts cmd from the spawner's thread. cmd must write its output to
// *os.File values (or nothing) so that os/exec starts no copying goroutine
// of its own; cmd.Wait may then be called from any goroutine.
func (sp *spawner) start(cmd *exec.Cmd) error {
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
	case sp.reqs <- spawnReq{cmd: cmd, reply: reply}:
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
