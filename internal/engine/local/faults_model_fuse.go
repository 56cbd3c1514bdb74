package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// slowView is slow-load's view of a model file: a mount namespace, made
// for one replica, in which the file is replaced (bind mount) by a FUSE
// file this process serves. It reads the real file, but the first read of
// each open waits delay, so the model loads that much later; every other
// process, the other replicas included, sees the real file. The FUSE mount
// exists only in that namespace: it is not in the supervisor's mount table,
// and when the supervisor dies (taking the replica and the namespace's
// last reference with it) the kernel removes it, so a crash leaves nothing
// mounted. Only the mount point directory (empty) stays for recovery.
type slowView struct {
	ns     *os.File // the namespace, kept alive by this reference
	srv    *fuse.Server
	src    *os.File
	mnt    string // the FUSE mount point (a directory) inside ns
	target string // the model file, bind-mounted over inside ns
	delay  time.Duration

	release     chan struct{}
	releaseOnce sync.Once
	opens       atomic.Int64
	delayed     atomic.Int64
}

// viewSetupTimeout bounds making or removing a view: a FUSE mount that
// does not come up in this time will not.
const viewSetupTimeout = 30 * time.Second

// newSlowView makes the view of target with mount point dir (an empty
// directory).
func newSlowView(dir, target string, delay time.Duration) (*slowView, error) {
	src, err := os.Open(target)
	if err != nil {
		return nil, fmt.Errorf("slow-load: open the model file: %w", err)
	}
	v := &slowView{src: src, mnt: dir, target: target, delay: delay, release: make(chan struct{})}
	root := &viewRoot{file: &viewFile{v: v}}
	type result struct {
		ns  *os.File
		srv *fuse.Server
		err error
	}
	ch := make(chan result, 1)
	// The thread moves to a mount namespace of its own and ends with it.
	onThrowawayThread(func() {
		ns, srv, err := v.setup(root)
		ch <- result{ns, srv, err}
	})
	select {
	case r := <-ch:
		if r.err != nil {
			src.Close()
			return nil, r.err
		}
		v.ns, v.srv = r.ns, r.srv
		return v, nil
	case <-time.After(viewSetupTimeout):
		// The goroutine owns what it made; it is left to finish.
		return nil, fmt.Errorf("slow-load: the FUSE view of %s did not come up within %s", target, viewSetupTimeout)
	}
}

// setup runs on a locked thread: private mount namespace, FUSE mount on
// mnt, bind mount of its file over target.
func (v *slowView) setup(root *viewRoot) (*os.File, *fuse.Server, error) {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return nil, nil, fmt.Errorf("slow-load: new mount namespace: %w", err)
	}
	// Private: nothing mounted here propagates to the supervisor's
	// namespace, and nothing of it reaches here any more.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, nil, fmt.Errorf("slow-load: make the mount namespace private: %w", err)
	}
	opts := &fs.Options{MountOptions: fuse.MountOptions{
		// The mount(2) system call itself, on this thread: no fusermount
		// binary, and the mount lands in this namespace.
		DirectMount: true, DirectMountStrict: true,
		FsName: "faultline-model", Name: "faultline", DisableXAttrs: true,
	}}
	// go-fuse opens /dev/fuse without O_CLOEXEC and sets it only after
	// mount(2). A replica forked in between (the spawner runs
	// concurrently) would inherit the device: then, its server gone, its
	// exit blocks forever flushing the model file it holds open, on a
	// connection it keeps alive itself. The fork lock's read side is what
	// the syscall package asks of code that makes descriptors this way.
	syscall.ForkLock.RLock()
	srv, err := fuse.NewServer(fs.NewNodeFS(root, opts), v.mnt, &opts.MountOptions)
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("slow-load: FUSE mount: %w", err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		_ = srv.Unmount()
		return nil, nil, fmt.Errorf("slow-load: FUSE mount: %w", err)
	}
	if err := unix.Mount(filepath.Join(v.mnt, viewFileName), v.target, "", unix.MS_BIND, ""); err != nil {
		_ = unix.Unmount(v.mnt, unix.MNT_DETACH)
		return nil, nil, fmt.Errorf("slow-load: bind the FUSE file over %s: %w", v.target, err)
	}
	ns, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/mnt", unix.Gettid()))
	if err != nil {
		_ = unix.Unmount(v.target, unix.MNT_DETACH)
		_ = unix.Unmount(v.mnt, unix.MNT_DETACH)
		return nil, nil, fmt.Errorf("slow-load: open the mount namespace: %w", err)
	}
	return ns, srv, nil
}

// releaseReads lets every waiting read go on at once.
func (v *slowView) releaseReads() {
	v.releaseOnce.Do(func() { close(v.release) })
}

// close unmounts the view inside its namespace (from a thread that enters
// it for this and ends) and drops the namespace. The replica must have
// left it (restarted) first.
func (v *slowView) close() error {
	v.releaseReads()
	ch := make(chan error, 1)
	// The thread leaves the process's shared filesystem attributes and
	// namespace for good, and ends.
	onThrowawayThread(func() {
		ch <- func() error {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("slow-load: unshare filesystem attributes: %w", err)
			}
			if err := unix.Setns(int(v.ns.Fd()), unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("slow-load: enter the view's mount namespace: %w", err)
			}
			_ = unix.Unmount(v.target, unix.MNT_DETACH)
			if err := unix.Unmount(v.mnt, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("slow-load: unmount the FUSE view: %w", err)
			}
			return nil
		}()
	})
	var err error
	select {
	case err = <-ch:
	case <-time.After(viewSetupTimeout):
		err = fmt.Errorf("slow-load: unmounting the FUSE view took more than %s", viewSetupTimeout)
	}
	v.ns.Close()
	// With its last mount gone the kernel ends the FUSE connection and
	// the server's loop returns.
	served := make(chan struct{})
	go func() {
		v.srv.Wait()
		close(served)
	}()
	// A reader that still holds the file open (a replica being shut down)
	// keeps the connection until it exits; do not hold the revert for it.
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		err = errors.Join(err, fmt.Errorf("slow-load: the FUSE server of %s did not stop", v.target))
	}
	return errors.Join(err, v.src.Close())
}

const viewFileName = "model"

// viewRoot is the FUSE file system's root directory, holding one file.
type viewRoot struct {
	fs.Inode
	file *viewFile
}

var _ fs.NodeOnAdder = (*viewRoot)(nil)

func (r *viewRoot) OnAdd(ctx context.Context) {
	r.AddChild(viewFileName, r.NewPersistentInode(ctx, r.file, fs.StableAttr{Mode: syscall.S_IFREG}), false)
}

// viewFile is the model file as the replica sees it.
type viewFile struct {
	fs.Inode
	v *slowView
}

var (
	_ fs.NodeOpener    = (*viewFile)(nil)
	_ fs.NodeReader    = (*viewFile)(nil)
	_ fs.NodeGetattrer = (*viewFile)(nil)
)

// viewHandle is one open of the file.
type viewHandle struct{ read atomic.Bool }

func (f *viewFile) Open(_ context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	f.v.opens.Add(1)
	// Direct I/O: no page cache, so every open's reads reach us.
	return &viewHandle{}, fuse.FOPEN_DIRECT_IO, 0
}

func (f *viewFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h, ok := fh.(*viewHandle); ok && h.read.CompareAndSwap(false, true) {
		t := time.NewTimer(f.v.delay)
		select {
		case <-t.C:
			f.v.delayed.Add(1)
		case <-ctx.Done():
			// The reader was interrupted (killed while it loads).
			t.Stop()
			return nil, syscall.EINTR
		case <-f.v.release:
			t.Stop()
		}
	}
	n, err := f.v.src.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (f *viewFile) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.v.src.Fd()), &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStat(&st)
	out.Mode = syscall.S_IFREG | (st.Mode & 0o555)
	return 0
}

// onThrowawayThread runs fn in a new goroutine locked to an OS thread that
// ends when fn returns (a goroutine that exits locked takes its thread
// down), for work that changes the thread's namespaces for good. Not on
// the process's main thread, which the runtime never ends (it would stay,
// parked, in the changed namespace, and /proc/self would show it): if the
// goroutine lands there, it holds it and hands fn to another thread.
func onThrowawayThread(fn func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			fn()
			return // still locked: the thread ends
		}
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer close(done)
			fn()
		}()
		<-done
		runtime.UnlockOSThread()
	}()
}
