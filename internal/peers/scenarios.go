package peers

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The sipp scenarios of scenarios/, shipped inside the test binary so a test
// in any package can use them by name.
//
//go:embed scenarios/*.xml
var scenarioFS embed.FS

// SippDataDir is where Debian's sip-tester package puts its pcap files
// (g711a.pcap, dtmf_2833_<digit>.pcap), which the scenarios play.
const SippDataDir = "/usr/share/sip-tester"

// builtinScenarios are the scenarios compiled into sipp (-sn).
var builtinScenarios = map[string]bool{
	"uac": true, "uas": true, "regexp": true, "branchc": true, "branchs": true,
	"3pcc-C-A": true, "3pcc-C-B": true, "3pcc-A": true, "3pcc-B": true,
}

// ScenarioNames lists the embedded scenarios (file names without .xml).
func ScenarioNames() []string {
	ents, _ := scenarioFS.ReadDir("scenarios")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".xml"))
	}
	sort.Strings(names)
	return names
}

// ScenarioXML returns the embedded scenario name ("uac_hold" or
// "uac_hold.xml").
func ScenarioXML(name string) ([]byte, error) {
	return scenarioFS.ReadFile("scenarios/" + strings.TrimSuffix(name, ".xml") + ".xml")
}

// WriteScenario writes the embedded scenario name into dir and returns the
// file's path, for running sipp by hand or from another driver.
func WriteScenario(dir, name string) (string, error) {
	data, err := ScenarioXML(name)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, strings.TrimSuffix(name, ".xml")+".xml")
	return p, os.WriteFile(p, data, 0o644)
}

// dtmfPcapName maps a DTMF digit to its sip-tester pcap name.
func dtmfPcapName(d rune) (string, bool) {
	switch {
	case d >= '0' && d <= '9':
		return "dtmf_2833_" + string(d) + ".pcap", true
	case d == '*':
		return "dtmf_2833_star.pcap", true
	case d == '#':
		return "dtmf_2833_pound.pcap", true
	}
	return "", false
}

// DTMFScenario returns uac_dtmf.xml with its digits replaced by digits
// (0-9, *, #), one RFC 4733 event (140 ms, from sip-tester's pcaps) started
// every gap (0 means 300 ms; at least 200 ms is sensible). Run it with
// SippOptions.ScenarioXML.
//
// The pcaps come from one capture and carry fixed RTP sequence numbers and
// timestamps: digits in the order 1-9, *, # rise monotonically; 0 belongs
// before 1 by timestamp but after # by sequence number, and a repeated digit
// repeats its timestamp, which a strict receiver may drop as a duplicate.
func DTMFScenario(digits string, gap time.Duration) ([]byte, error) {
	if gap <= 0 {
		gap = 300 * time.Millisecond
	}
	src, err := ScenarioXML("uac_dtmf")
	if err != nil {
		return nil, err
	}
	const begin, end = "<!-- DTMF-BEGIN -->", "<!-- DTMF-END -->"
	s := string(src)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return nil, fmt.Errorf("uac_dtmf.xml has no %s ... %s block", begin, end)
	}
	var b strings.Builder
	b.WriteString(begin + "\n")
	for _, d := range digits {
		name, ok := dtmfPcapName(d)
		if !ok {
			return nil, fmt.Errorf("DTMFScenario: %q is not a DTMF digit", d)
		}
		fmt.Fprintf(&b, "  <nop>\n    <action>\n      <exec play_pcap_audio=\"%s/%s\"/>\n    </action>\n  </nop>\n", SippDataDir, name)
		fmt.Fprintf(&b, "  <pause milliseconds=\"%d\"/>\n", gap.Milliseconds())
	}
	b.WriteString("  ")
	return []byte(s[:i] + b.String() + s[j:]), nil
}
