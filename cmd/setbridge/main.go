// Command setbridge is the conference server: `setbridge serve` runs it,
// the other subcommands administer it.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app := &cli.App{
		Name:    "setbridge",
		Usage:   "a conference server that is a telephony bridge first",
		Version: version,
		Commands: []*cli.Command{
			serveCommand(),
			configCommand(),
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "setbridge:", err)
		os.Exit(1)
	}
}
