package load

import (
	"syscall"
	"time"
)

// threadSleep blocks the calling thread in nanosleep. It goes through
// syscall.Syscall, so the runtime hands this P to other goroutines while
// it sleeps.
func threadSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil) // EINTR only shortens the sleep; the spin covers it
}
