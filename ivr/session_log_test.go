package ivr

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Conference numbers, PINs and digits must never reach a log line, at any
// level, whatever the caller types.
func TestSessionNeverLogsDigits(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // timestamps are full of digits
			}
			return a
		},
	}))
	part, mod := mustHash(t, "482916"), mustHash(t, "739105")
	dir := testDir{
		"73519": {ID: "board", ParticipantPINHash: part, ModeratorPINHash: mod},
		"86420": {ID: "broken", ParticipantPINHash: "pbkdf2-sha256$x$y$z"},
	}
	secrets := []string{"73519", "86420", "482916", "739105", "31337", "99881", "55555", "60606", "5551234", part, mod}
	flows := [][]string{
		{"31337#", "73519#", "99881#", "55555#", "482916#", "*6", "*#", "*0", "*1"},
		{"73519#", "739105#", "*1", "*6"},
		{"73519#", "739105#", "*2", "5551234#", "*2", "60606*"},
		{"99881#", "31337#", "60606#"},
		{"86420#", "482916#", "60606#", "55555#"},
		{"73519#", "99881#", "31337#", "60606#"},
	}
	for _, flow := range flows {
		hs := newHarness(t, Config{Directory: dir, Logger: log})
		hs.h.participants = 3
		hs.idle()
		for _, keys := range flow {
			hs.keys(keys)
			hs.idle()
		}
		hs.wait(2 * time.Second)
	}
	out := buf.String()
	if !strings.Contains(out, "pin rejected") || !strings.Contains(out, "joined") || !strings.Contains(out, "malformed") {
		t.Fatalf("the flows did not log what they should; log:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q:\n%s", s, out)
		}
	}
	// Nor any run of three or more keys, in any form.
	if m := regexp.MustCompile(`[0-9*#]{3,}`).FindString(out); m != "" {
		t.Errorf("log contains the key run %q:\n%s", m, out)
	}
	t.Logf("%d log lines, none with a digit run", strings.Count(out, "\n"))
	if testing.Verbose() {
		t.Log(out)
	}
}
