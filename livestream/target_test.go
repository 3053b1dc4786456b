package livestream

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		giveKind  string
		wantKind  Kind
		wantShown string
		wantErr   string // substring; empty means no error
	}{
		{name: "an http url is icecast", give: "http://source:secret@127.0.0.1:8000/live.opus",
			wantKind: KindIcecast, wantShown: "http://source:xxxxx@127.0.0.1:8000/live.opus"},
		{name: "icecast scheme maps to http", give: "icecast://u:p@h/m", wantKind: KindIcecast, wantShown: "http://u:xxxxx@h/m"},
		{name: "icecasts maps to https", give: "icecasts://h:8443/m", wantKind: KindIcecast, wantShown: "https://h:8443/m"},
		{name: "rtmp", give: "rtmp://127.0.0.1/live/key", wantKind: KindRTMP, wantShown: "rtmp://127.0.0.1/live/key"},
		{name: "rtmps", give: "rtmps://a.example:443/app/k", wantKind: KindRTMP, wantShown: "rtmps://a.example:443/app/k"},
		{name: "whip+https", give: "whip+https://w.example/whip/endpoint", wantKind: KindWHIP, wantShown: "https://w.example/whip/endpoint"},
		{name: "whip bearer token is hidden", give: "whip+http://:tok@127.0.0.1:8080/whip/demo", wantKind: KindWHIP,
			wantShown: "http://:xxxxx@127.0.0.1:8080/whip/demo"},
		{name: "whip user name without token", give: "whip+https://tok@w.example/whip", wantErr: ":TOKEN"},
		{name: "https with kind whip", give: "https://w.example/whip", giveKind: "WHIP", wantKind: KindWHIP},
		{name: "explicit matching kind", give: "rtmp://h/a/b", giveKind: "rtmp", wantKind: KindRTMP},
		{name: "empty", give: " ", wantErr: "empty target"},
		{name: "unsupported scheme", give: "ftp://h/m", wantErr: `unsupported scheme "ftp"`},
		{name: "no scheme", give: "h/m", wantErr: "no host"},
		{name: "no host", give: "http:///m", wantErr: "no host"},
		{name: "icecast without mount", give: "http://u:p@h:8000/", wantErr: "no mount"},
		{name: "icecast with a query", give: "http://h/m?x=1", wantErr: "query"},
		{name: "rtmp without stream key", give: "rtmp://h/live", wantErr: "/application/stream_key"},
		{name: "rtmp with user info", give: "rtmp://u:p@h/a/b", wantErr: "user info"},
		{name: "kind against scheme", give: "rtmp://h/a/b", giveKind: "icecast", wantErr: "does not match"},
		{name: "unknown kind", give: "http://h/m", giveKind: "srt", wantErr: `unknown kind "srt"`},
		{name: "bad port", give: "http://h:99999/m", wantErr: "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTarget(tt.give, tt.giveKind)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrBadTarget) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrBadTarget containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.kind != tt.wantKind {
				t.Errorf("kind = %q, want %q", got.kind, tt.wantKind)
			}
			if tt.wantShown != "" && got.redacted() != tt.wantShown {
				t.Errorf("shown as %q, want %q", got.redacted(), tt.wantShown)
			}
		})
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"http://u:p@h:8000/m", "rtmp://h/a/b", "whip+https://h/w", "icecast://h/m", "%", "http://[::1]:80/x"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, raw, kind string) {
		tg, err := parseTarget(raw, kind)
		if err == nil && (tg.u == nil || tg.u.Host == "") {
			t.Fatalf("accepted %q without a host", raw)
		}
	})
}
