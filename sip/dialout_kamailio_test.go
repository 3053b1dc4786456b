//go:build linux

package sip

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/setbridge/setbridge/internal/peers"
)

// Integration test of dial-out through a real kamailio (Debian package
// "kamailio") acting as an authenticating outbound proxy: it challenges
// every INVITE without valid credentials with 407 Proxy-Authenticate and
// relays authorised ones to the Request-URI, here a sipp UAS. It reuses
// the start-up of register_kamailio_test.go with the configuration below.

// kamailioProxyCfg is the proxy's configuration; %s is the password
// (realm "setbridge.test", user "setbridge"). No database: the password is
// a plain string checked by pv_proxy_authenticate. Like kamailio's stock
// route(AUTH) it re-challenges wrong credentials rather than answering
// 403. Every INVITE it sees is logged as a "proxy-test INVITE" line.
const kamailioProxyCfg = `#!KAMAILIO
debug=2
log_stderror=yes
log_facility=LOG_LOCAL0
fork=yes
children=2
disable_tcp=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
server_header="Server: setbridge-test-proxy"

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"

modparam("auth", "nonce_expire", 60)

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}

	# Readiness probe of tryStartKamailio.
	if (is_method("OPTIONS") && $rU == $null) {
		sl_send_reply("200", "Ready");
		exit;
	}

	# Within a dialog: follow the route set of our Record-Route.
	if (has_totag()) {
		if (loose_route()) {
			xlog("L_NOTICE", "proxy-test in-dialog $rm to $ru\n");
			t_relay();
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) {
				t_relay();
			}
			exit;
		}
		sl_send_reply("404", "Not Here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	if (is_method("ACK")) {
		# The ACK of a relayed non-2xx is absorbed by tm; the ACK of our own
		# 407 by sl.
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	if (!is_method("INVITE")) {
		sl_send_reply("405", "Method Not Allowed");
		exit;
	}

	pv_proxy_authenticate("setbridge.test", "%s", "0");
	$var(rc) = $rc;
	xlog("L_NOTICE", "proxy-test INVITE ruri=$ru cseq=$cs user=[$au] rc=$var(rc) route=[$hdr(Route)]\n");
	if ($var(rc) < 0) {
		# -5: no credentials; -2: wrong password; -4: stale nonce
		proxy_challenge("setbridge.test", "0");
		exit;
	}
	if ($au != "setbridge") {
		sl_send_reply("403", "Forbidden");
		exit;
	}
	consume_credentials();
	# Our own preloaded Route (the trunk's outbound proxy) is used up; the
	# dialog's ACK and BYE come back through us.
	remove_hf("Route");
	record_route();
	if (!t_relay()) {
		sl_reply_error();
	}
}
`

// startKamailioProxy starts kamailio as an authenticating outbound proxy
// whose password is password, on a free loopback UDP port.
func startKamailioProxy(t *testing.T, password string) *kamailioRegistrar {
	t.Helper()
	if _, err := exec.LookPath("kamailio"); err != nil && os.Getenv("SETBRIDGE_REQUIRE_ROBOTS") == "1" {
		if _, err := os.Stat("/usr/sbin/kamailio"); err != nil {
			t.Fatal("kamailio not installed (SETBRIDGE_REQUIRE_ROBOTS=1): apt-get install -y kamailio")
		}
	}
	bin := kamailioBinary(t) // skips when missing
	cfg := filepath.Join(t.TempDir(), "proxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(kamailioProxyCfg, password)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A client of its own for the readiness probe.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("setbridge-test-probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for try := 0; try < 3; try++ { // the free port can be taken before kamailio binds it
		k, err := tryStartKamailio(t, bin, cfg, regFreeUDPPort(t), client)
		if err == nil {
			return k
		}
		lastErr = err
	}
	t.Fatalf("kamailio did not start: %v", lastErr)
	return nil
}

// uasRecordRoute is sipp's built-in "uas" scenario, except that its 180
// and 200 carry the proxy's Record-Route (the built-in one drops it, so
// the dialog would bypass the proxy and, sipp answering every message of
// a UDP call to the address the INVITE came from, the 200 to our BYE
// would go to kamailio, which drops it) and that it does not linger 4 s
// after the BYE.
const uasRecordRoute = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas behind a record-routing proxy">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv request="ACK" rtd="true" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
</scenario>
`

var proxyInviteRE = regexp.MustCompile(`proxy-test INVITE ruri=(\S+) cseq=(\d+) user=\[([^\]]*)\] rc=(-?\d+) route=\[([^\]]*)\]`)

// proxyInvite is one INVITE as kamailio logged it.
type proxyInvite struct {
	ruri, cseq, user, rc, route string
}

// invites returns the INVITEs kamailio has seen, in order.
func (k *kamailioRegistrar) invites() []proxyInvite {
	var out []proxyInvite
	for _, m := range proxyInviteRE.FindAllStringSubmatch(k.log.String(), -1) {
		out = append(out, proxyInvite{ruri: m[1], cseq: m[2], user: m[3], rc: m[4], route: m[5]})
	}
	return out
}

// waitInvites waits until kamailio has logged at least n INVITEs, then a
// little longer so a further (unwanted) one would show up too.
func (k *kamailioRegistrar) waitInvites(t *testing.T, n int) []proxyInvite {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(k.invites()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return k.invites()
}

func TestDialKamailioProxyAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kamailio")
	}

	t.Run("the proxy's 407 is answered once and the call reaches the callee", func(t *testing.T) {
		k := startKamailioProxy(t, "s3cret")
		room := newTestRoom(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sp, err := peers.StartSipp(ctx, peers.SippOptions{T: t, ScenarioXML: []byte(uasRecordRoute), Calls: 1, Timeout: 15 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr, Proxy: k.addr,
			Username: "setbridge", Password: "s3cret", Realm: "setbridge.test"})
		ev := newDialEvents()
		o, err := s.Dial(ctx, DialRequest{Room: "r1", Trunk: "carrier", Number: "1000", DisplayName: "Bob"}, ev.on)
		if err != nil {
			t.Fatal(err)
		}
		if e := ev.wait(t, DialAnswered, 10*time.Second); e.Code != 200 || e.CallID != o.ID() {
			t.Fatalf("answered event %+v", e)
		}
		if got := room.events(); got != "join 1000" {
			t.Fatalf("room log %q, want the callee joined", got)
		}

		invs := k.waitInvites(t, 2)
		if len(invs) != 2 {
			t.Fatalf("kamailio saw %d INVITEs, want 2 (challenged, then authorised): %+v", len(invs), invs)
		}
		wantRURI := "sip:1000@" + sp.Addr
		wantRoute := "<sip:" + k.addr + ";lr>"
		for i, inv := range invs {
			if inv.ruri != wantRURI {
				t.Errorf("INVITE %d: Request-URI %s, want %s (the trunk's host, not the proxy)", i+1, inv.ruri, wantRURI)
			}
			if inv.route != wantRoute {
				t.Errorf("INVITE %d: Route %q, want %q (the outbound proxy, loose routing)", i+1, inv.route, wantRoute)
			}
		}
		if invs[0].rc != "-5" || (invs[0].user != "" && invs[0].user != "<null>") {
			t.Errorf("first INVITE: auth rc %s user %q, want -5 (no credentials)", invs[0].rc, invs[0].user)
		}
		if invs[1].rc != "1" || invs[1].user != "setbridge" {
			t.Errorf("second INVITE: auth rc %s user %q, want 1 (authorised as setbridge)", invs[1].rc, invs[1].user)
		}
		if invs[0].cseq == invs[1].cseq {
			t.Errorf("the authenticated retry reuses CSeq %s", invs[0].cseq)
		}

		start := time.Now()
		o.Hangup()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("hanging up took %v: the BYE was not answered through the proxy", d)
		}
		ev.wait(t, DialEnded, 5*time.Second)
		// The ACK and the BYE followed the proxy's Record-Route.
		if got := strings.Count(k.log.String(), "proxy-test in-dialog ACK to sip:"+sp.Addr); got != 1 {
			t.Errorf("kamailio relayed %d ACKs to the callee's Contact, want 1", got)
		}
		if got := strings.Count(k.log.String(), "proxy-test in-dialog BYE to sip:"+sp.Addr); got != 1 {
			t.Errorf("kamailio relayed %d BYEs (retransmissions included) to the callee's Contact, want 1", got)
		}
		if got := ev.states(); got != "trying,ringing,answered,ended" {
			t.Errorf("events %s", got)
		}
		if got := room.events(); got != "join 1000,leave 1000" {
			t.Errorf("room log %q", got)
		}
		checkSipp(t, sp) // the relayed INVITE was answered, ACKed and ended with BYE
	})

	t.Run("a wrong password is rejected with 407 after exactly one authenticated retry", func(t *testing.T) {
		k := startKamailioProxy(t, "s3cret")
		room := newTestRoom(t)
		sp := startUAS(t, "uas", nil)
		s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr, Proxy: k.addr,
			Username: "setbridge", Password: "wrong", Realm: "setbridge.test"})
		ev := newDialEvents()
		if _, err := s.Dial(context.Background(), DialRequest{Room: "r1", Trunk: "carrier", Number: "1000"}, ev.on); err != nil {
			t.Fatal(err)
		}
		e := ev.wait(t, DialRejected, 10*time.Second)
		if e.Code != 407 {
			t.Errorf("rejected event %+v, want code 407", e)
		}
		if got := ev.states(); got != "trying,rejected" {
			t.Errorf("events %s", got)
		}
		invs := k.waitInvites(t, 2)
		var rcs []string
		for _, inv := range invs {
			rcs = append(rcs, inv.rc)
		}
		if got := strings.Join(rcs, ","); got != "-5,-2" {
			t.Errorf("kamailio saw INVITEs with auth results %s, want -5,-2 (no credentials, then one wrong digest, no further retry)", got)
		}
		if room.events() != "" {
			t.Errorf("room log %q", room.events())
		}
		if res, _ := sp.Stop(); res.IncomingCalls != 0 {
			t.Errorf("sipp received %d calls past the proxy", res.IncomingCalls)
		}
	})
}
