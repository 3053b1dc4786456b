package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// apiDo sends a request to the server's API and decodes a JSON answer into
// out (if not nil); an answer other than 2xx is an error with the
// server's message.
func apiDo(cctx *cli.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cctx.Context, method, strings.TrimRight(cctx.String("server"), "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if k := cctx.String("api-key"); k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", res.Status, e.Error)
		}
		return fmt.Errorf("%s", res.Status)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func roomsCommand() *cli.Command {
	esc := url.PathEscape
	action := func(usage string, nargs int, run func(cctx *cli.Context, args []string) error) cli.ActionFunc {
		return func(cctx *cli.Context) error {
			if cctx.NArg() != nargs {
				return cli.Exit("usage: setbridge rooms "+usage, 2)
			}
			if err := run(cctx, cctx.Args().Slice()); err != nil {
				return cli.Exit(err.Error(), 1)
			}
			return nil
		}
	}
	post := func(path string) func(cctx *cli.Context, a []string) error {
		return func(cctx *cli.Context, a []string) error {
			p := path
			for i, x := range a {
				p = strings.Replace(p, fmt.Sprintf("{%d}", i), esc(x), 1)
			}
			if err := apiDo(cctx, http.MethodPost, p, nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cctx.App.Writer, "ok")
			return nil
		}
	}
	// mute and unmute take a participant id or "all".
	mute := func(verb string) func(cctx *cli.Context, a []string) error {
		return func(cctx *cli.Context, a []string) error {
			if a[1] == "all" {
				return post("/api/rooms/{0}/"+verb+"_all")(cctx, a[:1])
			}
			return post("/api/rooms/{0}/participants/{1}/"+verb)(cctx, a)
		}
	}
	return &cli.Command{
		Name:  "rooms",
		Usage: "rooms and their participants, and moderation",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list the rooms", Flags: serverFlags, Action: action("list", 0, func(cctx *cli.Context, _ []string) error {
				var out struct {
					Rooms []struct {
						ID               string `json:"id"`
						ConferenceNumber string `json:"conference_number"`
						Locked           bool   `json:"locked"`
						PINRequired      bool   `json:"pin_required"`
						Participants     int    `json:"participants"`
					} `json:"rooms"`
				}
				if err := apiDo(cctx, http.MethodGet, "/api/rooms", nil, &out); err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cctx.App.Writer, 2, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "ROOM\tNUMBER\tPIN\tLOCKED\tHERE")
				for _, r := range out.Rooms {
					fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%d\n", r.ID, r.ConferenceNumber, r.PINRequired, r.Locked, r.Participants)
				}
				return tw.Flush()
			})},
			{Name: "show", Usage: "show a room", ArgsUsage: "ROOM", Flags: serverFlags, Action: action("show ROOM", 1, func(cctx *cli.Context, a []string) error {
				var out json.RawMessage
				if err := apiDo(cctx, http.MethodGet, "/api/rooms/"+esc(a[0]), nil, &out); err != nil {
					return err
				}
				var buf bytes.Buffer
				_ = json.Indent(&buf, out, "", "  ")
				fmt.Fprintln(cctx.App.Writer, buf.String())
				return nil
			})},
			{Name: "participants", Usage: "list a room's participants, every page", ArgsUsage: "ROOM",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "filter", Usage: "speaking=true, muted=false, kind=phone (comma-separated)"}}, serverFlags...),
				Action: action("participants [--filter F] ROOM", 1, func(cctx *cli.Context, a []string) error {
					q := url.Values{"page_size": {"500"}}
					for _, f := range strings.Split(cctx.String("filter"), ",") {
						if k, v, ok := strings.Cut(strings.TrimSpace(f), "="); ok {
							q.Set(k, v)
						}
					}
					tw := tabwriter.NewWriter(cctx.App.Writer, 2, 8, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tNAME\tKIND\tCALLER\tMUTED\tSPEAKING\tNODE\tSET")
					total := 0
					for {
						var page struct {
							Participants []struct {
								ID, Name, Kind, Caller, Node, Set string
								Muted, Speaking                   bool
							} `json:"participants"`
							Total int    `json:"total"`
							Next  string `json:"next_page_token"`
						}
						if err := apiDo(cctx, http.MethodGet, "/api/rooms/"+esc(a[0])+"/participants?"+q.Encode(), nil, &page); err != nil {
							return err
						}
						total = page.Total
						for _, p := range page.Participants {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%v\t%s\t%s\n", p.ID, p.Name, p.Kind, p.Caller, p.Muted, p.Speaking, p.Node, p.Set)
						}
						if page.Next == "" {
							break
						}
						q.Set("page_token", page.Next)
					}
					fmt.Fprintf(tw, "(%d)\n", total)
					return tw.Flush()
				})},
			{Name: "mute", Usage: "mute a participant, or all", ArgsUsage: "ROOM ID|all", Flags: serverFlags, Action: action("mute ROOM ID|all", 2, mute("mute"))},
			{Name: "unmute", Usage: "unmute a participant, or all", ArgsUsage: "ROOM ID|all", Flags: serverFlags, Action: action("unmute ROOM ID|all", 2, mute("unmute"))},
			{Name: "kick", Usage: "remove a participant (its call is hung up)", ArgsUsage: "ROOM ID", Flags: serverFlags,
				Action: action("kick ROOM ID", 2, post("/api/rooms/{0}/participants/{1}/kick"))},
			{Name: "lock", Usage: "lock a room: only moderators get in", ArgsUsage: "ROOM", Flags: serverFlags, Action: action("lock ROOM", 1, post("/api/rooms/{0}/lock"))},
			{Name: "unlock", Usage: "unlock a room", ArgsUsage: "ROOM", Flags: serverFlags, Action: action("unlock ROOM", 1, post("/api/rooms/{0}/unlock"))},
			{Name: "end", Usage: "end a room: every participant is hung up", ArgsUsage: "ROOM", Flags: serverFlags, Action: action("end ROOM", 1, post("/api/rooms/{0}/end"))},
		},
	}
}
