// Package webhook tells HTTP endpoints what happens in rooms: rooms
// starting and finishing, participants joining and leaving, recordings
// starting and ending. Events are JSON, signed the Standard Webhooks way
// (webhook-id, webhook-timestamp, webhook-signature), and retried with
// exponential back-off.
//
// Send never blocks the call path: it encodes the event and puts it on a
// bounded queue per endpoint, dropping it (counted and logged) when the
// queue is full. One goroutine per endpoint delivers its queue in order.
// Verify is for receivers.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/setbridge/setbridge/media"
)

// Defaults of Config.
const (
	DefaultQueueSize   = 10000
	DefaultMaxAttempts = 8
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = 5 * time.Minute
	DefaultTimeout     = 15 * time.Second

	// dropLogEvery limits the warnings about dropped events to one per
	// endpoint per period.
	dropLogEvery = 10 * time.Second
	// maxResponseDrain is how much of a response body is read (and
	// discarded) so that the connection can be reused.
	maxResponseDrain = 64 << 10
)

// Endpoint is a receiver of webhooks.
type Endpoint struct {
	URL string
	// Secret signs the requests: "whsec_" then base64 (NewSecret makes
	// one).
	Secret string
	// Events are the event types sent to this endpoint; empty means all.
	Events []string
}

// Config configures a Sender.
type Config struct {
	Endpoints []Endpoint
	// Client makes the requests. The default has a DefaultTimeout timeout
	// and follows no redirects (a 3xx answer is a permanent failure).
	Client *http.Client
	// Clock times the back-off and stamps events and signatures (default
	// the system clock).
	Clock  media.Clock
	Logger *slog.Logger
	// QueueSize bounds each endpoint's queue (default DefaultQueueSize).
	QueueSize int
	// MaxAttempts is how many times a message is tried before it is given
	// up (default DefaultMaxAttempts).
	MaxAttempts int
	// BackoffBase and BackoffMax bound the wait before a retry: attempt n
	// failing waits BackoffBase·2^(n-1), capped at BackoffMax, jittered
	// down by up to half (defaults DefaultBackoffBase, DefaultBackoffMax).
	// A Retry-After longer than that is honoured, up to BackoffMax.
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

// Stats counts what happened to messages (one message is one event for
// one endpoint).
type Stats struct {
	// Queued counts messages accepted by Send.
	Queued uint64
	// Delivered counts messages answered with 2xx.
	Delivered uint64
	// Retries counts failed attempts followed by another.
	Retries uint64
	// Failed counts messages given up: a permanent failure (4xx other
	// than 429, 3xx) or MaxAttempts failed attempts.
	Failed uint64
	// Dropped counts messages never queued: the queue was full, or Send
	// came after Close. In the totals it also counts events that could
	// not be encoded.
	Dropped uint64
	// Abandoned counts messages still queued or being tried when Close's
	// context ended.
	Abandoned uint64
	// Pending is how many messages wait in the queues now.
	Pending int
}

func (s *Stats) add(o Stats) {
	s.Queued += o.Queued
	s.Delivered += o.Delivered
	s.Retries += o.Retries
	s.Failed += o.Failed
	s.Dropped += o.Dropped
	s.Abandoned += o.Abandoned
	s.Pending += o.Pending
}

// EndpointStats are one endpoint's Stats.
type EndpointStats struct {
	// URL is the endpoint's URL without its password.
	URL string
	Stats
}

// Sender delivers events to the endpoints. It is safe for concurrent use.
type Sender struct {
	client      *http.Client
	clock       media.Clock
	log         *slog.Logger
	maxAttempts int
	backoffBase time.Duration
	backoffMax  time.Duration
	endpoints   []*endpoint
	unencodable atomic.Uint64

	mu       sync.RWMutex
	closed   bool          // guarded by mu; Send queues nothing once set
	draining chan struct{} // closed by Close: workers stop when their queue is empty
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New starts a Sender with one delivery goroutine per endpoint. Close
// stops them.
func New(cfg Config) (*Sender, error) {
	s := &Sender{
		client:      cfg.Client,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		maxAttempts: orDefault(cfg.MaxAttempts, DefaultMaxAttempts),
		backoffBase: orDefault(cfg.BackoffBase, DefaultBackoffBase),
		backoffMax:  orDefault(cfg.BackoffMax, DefaultBackoffMax),
		draining:    make(chan struct{}),
	}
	if s.client == nil {
		s.client = &http.Client{
			Timeout:       DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if s.clock == nil {
		s.clock = media.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "webhook")
	if s.backoffMax < s.backoffBase {
		return nil, fmt.Errorf("%w: backoff max %v below base %v", ErrConfig, s.backoffMax, s.backoffBase)
	}
	queueSize := orDefault(cfg.QueueSize, DefaultQueueSize)
	for i, e := range cfg.Endpoints {
		ep, err := newEndpoint(e, queueSize)
		if err != nil {
			return nil, fmt.Errorf("endpoint %d: %w", i, err)
		}
		ep.log = s.log.With("endpoint", ep.name)
		s.endpoints = append(s.endpoints, ep)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, ep := range s.endpoints {
		s.wg.Add(1)
		go s.run(ctx, ep)
	}
	return s, nil
}

// orDefault returns v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// message is an event encoded for delivery.
type message struct {
	id    string
	typ   string
	room  string
	body  []byte
	ready time.Time // when it was queued
}

// Send queues ev for every endpoint that wants it and returns at once. It
// never blocks on the network or on a full queue: what does not fit is
// dropped, counted and logged (at most once per endpoint every 10 s).
func (s *Sender) Send(ev Event) {
	now := s.clock.Now()
	if ev.At.IsZero() {
		ev.At = now
	}
	body, err := ev.body()
	if err != nil {
		s.unencodable.Add(1)
		s.log.Error("webhook event dropped", "type", ev.Type, "room", ev.Room, "error", err)
		return
	}
	id, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		s.unencodable.Add(1)
		s.log.Error("webhook event dropped: no id", "type", ev.Type, "room", ev.Room, "error", err)
		return
	}
	m := message{id: "msg_" + id.String(), typ: ev.Type, room: ev.Room, body: body, ready: now}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, ep := range s.endpoints {
		if !ep.wants(ev.Type) {
			continue
		}
		switch {
		case s.closed:
			ep.drop(now, m, "sender closed")
		case !ep.q.push(m):
			ep.drop(now, m, "queue full")
		default:
			ep.queued.Add(1)
		}
	}
}

// Stats returns the counts summed over the endpoints.
func (s *Sender) Stats() Stats {
	total := Stats{Dropped: s.unencodable.Load()}
	for _, ep := range s.endpoints {
		total.add(ep.stats())
	}
	return total
}

// EndpointStats returns each endpoint's counts, in the order of
// Config.Endpoints.
func (s *Sender) EndpointStats() []EndpointStats {
	out := make([]EndpointStats, 0, len(s.endpoints))
	for _, ep := range s.endpoints {
		out = append(out, EndpointStats{URL: ep.name, Stats: ep.stats()})
	}
	return out
}

// Close stops accepting events and delivers what is queued, retries
// included, until ctx ends; then it abandons the rest, stops the
// goroutines and waits for them. It returns ctx's error if it had to
// abandon messages.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.draining)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return fmt.Errorf("webhook close: %w", ctx.Err())
	}
}

// run delivers ep's queue in order until the sender drains or stops.
func (s *Sender) run(ctx context.Context, ep *endpoint) {
	defer s.wg.Done()
	for {
		if ctx.Err() != nil {
			ep.abandonQueue()
			return
		}
		if m, ok := ep.q.pop(); ok {
			s.deliver(ctx, ep, m)
			continue
		}
		select {
		case <-ep.q.notify:
		case <-s.draining:
			// Send queues nothing once draining: an empty queue stays so.
			if ep.q.len() == 0 {
				return
			}
		case <-ctx.Done():
		}
	}
}

// deliver tries m until it is delivered, fails for good, or ctx ends.
func (s *Sender) deliver(ctx context.Context, ep *endpoint, m message) {
	log := ep.log.With("webhook_id", m.id, "type", m.typ, "room", m.room)
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := s.attempt(ctx, ep, m)
		if ctx.Err() != nil {
			ep.abandoned.Add(1)
			log.Warn("webhook abandoned at close", "attempt", attempt)
			return
		}
		retryable := err != nil || status >= 500 || status == http.StatusTooManyRequests
		switch {
		case err == nil && status >= 200 && status < 300:
			ep.delivered.Add(1)
			log.Debug("webhook delivered", "attempt", attempt, "status", status,
				"latency", s.clock.Now().Sub(m.ready))
			return
		case !retryable:
			ep.failed.Add(1)
			log.Error("webhook rejected, not retrying", "attempt", attempt, "status", status)
			return
		case attempt >= s.maxAttempts:
			ep.failed.Add(1)
			log.Error("webhook given up", "attempts", attempt, "status", status, "error", err)
			return
		}
		wait := s.backoff(attempt)
		if retryAfter > wait {
			wait = min(retryAfter, s.backoffMax)
		}
		ep.retries.Add(1)
		log.Warn("webhook attempt failed, retrying", "attempt", attempt, "status", status, "error", err, "wait", wait)
		if !s.sleep(ctx, wait) {
			ep.abandoned.Add(1)
			log.Warn("webhook abandoned at close", "attempt", attempt)
			return
		}
	}
}

// attempt posts m once. It returns the status and Retry-After, or the
// network error.
func (s *Sender) attempt(ctx context.Context, ep *endpoint, m message) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(m.body))
	if err != nil {
		return 0, 0, err
	}
	now := s.clock.Now()
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "setbridge-webhook/1")
	req.Header.Set(HeaderID, m.id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, signature(ep.key, m.id, ts, m.body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, redactErr(err)
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxResponseDrain)
	_ = resp.Body.Close()
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), now), nil
}

// backoff is the jittered wait after failed attempt n (from 1): in
// [d/2, d] for d = base·2^(n-1) capped at max, so waits never shrink.
func (s *Sender) backoff(n int) time.Duration {
	d := s.backoffBase
	for i := 1; i < n && d < s.backoffMax; i++ {
		d *= 2
	}
	d = min(d, s.backoffMax)
	return d/2 + time.Duration(mathrand.Int64N(int64(d/2)+1))
}

// sleep waits d on the clock; it reports false if ctx ended first.
func (s *Sender) sleep(ctx context.Context, d time.Duration) bool {
	fired := make(chan struct{})
	t := s.clock.AfterFunc(d, func() { close(fired) })
	select {
	case <-fired:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

// retryAfter parses a Retry-After value (seconds or an HTTP date); 0 if
// absent or unusable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if sec, err := strconv.Atoi(v); err == nil && sec > 0 {
		return time.Duration(sec) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// redactErr strips the URL (which may hold a token) from a client error.
func redactErr(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s: %w", uerr.Op, uerr.Err)
	}
	return err
}

// endpoint is a receiver with its queue and counts.
type endpoint struct {
	url    string
	name   string // url without password or query, for logs and stats
	key    []byte
	events []string // nil for all
	log    *slog.Logger
	q      queue

	queued, delivered, retries, failed, drops, abandoned atomic.Uint64

	dropMu      sync.Mutex
	dropLogged  time.Time // guarded by dropMu
	dropsUnsaid int       // guarded by dropMu: drops since the last warning
}

func newEndpoint(e Endpoint, queueSize int) (*endpoint, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: url %q is not http(s)://host/…", ErrConfig, e.URL)
	}
	key, err := secretKey(e.Secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, redact(u), err)
	}
	for _, typ := range e.Events {
		if !slices.Contains(EventTypes, typ) {
			return nil, fmt.Errorf("%w: %s: unknown event %q (want one of %v)", ErrConfig, redact(u), typ, EventTypes)
		}
	}
	return &endpoint{
		url: e.URL, name: redact(u), key: key, events: slices.Clone(e.Events),
		q: queue{max: queueSize, notify: make(chan struct{}, 1)},
	}, nil
}

// redact is u without its password and query, which may hold tokens.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment = "", ""
	return c.Redacted()
}

func (ep *endpoint) wants(typ string) bool {
	return len(ep.events) == 0 || slices.Contains(ep.events, typ)
}

// drop counts a message that was not queued and warns, at most once
// every dropLogEvery.
func (ep *endpoint) drop(now time.Time, m message, reason string) {
	ep.drops.Add(1)
	ep.dropMu.Lock()
	ep.dropsUnsaid++
	if !ep.dropLogged.IsZero() && now.Sub(ep.dropLogged) < dropLogEvery {
		ep.dropMu.Unlock()
		return
	}
	n := ep.dropsUnsaid
	ep.dropsUnsaid, ep.dropLogged = 0, now
	ep.dropMu.Unlock()
	ep.log.Warn("webhook dropped", "reason", reason, "dropped", n, "type", m.typ, "room", m.room)
}

// abandonQueue counts what is left in the queue as abandoned.
func (ep *endpoint) abandonQueue() {
	n := 0
	for {
		if _, ok := ep.q.pop(); !ok {
			break
		}
		n++
	}
	if n > 0 {
		ep.abandoned.Add(uint64(n))
		ep.log.Warn("webhooks abandoned at close", "count", n)
	}
}

func (ep *endpoint) stats() Stats {
	return Stats{
		Queued: ep.queued.Load(), Delivered: ep.delivered.Load(), Retries: ep.retries.Load(),
		Failed: ep.failed.Load(), Dropped: ep.drops.Load(), Abandoned: ep.abandoned.Load(),
		Pending: ep.q.len(),
	}
}

// queue is a bounded FIFO of messages with a wake-up signal.
type queue struct {
	mu     sync.Mutex
	items  []message // guarded by mu
	max    int
	notify chan struct{} // size 1: "something was pushed"
}

// push appends m; it reports false, queueing nothing, when full.
func (q *queue) push(m message) bool {
	q.mu.Lock()
	if len(q.items) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, m)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return true
}

func (q *queue) pop() (message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return message{}, false
	}
	m := q.items[0]
	q.items[0] = message{}
	q.items = q.items[1:]
	if len(q.items) == 0 {
		q.items = nil // let the backing array go
	}
	return m, true
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
