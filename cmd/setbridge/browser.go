package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/setbridge/setbridge/api"
	"github.com/setbridge/setbridge/auth"
	"github.com/setbridge/setbridge/config"
	"github.com/setbridge/setbridge/webrtc"
)

// tokenKeys returns the keys that sign join tokens and the one the server
// signs with: the configured ones, or one made now.
func tokenKeys(cfg config.WebRTC) (auth.Keys, string) {
	keys := auth.Keys{}
	for k, v := range cfg.Keys {
		keys[k] = v
	}
	if len(keys) == 0 {
		keys["setbridge"] = randomHex(32)
		return keys, "setbridge"
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	return keys, names[0]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// browserEdge is the WebRTC edge and the lobby, wired to the conference.
type browserEdge struct {
	edge  *webrtc.Edge
	lobby *api.Lobby
	keys  auth.Keys
}

func startBrowserEdge(cfg config.WebRTC, conf *conference, rooms *api.Rooms, dialIn []api.DialIn, recording func(string) bool, log *slog.Logger) (*browserEdge, error) {
	keys, signer := tokenKeys(cfg)
	ttl := cfg.TokenTTL
	if ttl <= 0 {
		ttl = 6 * time.Hour
	}
	byToken := webrtc.KeysAuthorizer(keys, time.Now)
	authorize := func(r *http.Request, room string, publish bool) (webrtc.Identity, error) {
		if webrtc.BearerToken(r) != "" {
			return byToken(r, room, publish)
		}
		// A WHIP client on this machine may join an open room as is.
		if rm, ok := rooms.Get(room); ok && rm.PINHash == "" && slices.Contains(cfg.OpenRooms, room) && isLoopback(r) {
			return webrtc.Identity{Identity: "web-" + randomHex(4), Publish: true, Subscribe: true, Kind: "browser"}, nil
		}
		return webrtc.Identity{}, fmt.Errorf("%w: this room needs a token (Authorization: Bearer)", webrtc.ErrUnauthorized)
	}
	ice := make([]webrtc.ICEServer, 0, len(cfg.ICEServers))
	for _, s := range cfg.ICEServers {
		ice = append(ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	loop := cfg.IncludeLoopback == nil || *cfg.IncludeLoopback
	edge, err := webrtc.New(webrtc.Config{Logger: log, UDPMuxPort: cfg.UDPPort, PortMin: cfg.PortMin, PortMax: cfg.PortMax,
		ICETCPPort: cfg.ICETCPPort, ListenIP: cfg.ListenIP, NAT1To1IPs: cfg.PublicIPs, ICEServers: ice, IncludeLoopback: loop},
		browsers{conf}, authorize)
	if err != nil {
		return nil, err
	}
	servers := cfg.ICEServers
	if servers == nil {
		servers = []config.ICEServer{}
	}
	b := &browserEdge{edge: edge, keys: keys}
	b.lobby = &api.Lobby{Rooms: rooms, DialIn: dialIn, ICEServers: servers, OpenRooms: cfg.OpenRooms, Recording: recording, Logger: log,
		Mint: func(room, name string) (string, string, time.Time, error) {
			id := "web-" + randomHex(6)
			if name == "" {
				name = "Guest"
			}
			exp := time.Now().Add(ttl)
			tok, err := keys.Sign(signer, auth.Claims{Identity: id, Name: name, Expires: exp,
				Grant: auth.Grant{Room: room, Join: true, Publish: true, Subscribe: true}})
			return tok, id, exp, err
		}}
	return b, nil
}

// eventsAuth admits an event stream with a join token for the room
// (?access_token= or a bearer header), an API key, or from loopback when
// the API has no keys.
func (b *browserEdge) eventsAuth(apiKeys []string) func(r *http.Request, room string) error {
	return func(r *http.Request, room string) error {
		tok := r.URL.Query().Get("access_token")
		if tok == "" {
			tok = webrtc.BearerToken(r)
		}
		if tok != "" {
			if slices.Contains(apiKeys, tok) {
				return nil
			}
			c, err := b.keys.Verify(tok, time.Now())
			if err != nil {
				return err
			}
			if c.Grant.Room != room {
				return errors.New("the token is for another room")
			}
			return nil
		}
		if len(apiKeys) == 0 && isLoopback(r) {
			return nil
		}
		return errors.New("a token is required (?access_token=)")
	}
}

func isLoopback(r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
