package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestDefaultRoutes1000ToDemo(t *testing.T) {
	c := Default()
	if len(c.SIP.Dispatch) != 2 || c.SIP.Dispatch[0].Number != "1000" || c.SIP.Dispatch[0].Room != "demo" ||
		c.SIP.Dispatch[1].Number != "2000" || !c.SIP.Dispatch[1].IVR {
		t.Fatalf("default dispatch = %+v", c.SIP.Dispatch)
	}
	if len(c.Rooms) != 1 || c.Rooms[0].ID != "demo" || c.Rooms[0].ConferenceNumber != "1000" || c.Rooms[0].PIN != "" {
		t.Fatalf("default rooms = %+v", c.Rooms)
	}
	if c.HTTP.Addr != ":8080" || c.SIP.UDP != "0.0.0.0:5060" || c.SIP.TCP != "0.0.0.0:5060" {
		t.Fatalf("default listeners: http %q udp %q tcp %q", c.HTTP.Addr, c.SIP.UDP, c.SIP.TCP)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		give     string
		wantLine int
		wantMsg  string
	}{
		{
			name: "a file overrides the defaults",
			give: "http:\n  addr: 127.0.0.1:9090\n",
		},
		{
			name:     "an unknown key is reported with its line",
			give:     "http:\n  addr: x\n  adress: y\n",
			wantLine: 3,
			wantMsg:  "field adress not found",
		},
		{
			name:     "a bad codec points at the codec",
			give:     "sip:\n  trunks:\n    - name: a\n      allowed_addresses: [10.0.0.0/8]\n      codecs: [PCMU, GSM]\n",
			wantLine: 5,
			wantMsg:  `unknown codec "GSM"`,
		},
		{
			name:     "a bad CIDR is reported",
			give:     "sip:\n  trunks:\n    - name: a\n      allowed_addresses:\n        - 10.0.0.0/33\n",
			wantLine: 5,
			wantMsg:  "not a CIDR",
		},
		{
			name:     "a wrong type is reported",
			give:     "mixer:\n  rate: fast\n",
			wantLine: 2,
			wantMsg:  "cannot unmarshal",
		},
		{
			name:     "an unsupported rate is reported",
			give:     "mixer:\n  rate: 44100\n",
			wantLine: 2,
			wantMsg:  "rate 44100 not supported",
		},
		{
			name:     "a number that is not E.164 is reported",
			give:     "sip:\n  trunks:\n    - name: a\n      allowed_addresses: [10.0.0.1]\n      numbers: [\"+44abc\"]\n",
			wantLine: 5,
			wantMsg:  "not an E.164 number",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.give))
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v is not Problems", err)
			}
			for _, p := range ps {
				if strings.Contains(p.Msg, tt.wantMsg) {
					if p.Line != tt.wantLine {
						t.Fatalf("problem %q on line %d, want %d", p.Msg, p.Line, tt.wantLine)
					}
					out := ps.Describe("f.yaml", []byte(tt.give))
					if !strings.Contains(out, "f.yaml:") || !strings.Contains(out, " | ") {
						t.Fatalf("describe lacks line context:\n%s", out)
					}
					return
				}
			}
			t.Fatalf("no problem mentions %q: %v", tt.wantMsg, ps)
		})
	}
}

// TestREADMEExampleIsValid keeps the README's configuration examples
// true: every yaml block, every document in it.
func TestREADMEExampleIsValid(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("README has %d yaml examples, want the configuration and the fabric node", len(blocks))
	}
	for i, rest := range blocks {
		block, _, _ := strings.Cut(rest, "```")
		for j, example := range strings.Split(block, "\n---\n") {
			if _, err := Parse([]byte(example)); err != nil {
				var ps Problems
				if errors.As(err, &ps) {
					t.Fatalf("README example %d, document %d is invalid:\n%s", i+1, j+1, ps.Describe("README.md", []byte(example)))
				}
				t.Fatal(err)
			}
		}
	}
}

func TestNodeProblemsPointAtTheLine(t *testing.T) {
	src := []byte("node:\n  set: s1\n  roles: [interface, relay]\n  nats:\n    url: nats://x:4222\n    listen: 127.0.0.1:4222\n")
	_, err := Parse(src)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	got := ps.Describe("node.yaml", src)
	for _, want := range []string{`node.yaml:3`, `unknown role "relay"`, "either url", "not both"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not say %q:\n%s", want, got)
		}
	}
}
