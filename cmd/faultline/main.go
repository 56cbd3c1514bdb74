// Command faultline is the CLI entry point; see internal/cli for commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/faultline-dev/faultline/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
