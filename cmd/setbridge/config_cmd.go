package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/setbridge/setbridge/config"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "work with configuration files",
		Subcommands: []*cli.Command{
			{
				Name:      "check",
				Usage:     "validate a configuration file and say what is wrong, line by line",
				ArgsUsage: "FILE",
				Action: func(cctx *cli.Context) error {
					if cctx.NArg() != 1 {
						return cli.Exit("usage: setbridge config check FILE", 2)
					}
					path := cctx.Args().First()
					src, err := os.ReadFile(path)
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					_, err = config.Parse(src)
					var ps config.Problems
					if errors.As(err, &ps) {
						fmt.Fprint(cctx.App.ErrWriter, ps.Describe(path, src))
						return cli.Exit(fmt.Sprintf("%s: %d problem(s)", path, len(ps)), 1)
					}
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					fmt.Fprintf(cctx.App.Writer, "%s: ok\n", path)
					return nil
				},
			},
			{
				Name:  "default",
				Usage: "print the embedded default configuration",
				Action: func(cctx *cli.Context) error {
					_, err := cctx.App.Writer.Write(config.DefaultYAML())
					return err
				},
			},
		},
	}
}
