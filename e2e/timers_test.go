package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/peers"
)

func waitByeScenario(t *testing.T, extraHeaders, expectIn200 string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/uac_wait_bye.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "EXTRA_HEADERS", extraHeaders, 1)
	return []byte(strings.Replace(s, "EXPECT_IN_200", expectIn200, 1))
}

// TestServerHangsUp: the server ends calls whose peer went quiet: no RTP
// and no signalling within rtp_timeout, or no session refresh before the
// RFC 4028 interval runs out.
func TestServerHangsUp(t *testing.T) {
	tests := []struct {
		name        string
		config      string
		headers     string
		expect      string
		metric      string
		minDuration time.Duration
	}{
		{
			name:   "a call with no RTP is hung up after rtp_timeout",
			config: "sip:\n  rtp_timeout: 2s\n", headers: "Subject: no rtp", expect: "SIP/2.0 200",
			metric: "setbridge_sip_rtp_timeouts_total", minDuration: 2 * time.Second,
		},
		{
			name:    "a session that is not refreshed is hung up",
			config:  "sip:\n  rtp_timeout: -1s\n  min_se: 3s\n",
			headers: "Session-Expires: 3;refresher=uac", expect: "Session-Expires: *3;refresher=uac",
			metric: "setbridge_sip_session_expired_total", minDuration: 2 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.config)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			res, err := peers.RunSipp(ctx, peers.SippOptions{T: t, ScenarioXML: waitByeScenario(t, tt.headers, tt.expect),
				Target: s.SIPUDP, Service: "1000", Calls: 1, Timeout: 25 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Check(1); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < tt.minDuration {
				t.Fatalf("hung up after %v, before the %v allowed", d, tt.minDuration)
			}
			if v := s.metric(tt.metric); v != 1 {
				t.Fatalf("%s = %v, want 1", tt.metric, v)
			}
		})
	}
	t.Run("a session interval below min_se is refused with 422", func(t *testing.T) {
		s := startServer(t, "")
		msg := strings.Replace(invite(s.SIPUDP, "se1", "1000", "", 1), "Content-Type:", "Supported: timer\r\nSession-Expires: 30\r\nContent-Type:", 1)
		st, hdrs := exchange(t, s.SIPUDP, msg)
		if st != "SIP/2.0 422 Session Interval Too Small" || header(hdrs, "Min-SE") != "90" {
			t.Fatalf("got %q with Min-SE %q", st, header(hdrs, "Min-SE"))
		}
	})
}
