package peers

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func requireProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// startEchoUAS starts the uas_echo scenario with RTP echo on free ports.
func startEchoUAS(t *testing.T, ctx context.Context) *Sipp {
	t.Helper()
	uas, err := StartSipp(ctx, SippOptions{T: t, Scenario: "uas_echo", RTPEcho: true, AutoAnswer: true})
	if err != nil {
		t.Fatal(err)
	}
	return uas
}

// TestSippScenarios runs every UAC scenario of scenarios/ against the
// uas_echo scenario and requires one successful call on both sides.
func TestSippScenarios(t *testing.T) {
	requireProgram(t, "sipp")
	dtmf, err := DTMFScenario("159#", 250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts SippOptions
	}{
		{"uac_pcma_tone", SippOptions{Scenario: "uac_pcma_tone"}},
		{"uac_dtmf", SippOptions{Scenario: "uac_dtmf"}},
		{"uac_nosdp", SippOptions{Scenario: "uac_nosdp"}},
		{"uac_hold", SippOptions{Scenario: "uac_hold"}},
		{"generated_dtmf", SippOptions{ScenarioXML: dtmf}},
		{"builtin_uac_tcp", SippOptions{Scenario: "uac", Transport: "t1", Calls: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, 25*time.Second)
			uasOpts := SippOptions{T: t, Scenario: "uas_echo", RTPEcho: true, AutoAnswer: true, Transport: tc.opts.Transport}
			uas, err := StartSipp(ctx, uasOpts)
			if err != nil {
				t.Fatal(err)
			}
			calls := max(tc.opts.Calls, 1)
			o := tc.opts
			o.T, o.Target, o.Service, o.Calls, o.Timeout = t, uas.Addr, "1000", calls, 20*time.Second
			res, err := RunSipp(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Check(calls); err != nil {
				t.Error("UAC:", err)
			}
			if res.OutgoingCalls != calls {
				t.Errorf("UAC outgoing calls %d, want %d", res.OutgoingCalls, calls)
			}
			ures, err := uas.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if err := ures.Check(calls); err != nil {
				t.Error("UAS:", err)
			}
			if ures.IncomingCalls != calls {
				t.Errorf("UAS incoming calls %d, want %d", ures.IncomingCalls, calls)
			}
			// The service number reached the far end.
			if !strings.Contains(ures.Messages, "INVITE sip:1000@") {
				t.Error("UAS message log has no INVITE for sip:1000@")
			}
		})
	}
}

// TestSippChecksFail shows the scenarios' checks failing when the far end
// misbehaves: sipp's built-in uas answers PCMU only (uac_pcma_tone requires
// PCMA) and does not expect re-INVITEs (uac_hold).
func TestSippChecksFail(t *testing.T) {
	requireProgram(t, "sipp")
	for _, tc := range []struct {
		scenario string
		timeout  time.Duration
		check    func(r SippResult) bool
	}{
		// The failed check is counted when the call ends (after the pcap).
		{"uac_pcma_tone", 15 * time.Second, func(r SippResult) bool { return r.FailedRegexpDoesntMatch == 1 }},
		// The built-in uas aborts the call on the re-INVITE without
		// answering it, so the UAC is still waiting when Timeout ends it.
		{"uac_hold", 4 * time.Second, func(r SippResult) bool { return r.TimedOut && r.CurrentCalls == 1 }},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, 25*time.Second)
			uas, err := StartSipp(ctx, SippOptions{T: t, Scenario: "uas"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := RunSipp(ctx, SippOptions{T: t, Scenario: tc.scenario, Target: uas.Addr, Service: "1000", Calls: 1, Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			if res.Check(1) == nil || res.SuccessfulCalls != 0 || !tc.check(res) {
				t.Errorf("want a failed call: %d ok, %d failed, stats failures: %s", res.SuccessfulCalls, res.FailedCalls, res.failureSummary())
			}
			if res.ExitCode == 0 {
				t.Errorf("exit code 0 for a failed call")
			}
		})
	}
}

func TestSippNoPeer(t *testing.T) {
	requireProgram(t, "sipp")
	ctx := testContext(t, 20*time.Second)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: the INVITE is retransmitted until the timeout.
	res, err := RunSipp(ctx, SippOptions{T: t, Scenario: "uac", Target: "127.0.0.1:" + strconv.Itoa(port), Calls: 1, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Check(1) == nil || !res.TimedOut || res.CurrentCalls != 1 {
		t.Fatalf("call to nowhere: %+v", res)
	}
}

func TestParseSippStats(t *testing.T) {
	csv := "StartTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(C);CurrentCall;ResponseTime1(C);FailedRegexpDoesntMatch(C);\n" +
		"x;0;0;0;0;00:00:00:000000;0;\n" +
		"y;2;5;1;0;00:00:01:250000;1;\n"
	m, err := parseSippStats(csv)
	if err != nil {
		t.Fatal(err)
	}
	var r SippResult
	r.fill(m)
	if r.SuccessfulCalls != 5 || r.FailedCalls != 1 || r.FailedRegexpDoesntMatch != 1 || r.ResponseTime != 1250*time.Millisecond {
		t.Errorf("parsed %+v", r)
	}
	if err := r.Check(5); err == nil || !strings.Contains(err.Error(), "FailedRegexpDoesntMatch=1") {
		t.Errorf("Check: %v", err)
	}
	if _, err := parseSippStats("Header;\n"); err == nil {
		t.Error("header-only stats accepted")
	}
}

func TestDTMFScenarioRejectsBadDigit(t *testing.T) {
	if _, err := DTMFScenario("12x", 0); err == nil {
		t.Error("digit x accepted")
	}
	x, err := DTMFScenario("*0", 0)
	if err != nil {
		t.Fatal(err)
	}
	s := string(x)
	if !strings.Contains(s, "dtmf_2833_star.pcap") || !strings.Contains(s, "dtmf_2833_0.pcap") || strings.Contains(s, "dtmf_2833_1.pcap") {
		t.Errorf("generated scenario has the wrong pcaps:\n%s", s)
	}
}

func TestScenarioNames(t *testing.T) {
	want := []string{"uac_dtmf", "uac_hold", "uac_nosdp", "uac_pcma_tone", "uas_echo"}
	if got := strings.Join(ScenarioNames(), ","); got != strings.Join(want, ",") {
		t.Errorf("ScenarioNames = %s", got)
	}
}
