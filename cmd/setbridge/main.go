// Command setbridge is the conference server: `setbridge serve` runs it,
// the other subcommands administer it.
package main

import (
	"fmt"
	"os"
	"strings"

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
			keysCommand(),
			recordingsCommand(),
			loadtestCommand(),
			tokenCommand(),
			dialCommand(),
			roomsCommand(),
		},
	}
	if err := app.Run(flagsFirst(os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "setbridge:", err)
		os.Exit(1)
	}
}

// flagsFirst lets `setbridge recordings fetch ID --out DIR` put flags after
// the argument, as operators type it: urfave/cli stops reading flags at the
// first argument, so the recordings subcommands' flags (all of which take
// a value) are moved in front of their arguments.
func flagsFirst(args []string) []string {
	if len(args) < 3 || args[1] != "recordings" && args[1] != "rooms" {
		return args
	}
	head := args[:3] // setbridge recordings|rooms <sub>
	var flags, rest []string
	for i := 3; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && i+1 < len(args):
			flags = append(flags, a, args[i+1])
			i++
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
		default:
			rest = append(rest, a)
		}
	}
	return append(append(append([]string{}, head...), flags...), rest...)
}
