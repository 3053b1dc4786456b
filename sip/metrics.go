package sip

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the gateway's Prometheus collectors.
type Metrics struct {
	invites        prometheus.Counter
	answered       prometheus.Counter
	rejected       *prometheus.CounterVec
	ended          *prometheus.CounterVec
	activeCalls    prometheus.Gauge
	digits         prometheus.Counter
	rtpTimeouts    prometheus.Counter
	sessionExpired prometheus.Counter
	rtpIn, rtpOut  prometheus.Counter
	rtpLost        prometheus.Counter
	rtpLate        prometheus.Counter
	rtpStray       prometheus.Counter
	registered     *prometheus.GaugeVec
	regFailures    *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		invites:        prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_sip_invites_total", Help: "Initial INVITEs received."}),
		answered:       prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_sip_calls_answered_total", Help: "Calls answered and joined to a room."}),
		rejected:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "setbridge_sip_calls_rejected_total", Help: "Initial INVITEs refused, by reason."}, []string{"reason"}),
		ended:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "setbridge_sip_calls_ended_total", Help: "Calls ended, by reason."}, []string{"reason"}),
		activeCalls:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "setbridge_sip_active_calls", Help: "Calls in progress."}),
		digits:         prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_sip_dtmf_digits_total", Help: "DTMF digits received (RFC 4733 and SIP INFO)."}),
		rtpTimeouts:    prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_sip_rtp_timeouts_total", Help: "Calls hung up for lack of RTP."}),
		sessionExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_sip_session_expired_total", Help: "Calls hung up because the session timer expired."}),
		rtpIn:          prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_rtp_packets_received_total", Help: "RTP packets accepted from callers."}),
		rtpOut:         prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_rtp_packets_sent_total", Help: "RTP packets sent to callers."}),
		rtpLost:        prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_rtp_packets_lost_total", Help: "RTP packets missing at playout (counted when a call ends)."}),
		rtpLate:        prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_rtp_packets_late_total", Help: "RTP packets that arrived after their playout time (counted when a call ends)."}),
		rtpStray:       prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_rtp_packets_stray_total", Help: "RTP packets dropped for coming from another source than the latched one."}),
		registered:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "setbridge_sip_registration_registered", Help: "1 while a trunk's outbound registration is in force."}, []string{"trunk"}),
		regFailures:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "setbridge_sip_registration_failures_total", Help: "Failed outbound registration attempts."}, []string{"trunk"}),
	}
	if reg != nil {
		reg.MustRegister(m.invites, m.answered, m.rejected, m.ended, m.activeCalls, m.digits, m.rtpTimeouts,
			m.sessionExpired, m.rtpIn, m.rtpOut, m.rtpLost, m.rtpLate, m.rtpStray, m.registered, m.regFailures)
	}
	return m
}

// registrationWatcher turns a registration's status changes into metrics;
// a failure counts once, when the failure count rises.
func (m *Metrics) registrationWatcher(trunk string) func(RegistrationStatus) {
	lastFailures := 0
	return func(st RegistrationStatus) {
		v := 0.0
		if st.State == Registered {
			v = 1
		}
		m.registered.WithLabelValues(trunk).Set(v)
		if st.Failures > lastFailures {
			m.regFailures.WithLabelValues(trunk).Add(float64(st.Failures - lastFailures))
		}
		lastFailures = st.Failures
	}
}
