// Package config loads setbridge's YAML configuration: an embedded default,
// a file over it, and validation that points at the offending line.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/sip"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Config is the whole of setbridge's configuration.
type Config struct {
	Log          Log           `yaml:"log"`
	HTTP         HTTP          `yaml:"http"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	Mixer        Mixer         `yaml:"mixer"`
	SIP          sip.Config    `yaml:"sip"`
	IVR          IVR           `yaml:"ivr"`
	Recordings   Recordings    `yaml:"recordings"`
	Rooms        []Room        `yaml:"rooms"`
	Node         Node          `yaml:"node"`
	WebRTC       WebRTC        `yaml:"webrtc"`
	// Database holds room configuration: a SQLite file path (or
	// sqlite:///path) or a postgres:// URL.
	Database string `yaml:"database"`
	// Webhooks receive room and recording events, signed the Standard
	// Webhooks way.
	Webhooks []Webhook `yaml:"webhooks"`
	// Robots configure the live-stream robots.
	Robots Robots `yaml:"robots"`
}

// Node places this process in the fabric: its id, SET, network and roles,
// and how it reaches the NATS control plane.
type Node struct {
	// ID names the node (default: the host name).
	ID      string `yaml:"id"`
	Set     string `yaml:"set"`
	Network string `yaml:"network"`
	// Networks are the networks a transit node joins, Network among them.
	Networks []string `yaml:"networks"`
	Roles    []string `yaml:"roles"`
	// MediaAddr is the UDP address for RTP between nodes.
	MediaAddr string `yaml:"media_addr"`
	NATS      NATS   `yaml:"nats"`
	// Transit routes pulls from one network to another through a node.
	Transit []fabric.TransitRoute `yaml:"transit"`
}

// NATS is the control plane: a cluster to join, or an embedded server.
type NATS struct {
	// URL joins an existing NATS server or cluster; empty embeds one.
	URL string `yaml:"url"`
	// Listen is the embedded server's client address; empty takes
	// in-process connections only (the all-in-one default).
	Listen        string   `yaml:"listen"`
	ClusterListen string   `yaml:"cluster_listen"`
	Routes        []string `yaml:"routes"`
	LeafListen    string   `yaml:"leaf_listen"`
	LeafRemotes   []string `yaml:"leaf_remotes"`
}

// IVR configures the dial-in IVR.
type IVR struct {
	// PromptsDir holds operator recordings that replace stock prompts of
	// the same name (WAV, any common rate).
	PromptsDir string `yaml:"prompts_dir"`
}

// Recordings configures compliance recordings.
type Recordings struct {
	// Dir holds the recordings, their index and (unless KeyFile is set)
	// the manifest signing key, made on first start.
	Dir string `yaml:"dir"`
	// KeyFile is an Ed25519 private key (`setbridge keys generate`).
	KeyFile string `yaml:"key_file"`
	// Segment is the length of one WAV segment.
	Segment time.Duration `yaml:"segment"`
	// S3, when its endpoint is set, copies every segment and manifest to
	// an S3-compatible object store as the recording is written.
	S3 S3 `yaml:"s3"`
}

// S3 is an S3-compatible object store.
type S3 struct {
	Endpoint  string `yaml:"endpoint"` // host:port
	Bucket    string `yaml:"bucket"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	UseSSL    bool   `yaml:"use_ssl"`
	Region    string `yaml:"region"`
	Prefix    string `yaml:"prefix"`
	// Retention puts a COMPLIANCE Object Lock retention of this length on
	// each object, where the bucket has Object Lock enabled.
	Retention time.Duration `yaml:"retention"`
}

// Room is a conference room known in advance: its dial-in number and PINs.
type Room struct {
	ID string `yaml:"id"`
	// ConferenceNumber is what callers enter at the IVR.
	ConferenceNumber string `yaml:"conference_number"`
	// PIN and ModeratorPIN, when set, must be entered to join (digits).
	PIN          string `yaml:"pin"`
	ModeratorPIN string `yaml:"moderator_pin"`
	// EntryTones plays a short tone to the others when someone joins or
	// leaves (default true).
	EntryTones *bool `yaml:"entry_tones"`
	// Record records the room from its first join to its last leave.
	Record bool `yaml:"record"`
	// RecordTracks adds one track per participant to the room's
	// recordings, next to the mix (an API request may say otherwise).
	RecordTracks bool `yaml:"record_tracks"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// HTTP configures the HTTP server.
type HTTP struct {
	Addr string `yaml:"addr"`
	// Pprof serves Go's profiler under /debug/pprof/.
	Pprof bool `yaml:"pprof"`
	// APIKeys are the bearer keys the HTTP API accepts; with none, it
	// serves loopback clients only.
	APIKeys []string `yaml:"api_keys"`
}

// WebRTC configures the browser edge (WHIP/WHEP and the web page).
type WebRTC struct {
	// Enabled serves the web page, WHIP and WHEP (default true).
	Enabled *bool `yaml:"enabled"`
	// UDPPort serves every browser's media on this one UDP port; 0 takes
	// ports from PortMin..PortMax (any port when both are 0).
	UDPPort int    `yaml:"udp_port"`
	PortMin uint16 `yaml:"port_min"`
	PortMax uint16 `yaml:"port_max"`
	// ICETCPPort also offers ICE over TCP on this port (0: off).
	ICETCPPort int `yaml:"ice_tcp_port"`
	// ListenIP is the one local address media uses (default every one).
	ListenIP string `yaml:"listen_ip"`
	// PublicIPs are announced in place of the host's addresses (1:1 NAT).
	PublicIPs []string `yaml:"public_ips"`
	// IncludeLoopback offers loopback candidates (a browser on this
	// machine); default true.
	IncludeLoopback *bool `yaml:"include_loopback"`
	// ICEServers are STUN/TURN servers handed to browsers.
	ICEServers []ICEServer `yaml:"ice_servers"`
	// Keys are API keys and their secrets that sign join tokens (HS256).
	// With none, the server makes one at start (tokens then last until it
	// restarts).
	Keys map[string]string `yaml:"keys"`
	// OpenRooms may be joined from loopback without a token or PIN.
	OpenRooms []string `yaml:"open_rooms"`
	// TokenTTL is how long the tokens the page gets last (default 6h).
	TokenTTL time.Duration `yaml:"token_ttl"`
}

// Webhook is one receiver of events.
type Webhook struct {
	URL string `yaml:"url"`
	// Secret signs the requests ("whsec_" and base64, as Standard
	// Webhooks gives them out).
	Secret string `yaml:"secret"`
	// Events limits what is sent (default every event).
	Events []string `yaml:"events"`
}

// Robots configures the live-stream robots.
type Robots struct {
	// FFmpeg is the ffmpeg binary for RTMP targets (default "ffmpeg").
	FFmpeg string `yaml:"ffmpeg"`
	// MaxAttempts is how many failed connects in a row end a stream
	// (default 10).
	MaxAttempts int `yaml:"max_attempts"`
}

// ICEServer is a STUN or TURN server for browsers.
type ICEServer struct {
	URLs       []string `yaml:"urls" json:"urls"`
	Username   string   `yaml:"username" json:"username,omitempty"`
	Credential string   `yaml:"credential" json:"credential,omitempty"`
}

// Mixer configures the mixer engine.
type Mixer struct {
	Rate int `yaml:"rate"`
	// TopK is how many talkers each room mixes (default 5).
	TopK int `yaml:"top_k"`
	// HangOver keeps a talker selected this long after it falls silent.
	HangOver time.Duration `yaml:"hang_over"`
}

// Problem is one thing wrong with a configuration file.
type Problem struct {
	Line, Column int    // 1-based; 0 when unknown
	Path         string // e.g. "sip.trunks[0].codecs[1]"
	Msg          string
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one file.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// Describe renders the problems with the lines of src they point at.
func (ps Problems) Describe(name string, src []byte) string {
	lines := strings.Split(string(src), "\n")
	var b strings.Builder
	for _, p := range ps {
		if p.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: ", name, p.Line)
		} else {
			fmt.Fprintf(&b, "%s: ", name)
		}
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Msg + "\n")
		if p.Line > 0 && p.Line <= len(lines) {
			fmt.Fprintf(&b, "  %4d | %s\n", p.Line, lines[p.Line-1])
			if p.Column > 0 {
				fmt.Fprintf(&b, "       | %s^\n", strings.Repeat(" ", p.Column-1))
			}
		}
	}
	return b.String()
}

// Default returns the embedded default configuration.
func Default() Config {
	c, err := Parse(defaultYAML)
	if err != nil {
		panic("config: embedded default is invalid: " + err.Error())
	}
	return c
}

// Load reads a file over the embedded defaults.
func Load(path string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(src)
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// Parse reads YAML over the embedded defaults and validates the result.
// A failure is a Problems value.
func Parse(src []byte) (Config, error) {
	var c Config
	if err := decodeStrict(defaultYAML, &c); err != nil {
		return Config{}, err
	}
	// Lists in the file replace the defaults' lists rather than merge.
	var probe struct {
		SIP map[string]any `yaml:"sip"`
	}
	_ = yaml.Unmarshal(src, &probe)
	if _, ok := probe.SIP["trunks"]; ok {
		c.SIP.Trunks = nil
	}
	if _, ok := probe.SIP["dispatch"]; ok {
		c.SIP.Dispatch = nil
	}
	var probeRooms struct {
		Rooms any `yaml:"rooms"`
	}
	_ = yaml.Unmarshal(src, &probeRooms)
	if probeRooms.Rooms != nil {
		c.Rooms = nil
	}
	if err := decodeStrict(src, &c); err != nil {
		return Config{}, err
	}
	var root yaml.Node
	_ = yaml.Unmarshal(src, &root)
	if ps := c.validate(&root); len(ps) > 0 {
		return Config{}, ps
	}
	return c, nil
}

func decodeStrict(src []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if err == nil || errors.Is(err, errEOF) || err.Error() == "EOF" {
		return nil
	}
	var ps Problems
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			ps = append(ps, problemFromYAML(e))
		}
		return ps
	}
	return Problems{problemFromYAML(err.Error())}
}

var errEOF = errors.New("EOF")

func problemFromYAML(msg string) Problem {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Problem{Line: n, Msg: m[2]}
	}
	return Problem{Msg: msg}
}

// validate checks what the YAML decoder cannot.
func (c *Config) validate(root *yaml.Node) Problems {
	var ps Problems
	add := func(path, msg string) {
		n := nodeAt(root, path)
		p := Problem{Path: path, Msg: msg}
		if n != nil {
			p.Line, p.Column = n.Line, n.Column
		}
		ps = append(ps, p)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", fmt.Sprintf("unknown level %q (debug, info, warn, error)", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", fmt.Sprintf("unknown format %q (text, json)", c.Log.Format))
	}
	switch c.Mixer.Rate {
	case 8000, 16000, 48000:
	default:
		add("mixer.rate", fmt.Sprintf("rate %d not supported (8000, 16000, 48000)", c.Mixer.Rate))
	}
	if c.Mixer.TopK < 0 || c.Mixer.TopK > 16 {
		add("mixer.top_k", fmt.Sprintf("top_k %d out of range (1 to 16; 0 for the default 5)", c.Mixer.TopK))
	}
	if c.DrainTimeout < 0 {
		add("drain_timeout", "must not be negative")
	}
	if w := c.WebRTC; w.PortMin > w.PortMax {
		add("webrtc.port_min", "port_min is above port_max")
	}
	for i, srv := range c.WebRTC.ICEServers {
		if len(srv.URLs) == 0 {
			add(fmt.Sprintf("webrtc.ice_servers[%d].urls", i), "an ICE server needs at least one URL (stun:, turn: or turns:)")
		}
	}
	for i, w := range c.Webhooks {
		if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
			add(fmt.Sprintf("webhooks[%d].url", i), "a webhook URL starts with http:// or https://")
		}
		if w.Secret == "" {
			add(fmt.Sprintf("webhooks[%d].secret", i), "a webhook needs a secret (whsec_...) to sign with")
		}
	}
	for k, v := range c.WebRTC.Keys {
		if len(v) < 32 {
			add("webrtc.keys."+k, "a key's secret must be at least 32 characters")
		}
	}
	ids, numbers := map[string]bool{}, map[string]bool{}
	for i, r := range c.Rooms {
		p := fmt.Sprintf("rooms[%d]", i)
		switch {
		case r.ID == "":
			add(p+".id", "a room needs an id")
		case ids[r.ID]:
			add(p+".id", fmt.Sprintf("duplicate room id %q", r.ID))
		}
		ids[r.ID] = true
		if r.ConferenceNumber != "" {
			if numbers[r.ConferenceNumber] {
				add(p+".conference_number", "duplicate conference number")
			}
			numbers[r.ConferenceNumber] = true
			if !allDigits(r.ConferenceNumber) {
				add(p+".conference_number", "a conference number is digits 0-9")
			}
		}
		if r.PIN != "" && !allDigits(r.PIN) {
			add(p+".pin", "a PIN is digits 0-9")
		}
		if r.ModeratorPIN != "" && !allDigits(r.ModeratorPIN) {
			add(p+".moderator_pin", "a PIN is digits 0-9")
		}
	}
	known := []string{fabric.RoleInterface, fabric.RoleRetrieval, fabric.RoleTransit, fabric.RoleSelector,
		fabric.RoleMixer, fabric.RoleSIP, "room", "roomset", "recorder"}
	for i, r := range c.Node.Roles {
		if !slices.Contains(known, r) {
			add(fmt.Sprintf("node.roles[%d]", i), fmt.Sprintf("unknown role %q (%s)", r, strings.Join(known, ", ")))
		}
	}
	if c.Node.Set == "" {
		add("node.set", "a node belongs to a SET")
	}
	if c.Node.NATS.URL != "" && c.Node.NATS.Listen != "" {
		add("node.nats", "either url (join a NATS server) or listen (embed one), not both")
	}
	for i, t := range c.Node.Transit {
		if t.From == "" || t.To == "" || t.Node == "" {
			add(fmt.Sprintf("node.transit[%d]", i), "a transit route needs from, to and node")
		}
	}
	c.SIP = c.SIP.WithDefaults()
	for _, fe := range c.SIP.Validate() {
		add("sip."+fe.Path, strings.TrimPrefix(fe.Err.Error(), sip.ErrBadConfig.Error()+": "))
	}
	return ps
}

var pathPart = regexp.MustCompile(`^([a-z_]+)(?:\[(\d+)\])?(?:\[(\d+)\])?$`)

// nodeAt finds the node of a path such as "sip.trunks[1].codecs[0]",
// returning the deepest node that exists (so a missing key points at its
// parent).
func nodeAt(root *yaml.Node, path string) *yaml.Node {
	if root == nil || len(root.Content) == 0 {
		return nil
	}
	n := root.Content[0]
	for _, part := range strings.Split(path, ".") {
		m := pathPart.FindStringSubmatch(part)
		if m == nil || n.Kind != yaml.MappingNode {
			return n
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == m[1] {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return n
		}
		for _, idx := range m[2:] {
			if idx == "" {
				continue
			}
			k, _ := strconv.Atoi(idx)
			if next.Kind != yaml.SequenceNode || k >= len(next.Content) {
				return next
			}
			next = next.Content[k]
		}
		n = next
	}
	return n
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != "" && len(s) <= 16
}
