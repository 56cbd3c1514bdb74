// Command pause is the sandbox ("pause") container of hack/realnode.sh's
// cluster, packed as localhost/pause:local: it holds a pod's namespaces open
// and does nothing else until it is asked to stop.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
