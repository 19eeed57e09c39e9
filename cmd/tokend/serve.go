package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/server"
	"net/http"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
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
	authFailLimit := fs.Int("auth-fail-limit", 20, "failed client authentications allowed per client and per address in each --auth-fail-window")
	authFailWindow := fs.Duration("auth-fail-window", time.Minute, "window of --auth-fail-limit")
	logFormat := fs.String("log-format", envOr("TOKEND_LOG_FORMAT", "text"), "text or json (env TOKEND_LOG_FORMAT)")
	logLevel := fs.String("log-level", envOr("TOKEND_LOG_LEVEL", "info"), "debug, info, warn or error (env TOKEND_LOG_LEVEL)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *revokeHeaders != "wso2" && *revokeHeaders != "none" {
		return fmt.Errorf("--revoke-headers must be wso2 or none, not %q", *revokeHeaders)
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}

	st, err := openStore(*data)
	if err != nil {
		return err
	}
	// Close after the server has stopped: it commits what is pending.
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", slog.String("cause", err.Error()))
		}
	}()

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

	limiter := clientauth.NewLimiter(*authFailLimit, *authFailWindow, nil)
	endpoints := oauth.New(oauth.Config{
		Issuer: *issuer,
		Store:  st,
		Auth: &clientauth.Authenticator{
			Clients:  st,
			Verifier: identity.NewSecretVerifier(5*time.Minute, nil),
			Limiter:  limiter,
		},
		UserLimiter:     clientauth.NewLimiter(*authFailLimit, *authFailWindow, nil),
		Logger:          log,
		AdminToken:      adminToken,
		AccessTokenTTL:  *accessTTL,
		RefreshTokenTTL: *refreshTTL,
		RevokeHeaders:   *revokeHeaders == "wso2",
	})
	mux := http.NewServeMux()
	endpoints.Mount(mux)
	cfg := server.Config{Addr: *addr, TLS: cert, Ready: st.Ping, Logger: log}
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

// adminToken returns the admin token: TOKEND_ADMIN_TOKEN when set, else the
// one kept in <data>/admin-token, made on first start. The second result
// says where it is, for the start-up line; the token itself is never printed.
func adminToken(dataDir string) (token, source string, err error) {
	if t := os.Getenv("TOKEND_ADMIN_TOKEN"); t != "" {
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
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
	}
}
