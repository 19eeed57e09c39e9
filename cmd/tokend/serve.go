package main

import (
	"context"
	"crypto/tls"
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
	"strings"
	"time"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/cache"
	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/logbuf"
	"github.com/tokend/tokend/internal/metrics"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/server"
	"github.com/tokend/tokend/internal/statuslist"
	"github.com/tokend/tokend/internal/sweep"
	"github.com/tokend/tokend/internal/token"
)

// minProcs is the fewest scheduler slots (GOMAXPROCS) serve runs with.
// On one CPU Go would give it one, and then the store's writer, blocked in
// fsync, holds the only slot: requests cannot run to queue their writes
// for the next commit, and group commit degenerates to about two writes a
// commit. Measured with tokend-bench pinned to one core: revocations
// 1,180/s with one slot, 2,716/s with four.
const minProcs = 4

// gcPercent is the garbage collector's target when GOGC is not set.
// tokend's live heap is small (tens of MiB: the data is in the store), so
// at Go's default of 100 the collector runs after every few MiB allocated,
// which under load is many times a second, and takes about a fifth of an
// introspection's CPU (BenchmarkIntrospect in internal/oauth: 105–122 µs
// at 100, 86–87 µs at 400). At 400 the heap peaks near five times the live
// heap, still well under 100 MiB; GOMEMLIMIT bounds it where memory is
// tight.
const gcPercent = 400

// memoryLimit is the heap's soft limit when GOMEMLIMIT is not set. At
// GOGC=400 the heap may grow to five times what is live before a
// collection, and much of what a busy server allocates is garbage at once
// (each password check's argon2id allocates 19 MiB): measured under
// tokend-bench, the heap reached 600 MiB with 90 MiB in use. The limit
// makes the collector run earlier than GOGC would, once the heap nears it.
// It leaves room for what is live by configuration: the token cache
// (about 460 bytes a token, counted as 1 KiB) and the rest (the argon2id
// slots, buffers, the feed's ring), under 128 MiB.
func memoryLimit(tokenCache int) int64 {
	return 128<<20 + int64(max(tokenCache, 0))<<10
}

// cacheCurrent is how recently the hub must have read the revocation log
// for the token cache to be trusted. The hub reads it at least every
// feed.DefaultPoll; past this, another instance's revocation may be
// unseen, so introspection and revocation read the store instead.
const cacheCurrent = time.Second

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	fs := newFlagSet("serve", stderr)
	data := dataFlag(fs)
	addr := fs.String("addr", envOr("TOKEND_ADDR", "localhost:9443"), "listen address (env TOKEND_ADDR)")
	certFile := fs.String("tls-cert", envOr("TOKEND_TLS_CERT", ""), "TLS certificate (PEM); default <data>/tls/cert.pem, self-signed on first start (env TOKEND_TLS_CERT)")
	keyFile := fs.String("tls-key", envOr("TOKEND_TLS_KEY", ""), "TLS private key (PEM); default <data>/tls/key.pem (env TOKEND_TLS_KEY)")
	insecure := fs.Bool("insecure-http", envBool("TOKEND_INSECURE_HTTP", false), "serve plain HTTP, for behind a TLS proxy and for tests (env TOKEND_INSECURE_HTTP)")
	issuer := fs.String("issuer", envOr("TOKEND_ISSUER", ""), "issuer identifier; default derived from --addr (env TOKEND_ISSUER)")
	revokeHeaders := fs.String("revoke-headers", envOr("TOKEND_REVOKE_HEADERS", "wso2"), "wso2: send RevokedAccessToken/RevokedRefreshToken/AuthorizedUser on a revocation; none: do not (env TOKEND_REVOKE_HEADERS)")
	accessTTL := fs.Duration("access-token-ttl", envDuration("TOKEND_ACCESS_TOKEN_TTL", oauth.DefaultAccessTokenTTL), "default access token lifetime (env TOKEND_ACCESS_TOKEN_TTL)")
	refreshTTL := fs.Duration("refresh-token-ttl", envDuration("TOKEND_REFRESH_TOKEN_TTL", oauth.DefaultRefreshTokenTTL), "default refresh token lifetime (env TOKEND_REFRESH_TOKEN_TTL)")
	authFailLimit := fs.Int("auth-fail-limit", 20, "failed authentications allowed per key in each --auth-fail-window: per address for client secrets, per address and per username for passwords")
	authFailWindow := fs.Duration("auth-fail-window", time.Minute, "window of --auth-fail-limit")
	trustedProxies := fs.String("trusted-proxies", envOr("TOKEND_TRUSTED_PROXIES", ""), "comma-separated CIDR prefixes of proxies whose X-Forwarded-For names the client, e.g. 10.0.0.0/8; empty: none (env TOKEND_TRUSTED_PROXIES)")
	jwtAlg := fs.String("jwt-alg", jwtAlgDefault(), "algorithm JWT access tokens are signed with: RS256, ES256 or EdDSA (env TOKEND_JWT_ALG)")
	jwtAudience := fs.String("jwt-audience", envOr("TOKEND_JWT_AUDIENCE", ""), "aud of JWT access tokens; the client_id when empty (env TOKEND_JWT_AUDIENCE)")
	maxInFlight := fs.Int("max-inflight", 256, "requests served at once; more wait up to --queue-wait, then get 503 with Retry-After (0: no bound)")
	queueWait := fs.Duration("queue-wait", 50*time.Millisecond, "how long a request waits for a slot when --max-inflight are being served")
	sweepInterval := fs.Duration("sweep-interval", envDuration("TOKEND_SWEEP_INTERVAL", sweep.DefaultInterval), "time between two sweeps of expired grants and old log events (env TOKEND_SWEEP_INTERVAL)")
	auditRetention := fs.Duration("audit-retention", envDuration("TOKEND_AUDIT_RETENTION", sweep.DefaultRetention), "how long revocation log events are kept; negative: forever (env TOKEND_AUDIT_RETENTION)")
	logFormat := fs.String("log-format", envOr("TOKEND_LOG_FORMAT", "text"), "text or json (env TOKEND_LOG_FORMAT)")
	logLevel := fs.String("log-level", envOr("TOKEND_LOG_LEVEL", "info"), "debug, info, warn or error (env TOKEND_LOG_LEVEL)")
	tokenCache := fs.Int("token-cache", envInt("TOKEND_TOKEN_CACHE", cache.DefaultTokens), "access tokens kept in memory for introspection and revocation; 0: read the store every time (env TOKEND_TOKEN_CACHE)")
	clientCacheTTL := fs.Duration("client-cache-ttl", envDuration("TOKEND_CLIENT_CACHE_TTL", cache.DefaultClientTTL), "how long a client read from the store is trusted: how late another instance's change to a client is seen here; 0: read the store every time (env TOKEND_CLIENT_CACHE_TTL)")
	debugAddr := fs.String("debug-addr", envOr("TOKEND_DEBUG_ADDR", ""), "serve Go's profiler (/debug/pprof/) on this address, e.g. localhost:6060; off when empty (env TOKEND_DEBUG_ADDR)")
	metricsAddr := fs.String("metrics-addr", envOr("TOKEND_METRICS_ADDR", ""), "serve /metrics without authentication over plain HTTP on this address, e.g. localhost:9090; off when empty (the public listener serves it to the admin token only) (env TOKEND_METRICS_ADDR)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(*tokenCache))
	}
	if *revokeHeaders != "wso2" && *revokeHeaders != "none" {
		return fmt.Errorf("--revoke-headers must be wso2 or none, not %q", *revokeHeaders)
	}
	proxies, err := server.ParseTrustedProxies(*trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	// A line per request is logged; batched, they cost a write system call
	// every 100 ms instead of one each. Closed last, after everything that
	// logs has stopped.
	logOut := logbuf.New(stderr, logbuf.FlushEvery)
	defer logOut.Close()
	log, err := newLogger(logOut, *logFormat, *logLevel)
	if err != nil {
		return err
	}

	if *debugAddr != "" {
		_, stopDebug, err := serveDebug(*debugAddr, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	m := metrics.New()
	db, err := openStore(ctx, fs, storeOptions{Logger: log, OnCommit: m.Committed})
	if err != nil {
		return err
	}
	// Close after the server has stopped: it commits what is pending.
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close store", slog.String("cause", err.Error()))
		}
	}()
	// The revocation feed follows the log in the store; every revocation
	// made through st nudges it at once.
	hub := feed.New(feed.Config{Source: db, Notifier: db.notifier, Logger: log})
	nudge := hub.Nudge
	if db.notify != nil {
		nudge = func() { hub.Nudge(); db.notify() }
	}
	// The cache is the innermost decorator, so that every write passes
	// through it; it is current while the hub reads the log.
	cached := cache.New(db, cache.Config{
		Tokens:    *tokenCache,
		Clients:   cache.DefaultClients,
		ClientTTL: *clientCacheTTL,
		Current:   func() bool { return hub.Current(cacheCurrent) },
	})
	hub.Subscribe(cached.Apply)
	st := feed.Nudging{Store: metrics.Store{Store: cached, M: m}, Nudge: nudge}
	go m.RefreshLive(ctx, st, 30*time.Second, log)

	adminToken, adminSource, err := adminToken(*data)
	if err != nil {
		return err
	}

	var cert *tls.Certificate
	scheme := "https"
	if *insecure {
		scheme = "http"
	} else {
		if *certFile == "" {
			*certFile = filepath.Join(*data, "tls", "cert.pem")
		}
		if *keyFile == "" {
			*keyFile = filepath.Join(*data, "tls", "key.pem")
		}
		c, err := server.LoadOrCreateCert(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
		cert = &c
	}
	if *issuer == "" {
		*issuer = scheme + "://" + issuerHost(*addr)
	}

	keys, err := token.OpenKeyring(keysDir(*data), *jwtAlg, nil)
	if err != nil {
		return err
	}
	if err := keys.EnsureActive(*jwtAlg); err != nil {
		return err
	}
	jwts := &token.JWTs{Keys: keys, Issuer: *issuer}

	// The status lists are built from the whole log before serving, then
	// kept current by the hub. The hub stops before the store closes, and
	// with it the revocation streams, so shutdown does not wait on them.
	lists := statuslist.NewLists(statuslist.ListsConfig{Issuer: *issuer, Keys: keys})
	hub.Subscribe(lists.Apply)
	hubCtx, stopHub := context.WithCancel(ctx)
	defer func() { stopHub(); hub.Wait() }()
	if err := hub.Start(hubCtx); err != nil {
		return fmt.Errorf("revocation log: %w", err)
	}

	// Failed client authentications are counted per address (never per
	// client, which anyone could then lock out); password guesses per
	// username and per address, whichever endpoint they hit: the password
	// grant or an admin endpoint's HTTP Basic.
	limiter := ratelimit.NewLimiter(*authFailLimit, *authFailWindow, nil)
	userLimiter := ratelimit.NewLimiter(*authFailLimit, *authFailWindow, nil)
	authz := adminauth.New(adminauth.Config{Token: adminToken, Users: st, Limiter: userLimiter})
	endpoints := oauth.New(oauth.Config{
		Issuer: *issuer,
		Store:  st,
		Auth: &clientauth.Authenticator{
			Clients:  st,
			Verifier: identity.NewSecretVerifier(5*time.Minute, nil),
			Limiter:  limiter,
		},
		UserLimiter:     userLimiter,
		Logger:          log,
		Admin:           authz,
		AccessTokenTTL:  *accessTTL,
		RefreshTokenTTL: *refreshTTL,
		RevokeHeaders:   *revokeHeaders == "wso2",
		OnAuthFailure:   m.AuthFailed,

		GlobalTokenRevocationPath: admin.PathGlobalTokenRevocation,
		JWT:                       jwts,
		JWTAudience:               *jwtAudience,
		StatusIndexes:             &statuslist.Allocator{Store: st},
		Assertions:                &assertion.Verifier{Issuers: st},
		Feed:                      hub,
		StatusLists:               lists,
	})
	mux := http.NewServeMux()
	endpoints.Mount(mux)
	admin.New(admin.Config{Store: st, Auth: authz, Issuer: *issuer, Logger: log}).Mount(mux)
	scim.New(scim.Config{Store: st, Auth: authz, BaseURL: *issuer, Logger: log}).Mount(mux)
	stopSweep, err := startSweep(ctx, st, *sweepInterval, *auditRetention, log)
	if err != nil {
		return err
	}
	defer stopSweep() // before the store closes
	// On the public listener the metrics need the admin token; on
	// --metrics-addr, which only operators should reach, nothing.
	mux.Handle("GET /metrics", admin.TokenOnly(authz, m.Handler(), log))
	if *metricsAddr != "" {
		_, stopMetrics, err := serveMetrics(*metricsAddr, m.Handler(), log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	cfg := server.Config{
		Addr: *addr, TLS: cert, Ready: st.Ping, Logger: log,
		MaxInFlight: *maxInFlight, QueueWait: *queueWait,
		Unqueued: []string{"/metrics", oauth.PathRevocationStream},
		Observe:  m.ObserveRequest, OnReject: m.Rejected,
		TrustedProxies: proxies,
	}
	return server.Serve(ctx, cfg, server.Handler(cfg, mux), func(a net.Addr) {
		log.Info("tokend listening",
			slog.String("addr", a.String()),
			slog.String("issuer", *issuer),
			slog.String("data", *data),
			slog.String("admin_token", adminSource),
			slog.String("version", version))
		fmt.Fprintf(stdout, "tokend %s listening on %s://%s (issuer %s)\nadmin token: %s\n", version, scheme, a, *issuer, adminSource)
	})
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

// adminToken returns the admin token: TOKEND_ADMIN_TOKEN when set, else the
// one kept in <data>/admin-token, made on first start. Either must pass
// server.CheckAdminToken. The second result says where it is, for the
// start-up line; the token itself is never printed.
func adminToken(dataDir string) (token, source string, err error) {
	if t := os.Getenv("TOKEND_ADMIN_TOKEN"); t != "" {
		if err := server.CheckAdminToken(t); err != nil {
			return "", "", fmt.Errorf("TOKEND_ADMIN_TOKEN: %w", err)
		}
		return t, "from TOKEND_ADMIN_TOKEN", nil
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

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(server.WithRequestIDs(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(server.WithRequestIDs(slog.NewJSONHandler(w, opts))), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
	}
}
