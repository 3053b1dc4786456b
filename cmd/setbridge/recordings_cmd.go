package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/setbridge/setbridge/api"
	"github.com/setbridge/setbridge/recorder"
)

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "manifest signing keys",
		Subcommands: []*cli.Command{{
			Name:      "generate",
			Usage:     "make an Ed25519 key pair: FILE (private, PEM) and FILE.pub",
			ArgsUsage: "FILE",
			Action: func(cctx *cli.Context) error {
				if cctx.NArg() != 1 {
					return cli.Exit("usage: setbridge keys generate FILE", 2)
				}
				if _, err := recorder.GenerateKey(cctx.Args().First()); err != nil {
					return cli.Exit(err.Error(), 1)
				}
				fmt.Fprintf(cctx.App.Writer, "wrote %s and %s.pub\n", cctx.Args().First(), cctx.Args().First())
				return nil
			},
		}},
	}
}

var serverFlags = []cli.Flag{
	&cli.StringFlag{Name: "server", Value: "http://127.0.0.1:8080", Usage: "setbridge's HTTP address", EnvVars: []string{"SETBRIDGE_SERVER"}},
	&cli.StringFlag{Name: "api-key", Usage: "API key (Authorization: Bearer)", EnvVars: []string{"SETBRIDGE_API_KEY"}},
}

// apiRequest GETs path from the server, with the API key if one is given,
// and fails unless the answer is 200.
func apiRequest(cctx *cli.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(cctx.Context, http.MethodGet, strings.TrimRight(cctx.String("server"), "/")+path, nil)
	if err != nil {
		return nil, err
	}
	if k := cctx.String("api-key"); k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return nil, fmt.Errorf("GET %s: %s: %s", path, res.Status, strings.TrimSpace(string(b)))
	}
	return res, nil
}

func apiGet(cctx *cli.Context, path string, out any) error {
	res, err := apiRequest(cctx, path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(out)
}

func recordingsCommand() *cli.Command {
	return &cli.Command{
		Name:  "recordings",
		Usage: "list, fetch and verify compliance recordings",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list recordings",
				Flags: serverFlags,
				Action: func(cctx *cli.Context) error {
					var out struct{ Recordings []api.Recording }
					if err := apiGet(cctx, "/api/recordings", &out); err != nil {
						return cli.Exit(err.Error(), 1)
					}
					tw := tabwriter.NewWriter(cctx.App.Writer, 2, 8, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tROOM\tSTATUS\tSTARTED\tLENGTH")
					for _, r := range out.Recordings {
						started := "-"
						if r.StartedAt != nil {
							started = r.StartedAt.UTC().Format(time.RFC3339)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", r.ID, r.Room, r.Status, started, time.Duration(r.Frames)*20*time.Millisecond)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "fetch",
				Usage:     "download a recording's files (segments and manifest) into a directory",
				ArgsUsage: "ID",
				Flags:     append([]cli.Flag{&cli.StringFlag{Name: "out", Required: true, Usage: "directory to write into"}}, serverFlags...),
				Action: func(cctx *cli.Context) error {
					if cctx.NArg() != 1 {
						return cli.Exit("usage: setbridge recordings fetch ID --out DIR", 2)
					}
					if err := fetchRecording(cctx, cctx.Args().First(), cctx.String("out")); err != nil {
						return cli.Exit(err.Error(), 1)
					}
					return nil
				},
			},
			{
				Name:      "verify",
				Usage:     "check every hash, the chain and the signature of a recording (a directory, or an ID fetched from the server)",
				ArgsUsage: "ID|DIR",
				Flags:     append([]cli.Flag{&cli.StringFlag{Name: "public-key", Required: true, Usage: "the signing key's public half (FILE.pub)"}}, serverFlags...),
				Action: func(cctx *cli.Context) error {
					if cctx.NArg() != 1 {
						return cli.Exit("usage: setbridge recordings verify ID|DIR --public-key FILE", 2)
					}
					pub, err := recorder.LoadPublicKey(cctx.String("public-key"))
					if err != nil {
						return cli.Exit(err.Error(), 2)
					}
					dir := cctx.Args().First()
					if st, err := os.Stat(dir); err != nil || !st.IsDir() {
						tmp, err := os.MkdirTemp("", "setbridge-verify")
						if err != nil {
							return cli.Exit(err.Error(), 1)
						}
						defer os.RemoveAll(tmp)
						if err := fetchRecording(cctx, dir, tmp); err != nil {
							return cli.Exit(err.Error(), 1)
						}
						dir = tmp
					}
					rep, err := recorder.Verify(dir, pub)
					if err != nil {
						return cli.Exit(err.Error(), 1)
					}
					if !rep.OK() {
						for _, p := range rep.Problems {
							fmt.Fprintln(cctx.App.ErrWriter, p.String())
						}
						return cli.Exit(fmt.Sprintf("%s: FAILED: %d problem(s)", cctx.Args().First(), len(rep.Problems)), 1)
					}
					fmt.Fprintf(cctx.App.Writer, "%s: OK: every segment, the chain and the signature verify\n", cctx.Args().First())
					return nil
				},
			},
		},
	}
}

// fetchRecording downloads every file of recording id into dir, with a
// progress bar.
func fetchRecording(cctx *cli.Context, id, dir string) error {
	var rec api.Recording
	if err := apiGet(cctx, "/api/recordings/"+url.PathEscape(id), &rec); err != nil {
		return err
	}
	if len(rec.Files) == 0 {
		return errors.New("the recording has no files")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	for _, name := range rec.Files {
		if err := fetchFile(cctx, id, name, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	fmt.Fprintf(cctx.App.Writer, "fetched %d files into %s\n", len(rec.Files), dir)
	return nil
}

func fetchFile(cctx *cli.Context, id, name, path string) error {
	res, err := apiRequest(cctx, "/api/recordings/"+url.PathEscape(id)+"/files/"+url.PathEscape(name))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bar := progressbar.DefaultBytes(res.ContentLength, name)
	if _, err := io.Copy(io.MultiWriter(f, bar), res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
