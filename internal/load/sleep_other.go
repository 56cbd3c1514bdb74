//go:build !linux

package load

import "time"

// threadSleep falls back to the runtime's sleep where no cheaper precise
// thread sleep is wired up; the spin that follows absorbs its lateness.
func threadSleep(d time.Duration) { time.Sleep(d) }
