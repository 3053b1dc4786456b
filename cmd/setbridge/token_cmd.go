package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/setbridge/setbridge/auth"
	"github.com/setbridge/setbridge/config"
)

func tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "join tokens for browsers and WHIP/WHEP clients",
		Subcommands: []*cli.Command{{
			Name:  "create",
			Usage: "print a join token (JWT, HS256) signed with a key of webrtc.keys",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "the server's configuration `FILE` (its webrtc.keys)", EnvVars: []string{"SETBRIDGE_CONFIG"}},
				&cli.StringFlag{Name: "room", Required: true, Usage: "the room the token admits to"},
				&cli.StringFlag{Name: "identity", Required: true, Usage: "the participant's identity"},
				&cli.StringFlag{Name: "name", Usage: "display name (default the identity)"},
				&cli.StringFlag{Name: "key", Usage: "API key to sign with (default the first of webrtc.keys)"},
				&cli.DurationFlag{Name: "ttl", Value: 6 * time.Hour, Usage: "how long the token is valid"},
				&cli.BoolFlag{Name: "listen-only", Usage: "may subscribe (WHEP) but not publish"},
			},
			Action: func(cctx *cli.Context) error {
				cfg := config.Default()
				if p := cctx.String("config"); p != "" {
					src, err := os.ReadFile(p)
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					if cfg, err = config.Parse(src); err != nil {
						return cli.Exit(fmt.Sprintf("%s: %v", p, err), 2)
					}
				}
				if len(cfg.WebRTC.Keys) == 0 {
					return cli.Exit("no webrtc.keys in the configuration: add `webrtc: {keys: {KEY: SECRET}}` (32+ character secret) and pass --config", 2)
				}
				keys, signer := tokenKeys(cfg.WebRTC)
				if k := cctx.String("key"); k != "" {
					if _, ok := keys[k]; !ok {
						return cli.Exit(fmt.Sprintf("no key %q in webrtc.keys", k), 2)
					}
					signer = k
				}
				name := cctx.String("name")
				if name == "" {
					name = cctx.String("identity")
				}
				tok, err := keys.Sign(signer, auth.Claims{Identity: cctx.String("identity"), Name: name,
					Expires: time.Now().Add(cctx.Duration("ttl")),
					Grant:   auth.Grant{Room: cctx.String("room"), Join: true, Publish: !cctx.Bool("listen-only"), Subscribe: true}})
				if err != nil {
					return cli.Exit(err.Error(), 1)
				}
				fmt.Fprintln(cctx.App.Writer, tok)
				return nil
			},
		}},
	}
}
