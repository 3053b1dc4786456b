package sip

import "errors"

// Configuration errors returned by NewRegistration. They are wrapped with
// the offending value; test them with errors.Is.
var (
	// ErrRegistrationNoClient: NewRegistration was given a nil *sipgo.Client.
	ErrRegistrationNoClient = errors.New("sip: registration needs a sipgo client")
	// ErrRegistrationRegistrar: RegistrationConfig.Registrar is not a sip:
	// or sips: URI with a host.
	ErrRegistrationRegistrar = errors.New("sip: registration registrar must be a sip: or sips: URI with a host")
	// ErrRegistrationAOR: RegistrationConfig.AOR is not a sip: or sips: URI
	// with a host.
	ErrRegistrationAOR = errors.New("sip: registration address of record must be a sip: or sips: URI with a host")
	// ErrRegistrationContact: RegistrationConfig.Contact is empty or is
	// neither host:port nor a sip:/sips: URI.
	ErrRegistrationContact = errors.New("sip: registration contact must be host:port or a sip: or sips: URI")
	// ErrRegistrationTransport: RegistrationConfig.Transport is not udp, tcp
	// or tls.
	ErrRegistrationTransport = errors.New("sip: registration transport must be udp, tcp or tls")
	// ErrRegistrationExpires: RegistrationConfig.Expires is negative, below
	// one second or above 2^31-1 seconds.
	ErrRegistrationExpires = errors.New("sip: registration expires must be between 1s and 2147483647s (0 means 300s)")
	// ErrRegistrationUsername: a password is configured but there is no
	// username and the AOR has no user part to default to.
	ErrRegistrationUsername = errors.New("sip: registration has a password but no username and the AOR has no user part")
)

// ErrRegistrationRunning is returned by Registration.Run when the same
// Registration is already running.
var ErrRegistrationRunning = errors.New("sip: registration is already running")

// Failures of a single REGISTER attempt. Run does not return them: they are
// logged, counted in RegistrationStatus.Failures and their text is kept in
// RegistrationStatus.LastError (which starts with the sentinel's text).
var (
	// ErrRegistrationRejected: the registrar answered with a final response
	// refusing the registration (403, 404, 3xx, 6xx, ...), or granted no
	// time. The state becomes Failed even if an earlier binding has not yet
	// expired.
	ErrRegistrationRejected = errors.New("sip: registration rejected")
	// ErrRegistrationAuthFailed: the registrar challenged again (not stale)
	// after we answered its digest challenge, i.e. the credentials are
	// wrong. The state becomes Failed.
	ErrRegistrationAuthFailed = errors.New("sip: registration authentication failed")
	// ErrRegistrationNoCredentials: the registrar asked for authentication
	// but no password is configured. The state becomes Failed.
	ErrRegistrationNoCredentials = errors.New("sip: registration challenged but no password is configured")
	// ErrRegistrationChallenge: a 401/407 challenge could not be answered
	// (missing or malformed header, unsupported algorithm or qop).
	ErrRegistrationChallenge = errors.New("sip: registration challenge cannot be answered")
	// ErrRegistrationIntervalTooBrief: 423 Interval Too Brief without a
	// usable Min-Expires, or repeated within one attempt.
	ErrRegistrationIntervalTooBrief = errors.New("sip: registration interval too brief")
	// ErrRegistrarUnavailable: no final answer (transaction timeout,
	// transport error) or a transient one (408, 5xx). An existing binding is
	// kept as Registered until it expires while retrying.
	ErrRegistrarUnavailable = errors.New("sip: registrar unavailable")
)
