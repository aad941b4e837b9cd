// Command diffgate reviews code diffs with an offline rule engine and with
// LLM reviewers, and returns structured findings.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/diffgate/diffgate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
