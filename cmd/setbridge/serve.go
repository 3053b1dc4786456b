package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"

	"github.com/setbridge/setbridge/api"
	"github.com/setbridge/setbridge/config"
	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/fabric/mixnet"
	"github.com/setbridge/setbridge/fabric/roomsvc"
	"github.com/setbridge/setbridge/ivr"
	"github.com/setbridge/setbridge/livestream"
	"github.com/setbridge/setbridge/mixerengine"
	"github.com/setbridge/setbridge/roster"
	"github.com/setbridge/setbridge/sip"
	"github.com/setbridge/setbridge/store"
	"github.com/setbridge/setbridge/web"
	"github.com/setbridge/setbridge/webhook"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the server (every role in one process, on the embedded defaults unless --config is given)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML configuration `FILE` (over the embedded defaults)", EnvVars: []string{"SETBRIDGE_CONFIG"}},
			&cli.StringFlag{Name: "http-addr", Usage: "HTTP listen address (/livez, /readyz, /metrics)", EnvVars: []string{"SETBRIDGE_HTTP_ADDR"}},
			&cli.StringFlag{Name: "sip-udp", Usage: "SIP UDP listen address (- disables)", EnvVars: []string{"SETBRIDGE_SIP_UDP"}},
			&cli.StringFlag{Name: "sip-tcp", Usage: "SIP TCP listen address (- disables)", EnvVars: []string{"SETBRIDGE_SIP_TCP"}},
			&cli.StringFlag{Name: "media-address", Usage: "address advertised in SDP", EnvVars: []string{"SETBRIDGE_MEDIA_ADDRESS"}},
			&cli.IntFlag{Name: "rtp-port-min", Usage: "lowest RTP port", EnvVars: []string{"SETBRIDGE_RTP_PORT_MIN"}},
			&cli.IntFlag{Name: "rtp-port-max", Usage: "highest RTP port", EnvVars: []string{"SETBRIDGE_RTP_PORT_MAX"}},
			&cli.DurationFlag{Name: "drain-timeout", Usage: "how long SIGTERM waits for calls to end", EnvVars: []string{"SETBRIDGE_DRAIN_TIMEOUT"}},
			&cli.BoolFlag{Name: "pprof", Usage: "serve Go's profiler under /debug/pprof/", EnvVars: []string{"SETBRIDGE_PPROF"}},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", EnvVars: []string{"SETBRIDGE_LOG_LEVEL"}},
			&cli.StringFlag{Name: "log-format", Usage: "text or json", EnvVars: []string{"SETBRIDGE_LOG_FORMAT"}},
		},
		Action: serve,
	}
}

// loadConfig builds the configuration: embedded defaults, the file, then
// flags and SETBRIDGE_* variables.
func loadConfig(cctx *cli.Context) (config.Config, error) {
	cfg := config.Default()
	if p := cctx.String("config"); p != "" {
		src, err := os.ReadFile(p)
		if err != nil {
			return cfg, err
		}
		c, err := config.Parse(src)
		var ps config.Problems
		if errors.As(err, &ps) {
			return cfg, fmt.Errorf("invalid configuration:\n%s", ps.Describe(p, src))
		}
		if err != nil {
			return cfg, err
		}
		cfg = c
	}
	set := func(name string, f func()) {
		if cctx.IsSet(name) {
			f()
		}
	}
	set("http-addr", func() { cfg.HTTP.Addr = cctx.String("http-addr") })
	set("sip-udp", func() { cfg.SIP.UDP = cctx.String("sip-udp") })
	set("sip-tcp", func() { cfg.SIP.TCP = cctx.String("sip-tcp") })
	set("media-address", func() { cfg.SIP.MediaAddress = cctx.String("media-address") })
	set("rtp-port-min", func() { cfg.SIP.RTPPortMin = cctx.Int("rtp-port-min") })
	set("rtp-port-max", func() { cfg.SIP.RTPPortMax = cctx.Int("rtp-port-max") })
	set("drain-timeout", func() { cfg.DrainTimeout = cctx.Duration("drain-timeout") })
	set("pprof", func() { cfg.HTTP.Pprof = cctx.Bool("pprof") })
	set("log-level", func() { cfg.Log.Level = cctx.String("log-level") })
	set("log-format", func() { cfg.Log.Format = cctx.String("log-format") })
	return cfg, nil
}

func newLogger(c config.Log) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lv}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// newRooms builds the room directory from the configuration, hashing PINs.
func newRooms(ctx context.Context, cfg config.Config, st *store.Store) (*api.Rooms, error) {
	rooms := api.NewRooms()
	for _, r := range cfg.Rooms {
		if _, err := rooms.Create(api.RoomSpec{ID: r.ID, ConferenceNumber: r.ConferenceNumber, PIN: r.PIN, ModeratorPIN: r.ModeratorPIN}); err != nil {
			return nil, fmt.Errorf("room %s: %w", r.ID, err)
		}
	}
	if st == nil {
		return rooms, nil
	}
	// The configuration's rooms are written over their stored selves
	// (a room's lock survives); the rooms made through the API since are
	// loaded as they are.
	for _, r := range cfg.Rooms {
		room, _ := rooms.Get(r.ID)
		sr := store.Room{ID: room.ID, ConferenceNumber: room.ConferenceNumber, PINHash: room.PINHash, ModeratorPINHash: room.ModeratorPINHash,
			EntryTones: r.EntryTones == nil || *r.EntryTones, Record: r.Record, RecordTracks: r.RecordTracks}
		old, err := st.GetRoom(ctx, r.ID)
		switch {
		case err == nil:
			sr.Locked = old.Locked
			err = st.UpdateRoom(ctx, sr)
		case errors.Is(err, store.ErrNotFound):
			err = st.CreateRoom(ctx, sr)
		}
		if err != nil {
			return nil, fmt.Errorf("room %s: %w", r.ID, err)
		}
	}
	stored, err := st.ListRooms(ctx)
	if err != nil {
		return nil, err
	}
	dir := api.NewRooms()
	for _, r := range stored {
		if err := dir.Load(api.Room{ID: r.ID, ConferenceNumber: r.ConferenceNumber, PINHash: r.PINHash, ModeratorPINHash: r.ModeratorPINHash, Locked: r.Locked}); err != nil {
			return nil, fmt.Errorf("stored room %s: %w", r.ID, err)
		}
	}
	dir.Persist(roomStore{st})
	return dir, nil
}

// roomStore keeps the directory's changes in the database.
type roomStore struct{ st *store.Store }

func (p roomStore) Create(r api.Room) error {
	err := p.st.CreateRoom(context.Background(), store.Room{ID: r.ID, ConferenceNumber: r.ConferenceNumber,
		PINHash: r.PINHash, ModeratorPINHash: r.ModeratorPINHash, Locked: r.Locked, EntryTones: true})
	return storeErr(err)
}

func (p roomStore) Delete(id string) error {
	return storeErr(p.st.DeleteRoom(context.Background(), id))
}

func (p roomStore) SetLocked(id string, on bool) error {
	return storeErr(p.st.SetLocked(context.Background(), id, on))
}

func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("%w: %w", api.ErrRoomExists, err)
	case errors.Is(err, store.ErrNumberInUse):
		return fmt.Errorf("%w: %w", api.ErrNumberInUse, err)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", api.ErrNoRoom, err)
	}
	return err
}

func serve(cctx *cli.Context) error {
	cfg, err := loadConfig(cctx)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	log := newLogger(cfg.Log)
	slog.SetDefault(log)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	tickSeconds := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "setbridge_mixer_tick_seconds",
		Help:    "Time each room's 20 ms mixer tick took.",
		Buckets: []float64{50e-6, 100e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 7.5e-3, 10e-3, 15e-3, 20e-3, 40e-3}})
	reg.MustRegister(tickSeconds)
	var recsRef atomic.Pointer[recordings]   // set once the recordings are open
	var mnRef atomic.Pointer[mixnet.Service] // set once the fabric is up
	var agentRef atomic.Pointer[roomsvc.Agent]
	rost := roster.New(roster.Options{Logger: log})
	defer rost.Close()
	engine := mixerengine.New(mixerengine.Config{Rate: cfg.Mixer.Rate, TopK: cfg.Mixer.TopK, HangOver: cfg.Mixer.HangOver, Logger: log,
		OnTickDuration: func(d time.Duration) { tickSeconds.Observe(d.Seconds()) },
		OnTalkers: func(room mixerengine.RoomID, tick uint64, talkers []mixerengine.ParticipantID) {
			if r := recsRef.Load(); r != nil {
				r.Talkers(string(room), tick, talkers)
			}
			if mn := mnRef.Load(); mn != nil {
				mn.Talkers(string(room), tick, talkers)
			}
			ids := make([]string, len(talkers))
			for i, t := range talkers {
				ids[i] = string(t)
			}
			rost.SetSpeaking(string(room), ids)
			if a := agentRef.Load(); a != nil {
				a.Speaking(string(room), ids)
			}
		}})
	defer engine.Close()
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "setbridge_mixer_rooms", Help: "Rooms being mixed."},
			func() float64 { return float64(engine.RoomCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_mixer_ticks_total", Help: "Mixer ticks run, all rooms."},
			func() float64 { return float64(engine.Stats().Ticks) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_mixer_tick_overruns_total", Help: "Mixer ticks that took longer than their 20 ms frame."},
			func() float64 { return float64(engine.Stats().Overruns) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_mixer_shared_encodes_total", Help: "Encodes of a room's common mix, once per format per tick."},
			func() float64 { return float64(engine.Stats().SharedEncodes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_mixer_pcm_writes_total", Help: "Mixes handed to a leg to encode itself (talkers' N-1 mixes)."},
			func() float64 { return float64(engine.Stats().PCMWrites) }),
	)

	recs, err := openRecordings(context.Background(), cfg.Recordings, cfg.Mixer.Rate, engine, log)
	if err != nil {
		return cli.Exit(fmt.Sprintf("recordings: %v", err), 1)
	}
	defer recs.Close()
	recsRef.Store(recs)
	var hooks *webhook.Sender
	if len(cfg.Webhooks) > 0 {
		eps := make([]webhook.Endpoint, 0, len(cfg.Webhooks))
		for _, w := range cfg.Webhooks {
			eps = append(eps, webhook.Endpoint{URL: w.URL, Secret: w.Secret, Events: w.Events})
		}
		if hooks, err = webhook.New(webhook.Config{Endpoints: eps, Logger: log}); err != nil {
			return cli.Exit(fmt.Sprintf("webhooks: %v", err), 2)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hooks.Close(ctx)
		}()
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_webhooks_delivered_total", Help: "Webhook messages answered 2xx."},
				func() float64 { return float64(hooks.Stats().Delivered) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_webhooks_failed_total", Help: "Webhook messages given up after their retries or refused."},
				func() float64 { return float64(hooks.Stats().Failed) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_webhooks_dropped_total", Help: "Webhook messages dropped on a full queue."},
				func() float64 { return float64(hooks.Stats().Dropped) }),
		)
	}
	recs.onState = func(room string, active bool, id string) {
		rost.SetRecording(room, active, id)
		if a := agentRef.Load(); a != nil {
			state := roomsvc.RecordingStarted
			if !active {
				state = roomsvc.RecordingStopped
			}
			a.Recording(room, state, id)
		}
		if hooks != nil {
			typ := webhook.RecordingStarted
			if !active {
				typ = webhook.RecordingEnded
			}
			hooks.Send(webhook.Event{Type: typ, Room: room, Data: map[string]string{"recording": id}})
		}
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_recordings_started_total", Help: "Recordings started."},
			func() float64 { return float64(recs.metrics.Started.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_recordings_failed_total", Help: "Recordings that failed (disk full, unwritable, writer behind)."},
			func() float64 { return float64(recs.metrics.Failed.Load()) }),
	)
	if recs.s3 != nil {
		m := recs.s3.Metrics()
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_recordings_uploads_total", Help: "Recording files stored in the object store."},
				func() float64 { return float64(m.Uploads.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "setbridge_recordings_upload_failures_total", Help: "Recording files the object store did not take after every retry."},
				func() float64 { return float64(m.Failures.Load()) }),
		)
	}
	var st *store.Store
	if cfg.Database != "" {
		if st, err = store.Open(context.Background(), cfg.Database, store.WithLogger(log)); err != nil {
			return cli.Exit(fmt.Sprintf("database: %v", err), 1)
		}
		defer st.Close()
	}
	rooms, err := newRooms(context.Background(), cfg, st)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	prompts, err := ivr.LoadPrompts(ivr.PromptConfig{Rate: cfg.Mixer.Rate, Dir: cfg.IVR.PromptsDir})
	if err != nil {
		return cli.Exit(fmt.Sprintf("ivr prompts: %v", err), 2)
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return cli.Exit(fmt.Sprintf("listen http: %v", err), 1)
	}
	fab, err := startFabric(cfg.Node, ln.Addr().String(), log)
	if err != nil {
		ln.Close()
		return cli.Exit(fmt.Sprintf("fabric: %v", err), 1)
	}
	defer fab.Close()
	fabInfo := fab.node.Info()
	conf := &conference{e: engine, recs: recs, roster: rost, node: fabInfo.ID, set: fabInfo.Set,
		noTonesFor: map[string]bool{}, recordFor: map[string]bool{}}
	if hooks != nil {
		conf.hooks = hooks.Send
	}
	mn, err := mixnet.New(mixnet.Config{Node: fab.node, Conn: fab.nc, Rate: cfg.Mixer.Rate, Logger: log,
		Join: conf.joinRemote,
		Tap: func(room string, fn func(uint64, []int16)) func() {
			return engine.Tap(mixerengine.RoomID(room), fn)
		},
		OnTalkers: func(room string, ids []string) { rost.SetSpeaking(room, slices.Clone(ids)) }})
	if err != nil {
		ln.Close()
		return cli.Exit(fmt.Sprintf("split mixer: %v", err), 1)
	}
	defer mn.Close()
	mnRef.Store(mn)
	conf.mn = mn
	rsvc, err := startRoomServices(cfg.Node.Roles, fab, conf, rooms, rost, cfg.HTTP.APIKeys, log)
	if err != nil {
		return cli.Exit(fmt.Sprintf("room services: %v", err), 1)
	}
	defer rsvc.Close()
	conf.agent = rsvc.agent
	conf.prime = func(room string, done func()) { rsvc.prime(room, rost, fabInfo.ID, done) }
	defer conf.wg.Wait()
	agentRef.Store(rsvc.agent)
	if p, ok := prompts.Get(ivr.PromptBeepJoin); ok {
		conf.joinTone = p.Samples()
	}
	if p, ok := prompts.Get(ivr.PromptBeepLeave); ok {
		conf.leaveTone = p.Samples()
	}
	for _, r := range cfg.Rooms {
		if r.EntryTones != nil && !*r.EntryTones {
			conf.noTonesFor[r.ID] = true
		}
		conf.recordFor[r.ID] = r.Record
		recs.tracks[r.ID] = r.RecordTracks
	}
	// A node without the sip role (a retrieval or transit node of a
	// fabric) runs no SIP gateway.
	var gw *sip.Server
	if slices.Contains(cfg.Node.Roles, fabric.RoleSIP) {
		gw, err = sip.NewServer(cfg.SIP, conf, sip.Options{Logger: log, Metrics: sip.NewMetrics(reg),
			IVR: &sip.IVR{Prompts: prompts, Directory: rooms, Room: rooms.IVRRoom, SetLocked: rooms.SetLocked, PINEntry: recs.PINEntry,
				ToggleRecording: recs.Toggle, Recording: recs.Recording}})
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		if err := gw.Listen(); err != nil {
			return cli.Exit(err.Error(), 1)
		}
	}

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() || gw != nil && gw.Draining() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	dialIn := make([]api.DialIn, 0, len(cfg.SIP.Dispatch))
	for _, d := range cfg.SIP.Dispatch {
		dialIn = append(dialIn, api.DialIn{Number: d.Number, Room: d.Room, IVR: d.IVR})
	}
	// Dial-out calls live as long as the server; ctx ends at shutdown.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var dial api.Dialer
	if gw != nil {
		dial = newDialer(ctx, gw, cfg.SIP, rooms, rost)
	}
	ls := livestream.New(livestream.Config{Rate: cfg.Mixer.Rate, Logger: log, FFmpeg: cfg.Robots.FFmpeg, MaxAttempts: cfg.Robots.MaxAttempts,
		Tap: func(room string, fn func(uint64, []int16)) func() {
			return engine.Tap(mixerengine.RoomID(room), fn)
		},
		OnState: streamStates(reg, rost, log)})
	defer ls.Close()
	mux.Handle("/api/", api.NewHandler(api.Config{Rooms: rooms, DialIn: dialIn, Keys: cfg.HTTP.APIKeys, Logger: log, Recordings: recs,
		Streams: newStreams(ls, rooms, conf), Dialer: dial,
		Fabric: func() any { return fab.view(mn, rsvc) }, Participants: conf.Participants}))
	mux.Handle("GET /api/rooms/{room}/participants", rsvc.handler)
	mux.Handle("POST /api/rooms/{room}/participants/{id}/{action}", rsvc.handler)
	// lock and unlock stay with the room directory (an empty room can be
	// locked too); the others reach the room's machines.
	for _, a := range []string{"mute_all", "unmute_all", "end"} {
		mux.Handle("POST /api/rooms/{room}/"+a, rsvc.handler)
	}
	if cfg.WebRTC.Enabled == nil || *cfg.WebRTC.Enabled {
		be, err := startBrowserEdge(cfg.WebRTC, conf, rooms, dialIn, recs.Recording, log)
		if err != nil {
			return cli.Exit(fmt.Sprintf("webrtc: %v", err), 1)
		}
		defer be.edge.Close()
		mux.Handle("/whip/", be.edge.Handler())
		mux.Handle("/whep/", be.edge.Handler())
		lobby := be.lobby.Handler()
		mux.Handle("GET /api/rooms/{room}/lobby", lobby)
		mux.Handle("POST /api/rooms/{room}/session", lobby)
		mux.Handle("GET /api/rooms/{room}/events", rost.EventsHandler(be.eventsAuth(cfg.HTTP.APIKeys)))
		mux.Handle("/", web.Handler())
	}
	if cfg.HTTP.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "error", err)
		}
	}()

	sipDone := make(chan error, 1)
	if gw != nil {
		go func() { sipDone <- gw.Run(ctx) }()
	} else {
		go func() { <-ctx.Done(); sipDone <- nil }()
	}

	attrs := []any{"http", ln.Addr().String(), "node", fab.node.Info().ID, "fabric_media", fab.node.Info().Media}
	if a := fab.natsAddr(); a != "" {
		attrs = append(attrs, "nats", a)
	}
	for _, tp := range []string{"udp", "tcp", "tls"} {
		if gw == nil {
			break
		}
		if a := gw.Addr(tp); a != nil {
			attrs = append(attrs, "sip_"+tp, a.String())
		}
	}
	ready.Store(true)
	log.Info("setbridge ready", attrs...)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	select {
	case sig := <-sigs:
		if gw != nil {
			log.Info("draining", "signal", sig.String(), "calls", gw.ActiveCalls(), "timeout", cfg.DrainTimeout)
			gw.Drain()
			drain(gw, cfg.DrainTimeout, sigs)
		}
	case err := <-sipDone:
		log.Error("sip gateway stopped", "error", err)
	}
	cancel()
	<-sipDone
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = httpSrv.Shutdown(shutdownCtx)
	<-httpDone
	log.Info("stopped")
	return nil
}

// drain waits until no call is left, the timeout passes, or a second
// signal arrives.
func drain(gw *sip.Server, timeout time.Duration, sigs <-chan os.Signal) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for gw.ActiveCalls() > 0 {
		select {
		case <-deadline.C:
			return
		case <-sigs:
			return
		case <-poll.C:
		}
	}
}
