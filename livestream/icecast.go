package livestream

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Icecast source protocol (Icecast 2.4 and later): an HTTP PUT of the
// mount with Basic auth and Content-Type audio/ogg, then the Ogg stream as
// the request body for as long as the source lives. The body has neither
// a Content-Length nor chunked framing (Icecast 2.4 reads it raw until the
// connection closes), which is why this is a small client on a TCP
// connection rather than net/http, which would chunk it. With "Expect:
// 100-continue" Icecast checks the credentials and the mount first and
// answers "100 Continue" followed at once by "200 OK", or an error status.

const (
	// icecastPagePackets is how many 20 ms Opus packets go in one Ogg
	// page: 100 ms, a balance between latency and 28+ bytes of page
	// header.
	icecastPagePackets = 5
	// icecastWriteTimeout bounds one write to the server (wall clock).
	icecastWriteTimeout = 10 * time.Second
	// icecastUser is the user name when the target has none.
	icecastUser = "source"
)

// icecastPusher pushes the room's shared Opus packets to an Icecast mount.
type icecastPusher struct {
	cfg   *Config
	u     *url.URL
	title string
}

func (p *icecastPusher) wantsPCM() bool { return false }
func (p *icecastPusher) slotSize() int  { return maxOpusPacket }

// request returns the request head.
func (p *icecastPusher) request() string {
	user, pass := icecastUser, ""
	if p.u.User != nil {
		if n := p.u.User.Username(); n != "" {
			user = n
		}
		pass, _ = p.u.User.Password()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "PUT %s HTTP/1.1\r\n", p.u.EscapedPath())
	fmt.Fprintf(&b, "Host: %s\r\n", p.u.Host)
	b.WriteString("User-Agent: setbridge-livestream\r\n")
	fmt.Fprintf(&b, "Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	b.WriteString("Content-Type: audio/ogg\r\n")
	b.WriteString("Ice-Public: 0\r\n")
	if p.title != "" {
		fmt.Fprintf(&b, "Ice-Name: %s\r\n", strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, p.title))
	}
	b.WriteString("Expect: 100-continue\r\n\r\n")
	return b.String()
}

// dial opens the TCP (or TLS, for https) connection.
func (p *icecastPusher) dial(ctx context.Context) (net.Conn, error) {
	host := p.u.Host
	if p.u.Port() == "" {
		if p.u.Scheme == "https" {
			host = net.JoinHostPort(p.u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(p.u.Hostname(), "80")
		}
	}
	d := &net.Dialer{Timeout: p.cfg.ConnectTimeout}
	if p.u.Scheme == "https" {
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: p.u.Hostname()}}
		return td.DialContext(ctx, "tcp", host)
	}
	return d.DialContext(ctx, "tcp", host)
}

// handshake sends the request head and reads Icecast's answer up to the
// point where the body may flow.
func (p *icecastPusher) handshake(conn net.Conn, br *bufio.Reader) error {
	_ = conn.SetDeadline(time.Now().Add(p.cfg.ConnectTimeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, p.request()); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusContinue:
		// "200 OK" follows; the reader goroutine takes it.
		return nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return fmt.Errorf("%w: %s %s", ErrRejected, resp.Status, strings.TrimSpace(firstLine(string(msg))))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// watch reads what Icecast sends after the handshake (the 200 OK, then
// nothing until it closes the connection) and returns why the connection
// ended.
func watch(br *bufio.Reader) error {
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return errors.New("server closed the connection")
			}
			return fmt.Errorf("connection: %w", err)
		}
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%w: %s", ErrRejected, resp.Status)
		}
		// Icecast's 200 has no length: its "body" is the rest of the
		// connection, which stays silent until the server closes it.
		_, err = io.Copy(io.Discard, resp.Body)
		if err == nil {
			return errors.New("server closed the connection")
		}
		return fmt.Errorf("connection: %w", err)
	}
}

func (p *icecastPusher) push(ctx context.Context, r *frameRing, live func(), sent *atomic.Uint64) error {
	conn, err := p.dial(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// Unblock a handshake or write in progress when the stream stops.
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopClose()
	defer conn.Close()
	br := bufio.NewReader(conn)
	if err := p.handshake(conn, br); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	// A reconnect is a new Ogg stream: new serial, headers again.
	var sb [4]byte
	_, _ = rand.Read(sb[:])
	mux := newOggOpusMuxer(binary.LittleEndian.Uint32(sb[:]), icecastPagePackets)
	write := func(page []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(icecastWriteTimeout))
		n, err := conn.Write(page)
		sent.Add(uint64(n))
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	}
	if err := mux.headers(p.cfg.Rate, p.title, write); err != nil {
		return err
	}
	live()

	lost := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { lost <- watch(br) })
	defer wg.Wait()
	defer conn.Close() // ends watch

	buf := make([]byte, maxOpusPacket)
	for {
		select {
		case <-ctx.Done():
			// The connection is closed already (a listener sees the
			// source end; no EOS page is needed for that).
			return nil
		case err := <-lost:
			return err
		case <-r.ready:
		}
		for {
			n, ok := r.pop(buf)
			if !ok {
				break
			}
			if page := mux.packet(buf[:n], opusGranuleRate/50); page != nil {
				if err := write(page); err != nil {
					return err
				}
			}
		}
	}
}
