package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokend/tokend/internal/atomicfile"
)

// Config says how to serve.
type Config struct {
	// Addr is the listen address, e.g. "localhost:9443".
	Addr string
	// TLS is the certificate to serve; nil serves plain HTTP (behind a TLS
	// proxy, and in tests).
	TLS *tls.Certificate
	// Ready reports whether the store is reachable (/readyz).
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish after a stop signal.
	ShutdownTimeout time.Duration
	// MaxInFlight bounds the requests served at once (admission control);
	// 0 means no bound. A request that finds no slot within QueueWait is
	// answered 503 temporarily_unavailable with Retry-After.
	MaxInFlight int
	QueueWait   time.Duration
	// Unqueued are paths admission control never refuses, besides the
	// probes (/healthz, /readyz): what must answer under load (metrics),
	// and requests that stay open, idle nearly all the time, for as long as
	// their reader follows them (a stream), which would hold a slot for
	// ever; such a handler bounds its own number. A path ending in "/"
	// covers every path under it.
	Unqueued []string
	// Observe, when set, is told of every request (metrics); OnReject of
	// every request refused by admission control.
	Observe  func(route string, status int, d time.Duration)
	OnReject func()
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (ParseTrustedProxies); empty: RemoteAddr is the client.
	TrustedProxies []netip.Prefix
}

// Handler wraps the application routes of mux with the health endpoints
// and the middleware every request goes through.
func Handler(cfg Config, mux *http.ServeMux) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if cfg.Ready != nil {
			if err := cfg.Ready(ctx); err != nil {
				log.WarnContext(ctx, "not ready", slog.String("cause", err.Error()))
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("store unreachable\n"))
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	var h http.Handler = mux
	if cfg.MaxInFlight > 0 {
		wait := cfg.QueueWait
		if wait == 0 {
			wait = 50 * time.Millisecond
		}
		a := &admission{slots: make(chan struct{}, cfg.MaxInFlight), wait: wait, reject: cfg.OnReject,
			exempt: map[string]bool{"/healthz": true, "/readyz": true}}
		for _, p := range cfg.Unqueued {
			if strings.HasSuffix(p, "/") {
				a.under = append(a.under, p)
			} else {
				a.exempt[p] = true
			}
		}
		h = a.wrap(h)
	}
	return withRecover(log, withClientAddr(cfg.TrustedProxies, withRequestLog(log, cfg.Observe, withSecurityHeaders(h))))
}

// Serve listens on cfg.Addr and serves h until ctx is done, then stops
// accepting, lets requests in flight finish (up to ShutdownTimeout) and
// returns. ready, if not nil, is called with the bound address once the
// listener is open.
func Serve(ctx context.Context, cfg Config, h http.Handler, ready func(addr net.Addr)) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if cfg.TLS != nil {
		srv.TLSConfig = TLSConfig(*cfg.TLS)
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	timeout := cfg.ShutdownTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MinAdminTokenLength is the fewest characters an admin token may have. The
// token authorises every admin endpoint; a generated one has 43 (256
// random bits), and one chosen by hand shorter than this could be guessed.
const MinAdminTokenLength = 32

// CheckAdminToken refuses an admin token shorter than MinAdminTokenLength.
func CheckAdminToken(token string) error {
	if n := utf8.RuneCountInString(token); n < MinAdminTokenLength {
		return fmt.Errorf("the admin token has %d characters; it needs at least %d", n, MinAdminTokenLength)
	}
	return nil
}

// LoadOrCreateAdminToken returns the admin token kept at path, creating a
// random one (256 bits, file mode 0600) when there is none. A token in the
// file that CheckAdminToken refuses is an error.
func LoadOrCreateAdminToken(path string) (token string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			if err := CheckAdminToken(t); err != nil {
				return "", false, fmt.Errorf("%s: %w (remove the file and a new token is made)", path, err)
			}
			return t, false, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	if err := atomicfile.Write(path, []byte(token+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return token, true, nil
}
