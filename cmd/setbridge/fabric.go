package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/config"
	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/fabric/mixnet"
)

// fabricNode is this process's place in the fabric: its control-plane
// connection (and the NATS server it embeds, if any) and its node.
type fabricNode struct {
	srv  *server.Server // nil when joining an outside NATS
	nc   *nats.Conn
	node *fabric.Node
}

// startFabric joins (or, by default, embeds) the NATS control plane and
// starts this process's fabric node.
func startFabric(cfg config.Node, httpAddr string, log *slog.Logger) (*fabricNode, error) {
	id := cfg.ID
	if id == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "setbridge"
		}
		id = h
	}
	f := &fabricNode{}
	var err error
	if cfg.NATS.URL == "" {
		f.srv, err = fabric.StartServer(fabric.ServerConfig{Name: id, Listen: cfg.NATS.Listen,
			ClusterListen: cfg.NATS.ClusterListen, Routes: cfg.NATS.Routes,
			LeafListen: cfg.NATS.LeafListen, LeafRemotes: cfg.NATS.LeafRemotes})
		if err != nil {
			return nil, err
		}
	}
	if f.nc, err = fabric.Connect(f.srv, cfg.NATS.URL, id); err != nil {
		f.Close()
		return nil, err
	}
	f.node, err = fabric.Start(fabric.Config{
		Info:      fabric.NodeInfo{ID: id, Set: cfg.Set, Network: cfg.Network, Networks: cfg.Networks, Roles: cfg.Roles, HTTP: httpAddr},
		MediaAddr: cfg.MediaAddr, Conn: f.nc, Transit: cfg.Transit, Logger: log})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fabric node: %w", err)
	}
	return f, nil
}

// natsAddr is the embedded server's client address, if it listens.
func (f *fabricNode) natsAddr() string {
	if f.srv == nil {
		return ""
	}
	if a := f.srv.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// view is what GET /api/fabric shows.
func (f *fabricNode) view(mn *mixnet.Service, rs *roomServices) any {
	return struct {
		Node  fabric.NodeInfo   `json:"node"`
		Live  []fabric.NodeInfo `json:"live"`
		Stats fabric.Stats      `json:"stats"`
		Mixer mixnet.Stats      `json:"mixer"`
		Rooms any               `json:"rooms"`
	}{f.node.Info(), f.node.Live(), f.node.Stats(), mn.Stats(), rs.stats()}
}

// Close leaves the fabric and stops the embedded server.
func (f *fabricNode) Close() {
	if f.node != nil {
		f.node.Close()
	}
	if f.nc != nil {
		f.nc.Close()
	}
	if f.srv != nil {
		f.srv.Shutdown()
		f.srv.WaitForShutdown()
	}
}
