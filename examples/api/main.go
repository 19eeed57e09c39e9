// Command api is a small resource server protected by tokend through
// package rs: it accepts tokend's JWT and opaque access tokens, and refuses
// a revoked one within milliseconds of its revocation.
//
//	GET /hello    any valid token with scope "read": {"hello": sub, ...}
//	GET /admin    a token with the scopes "read" and "admin"
//	GET /healthz  200; /readyz 200 once the revocation feed has caught up
//
// It is configured by flags or the environment:
//
//	go run ./examples/api -issuer https://localhost:9443 -ca ./tokend-data/tls/cert.pem \
//	    -client-id "$RS_CLIENT_ID" -client-secret "$RS_CLIENT_SECRET" -audience https://api.example
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tokend/tokend/rs"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	addr := flag.String("addr", env("API_ADDR", "localhost:8081"), "listen address (env API_ADDR)")
	issuer := flag.String("issuer", env("TOKEND_ISSUER", "https://localhost:9443"), "tokend's issuer (env TOKEND_ISSUER)")
	ca := flag.String("ca", env("TOKEND_CA", ""), "PEM certificate to trust for tokend, e.g. tokend-data/tls/cert.pem (env TOKEND_CA)")
	audience := flag.String("audience", env("API_AUDIENCE", ""), "aud that tokens must carry; tokend serve --jwt-audience (env API_AUDIENCE)")
	clientID := flag.String("client-id", env("RS_CLIENT_ID", ""), "this API's client at tokend, made with --can-introspect (env RS_CLIENT_ID)")
	clientSecret := flag.String("client-secret", env("RS_CLIENT_SECRET", ""), "its secret (env RS_CLIENT_SECRET)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	client := &http.Client{}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *ca)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	guard, err := rs.New(rs.Config{
		Issuer:         *issuer,
		Audience:       *audience,
		ClientID:       *clientID,
		ClientSecret:   *clientSecret,
		RequiredScopes: []string{"read"},
		HTTPClient:     client,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	defer guard.Close()

	api := http.NewServeMux()
	api.HandleFunc("GET /hello", hello)
	api.Handle("GET /admin", rs.RequireScopes("admin")(http.HandlerFunc(hello)))
	mux := http.NewServeMux()
	mux.Handle("/", guard.Middleware(api))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !guard.FeedHealthy() {
			http.Error(w, "revocation feed not caught up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("api listening on http://%s (issuer %s)\n", ln.Addr(), *issuer)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// hello greets the token's subject.
func hello(w http.ResponseWriter, r *http.Request) {
	c, _ := rs.ClaimsFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"hello": c.Subject, "client_id": c.ClientID, "scope": c.Scope})
}
