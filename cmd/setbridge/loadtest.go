package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/setbridge/setbridge/fabric"
)

func loadtestCommand() *cli.Command {
	return &cli.Command{
		Name:  "loadtest",
		Usage: "publish streams and subscribe probe endpoints across a running fabric, and report rates, delay and loss",
		Description: "Joins the fabric's NATS control plane, has one node originate --streams probe streams\n" +
			"(one 20 ms RTP packet each), spreads --endpoints probe endpoints over the other interface\n" +
			"nodes, and reads every node's own counters: packets per second per node, origin egress,\n" +
			"delay from the origin (p50, p99, and per hop) and loss.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "nats", Usage: "the fabric's NATS server", Value: "nats://127.0.0.1:4222", EnvVars: []string{"SETBRIDGE_NATS"}},
			&cli.IntFlag{Name: "streams", Usage: "streams to publish", Value: 10},
			&cli.IntFlag{Name: "endpoints", Usage: "probe endpoints to subscribe", Value: 100},
			&cli.DurationFlag{Name: "duration", Usage: "how long to measure", Value: 10 * time.Second},
			&cli.StringFlag{Name: "origin", Usage: "the node that publishes (default: the first interface node)"},
			&cli.IntFlag{Name: "payload", Usage: "RTP payload bytes", Value: 160},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		},
		Action: func(c *cli.Context) error {
			nc, err := fabric.Connect(nil, c.String("nats"), "setbridge-loadtest")
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			defer nc.Close()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			res, err := fabric.RunLoad(ctx, nc, fabric.LoadConfig{Streams: c.Int("streams"), Endpoints: c.Int("endpoints"),
				Duration: c.Duration("duration"), Origin: c.String("origin"), Payload: c.Int("payload")})
			if err != nil {
				return cli.Exit(err.Error(), 1)
			}
			if c.Bool("json") {
				e := json.NewEncoder(os.Stdout)
				e.SetIndent("", "  ")
				return e.Encode(res)
			}
			printLoad(res)
			return nil
		},
	}
}

func printLoad(r fabric.LoadResult) {
	fmt.Printf("%d streams from %s, %d endpoints, %.1f s\n", r.Streams, r.Origin, r.Endpoints, r.Seconds)
	fmt.Printf("received %d packets, lost %d (%.3f%%)\n", r.Received, r.Lost, r.LossPct)
	fmt.Printf("delay from the origin: p50 %.0f µs, p99 %.0f µs over %.1f hops (per hop p50 %.0f µs, p99 %.0f µs)\n",
		r.DelayP50, r.DelayP99, r.Hops, r.HopP50, r.HopP99)
	fmt.Printf("origin egress: %.0f packets/s, %.2f copies of each packet\n", r.OriginPPS, r.OriginCopy)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "node\tset\tin pkt/s\tout pkt/s\tcpu %\tout pkt/s per core\t")
	for _, n := range r.Nodes {
		fmt.Fprintf(w, "%s\t%s\t%.0f\t%.0f\t%.1f\t%.0f\t\n", n.Node, n.Set, n.InPPS, n.OutPPS, n.CPU, n.PPSPerCore)
	}
	w.Flush()
}
