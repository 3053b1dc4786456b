package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/urfave/cli/v2"
)

func dialCommand() *cli.Command {
	return &cli.Command{
		Name:      "dial",
		Usage:     "call a number into a room through a trunk's outbound settings, and wait for the answer",
		ArgsUsage: "ROOM NUMBER",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Value: "http://127.0.0.1:8080", Usage: "the setbridge HTTP address", EnvVars: []string{"SETBRIDGE_SERVER"}},
			&cli.StringFlag{Name: "api-key", Usage: "bearer key (http.api_keys)", EnvVars: []string{"SETBRIDGE_API_KEY"}},
			&cli.StringFlag{Name: "trunk", Usage: "trunk to call through (default the first with outbound settings)"},
			&cli.StringFlag{Name: "caller-id", Usage: "the From number"},
			&cli.StringFlag{Name: "name", Usage: "display name of the callee in the room"},
			&cli.StringFlag{Name: "digits", Usage: "digits to send after the answer (w: a 500 ms pause)"},
			&cli.StringFlag{Name: "digit-mode", Usage: "rfc4733, inband or info"},
			&cli.DurationFlag{Name: "ring-timeout", Value: 60 * time.Second, Usage: "how long to let it ring"},
		},
		Action: func(cctx *cli.Context) error {
			if cctx.NArg() != 2 {
				return cli.Exit("usage: setbridge dial [flags] ROOM NUMBER", 2)
			}
			room, number := cctx.Args().Get(0), cctx.Args().Get(1)
			body, _ := json.Marshal(map[string]string{"number": number, "trunk": cctx.String("trunk"), "caller_id": cctx.String("caller-id"),
				"display_name": cctx.String("name"), "digits": cctx.String("digits"), "digit_mode": cctx.String("digit-mode"),
				"ring_timeout": cctx.Duration("ring-timeout").String()})
			req, err := http.NewRequest(http.MethodPost, cctx.String("server")+"/api/rooms/"+url.PathEscape(room)+"/dial?wait=true", bytes.NewReader(body))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			req.Header.Set("Content-Type", "application/json")
			if k := cctx.String("api-key"); k != "" {
				req.Header.Set("Authorization", "Bearer "+k)
			}
			c := &http.Client{Timeout: cctx.Duration("ring-timeout") + 30*time.Second}
			res, err := c.Do(req)
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			defer res.Body.Close()
			out, _ := io.ReadAll(res.Body)
			var call struct {
				ID, State, Reason string
				Code              int
				Error             string
			}
			_ = json.Unmarshal(out, &call)
			if res.StatusCode != http.StatusOK {
				return cli.Exit(fmt.Sprintf("dial: %s: %s", res.Status, call.Error), 1)
			}
			fmt.Fprintf(cctx.App.Writer, "%s %s", call.ID, call.State)
			if call.Code != 0 {
				fmt.Fprintf(cctx.App.Writer, " %d %s", call.Code, call.Reason)
			}
			fmt.Fprintln(cctx.App.Writer)
			if call.State != "answered" {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}
