package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/backchannel"
	"github.com/tokend/tokend/internal/cache"
	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/logbuf"
	"github.com/tokend/tokend/internal/metrics"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/server"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	"github.com/tokend/tokend/internal/statuslist"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/sweep"
	"github.com/tokend/tokend/internal/token"
	"github.com/tokend/tokend/internal/web"
)

// minProcs is the fewest scheduler slots (GOMAXPROCS) serve runs with.
// On one CPU Go would give it one, and then the store's writer, blocked in
// fsync, holds the only slot: requests cannot run to queue their writes
// for the next commit, and group commit degenerates to a write or two a
// commit. Two are enough for that. More slots than CPUs cost CPU: at four
// on one CPU, the threads the kernel takes turns between leave goroutines
// looking busy for milliseconds, and the runtime preempts them with a
// signal, which took 14 % of an introspection's CPU (1 % at two).
const minProcs = 2

// gcPercent is the garbage collector's target when GOGC is not set.
// tokend's live heap is small (the data is in the store), so at Go's
// default of 100 the collector runs after every few MiB allocated, which
// under load is many times a second, and takes a large share of an
// introspection's CPU. At 400 the heap peaks near five times the live
// heap; GOMEMLIMIT bounds it where memory is tight.
const gcPercent = 400

// memoryLimit is the heap's soft limit when GOMEMLIMIT is not set. At
// GOGC=400 the heap may grow to five times what is live before a
// collection, and much of what a busy server allocates is garbage at once
// (each password check's argon2id allocates 19 MiB), so a busy heap can
// grow far past what it holds. The limit makes the collector run earlier
// than GOGC would, once the heap nears it. It leaves room for what is live
// by configuration: the token cache (1 KiB a token, more than a cached
// token takes) and the rest (the argon2id slots, buffers, the feed's
// ring), under 128 MiB.
func memoryLimit(tokenCache int) int64 {
	return 128<<20 + int64(max(tokenCache, 0))<<10
}

// cacheCurrent is how recently the hub must have read the revocation log
// for the token cache to be trusted. The hub reads it at least every
// feed.DefaultPoll; past this, another instance's revocation may be
// unseen, so introspection and revocation read the store instead.
const cacheCurrent = time.Second

// serve is `tokend serve`: its flags make a serveConfig, which is checked,
// then built into a running server, served until ctx ends.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	tuneRuntime()
	c, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(c.TokenCache))
	}
	if err := c.Validate(); err != nil {
		return err
	}
	// A line per request is logged; batched, they cost a write system call
	// every 100 ms instead of one each. Closed last, after everything that
	// logs has stopped.
	logOut := logbuf.New(stderr, logbuf.FlushEvery)
	defer logOut.Close()
	log, err := newLogger(logOut, c.LogFormat, c.LogLevel)
	if err != nil {
		return err
	}
	var stops stopList
	defer stops.stop()
	a, err := build(ctx, c, log, &stops)
	if err != nil {
		return err
	}
	return a.run(ctx, stdout)
}

// tuneRuntime gives serve at least minProcs scheduler slots and the
// collector target gcPercent, unless the environment sets them.
func tuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// serveConfig is what serve is told: its flags, each defaulting to an
// environment variable, and TOKEND_ADMIN_TOKEN. parseServeFlags fills it,
// Validate checks it, build makes a server of it.
type serveConfig struct {
	Data       string // data folder: SQLite database, keys, TLS certificate, admin token
	DSN        string // PostgreSQL DSN; empty: the SQLite database in Data
	AdminToken string // TOKEND_ADMIN_TOKEN; empty: the one kept in Data

	Addr         string // listen address
	TLSCert      string // TLS certificate (PEM); default <Data>/tls/cert.pem, self-signed on first start
	TLSKey       string // TLS private key (PEM); default <Data>/tls/key.pem
	TLSDefault   bool   // neither was given: both are the data folder's, which serve may make; a named pair must exist
	InsecureHTTP bool   // plain HTTP: behind a TLS proxy, and for tests
	Issuer       string // issuer identifier; default derived from Addr

	RevokeHeaders   string        // wso2: a revocation's answer names what it revoked; none: not
	AccessTokenTTL  time.Duration // default access token lifetime
	RefreshTokenTTL time.Duration // default refresh token lifetime
	SessionTTL      time.Duration // how long a browser sign-in lasts
	JWTAlg          string        // what JWT access tokens are signed with: RS256, ES256 or EdDSA
	JWTAudience     string        // aud of JWT access tokens; the client_id when empty

	AuthFailLimit  int           // failed authentications allowed per key in each AuthFailWindow
	AuthFailWindow time.Duration // window of AuthFailLimit
	TrustedProxies string        // comma-separated CIDR prefixes of proxies trusted for X-Forwarded-For
	MaxInFlight    int           // requests served at once; 0: no bound
	QueueWait      time.Duration // how long a request waits for one of MaxInFlight

	SweepInterval  time.Duration // time between two sweeps of expired grants and old log events
	AuditRetention time.Duration // how long log events are kept; negative: forever
	TokenCache     int           // access tokens kept in memory; 0: none
	ClientCacheTTL time.Duration // how long a client read from the store is trusted; 0: not at all

	LogFormat   string // text or json
	LogLevel    string // debug, info, warn or error
	DebugAddr   string // the profiler's own listener; off when empty
	MetricsAddr string // the metrics' own listener, without authentication; off when empty
	DPoPNonces  bool   // require server nonces in DPoP proofs (RFC 9449 §8)

	SSFInactivity time.Duration // a Shared Signals stream's inactivity_timeout; 0: none

	envErr error // the first TOKEND_* variable whose value could not be parsed
}

// parseServeFlags defines serve's flags, with the environment's defaults,
// parses args with them (errors and -h go to stderr), and fills in the
// defaults derived from other settings.
func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	var env envValues
	fs := newFlagSet("serve", stderr)
	data := dataFlag(fs)
	fs.StringVar(&c.Addr, "addr", envOr("TOKEND_ADDR", "localhost:9443"), "listen address (env TOKEND_ADDR)")
	fs.StringVar(&c.TLSCert, "tls-cert", envOr("TOKEND_TLS_CERT", ""), "TLS certificate (PEM); default <data>/tls/cert.pem, self-signed on first start (env TOKEND_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", envOr("TOKEND_TLS_KEY", ""), "TLS private key (PEM); default <data>/tls/key.pem (env TOKEND_TLS_KEY)")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", env.Bool("TOKEND_INSECURE_HTTP", false), "serve plain HTTP, for behind a TLS proxy and for tests (env TOKEND_INSECURE_HTTP)")
	fs.StringVar(&c.Issuer, "issuer", envOr("TOKEND_ISSUER", ""), "issuer identifier; default derived from --addr (env TOKEND_ISSUER)")
	fs.StringVar(&c.RevokeHeaders, "revoke-headers", envOr("TOKEND_REVOKE_HEADERS", "wso2"), "wso2: send RevokedAccessToken/RevokedRefreshToken/AuthorizedUser on a revocation; none: do not (env TOKEND_REVOKE_HEADERS)")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", env.Duration("TOKEND_ACCESS_TOKEN_TTL", oauth.DefaultAccessTokenTTL), "default access token lifetime (env TOKEND_ACCESS_TOKEN_TTL)")
	fs.DurationVar(&c.RefreshTokenTTL, "refresh-token-ttl", env.Duration("TOKEND_REFRESH_TOKEN_TTL", oauth.DefaultRefreshTokenTTL), "default refresh token lifetime (env TOKEND_REFRESH_TOKEN_TTL)")
	fs.DurationVar(&c.SessionTTL, "session-ttl", env.Duration("TOKEND_SESSION_TTL", web.DefaultSessionTTL), "how long a browser session lasts after the user signs in with a password; not extended by use (env TOKEND_SESSION_TTL)")
	fs.IntVar(&c.AuthFailLimit, "auth-fail-limit", 20, "failed authentications allowed per key in each --auth-fail-window: per address for client secrets, per address and per username for passwords")
	fs.DurationVar(&c.AuthFailWindow, "auth-fail-window", time.Minute, "window of --auth-fail-limit")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", envOr("TOKEND_TRUSTED_PROXIES", ""), "comma-separated CIDR prefixes of proxies whose X-Forwarded-For names the client, e.g. 10.0.0.0/8; empty: none (env TOKEND_TRUSTED_PROXIES)")
	fs.StringVar(&c.JWTAlg, "jwt-alg", jwtAlgDefault(), "algorithm JWT access tokens are signed with: RS256, ES256 or EdDSA (env TOKEND_JWT_ALG)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", envOr("TOKEND_JWT_AUDIENCE", ""), "aud of JWT access tokens; the client_id when empty (env TOKEND_JWT_AUDIENCE)")
	fs.IntVar(&c.MaxInFlight, "max-inflight", 256, "requests served at once; more wait up to --queue-wait, then get 503 with Retry-After (0: no bound)")
	fs.DurationVar(&c.QueueWait, "queue-wait", 50*time.Millisecond, "how long a request waits for a slot when --max-inflight are being served")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", env.Duration("TOKEND_SWEEP_INTERVAL", sweep.DefaultInterval), "time between two sweeps of expired grants and old log events (env TOKEND_SWEEP_INTERVAL)")
	fs.DurationVar(&c.AuditRetention, "audit-retention", env.Duration("TOKEND_AUDIT_RETENTION", sweep.DefaultRetention), "how long revocation log events are kept; negative: forever (env TOKEND_AUDIT_RETENTION)")
	fs.StringVar(&c.LogFormat, "log-format", envOr("TOKEND_LOG_FORMAT", "text"), "text or json (env TOKEND_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", envOr("TOKEND_LOG_LEVEL", "info"), "debug, info, warn or error (env TOKEND_LOG_LEVEL)")
	fs.IntVar(&c.TokenCache, "token-cache", env.Int("TOKEND_TOKEN_CACHE", cache.DefaultTokens), "access tokens kept in memory for introspection and revocation; 0: read the store every time (env TOKEND_TOKEN_CACHE)")
	fs.DurationVar(&c.ClientCacheTTL, "client-cache-ttl", env.Duration("TOKEND_CLIENT_CACHE_TTL", cache.DefaultClientTTL), "how long a client read from the store is trusted: how late another instance's change to a client is seen here; 0: read the store every time (env TOKEND_CLIENT_CACHE_TTL)")
	fs.StringVar(&c.DebugAddr, "debug-addr", envOr("TOKEND_DEBUG_ADDR", ""), "serve Go's profiler (/debug/pprof/) on this address, e.g. localhost:6060; off when empty (env TOKEND_DEBUG_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", envOr("TOKEND_METRICS_ADDR", ""), "serve /metrics without authentication over plain HTTP on this address, e.g. localhost:9090; off when empty (the public listener serves it to the admin token only) (env TOKEND_METRICS_ADDR)")
	fs.DurationVar(&c.SSFInactivity, "ssf-inactivity-timeout", env.Duration("TOKEND_SSF_INACTIVITY_TIMEOUT", ssf.DefaultInactivityTimeout), "a Shared Signals stream whose receiver neither polls, nor takes a pushed SET, nor calls the stream management API for this long is paused (its inactivity_timeout, SSF 1.0 §8.1.1); 0: never (env TOKEND_SSF_INACTIVITY_TIMEOUT)")
	fs.BoolVar(&c.DPoPNonces, "dpop-nonces", env.Bool("TOKEND_DPOP_NONCES", false), "require a server nonce in every DPoP proof at the token endpoint (RFC 9449 §8), made with the key in <data>/dpop-nonce-key, which instances on one PostgreSQL must share (env TOKEND_DPOP_NONCES)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return c, err
	}
	if err := noArgs("serve", pos); err != nil {
		return c, err
	}
	c.envErr = env.err
	c.Data, c.DSN = *data, fs.Lookup("dsn").Value.String()
	c.AdminToken = os.Getenv("TOKEND_ADMIN_TOKEN")
	if c.TLSCert == "" && c.TLSKey == "" {
		c.TLSDefault = true
		c.TLSCert = filepath.Join(c.Data, "tls", "cert.pem")
		c.TLSKey = filepath.Join(c.Data, "tls", "key.pem")
	}
	if c.Issuer == "" {
		c.Issuer = c.scheme() + "://" + issuerHost(c.Addr)
	}
	return c, nil
}

// scheme is the public listener's URL scheme.
func (c serveConfig) scheme() string {
	if c.InsecureHTTP {
		return "http"
	}
	return "https"
}

// Validate returns the first setting serve refuses, in the order of the
// checks below, or nil. What the data folder, the store or the packages
// that read them refuse (a token file written by hand, a certificate, a
// --jwt-alg the keyring does not know) build finds.
func (c serveConfig) Validate() error {
	_, proxiesErr := server.ParseTrustedProxies(c.TrustedProxies)
	_, logErr := newLogger(io.Discard, c.LogFormat, c.LogLevel)
	tlsErr := c.checkTLSFiles()
	var adminErr error
	if c.AdminToken != "" {
		adminErr = server.CheckAdminToken(c.AdminToken)
	}
	checks := []struct {
		bad     bool
		message string
	}{
		{c.envErr != nil, fmt.Sprint(c.envErr)},
		{c.RevokeHeaders != "wso2" && c.RevokeHeaders != "none", fmt.Sprintf("--revoke-headers must be wso2 or none, not %q", c.RevokeHeaders)},
		{proxiesErr != nil, fmt.Sprintf("--trusted-proxies: %v", proxiesErr)},
		{logErr != nil, fmt.Sprint(logErr)}, // --log-level, then --log-format
		{adminErr != nil, fmt.Sprintf("TOKEND_ADMIN_TOKEN: %v", adminErr)},
		{c.SweepInterval <= 0, "--sweep-interval must be positive"},
		{c.AuditRetention == 0, "--audit-retention must not be 0 (it would delete the whole log); use a negative value to keep it"},
		{tlsErr != nil, fmt.Sprint(tlsErr)},
		{c.AccessTokenTTL <= 0, fmt.Sprintf("--access-token-ttl must be positive, e.g. 1h, not %s", c.AccessTokenTTL)},
		{c.RefreshTokenTTL <= 0, fmt.Sprintf("--refresh-token-ttl must be positive, e.g. 720h, not %s", c.RefreshTokenTTL)},
		{c.SessionTTL <= 0, fmt.Sprintf("--session-ttl must be positive, e.g. 12h, not %s", c.SessionTTL)},
		{c.TokenCache < 0, fmt.Sprintf("--token-cache must not be negative, not %d (0 turns the cache off)", c.TokenCache)},
		{c.SSFInactivity < 0 || (c.SSFInactivity > 0 && c.SSFInactivity < time.Second),
			fmt.Sprintf("--ssf-inactivity-timeout must be 0 (never) or at least 1s, e.g. 720h, not %s", c.SSFInactivity)},
	}
	for _, check := range checks {
		if check.bad {
			return errors.New(check.message)
		}
	}
	return nil
}

// checkTLSFiles refuses a certificate and key named by the operator that
// are not both given and both present; serve makes only the data folder's
// own pair.
func (c serveConfig) checkTLSFiles() error {
	if c.InsecureHTTP || c.TLSDefault {
		return nil
	}
	const pair = "give both --tls-cert and --tls-key, or neither to use a self-signed pair in <data>/tls"
	if c.TLSCert == "" {
		return fmt.Errorf("--tls-key is given but --tls-cert is missing: %s", pair)
	}
	if c.TLSKey == "" {
		return fmt.Errorf("--tls-cert is given but --tls-key is missing: %s", pair)
	}
	for _, f := range []struct{ flag, path string }{{"--tls-cert", c.TLSCert}, {"--tls-key", c.TLSKey}} {
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s %s: %w (a certificate and key you name must exist; leave both unset to use a self-signed pair in <data>/tls)", f.flag, f.path, errors.Unwrap(err))
		}
	}
	return nil
}

// stopList holds what serve has started and must stop when it returns, in
// the order started; stop runs it in reverse, as defers would.
type stopList []func()

func (s *stopList) push(stop func()) { *s = append(*s, stop) }

func (s *stopList) stop() {
	for i := len(*s) - 1; i >= 0; i-- {
		(*s)[i]()
	}
}

// app is a server built by build, ready to run.
type app struct {
	c           serveConfig
	cfg         server.Config // the public listener's
	mux         *http.ServeMux
	adminSource string // where the admin token is, for the start line
	storeName   string // which store it uses, for the start line
}

// build opens and starts what serve runs, in this order: the profiler's
// listener, the store, the admin token, the TLS certificate, the signing
// keys, the back-channel logout follower, the revocation hub, the
// endpoints, the sweep, the metrics' listener. Each thing started is pushed on stops, so that serve stops
// them in reverse: the sweep and the hub before the store closes, and the
// store, which commits what is pending on Close, after the server has
// stopped. A failed build leaves on stops what it had started.
func build(ctx context.Context, c serveConfig, log *slog.Logger, stops *stopList) (*app, error) {
	if c.DebugAddr != "" {
		_, stopDebug, err := serveDebug(c.DebugAddr, log)
		if err != nil {
			return nil, err
		}
		stops.push(stopDebug)
	}
	p := parts{c: c, log: log, m: metrics.New()}
	var err error
	if p.st, p.hub, err = buildStore(ctx, c, log, p.m, stops); err != nil {
		return nil, err
	}
	var adminSource string
	if p.adminToken, adminSource, err = adminToken(c.AdminToken, c.Data); err != nil {
		return nil, err
	}
	cert, err := loadCert(c, log)
	if err != nil {
		return nil, err
	}
	if p.dpopNonces, err = dpopNonces(c); err != nil {
		return nil, err
	}
	if p.keys, err = openKeys(c.Data, c.JWTAlg); err != nil {
		return nil, err
	}
	startBackchannel(ctx, p, stops) // stopped before the store closes
	p.ssf = startSSF(ctx, p, stops) // stopped before the store closes
	if p.lists, err = startHub(ctx, p.hub, c.Issuer, p.keys, stops); err != nil {
		return nil, err
	}
	mux := buildHTTP(p)
	stops.push(startSweep(ctx, p.st, c.SweepInterval, c.AuditRetention, log)) // stopped before the store closes
	if c.MetricsAddr != "" {
		_, stopMetrics, err := serveMetrics(c.MetricsAddr, p.m.Handler(), log)
		if err != nil {
			return nil, err
		}
		stops.push(stopMetrics)
	}
	proxies, err := server.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	cfg := server.Config{
		Addr: c.Addr, TLS: cert, Ready: p.st.Ping, Logger: log,
		MaxInFlight: c.MaxInFlight, QueueWait: c.QueueWait,
		Unqueued: []string{"/metrics", oauth.PathRevocationStream, web.PathConsoleLogStream, ssfhttp.PathPoll},
		Observe:  p.m.ObserveRequest, OnReject: p.m.Rejected,
		TrustedProxies: proxies,
	}
	return &app{c: c, cfg: cfg, mux: mux, adminSource: adminSource, storeName: storeName(c)}, nil
}

// run serves until ctx ends, and says where once it listens: a line in the
// log and one on stdout.
func (a *app) run(ctx context.Context, stdout io.Writer) error {
	c := a.c
	return server.Serve(ctx, a.cfg, server.Handler(a.cfg, a.mux), func(addr net.Addr) {
		a.cfg.Logger.Info("tokend listening",
			slog.String("addr", addr.String()),
			slog.String("issuer", c.Issuer),
			slog.String("data", c.Data),
			slog.String("admin_token", a.adminSource),
			slog.String("store", a.storeName),
			slog.String("version", version))
		fmt.Fprintf(stdout, "tokend %s listening on %s://%s (issuer %s)\nadmin token: %s\nstore: %s\n", version, c.scheme(), addr, c.Issuer, a.adminSource, a.storeName)
	})
}

// storeName names the store c uses, for the start line: "sqlite" and the
// database's absolute path, or "postgres" and the server and database the
// DSN names, never the DSN itself, which may hold a password.
func storeName(c serveConfig) string {
	if c.DSN == "" {
		path, err := filepath.Abs(dbFile(c.Data))
		if err != nil {
			path = dbFile(c.Data)
		}
		return "sqlite " + path
	}
	cfg, err := pgconn.ParseConfig(c.DSN)
	if err != nil { // not reached: the store opened with it
		return "postgres"
	}
	return "postgres " + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
}

// parts are what build makes for the endpoints, each from those before.
type parts struct {
	c          serveConfig
	log        *slog.Logger
	m          *metrics.Metrics
	st         feed.Nudging // the store as the endpoints see it
	hub        *feed.Hub
	adminToken string
	keys       *token.Keyring
	lists      *statuslist.Lists
	// dpopNonces makes and checks DPoP nonces; nil without --dpop-nonces.
	dpopNonces *dpop.Nonces
	ssf        *ssf.Transmitter
}

// buildStore takes the data folder's serve lock when the store is SQLite,
// opens the store c names and wraps it for serve, innermost first: the cache, the metrics, the nudging of the revocation feed. It
// returns the wrapped store and the feed's hub, which follows the log in
// the store and is not started yet.
func buildStore(ctx context.Context, c serveConfig, log *slog.Logger, m *metrics.Metrics, stops *stopList) (feed.Nudging, *feed.Hub, error) {
	if c.DSN == "" {
		// One server per SQLite data folder; PostgreSQL is shared by
		// design. Released after the store has closed.
		if err := os.MkdirAll(c.Data, 0o700); err != nil {
			return feed.Nudging{}, nil, fmt.Errorf("create data folder: %w", err)
		}
		release, err := lockData(c.Data)
		if err != nil {
			return feed.Nudging{}, nil, err
		}
		stops.push(release)
	}
	db, err := openBackend(ctx, c.Data, c.DSN, storeOptions{Logger: log, OnCommit: m.Committed})
	if err != nil {
		return feed.Nudging{}, nil, err
	}
	// Closed after the server has stopped: it commits what is pending.
	stops.push(func() {
		if err := db.Close(); err != nil {
			log.Error("close store", slog.String("cause", err.Error()))
		}
	})
	// Every revocation made through the wrapped store reaches the feed at
	// once: on SQLite, the writer hands the hub the log's new entries as
	// it commits them, which spares the hub reading them back; on
	// PostgreSQL, the revocation nudges this instance's hub and the other
	// instances' to read the log.
	hub := feed.New(feed.Config{Source: db, Notifier: db.notifier, Logger: log})
	nudge := hub.Nudge
	switch {
	case db.onEvents != nil:
		db.onEvents(hub.Offer)
		nudge = func() {}
	case db.notify != nil:
		nudge = func() { hub.Nudge(); db.notify() }
	}
	// The cache is the innermost decorator, so that every write passes
	// through it; it is current while the hub reads the log.
	cached := cache.New(db, cache.Config{
		Tokens:    c.TokenCache,
		Refreshes: cache.DefaultRefreshes,
		Clients:   cache.DefaultClients,
		ClientTTL: c.ClientCacheTTL,
		Current:   func() bool { return hub.Current(cacheCurrent) },
	})
	hub.Subscribe(cached.Apply)
	st := feed.Nudging{Store: metrics.Store{Store: cached, M: m}, Nudge: nudge}
	// The live-token count reads the store: it stops, and is waited for,
	// before the store closes.
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	refreshed := make(chan struct{})
	go func() { defer close(refreshed); m.RefreshLive(refreshCtx, st, 30*time.Second, log) }()
	stops.push(func() { stopRefresh(); <-refreshed })
	return st, hub, nil
}

// loadCert returns the TLS certificate of the public listener; nil with
// --insecure-http. The data folder's own pair is made self-signed, and
// that logged, when neither file exists; a pair given by --tls-cert and
// --tls-key is only read.
func loadCert(c serveConfig, log *slog.Logger) (*tls.Certificate, error) {
	if c.InsecureHTTP {
		return nil, nil
	}
	var cert tls.Certificate
	var err error
	if c.TLSDefault {
		_, certErr := os.Stat(c.TLSCert)
		_, keyErr := os.Stat(c.TLSKey)
		if errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist) {
			log.Info("making a self-signed TLS certificate", slog.String("cert", c.TLSCert), slog.String("key", c.TLSKey))
		}
		cert, err = server.LoadOrCreateCert(c.TLSCert, c.TLSKey)
	} else {
		cert, err = tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	}
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &cert, nil
}

// openKeys opens the data folder's JWT signing keys, making a key of alg
// when none is active.
func openKeys(dataDir, alg string) (*token.Keyring, error) {
	keys, err := token.OpenKeyring(keysDir(dataDir), alg, nil)
	if err != nil {
		return nil, err
	}
	if err := keys.EnsureActive(alg); err != nil {
		return nil, err
	}
	return keys, nil
}

// startBackchannel starts the delivery of back-channel Logout Tokens
// (package backchannel), which follows the revocation log from its own
// cursor in the store, nudged by the hub whenever the log grows. It is
// stopped, and waited for, before the store closes.
func startBackchannel(ctx context.Context, p parts, stops *stopList) {
	f := backchannel.New(backchannel.Config{
		Store:    logFromHub{p.st, p.hub},
		Tokens:   &token.JWTs{Keys: p.keys, Issuer: p.c.Issuer},
		Logger:   p.log,
		Observer: p.m,
	})
	p.hub.Follow(f.Nudge)
	ctx, cancel := context.WithCancel(ctx)
	f.Start(ctx)
	stops.push(func() { cancel(); f.Wait() })
}

// logFromHub is the store as the followers of the revocation log see
// it: the log through the hub, which has read it already, from memory
// while its ring holds what they ask for. Each reading the store after
// every commit cost a revocation about 3 % of the server's CPU.
type logFromHub struct {
	feed.Nudging
	hub *feed.Hub
}

// Events reads the log through the hub.
func (s logFromHub) Events(ctx context.Context, since int64, limit int) ([]store.Event, error) {
	return s.hub.Events(ctx, since, limit)
}

// startSSF starts the Shared Signals transmitter (package ssf), which
// follows the revocation log from its own cursor in the store, nudged by
// the hub, as back-channel logout does; its figures are read at each
// scrape of the metrics. It is stopped, and waited for, before the store
// closes.
func startSSF(ctx context.Context, p parts, stops *stopList) *ssf.Transmitter {
	t := ssf.New(ssf.Config{
		Store:        logFromHub{p.st, p.hub},
		Tokens:       &token.JWTs{Keys: p.keys, Issuer: p.c.Issuer},
		Issuer:       p.c.Issuer,
		PollEndpoint: func(id string) string { return ssfhttp.PollEndpoint(p.c.Issuer, id) },
		Logger:       p.log,
		Observer:     p.m,
		// 0 means the default to ssf.Config, none to the flag.
		InactivityTimeout: cmp.Or(p.c.SSFInactivity, -1),
	})
	p.hub.Follow(t.Nudge)
	p.m.SSFStreams(func(ctx context.Context) ([]metrics.SSFStream, error) {
		stats, err := t.Stats(ctx)
		out := make([]metrics.SSFStream, len(stats))
		for i, s := range stats {
			out[i] = metrics.SSFStream{ID: s.ID, Pending: s.Pending, Delivered: s.Delivered, Failed: s.Failed, Lag: s.Lag}
		}
		return out, err
	})
	ctx, cancel := context.WithCancel(ctx)
	t.Start(ctx)
	stops.push(func() { cancel(); t.Wait() })
	return t
}

// startHub starts the revocation hub, with the status lists following it:
// they are built from the whole log before serving, then kept current by
// the hub. The hub stops before the store closes, and with it the
// revocation streams, so shutdown does not wait on them.
func startHub(ctx context.Context, hub *feed.Hub, issuer string, keys *token.Keyring, stops *stopList) (*statuslist.Lists, error) {
	lists := statuslist.NewLists(statuslist.ListsConfig{Issuer: issuer, Keys: keys})
	hub.Subscribe(lists.Apply)
	hubCtx, stopHub := context.WithCancel(ctx)
	stops.push(func() { stopHub(); hub.Wait() })
	if err := hub.Start(hubCtx); err != nil {
		return nil, fmt.Errorf("revocation log: %w", err)
	}
	return lists, nil
}

// buildHTTP mounts the public listener's endpoints on a mux: OAuth, browser
// sign-in, the admin API, SCIM and the metrics.
func buildHTTP(p parts) *http.ServeMux {
	// Failed client authentications are counted per address (never per
	// client, which anyone could then lock out); password guesses per
	// username and per address, whichever endpoint they hit: the password
	// grant, the sign-in page or an admin endpoint's HTTP Basic.
	limiter := ratelimit.NewLimiter(p.c.AuthFailLimit, p.c.AuthFailWindow, nil)
	userLimiter := ratelimit.NewLimiter(p.c.AuthFailLimit, p.c.AuthFailWindow, nil)
	authz := adminauth.New(adminauth.Config{Token: p.adminToken, Users: p.st, Limiter: userLimiter})
	jwts := &token.JWTs{Keys: p.keys, Issuer: p.c.Issuer}
	endpoints := oauth.New(oauth.Config{
		Issuer: p.c.Issuer,
		Store:  p.st,
		Auth: &clientauth.Authenticator{
			Clients:  p.st,
			Verifier: identity.NewSecretVerifier(5*time.Minute, nil),
			Limiter:  limiter,
		},
		UserLimiter:     userLimiter,
		Logger:          p.log,
		Admin:           authz,
		AccessTokenTTL:  p.c.AccessTokenTTL,
		RefreshTokenTTL: p.c.RefreshTokenTTL,
		RevokeHeaders:   p.c.RevokeHeaders == "wso2",
		OnAuthFailure:   p.m.AuthFailed,

		GlobalTokenRevocationPath: admin.PathGlobalTokenRevocation,
		JWT:                       jwts,
		JWTAudience:               p.c.JWTAudience,
		StatusIndexes:             &statuslist.Allocator{Store: p.st},
		Assertions:                &assertion.Verifier{Issuers: p.st},
		Feed:                      p.hub,
		StatusLists:               p.lists,
		AuthorizationCodes:        true,
		Browser:                   true,
		DPoP:                      &dpop.Verifier{Nonces: p.dpopNonces},
		// Instances on one PostgreSQL share the check of DPoP proofs'
		// jtis; on SQLite the serve lock makes this process the only one.
		DPoPSharedReplay: p.c.DSN != "",
	})
	mux := http.NewServeMux()
	endpoints.Mount(mux)
	web.New(web.Config{Issuer: p.c.Issuer, AuthorizePath: oauth.PathAuthorize, EndSessionPath: oauth.PathEndSession,
		Store: p.st, JWT: jwts, Feed: p.hub, UserLimiter: userLimiter, Logger: p.log, SessionTTL: p.c.SessionTTL}).Mount(mux)
	admin.New(admin.Config{Store: p.st, Auth: authz, Issuer: p.c.Issuer, Logger: p.log}).Mount(mux)
	scim.New(scim.Config{Store: p.st, Auth: authz, BaseURL: p.c.Issuer, Logger: p.log}).Mount(mux)
	receiver := &ssf.Receiver{Issuers: p.st, Audiences: []string{p.c.Issuer}, Engine: &revocation.Engine{Store: p.st}, Logger: p.log}
	ssfhttp.New(ssfhttp.Config{Transmitter: p.ssf, Receiver: receiver, Store: p.st, Auth: authz, Issuer: p.c.Issuer,
		JWKSPath: oauth.PathJWKS, Logger: p.log}).Mount(mux)
	// On the public listener the metrics need the admin token; on
	// --metrics-addr, which only operators should reach, nothing.
	mux.Handle("GET /metrics", admin.TokenOnly(authz, p.m.Handler(), p.log))
	return mux
}

// serveDebug serves the profiler on its own listener, never on the public
// one: profiles show request paths and timings, nothing an OAuth client
// should reach. It returns the address it listens on and the function that
// stops it.
func serveDebug(addr string, log *slog.Logger) (net.Addr, func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveApart("--debug-addr", "profiler", addr, mux, log)
}

// serveMetrics serves the metrics (h) at GET /metrics on their own
// listener, without authentication, for a scraper on a network only
// operators reach. It returns the address it listens on and the function
// that stops it.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (net.Addr, func(), error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return serveApart("--metrics-addr", "metrics", addr, mux, log)
}

// serveApart serves h over plain HTTP on a listener of its own at addr,
// apart from the public one; flag names addr's flag in errors, what the
// listener in the log.
func serveApart(flag, what, addr string, h http.Handler, log *slog.Logger) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", flag, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info(what+" listening", slog.String("addr", ln.Addr().String()))
	return ln.Addr(), func() { srv.Close() }, nil
}

// adminToken returns the admin token: fromEnv (TOKEND_ADMIN_TOKEN, which
// serveConfig.Validate has checked) when set, else the one kept in
// <data>/admin-token, made on first start, which must pass
// server.CheckAdminToken. The second result says where it is, for the
// start-up line; the token itself is never printed.
func adminToken(fromEnv, dataDir string) (token, source string, err error) {
	if fromEnv != "" {
		return fromEnv, "from TOKEND_ADMIN_TOKEN", nil
	}
	path := filepath.Join(dataDir, "admin-token")
	t, _, err := server.LoadOrCreateAdminToken(path)
	if err != nil {
		return "", "", fmt.Errorf("admin token: %w", err)
	}
	abs, _ := filepath.Abs(path)
	return t, abs, nil
}

// issuerHost turns a listen address into the host of the default issuer:
// an empty or wildcard host becomes localhost.
func issuerHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// newLogger returns serve's logger, writing to w in format (text or json)
// what is at level or above.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(server.NewLogHandler(w, false, lvl)), nil
	case "json":
		return slog.New(server.NewLogHandler(w, true, lvl)), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
	}
}
