package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/peers"
)

// TestDigitsArriveOnceEach: RFC 4733 from sipp's DTMF pcaps and SIP INFO
// both reach the server, each digit counted once.
func TestDigitsArriveOnceEach(t *testing.T) {
	tests := []struct {
		name       string
		scenario   string
		wantDigits float64
	}{
		{"RFC 4733 events from sipp's pcaps (1 2 3 4 #)", "uac_dtmf", 5},
		{"SIP INFO dtmf-relay and dtmf", "testdata/uac_info.xml", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			res, err := peers.RunSipp(ctx, peers.SippOptions{T: t, Scenario: tt.scenario, Target: s.SIPUDP, Service: "1000",
				Calls: 1, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Check(1); err != nil {
				t.Fatal(err)
			}
			if got := s.metric("setbridge_sip_dtmf_digits_total"); got != tt.wantDigits {
				t.Fatalf("server counted %v digits, want %v", got, tt.wantDigits)
			}
		})
	}
}
