package peers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
)

// How the baresip driver works (baresip-core 1.0.0 as packaged by Debian
// 12; modules in /usr/lib/baresip/modules):
//
//   - Config dir per instance (config, accounts, contacts) loading only:
//     stdio (key presses from stdin), the codec modules asked for (g711,
//     g722, opus, ...), aufile (WAV file as microphone), aubridge (a
//     do-nothing audio player: no sound device modules at all), sndfile
//     (recording), account, contact, menu (the commands) and ctrl_tcp
//     (control socket).
//   - In 1.0.0 aufile is only an audio source; far-end audio is recorded by
//     the sndfile audio filter, which writes dump-<time>-dec.wav (decoded
//     far end) and dump-<time>-enc.wav (what is sent) into snd_path; they
//     are finalised when the call closes.
//   - Control and call state go through ctrl_tcp: JSON netstrings, commands
//     {"command","params","token"} and events such as CALL_RINGING,
//     CALL_ESTABLISHED, CALL_RTPESTAB, CALL_DTMF_START, CALL_CLOSED.
//     DTMF has no long command in 1.0.0, so digits are typed on stdin.
//   - "baresip is ready." on stdout plus the SIP and ctrl sockets being
//     bound (seen in /proc) is the ready signal.
//   - SIP (UDP, TCP, and TLS on port+1) and ctrl_tcp bind to LocalIP; RTP
//     sockets are bound to 0.0.0.0 by baresip 1.0 whatever the config says
//     (SDP announces LocalIP), and its DNS client holds wildcard UDP sockets.

// BaresipModuleDir is where Debian's baresip-core installs its modules.
const BaresipModuleDir = "/usr/lib/baresip/modules"

// BaresipOptions configures one baresip user agent.
type BaresipOptions struct {
	// T, if set, ties baresip to a test: temp dir from t.TempDir, Stop in
	// t.Cleanup, output and events logged with t.Logf if the test failed.
	T testing.TB

	// Dial is the SIP URI called once baresip is ready, e.g.
	// "sip:1000@127.0.0.1:5060". Empty: no call is placed (see AutoAnswer,
	// or call Dial later).
	Dial string
	// PlayWAV is the 16-bit PCM WAV file the microphone plays (aufile
	// module; any rate and channel count, baresip resamples to the codec).
	// The driver plays a copy padded with silence so the call is not ended
	// by the file's end (baresip 1.0 hangs up when aufile reaches EOF),
	// unless HangupAtEOF. Empty: silence.
	PlayWAV string
	// HangupAtEOF keeps baresip's own behaviour: the call ends (CALL_CLOSED
	// "end of file") when PlayWAV has been played.
	HangupAtEOF bool
	// RecordWAV receives what baresip hears: the decoded far-end audio,
	// dumped by the sndfile module and moved here when the call ends (Stop
	// or Wait). 16-bit WAV at the codec's rate and channel count (8000 Hz
	// mono for PCMU/PCMA, 16000 for G722, 48000 stereo for opus). Only
	// frames that arrived are written: lost packets shorten it, they do not
	// leave silence.
	RecordWAV string
	// RecordSentWAV receives what baresip sent (the encoder input, same
	// format rules).
	RecordSentWAV string

	// SIPPort is the local SIP port (UDP and TCP); 0 picks a free one.
	SIPPort int
	// LocalIP is the only address bound; default 127.0.0.1.
	LocalIP string
	// Codecs in order of preference, by SDP name: PCMU, PCMA, G722, opus,
	// L16, G726-32, GSM, ... Default PCMU, PCMA. telephone-event is always
	// offered.
	Codecs []string
	// User is the account's user part (default "setbridge-test"). Incoming
	// calls must be addressed to it (baresip answers 404 to other users):
	// dial Baresip.URI.
	User string
	// AutoAnswer answers incoming calls at once.
	AutoAnswer bool
	// DTMF digits are sent (RFC 4733) once the call is established, one
	// every DTMFGap (default 400 ms; each key lasts 250 ms in baresip).
	DTMF    string
	DTMFGap time.Duration
	// Duration, if set, hangs the call up that long after it is
	// established; Wait then returns.
	Duration time.Duration
	// ExtraConfig lines are appended to baresip's config file.
	ExtraConfig []string
}

// BaresipEvent is one ctrl_tcp event, e.g. Type "CALL_ESTABLISHED".
type BaresipEvent struct {
	Type      string `json:"type"`
	Class     string `json:"class"`
	AOR       string `json:"accountaor"`
	Direction string `json:"direction"`
	PeerURI   string `json:"peeruri"`
	ID        string `json:"id"`
	Param     string `json:"param"`
	At        time.Time
}

// Baresip is a running baresip.
type Baresip struct {
	// Addr is baresip's SIP address ("127.0.0.1:port"); URI is the address
	// to call it at, "sip:<User>@<Addr>".
	Addr    string
	URI     string
	SIPPort int
	Dir     string

	opts     BaresipOptions
	p        *proc
	stdin    *os.File // write end of baresip's stdin (key presses)
	ctrl     net.Conn
	ctrlPort int
	args     []string
	cleanDir func()

	mu        sync.Mutex
	events    []BaresipEvent
	notify    chan struct{} // closed and replaced on every event
	responses chan ctrlResponse
	ready     chan struct{} // "baresip is ready." seen
	readyOnce sync.Once

	stopOnce sync.Once
	stopErr  error
	cmdMu    sync.Mutex
}

type ctrlResponse struct {
	OK    bool   `json:"ok"`
	Data  string `json:"data"`
	Token string `json:"token"`
}

// codecModules maps SDP codec names (lower case) to baresip modules.
var codecModules = map[string]string{
	"pcmu": "g711", "pcma": "g711", "g722": "g722", "opus": "opus",
	"l16": "l16", "gsm": "gsm", "amr": "amr", "codec2": "codec2",
	"g726-16": "g726", "g726-24": "g726", "g726-32": "g726", "g726-40": "g726",
	"mpa": "mpa",
}

// StartBaresip writes a config dir, starts baresip, waits until its SIP
// and control sockets are bound and it reports ready, and places the call
// if Dial is set. Use WaitEstablished / Wait / Stop on the result.
func StartBaresip(ctx context.Context, opts BaresipOptions) (*Baresip, error) {
	bin, err := exec.LookPath("baresip")
	if err != nil {
		return nil, fmt.Errorf("baresip not installed: %w", err)
	}
	if opts.LocalIP == "" {
		opts.LocalIP = LoopbackIP
	}
	if len(opts.Codecs) == 0 {
		opts.Codecs = []string{"PCMU", "PCMA"}
	}
	if opts.User == "" {
		opts.User = "setbridge-test"
	}
	if opts.DTMFGap <= 0 {
		opts.DTMFGap = 400 * time.Millisecond
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		b, retry, err := startBaresipOnce(ctx, bin, opts)
		if err == nil {
			return b, nil
		}
		lastErr = err
		if !retry || opts.SIPPort != 0 {
			break
		}
	}
	return nil, lastErr
}

func startBaresipOnce(ctx context.Context, bin string, opts BaresipOptions) (b *Baresip, retry bool, err error) {
	b = &Baresip{
		opts:      opts,
		notify:    make(chan struct{}),
		responses: make(chan ctrlResponse, 16),
		ready:     make(chan struct{}),
	}
	if b.SIPPort = opts.SIPPort; b.SIPPort == 0 {
		// baresip listens on the SIP port (UDP, TCP) and on port+1 (TLS).
		if b.SIPPort, err = freePorts(2, 1); err != nil {
			return nil, false, err
		}
	}
	if b.ctrlPort, err = FreePort(); err != nil {
		return nil, false, err
	}
	b.Addr = fmt.Sprintf("%s:%d", opts.LocalIP, b.SIPPort)
	b.URI = fmt.Sprintf("sip:%s@%s", opts.User, b.Addr)
	if b.Dir, b.cleanDir, err = workDir(opts.T, "baresip-"); err != nil {
		return nil, false, err
	}
	fail := func(e error) (*Baresip, bool, error) {
		if b.p != nil {
			b.p.kill()
		}
		if b.stdin != nil {
			b.stdin.Close()
		}
		if b.ctrl != nil {
			b.ctrl.Close()
		}
		if opts.T == nil {
			b.cleanDir()
		}
		return nil, retry, e
	}
	if err := b.writeConfig(); err != nil {
		return fail(err)
	}

	// stdin is a pipe we keep open: the stdio module reads key presses
	// from it (DTMF digits), and EOF would end its input.
	r, w, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	b.stdin = w
	b.args = []string{"-f", b.Dir}
	b.p, err = startProc(ctx, "baresip", b.Dir, r, b.onLine, bin, b.args...)
	r.Close()
	if err != nil {
		return fail(err)
	}
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	socks, err := waitBound(readyCtx, b.p, []sockAddr{
		{Proto: "udp", Port: b.SIPPort}, {Proto: "tcp", Port: b.SIPPort}, {Proto: "tcp", Port: b.ctrlPort},
	})
	if err != nil {
		retry = b.p.exited() // most likely a port taken between pick and bind
		return fail(fmt.Errorf("%w\n%s", err, tail(b.p.out.String(), 3000)))
	}
	// SIP and control sockets must be on loopback. UDP sockets on the
	// wildcard address are tolerated: baresip 1.0's DNS client holds some
	// from the start, and it binds RTP/RTCP to 0.0.0.0 whatever
	// net_interface says (it announces and uses LocalIP in SDP).
	if err := checkLoopbackOnly("baresip", withoutWildcardUDP(socks)); err != nil && opts.LocalIP == LoopbackIP {
		return fail(err)
	}
	select {
	case <-b.ready:
	case <-b.p.done:
		return fail(fmt.Errorf("baresip exited before ready\n%s", tail(b.p.out.String(), 3000)))
	case <-readyCtx.Done():
		return fail(fmt.Errorf("baresip not ready: %w\n%s", readyCtx.Err(), tail(b.p.out.String(), 3000)))
	}
	var d net.Dialer
	b.ctrl, err = d.DialContext(readyCtx, "tcp", fmt.Sprintf("%s:%d", opts.LocalIP, b.ctrlPort))
	if err != nil {
		return fail(fmt.Errorf("baresip ctrl_tcp: %w", err))
	}
	go b.readCtrl()
	go b.callDriver(ctx)
	if opts.T != nil {
		t := opts.T
		t.Cleanup(func() {
			if err := b.Stop(); err != nil {
				t.Logf("baresip stop: %v", err)
			}
			if t.Failed() {
				t.Logf("baresip %s (config in %s)\n%s", strings.Join(b.args, " "), b.Dir, b.report())
			}
		})
	}

	if opts.Dial != "" {
		if err := b.Dial(opts.Dial); err != nil {
			return fail(err)
		}
	}
	return b, false, nil
}

func (b *Baresip) writeConfig() error {
	o := b.opts
	src, rate, channels, err := b.prepareSource()
	if err != nil {
		return err
	}
	mods := map[string]bool{}
	var codecs []string
	for _, c := range o.Codecs {
		m, ok := codecModules[strings.ToLower(c)]
		if !ok {
			return fmt.Errorf("baresip: unknown codec %q", c)
		}
		if _, err := os.Stat(filepath.Join(BaresipModuleDir, m+".so")); err != nil {
			return fmt.Errorf("baresip: codec %s needs module %s.so: %w", c, m, err)
		}
		mods[m] = true
		codecs = append(codecs, c)
	}
	var cfg strings.Builder
	line := func(k, v string) { fmt.Fprintf(&cfg, "%-20s %s\n", k, v) }
	cfg.WriteString("# baresip config written by setbridge internal/peers\n")
	line("poll_method", "epoll")
	line("sip_listen", b.Addr)
	line("net_interface", o.LocalIP)
	line("audio_player", "aubridge,setbridge-null")
	line("audio_alert", "aubridge,setbridge-null")
	line("audio_source", "aufile,"+src)
	line("ausrc_srate", strconv.Itoa(rate))
	line("ausrc_channels", strconv.Itoa(channels))
	line("ctrl_tcp_listen", fmt.Sprintf("%s:%d", o.LocalIP, b.ctrlPort))
	line("module_path", BaresipModuleDir)
	line("module", "stdio.so")
	names := make([]string, 0, len(mods))
	for m := range mods {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, m := range names {
		line("module", m+".so")
	}
	line("module", "aufile.so")
	line("module", "aubridge.so")
	if o.RecordWAV != "" || o.RecordSentWAV != "" {
		if err := os.MkdirAll(b.recDir(), 0o755); err != nil {
			return err
		}
		line("module", "sndfile.so")
		line("snd_path", b.recDir())
	}
	line("module_app", "account.so")
	line("module_app", "contact.so")
	line("module_app", "menu.so")
	line("module_app", "ctrl_tcp.so")
	for _, l := range o.ExtraConfig {
		cfg.WriteString(l + "\n")
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "config"), []byte(cfg.String()), 0o644); err != nil {
		return err
	}

	acct := fmt.Sprintf("<%s>;regint=0;audio_codecs=%s", b.URI, strings.Join(codecs, ","))
	if o.AutoAnswer {
		acct += ";answermode=auto"
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "accounts"), []byte(acct+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.Dir, "contacts"), nil, 0o644)
}

func withoutWildcardUDP(socks []sockAddr) []sockAddr {
	var out []sockAddr
	for _, s := range socks {
		if s.Proto == "udp" && (s.IP == "0.0.0.0" || strings.Trim(s.IP, "0") == "") {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (b *Baresip) recDir() string { return filepath.Join(b.Dir, "rec") }

// prepareSource writes the WAV the aufile source plays: PlayWAV padded with
// silence (or silence alone), and returns its path, rate and channels.
func (b *Baresip) prepareSource() (string, int, int, error) {
	o := b.opts
	a := &audiotest.Audio{Rate: 8000, Channels: 1}
	if o.PlayWAV != "" {
		var err error
		if a, err = audiotest.ReadWAV(o.PlayWAV); err != nil {
			return "", 0, 0, fmt.Errorf("baresip PlayWAV: %w", err)
		}
		if o.HangupAtEOF {
			abs, err := filepath.Abs(o.PlayWAV)
			return abs, a.Rate, a.Channels, err
		}
	}
	// Pad so the file outlasts the call: Duration plus margin, or 2 minutes.
	want := 2 * time.Minute
	if o.Duration > 0 {
		want = o.Duration + 20*time.Second
	}
	if pad := audiotest.Samples(a.Rate, want) - a.Frames(); pad > 0 {
		a = &audiotest.Audio{Rate: a.Rate, Channels: a.Channels,
			Samples: append(append([]int16(nil), a.Samples...), make([]int16, pad*a.Channels)...)}
	}
	p := filepath.Join(b.Dir, "source.wav")
	return p, a.Rate, a.Channels, audiotest.WriteWAV(p, a)
}

// onLine watches baresip's output (split at \r and \n).
func (b *Baresip) onLine(l string) {
	if strings.Contains(l, "baresip is ready.") {
		b.readyOnce.Do(func() { close(b.ready) })
	}
}

// readCtrl reads ctrl_tcp netstrings: events and command responses.
func (b *Baresip) readCtrl() {
	rd := bufio.NewReader(b.ctrl)
	for {
		msg, err := readNetstring(rd)
		if err != nil {
			return
		}
		var head struct {
			Event    bool `json:"event"`
			Response bool `json:"response"`
		}
		if json.Unmarshal(msg, &head) != nil {
			continue
		}
		switch {
		case head.Event:
			var ev BaresipEvent
			if json.Unmarshal(msg, &ev) == nil {
				ev.At = time.Now()
				b.mu.Lock()
				b.events = append(b.events, ev)
				close(b.notify)
				b.notify = make(chan struct{})
				b.mu.Unlock()
			}
		case head.Response:
			var r ctrlResponse
			if json.Unmarshal(msg, &r) == nil {
				select {
				case b.responses <- r:
				default:
				}
			}
		}
	}
}

func readNetstring(rd *bufio.Reader) ([]byte, error) {
	lenStr, err := rd.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(lenStr, ":")))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("bad netstring length %q", lenStr)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(rd, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, errors.New("netstring without ','")
	}
	return buf[:n], nil
}

// Command sends a long command (as typed after '/', e.g. "dial sip:..",
// "hangup", "quit") through ctrl_tcp and returns its response text.
func (b *Baresip) Command(cmd, params string) (string, error) {
	b.cmdMu.Lock()
	defer b.cmdMu.Unlock()
	token := strconv.FormatInt(time.Now().UnixNano(), 36)
	msg, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": token})
	if _, err := fmt.Fprintf(b.ctrl, "%d:%s,", len(msg), msg); err != nil {
		return "", fmt.Errorf("baresip %s: %w", cmd, err)
	}
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case r := <-b.responses:
			if r.Token != token {
				continue
			}
			if !r.OK {
				return r.Data, fmt.Errorf("baresip %s %s: failed: %s", cmd, params, r.Data)
			}
			return r.Data, nil
		case <-b.p.done:
			return "", fmt.Errorf("baresip %s: baresip exited", cmd)
		case <-timer.C:
			return "", fmt.Errorf("baresip %s: no response", cmd)
		}
	}
}

// Dial places a call to uri.
func (b *Baresip) Dial(uri string) error {
	_, err := b.Command("dial", uri)
	return err
}

// Hangup ends the current call.
func (b *Baresip) Hangup() error {
	_, err := b.Command("hangup", "")
	return err
}

// SendDTMF sends digits (0-9 * # A-D) as RFC 4733 events on the current
// call, one key press every gap (at least 300 ms is sensible: baresip holds
// each key for 250 ms). It returns when the last key has been pressed.
func (b *Baresip) SendDTMF(ctx context.Context, digits string, gap time.Duration) error {
	for i, d := range digits {
		if !strings.ContainsRune("0123456789*#ABCD", d) {
			return fmt.Errorf("SendDTMF: %q is not a DTMF key", d)
		}
		if i > 0 {
			if err := sleepCtx(ctx, gap); err != nil {
				return err
			}
		}
		if _, err := b.stdin.Write([]byte{byte(d)}); err != nil {
			return fmt.Errorf("SendDTMF: %w", err)
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// callDriver sends DTMF and enforces Duration once the call is up.
func (b *Baresip) callDriver(ctx context.Context) {
	if b.opts.DTMF == "" && b.opts.Duration == 0 {
		return
	}
	ev, err := b.WaitEvent(ctx, 0, "CALL_ESTABLISHED")
	if err != nil {
		return
	}
	var done chan struct{}
	if b.opts.DTMF != "" {
		done = make(chan struct{})
		go func() {
			defer close(done)
			_ = b.SendDTMF(ctx, b.opts.DTMF, b.opts.DTMFGap)
		}()
	}
	if b.opts.Duration > 0 {
		t := time.NewTimer(time.Until(ev.At.Add(b.opts.Duration)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		case <-b.p.done:
			return
		}
		if done != nil {
			<-done
		}
		if !b.callClosed() {
			_ = b.Hangup()
		}
	}
}

// Events returns the ctrl_tcp events received so far.
func (b *Baresip) Events() []BaresipEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BaresipEvent(nil), b.events...)
}

// WaitEvent waits for the first event at index >= from whose Type is one of
// types, and returns it. Use from = len(Events()) to wait for a new one.
func (b *Baresip) WaitEvent(ctx context.Context, from int, types ...string) (BaresipEvent, error) {
	for {
		b.mu.Lock()
		for i := from; i < len(b.events); i++ {
			for _, t := range types {
				if b.events[i].Type == t {
					ev := b.events[i]
					b.mu.Unlock()
					return ev, nil
				}
			}
		}
		ch := b.notify
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return BaresipEvent{}, fmt.Errorf("waiting for baresip %v: %w", types, ctx.Err())
		case <-b.p.done:
			return BaresipEvent{}, fmt.Errorf("waiting for baresip %v: baresip exited", types)
		}
	}
}

// WaitEstablished waits until the call is established; it fails if the
// call closes first (with baresip's reason).
func (b *Baresip) WaitEstablished(ctx context.Context) error {
	ev, err := b.WaitEvent(ctx, 0, "CALL_ESTABLISHED", "CALL_CLOSED")
	if err != nil {
		return err
	}
	if ev.Type == "CALL_CLOSED" {
		return fmt.Errorf("baresip call closed before it was established: %s", ev.Param)
	}
	return nil
}

// WaitClosed waits until the call has closed and returns baresip's reason
// (e.g. "Connection reset by user" after the far end's BYE).
func (b *Baresip) WaitClosed(ctx context.Context) (string, error) {
	ev, err := b.WaitEvent(ctx, 0, "CALL_CLOSED")
	return ev.Param, err
}

func (b *Baresip) callClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.events {
		if e.Type == "CALL_CLOSED" {
			return true
		}
	}
	return false
}

// ReceivedDTMF returns the digits baresip received (CALL_DTMF_START).
func (b *Baresip) ReceivedDTMF() string {
	var s strings.Builder
	for _, e := range b.Events() {
		if e.Type == "CALL_DTMF_START" {
			s.WriteString(e.Param)
		}
	}
	return s.String()
}

// Wait waits for the call to end (Duration, the far end hanging up, or
// ctx), then stops baresip cleanly so the recordings are finalised. It
// fails if the call was never established.
func (b *Baresip) Wait(ctx context.Context) error {
	_, werr := b.WaitClosed(ctx)
	serr := b.Stop()
	if werr != nil {
		return werr
	}
	if serr != nil {
		return serr
	}
	for _, e := range b.Events() {
		if e.Type == "CALL_ESTABLISHED" {
			return nil
		}
	}
	ev, _ := b.WaitEvent(context.Background(), 0, "CALL_CLOSED")
	return fmt.Errorf("baresip call was never established: %s", ev.Param)
}

// Stop hangs up any call, quits baresip and waits for it to exit (killing
// it if it does not within a few seconds), then moves the recordings to
// RecordWAV / RecordSentWAV. Safe to call more than once.
func (b *Baresip) Stop() error {
	b.stopOnce.Do(func() { b.stopErr = b.stop() })
	return b.stopErr
}

func (b *Baresip) stop() error {
	if !b.p.exited() && b.ctrl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		for _, e := range b.Events() {
			if e.Type == "CALL_ESTABLISHED" || e.Type == "CALL_RINGING" || e.Type == "CALL_INCOMING" {
				if !b.callClosed() {
					if b.Hangup() == nil {
						_, _ = b.WaitClosed(ctx)
					}
				}
				break
			}
		}
		cancel()
		_, _ = b.Command("quit", "")
	}
	clean := b.p.waitFor(5 * time.Second)
	if !clean {
		b.p.stop(syscall.SIGTERM, 2*time.Second)
	}
	b.p.kill() // reaps; no-op if exited
	if b.ctrl != nil {
		b.ctrl.Close()
	}
	b.stdin.Close()
	var errs []error
	if !clean {
		errs = append(errs, errors.New("baresip did not quit; killed (recordings may be incomplete)"))
	}
	if b.opts.RecordWAV != "" {
		errs = append(errs, b.moveDump("dec", b.opts.RecordWAV))
	}
	if b.opts.RecordSentWAV != "" {
		errs = append(errs, b.moveDump("enc", b.opts.RecordSentWAV))
	}
	if b.opts.T == nil {
		// Keep nothing: the recordings have been moved out.
		b.cleanDir()
	}
	return errors.Join(errs...)
}

// moveDump moves the newest sndfile dump "dump-<time>-<kind>.wav" to dst.
func (b *Baresip) moveDump(kind, dst string) error {
	matches, _ := filepath.Glob(filepath.Join(b.recDir(), "dump-*-"+kind+".wav"))
	if len(matches) == 0 {
		return fmt.Errorf("baresip made no %s recording (was the call established?)", kind)
	}
	sort.Slice(matches, func(i, j int) bool {
		fi, _ := os.Stat(matches[i])
		fj, _ := os.Stat(matches[j])
		return fi.ModTime().Before(fj.ModTime())
	})
	src := matches[len(matches)-1]
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// Output is baresip's stdout and stderr so far.
func (b *Baresip) Output() string {
	// Drop the call status line that baresip redraws with \r many times a
	// second.
	var out []string
	for _, l := range strings.FieldsFunc(b.p.out.String(), func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.HasPrefix(l, "[") && strings.Contains(l, "] audio=") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func (b *Baresip) report() string {
	var s strings.Builder
	fmt.Fprintf(&s, "--- output ---\n%s\n--- events ---\n", tail(b.Output(), 6000))
	for _, e := range b.Events() {
		fmt.Fprintf(&s, "%s %s %s %s\n", e.At.Format("15:04:05.000"), e.Type, e.PeerURI, e.Param)
	}
	return s.String()
}
