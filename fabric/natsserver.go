package fabric

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerConfig configures the NATS server a node embeds.
type ServerConfig struct {
	// Name names the server (default the node id).
	Name string
	// Listen is the client address ("127.0.0.1:4222"); empty serves only
	// in-process connections (the all-in-one default).
	Listen string
	// Routes and ClusterListen join a NATS cluster; LeafRemotes joins a
	// hub as a leaf node (a SET's servers joined to the centre).
	ClusterName   string
	ClusterListen string
	Routes        []string
	LeafListen    string
	LeafRemotes   []string
}

// StartServer starts an embedded NATS server and waits until it takes
// connections.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	opts := &server.Options{ServerName: cfg.Name, NoSigs: true, NoLog: true, MaxPayload: 1 << 20}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen: %w", err)
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.ClusterListen != "" {
		host, port, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("nats cluster listen: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: port}
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "setbridge"
		}
		for _, r := range cfg.Routes {
			opts.Routes = append(opts.Routes, server.RoutesFromStr("nats://"+r)...)
		}
	}
	if cfg.LeafListen != "" {
		host, port, err := splitHostPort(cfg.LeafListen)
		if err != nil {
			return nil, fmt.Errorf("nats leaf listen: %w", err)
		}
		opts.LeafNode.Host, opts.LeafNode.Port = host, port
	}
	for _, r := range cfg.LeafRemotes {
		u := server.RoutesFromStr("nats-leaf://" + r)
		if len(u) == 0 {
			return nil, fmt.Errorf("nats leaf remote %q: not host:port", r)
		}
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, &server.RemoteLeafOpts{URLs: u})
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server not ready within 10 s")
	}
	return s, nil
}

// Connect opens a control-plane connection: to s in process when s is
// not nil, else to url. It reconnects forever.
func Connect(s *server.Server, url, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	if s != nil {
		opts = append(opts, nats.InProcessServer(s))
		url = ""
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", url, err)
	}
	return nc, nil
}

func splitHostPort(a string) (string, int, error) {
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	return host, port, nil
}
