package peers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SippOptions configures one sipp run. Zero values mean sipp's defaults
// unless noted; ports of 0 are replaced by free loopback ports.
type SippOptions struct {
	// T, if set, ties the run to a test: its temp dir comes from t.TempDir,
	// the process is stopped in t.Cleanup, and sipp's output and logs are
	// written with t.Logf if the test failed.
	T testing.TB

	// Scenario is a sipp built-in name ("uac", "uas", "branchc", ...), the
	// name of a scenario of this package's scenarios/ folder ("uac_hold",
	// "uas_echo"; see ScenarioNames), or a path to an XML file (anything with
	// a '/' or ending in ".xml"). Ignored if ScenarioXML is set.
	Scenario string
	// ScenarioXML is the scenario itself (e.g. from DTMFScenario).
	ScenarioXML []byte

	// Target is the remote "host:port" (UAC scenarios); empty for a UAS.
	Target string
	// Service is the user part dialled ([service], -s).
	Service string
	// LocalIP is the address sipp binds and announces (-i, -mi,
	// -bind_local); default 127.0.0.1.
	LocalIP string
	// LocalPort is the SIP port (-p); 0 picks a free one.
	LocalPort int
	// MediaPort is the RTP port (-mp, [media_port]); sipp also uses
	// MediaPort+2. 0 picks a free one.
	MediaPort int
	// RTPEcho echoes received RTP back to its sender (-rtp_echo).
	RTPEcho bool

	Calls       int           // -m: exit after this many calls (0: no limit)
	Rate        float64       // -r: calls per RatePeriod
	RatePeriod  time.Duration // -rp
	Concurrency int           // -l: max simultaneous calls
	// CallDuration is the length of <pause/> elements without their own
	// milliseconds attribute (-d).
	CallDuration time.Duration
	// Transport is sipp's -t: "u1" (default), "un", "t1", "tn", ...
	Transport string
	// Timeout is sipp's global timeout (-timeout, with -timeout_error so
	// reaching it counts as a failure). 0 means none; the context still
	// bounds the run.
	Timeout time.Duration
	// AutoAnswer answers INFO, NOTIFY, OPTIONS and UPDATE with 200 (-aa).
	AutoAnswer bool
	// Keys are -key name value pairs ([name] in the scenario); Vars are
	// -set name value pairs (global variables [$name]).
	Keys map[string]string
	Vars map[string]string
	// NoMessageTrace turns off the SIP message log (-trace_msg), which is
	// on by default and shown when a test fails; turn it off for load runs.
	NoMessageTrace bool
	// Extra arguments, appended last.
	Extra []string
}

// SippResult is what a finished sipp run reports, from its final
// statistics row (-trace_stat) and its log files.
type SippResult struct {
	ExitCode int // 0: all calls OK, 1: some failed, 97/99: other normal exits
	// TimedOut is set when Timeout ended the run (sipp exits 255 then).
	TimedOut bool

	SuccessfulCalls int
	FailedCalls     int
	TotalCalls      int // calls created
	IncomingCalls   int
	OutgoingCalls   int
	CurrentCalls    int // calls still open when sipp stopped
	Retransmissions int

	FailedUnexpectedMessage   int
	FailedMaxUDPRetrans       int
	FailedRegexpDoesntMatch   int
	FailedRegexpShouldntMatch int
	FailedTimeoutOnRecv       int
	FailedCallRejected        int
	FailedCannotSendMessage   int
	DeadCallMsgs              int
	OutOfCallMsgs             int

	ResponseTime time.Duration // mean of response time 1 (rtd="true")
	CallLength   time.Duration // mean call length

	// Stats holds every column of the final statistics row, by sipp's
	// header name (e.g. "FailedCall(C)").
	Stats map[string]string

	Output   string // stdout and stderr (the final screen)
	Errors   string // the -trace_err log: unexpected messages, failed checks
	Messages string // the -trace_msg log, unless NoMessageTrace
	Logs     string // the -trace_logs log (<log> actions)
	Args     []string
}

// Check returns nil if exactly wantCalls calls succeeded and none failed,
// else an error describing the counters with the end of sipp's error log.
func (r *SippResult) Check(wantCalls int) error {
	if r.SuccessfulCalls == wantCalls && r.FailedCalls == 0 && r.CurrentCalls == 0 && !r.TimedOut {
		return nil
	}
	timedOut := ""
	if r.TimedOut {
		timedOut = " (timed out)"
	}
	return fmt.Errorf("sipp: %d successful, %d failed, %d still open (want %d successful); exit %d%s; failures: %s\nerror log:\n%s",
		r.SuccessfulCalls, r.FailedCalls, r.CurrentCalls, wantCalls, r.ExitCode, timedOut, r.failureSummary(), tail(r.Errors, 3000))
}

func (r *SippResult) failureSummary() string {
	var parts []string
	for _, k := range sortedKeys(r.Stats) {
		if strings.HasPrefix(k, "Failed") && strings.HasSuffix(k, "(C)") && k != "FailedCall(C)" && r.Stats[k] != "0" {
			parts = append(parts, strings.TrimSuffix(k, "(C)")+"="+r.Stats[k])
		}
	}
	if len(parts) == 0 {
		return "none counted"
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Sipp is a running sipp.
type Sipp struct {
	// Addr is sipp's SIP address, "127.0.0.1:port".
	Addr      string
	SIPPort   int
	MediaPort int
	Dir       string

	opts     SippOptions
	p        *proc
	args     []string
	files    sippFiles
	cleanDir func()
	result   *SippResult
	waitErr  error
	finished chan struct{}
}

type sippFiles struct{ stat, errs, msgs, logs string }

// RunSipp runs sipp to completion (Calls reached, Timeout, or ctx done) and
// returns its statistics. The error is only for failures to run sipp or to
// read its statistics; failed, unfinished and timed-out calls are reported
// in the result (see SippResult.Check).
func RunSipp(ctx context.Context, opts SippOptions) (SippResult, error) {
	s, err := StartSipp(ctx, opts)
	if err != nil {
		return SippResult{}, err
	}
	return s.Wait()
}

// StartSipp starts sipp and returns once its SIP socket (and media socket
// with RTPEcho) is bound, so a UAS is ready for calls. Stop or Wait end it.
func StartSipp(ctx context.Context, opts SippOptions) (*Sipp, error) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		return nil, fmt.Errorf("sipp not installed: %w", err)
	}
	if opts.LocalIP == "" {
		opts.LocalIP = LoopbackIP
	}
	autoPorts := opts.LocalPort == 0 || opts.MediaPort == 0
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startSippOnce(ctx, bin, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		var be *bindError
		if !autoPorts || !errors.As(err, &be) {
			break
		}
	}
	return nil, lastErr
}

type bindError struct{ error }

func startSippOnce(ctx context.Context, bin string, opts SippOptions) (*Sipp, error) {
	var err error
	s := &Sipp{opts: opts, finished: make(chan struct{})}
	if s.SIPPort = opts.LocalPort; s.SIPPort == 0 {
		if s.SIPPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if s.MediaPort = opts.MediaPort; s.MediaPort == 0 {
		if s.MediaPort, err = FreeRTPPort(); err != nil {
			return nil, err
		}
	}
	ctrlPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	s.Addr = fmt.Sprintf("%s:%d", opts.LocalIP, s.SIPPort)
	if s.Dir, s.cleanDir, err = workDir(opts.T, "sipp-"); err != nil {
		return nil, err
	}
	s.files = sippFiles{
		stat: filepath.Join(s.Dir, "stat.csv"),
		errs: filepath.Join(s.Dir, "errors.log"),
		msgs: filepath.Join(s.Dir, "messages.log"),
		logs: filepath.Join(s.Dir, "logs.log"),
	}

	var args []string
	if opts.Target != "" {
		args = append(args, opts.Target)
	}
	switch {
	case opts.ScenarioXML != nil:
		p := filepath.Join(s.Dir, "scenario.xml")
		if err := os.WriteFile(p, opts.ScenarioXML, 0o644); err != nil {
			return nil, err
		}
		args = append(args, "-sf", p)
	case opts.Scenario == "":
		return nil, errors.New("sipp: no scenario")
	case builtinScenarios[opts.Scenario]:
		args = append(args, "-sn", opts.Scenario)
	case strings.Contains(opts.Scenario, "/") || (strings.HasSuffix(opts.Scenario, ".xml") && fileExists(opts.Scenario)):
		abs, err := filepath.Abs(opts.Scenario)
		if err != nil {
			return nil, err
		}
		args = append(args, "-sf", abs)
	default:
		p, err := WriteScenario(s.Dir, opts.Scenario)
		if err != nil {
			return nil, fmt.Errorf("sipp scenario %q: not built in, not embedded (%v), not a file", opts.Scenario, err)
		}
		args = append(args, "-sf", p)
	}
	args = append(args,
		"-i", opts.LocalIP, "-bind_local", "-p", strconv.Itoa(s.SIPPort),
		"-mi", opts.LocalIP, "-mp", strconv.Itoa(s.MediaPort),
		"-ci", opts.LocalIP, "-cp", strconv.Itoa(ctrlPort),
		"-nostdin",
		"-trace_stat", "-stf", s.files.stat,
		"-trace_err", "-error_file", s.files.errs,
		"-trace_logs", "-log_file", s.files.logs,
	)
	if !opts.NoMessageTrace {
		args = append(args, "-trace_msg", "-message_file", s.files.msgs)
	}
	if opts.Service != "" {
		args = append(args, "-s", opts.Service)
	}
	if opts.RTPEcho {
		args = append(args, "-rtp_echo")
	}
	if opts.Calls > 0 {
		args = append(args, "-m", strconv.Itoa(opts.Calls))
	}
	if opts.Rate > 0 {
		args = append(args, "-r", strconv.FormatFloat(opts.Rate, 'f', -1, 64))
	}
	if opts.RatePeriod > 0 {
		args = append(args, "-rp", strconv.FormatInt(opts.RatePeriod.Milliseconds(), 10))
	}
	if opts.Concurrency > 0 {
		args = append(args, "-l", strconv.Itoa(opts.Concurrency))
	}
	if opts.CallDuration > 0 {
		args = append(args, "-d", strconv.FormatInt(opts.CallDuration.Milliseconds(), 10))
	}
	if opts.Transport != "" {
		args = append(args, "-t", opts.Transport)
	}
	if opts.Timeout > 0 {
		args = append(args, "-timeout", fmt.Sprintf("%dms", opts.Timeout.Milliseconds()), "-timeout_error")
	}
	if opts.AutoAnswer {
		args = append(args, "-aa")
	}
	for _, k := range sortedKeys(opts.Keys) {
		args = append(args, "-key", k, opts.Keys[k])
	}
	for _, k := range sortedKeys(opts.Vars) {
		args = append(args, "-set", k, opts.Vars[k])
	}
	args = append(args, opts.Extra...)
	s.args = args

	s.p, err = startProc(ctx, "sipp", s.Dir, nil, nil, bin, args...)
	if err != nil {
		s.cleanDir()
		return nil, err
	}
	if opts.T != nil {
		t := opts.T
		t.Cleanup(func() {
			s.Stop()
			if t.Failed() {
				t.Logf("sipp %s\n%s", strings.Join(s.args, " "), s.report())
			}
		})
	}
	go s.collect()

	// Ready when the SIP socket (and the echo socket) is bound.
	proto := "udp"
	if strings.HasPrefix(opts.Transport, "t") {
		proto = "tcp"
	}
	want := []sockAddr{{Proto: proto, Port: s.SIPPort}}
	if opts.RTPEcho {
		want = append(want, sockAddr{Proto: "udp", Port: s.MediaPort})
	}
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	socks, err := waitBound(readyCtx, s.p, want)
	if err != nil {
		<-s.finished
		if s.p.exitCode() == 254 { // sipp's "fatal error binding a socket"
			err = &bindError{err}
		}
		err = fmt.Errorf("%w\nsipp %s\n%s", err, strings.Join(args, " "), tail(s.p.out.String(), 2000))
		if opts.T == nil {
			s.cleanDir()
		}
		return nil, err
	}
	if err := checkLoopbackOnly("sipp", socks); err != nil && opts.LocalIP == LoopbackIP {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// collect waits for the process and builds the result.
func (s *Sipp) collect() {
	<-s.p.done
	r := &SippResult{
		ExitCode: s.p.exitCode(),
		Output:   s.p.out.String(),
		Errors:   readFileString(s.files.errs),
		Messages: readFileString(s.files.msgs),
		Logs:     readFileString(s.files.logs),
		Args:     s.args,
	}
	stats, err := parseSippStats(readFileString(s.files.stat))
	switch {
	case err != nil:
		s.waitErr = fmt.Errorf("sipp exited (%v, code %d) without usable statistics: %v\n%s", s.p.err, r.ExitCode, err, tail(r.Output, 2000))
	case r.ExitCode == 255 && strings.Contains(r.Output, " timed out after "):
		r.TimedOut = true // -timeout reached: a test failure, not a run failure
	case r.ExitCode == 255 || r.ExitCode == 254:
		s.waitErr = fmt.Errorf("sipp fatal error (exit %d)\n%s", r.ExitCode, tail(r.Output, 2000))
	}
	if stats != nil {
		r.fill(stats)
	}
	s.result = r
	close(s.finished)
	if s.opts.T == nil {
		s.cleanDir()
	}
}

// Wait waits for sipp to exit by itself (or the context of StartSipp to
// end) and returns its result.
func (s *Sipp) Wait() (SippResult, error) {
	<-s.finished
	return *s.result, s.waitErr
}

// Stop ends sipp (SIGUSR1: stop calling and quit; then SIGTERM, then
// SIGKILL if it lingers) and returns its result. Safe to call repeatedly.
func (s *Sipp) Stop() (SippResult, error) {
	if !s.p.exited() {
		s.p.signal(syscall.SIGUSR1)
		if !s.p.waitFor(2 * time.Second) {
			s.p.stop(syscall.SIGTERM, 2*time.Second)
		}
	}
	return s.Wait()
}

// Output is sipp's stdout and stderr so far.
func (s *Sipp) Output() string { return s.p.out.String() }

// Errors is the current content of sipp's error log.
func (s *Sipp) Errors() string { return readFileString(s.files.errs) }

// Messages is the current content of sipp's SIP message log.
func (s *Sipp) Messages() string { return readFileString(s.files.msgs) }

func (s *Sipp) report() string {
	var b strings.Builder
	r, _ := s.Wait()
	fmt.Fprintf(&b, "exit %d: %d successful, %d failed\n", r.ExitCode, r.SuccessfulCalls, r.FailedCalls)
	fmt.Fprintf(&b, "--- output ---\n%s\n", tail(r.Output, 4000))
	if r.Errors != "" {
		fmt.Fprintf(&b, "--- error log ---\n%s\n", tail(r.Errors, 4000))
	}
	if r.Logs != "" {
		fmt.Fprintf(&b, "--- <log> actions ---\n%s\n", tail(r.Logs, 2000))
	}
	if r.Messages != "" {
		fmt.Fprintf(&b, "--- messages ---\n%s\n", tail(r.Messages, 12000))
	}
	return b.String()
}

// parseSippStats returns the last row of a -trace_stat CSV (';'-separated,
// one header row) by column name.
func parseSippStats(csv string) (map[string]string, error) {
	var lines []string
	for _, l := range strings.Split(csv, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimRight(l, "\r"))
		}
	}
	if len(lines) < 2 {
		return nil, errors.New("no statistics rows")
	}
	header := strings.Split(lines[0], ";")
	row := strings.Split(lines[len(lines)-1], ";")
	m := make(map[string]string, len(header))
	for i, h := range header {
		if h == "" || i >= len(row) {
			continue
		}
		m[h] = row[i]
	}
	if _, ok := m["SuccessfulCall(C)"]; !ok {
		return nil, errors.New("statistics have no SuccessfulCall(C) column")
	}
	return m, nil
}

func (r *SippResult) fill(m map[string]string) {
	r.Stats = m
	n := func(k string) int {
		v, _ := strconv.Atoi(m[k])
		return v
	}
	r.SuccessfulCalls = n("SuccessfulCall(C)")
	r.FailedCalls = n("FailedCall(C)")
	r.TotalCalls = n("TotalCallCreated")
	r.IncomingCalls = n("IncomingCall(C)")
	r.OutgoingCalls = n("OutgoingCall(C)")
	r.CurrentCalls = n("CurrentCall")
	r.Retransmissions = n("Retransmissions(C)")
	r.FailedUnexpectedMessage = n("FailedUnexpectedMessage(C)")
	r.FailedMaxUDPRetrans = n("FailedMaxUDPRetrans(C)")
	r.FailedRegexpDoesntMatch = n("FailedRegexpDoesntMatch(C)")
	r.FailedRegexpShouldntMatch = n("FailedRegexpShouldntMatch(C)")
	r.FailedTimeoutOnRecv = n("FailedTimeoutOnRecv(C)")
	r.FailedCallRejected = n("FailedCallRejected(C)")
	r.FailedCannotSendMessage = n("FailedCannotSendMessage(C)")
	r.DeadCallMsgs = n("DeadCallMsgs(C)")
	r.OutOfCallMsgs = n("OutOfCallMsgs(C)")
	r.ResponseTime = parseSippDuration(m["ResponseTime1(C)"])
	r.CallLength = parseSippDuration(m["CallLength(C)"])
}

// parseSippDuration reads sipp's "HH:MM:SS:micro" (e.g. 00:00:01:250000).
func parseSippDuration(s string) time.Duration {
	f := strings.Split(s, ":")
	if len(f) != 4 {
		return 0
	}
	var v [4]int64
	for i, x := range f {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0
		}
		v[i] = n
	}
	return time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute +
		time.Duration(v[2])*time.Second + time.Duration(v[3])*time.Microsecond
}
