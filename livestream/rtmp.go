package livestream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/setbridge/setbridge/media"
)

// RTMP needs AAC in FLV, which setbridge does not encode: each RTMP stream
// runs a child ffmpeg reading the room's s16le PCM (converted once per
// tick for all RTMP streams of the room) on its stdin. ffmpeg connects to
// the server before it reads audio and prints "Output #0" once the FLV
// header is written: that line marks the stream live. When ffmpeg exits
// the connection is lost and the stream reconnects with a new ffmpeg.

const (
	// rtmpStopGrace is how long ffmpeg gets to finish after its stdin is
	// closed before it is killed.
	rtmpStopGrace = 2 * time.Second
	// rtmpLogBurst lines of ffmpeg's stderr are logged at Debug per
	// rtmpLogWindow; the rest are counted.
	rtmpLogBurst  = 20
	rtmpLogWindow = 10 * time.Second
)

// rtmpPusher pushes the room's PCM through a child ffmpeg.
type rtmpPusher struct {
	cfg *Config
	u   *url.URL
}

func (p *rtmpPusher) wantsPCM() bool { return true }
func (p *rtmpPusher) slotSize() int  { return 2 * media.FrameSamples(p.cfg.Rate) }

// args returns ffmpeg's arguments.
func (p *rtmpPusher) args() []string {
	return []string{
		"-hide_banner", "-nostats", "-loglevel", "info",
		"-f", "s16le", "-ar", strconv.Itoa(p.cfg.Rate), "-ac", "1", "-i", "pipe:0",
		"-c:a", "aac", "-b:a", p.cfg.AACBitrate,
		"-f", "flv", "-flvflags", "no_duration_filesize",
		p.u.String(),
	}
}

// stderrLog forwards ffmpeg's stderr to the debug log, rate-limited, and
// remembers the last lines for the error when ffmpeg exits.
type stderrLog struct {
	cfg     *Config
	log     func(msg string, args ...any)
	window  time.Time
	inWin   int
	skipped int
	last    []string
}

func (l *stderrLog) line(s string) {
	if s = strings.TrimSpace(s); s == "" {
		return
	}
	if len(l.last) == 3 {
		l.last = append(l.last[:0], l.last[1:]...)
	}
	l.last = append(l.last, s)
	now := l.cfg.Clock.Now()
	if now.Sub(l.window) >= rtmpLogWindow {
		if l.skipped > 0 {
			l.log("ffmpeg stderr lines not logged", "count", l.skipped)
		}
		l.window, l.inWin, l.skipped = now, 0, 0
	}
	if l.inWin < rtmpLogBurst {
		l.inWin++
		l.log("ffmpeg", "line", s)
		return
	}
	l.skipped++
}

func (p *rtmpPusher) push(ctx context.Context, r *frameRing, live func(), sent *atomic.Uint64) error {
	cmd := exec.Command(p.cfg.FFmpeg, p.args()...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("ffmpeg stdin: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("ffmpeg stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	logger := p.cfg.Logger.With("pid", cmd.Process.Pid)
	logger.Debug("ffmpeg started", "args", strings.Join(p.args()[:len(p.args())-1], " "))

	var (
		wg       sync.WaitGroup
		exited   = make(chan struct{})
		liveCh   = make(chan struct{})
		waitErr  error
		lastLine string
	)
	// Reader: stderr until ffmpeg closes it, then reap the process.
	wg.Go(func() {
		defer close(exited)
		sl := &stderrLog{cfg: p.cfg, log: logger.Debug}
		seen := false
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 4096), 64*1024)
		for sc.Scan() {
			line := sc.Text()
			sl.line(line)
			if !seen && strings.HasPrefix(line, "Output #0") {
				seen = true
				close(liveCh)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		waitErr = cmd.Wait()
		lastLine = strings.Join(sl.last, " | ")
	})
	// Stopper: on stop close stdin, so that ffmpeg ends the FLV stream,
	// and kill it if it is still there after a grace period.
	stopped := make(chan struct{})
	wg.Go(func() {
		select {
		case <-exited:
			return
		case <-stopped:
		case <-ctx.Done():
		}
		stdin.Close()
		kill := make(chan struct{})
		t := p.cfg.Clock.AfterFunc(rtmpStopGrace, func() { close(kill) })
		defer t.Stop()
		select {
		case <-exited:
		case <-kill:
			_ = cmd.Process.Kill()
		}
	})
	var once sync.Once
	stop := func() { once.Do(func() { close(stopped) }) }
	defer wg.Wait()
	defer stop()

	notLive := make(chan struct{})
	connectTimer := p.cfg.Clock.AfterFunc(p.cfg.ConnectTimeout, func() { close(notLive) })
	defer connectTimer.Stop()
	exitErr := func() error {
		<-exited
		msg := "ffmpeg exited"
		if waitErr != nil {
			msg = fmt.Sprintf("ffmpeg exited: %v", waitErr)
		}
		if lastLine != "" {
			msg += ": " + lastLine
		}
		return errors.New(msg)
	}

	buf := make([]byte, p.slotSize())
	isLive := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-exited:
			return exitErr()
		case <-liveCh:
			liveCh = nil
			isLive = true
			connectTimer.Stop()
			live()
		case <-notLive:
			if !isLive {
				stop()
				<-exited
				return fmt.Errorf("%w after %v", ErrNotLive, p.cfg.ConnectTimeout)
			}
		case <-r.ready:
			for {
				n, ok := r.pop(buf)
				if !ok {
					break
				}
				// A write blocks when ffmpeg falls behind; the ring
				// takes the slack and drops. Stop unblocks it by
				// closing stdin.
				w, err := stdin.Write(buf[:n])
				sent.Add(uint64(w))
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return exitErr()
				}
			}
		}
	}
}
