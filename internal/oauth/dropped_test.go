package oauth_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/server"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
)

// stallingStore makes LookupToken, once armed, wait until its request is
// cancelled and fail as a database call cancelled with it does.
type stallingStore struct {
	store.Store
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
}

func (s *stallingStore) LookupToken(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	s.mu.Lock()
	armed := s.armed
	s.mu.Unlock()
	if !armed {
		return s.Store.LookupToken(ctx, h)
	}
	close(s.entered)
	<-ctx.Done()
	return store.TokenRecord{}, ctx.Err()
}

// logRecord is one record a recordingLog kept.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

// recordingLog is a slog.Handler that keeps every record.
type recordingLog struct {
	mu      sync.Mutex
	records []logRecord
}

func (l *recordingLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordingLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *recordingLog) WithGroup(string) slog.Handler            { return l }
func (l *recordingLog) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]slog.Value{}}
	r.Attrs(func(a slog.Attr) bool { rec.attrs[a.Key] = a.Value; return true })
	l.mu.Lock()
	l.records = append(l.records, rec)
	l.mu.Unlock()
	return nil
}

func (l *recordingLog) all() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logRecord(nil), l.records...)
}

// TestDroppedClientIsNotAServerError: a client that goes away while its
// request waits on the store is logged at debug, not as a 500 at error,
// and the request log and metrics record 499, not 500.
func TestDroppedClientIsNotAServerError(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "tokend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &stallingStore{Store: db, entered: make(chan struct{})}
	logs := &recordingLog{}
	log := slog.New(logs)
	var mu sync.Mutex
	observed := map[string]int{}
	srv := httptest.NewUnstartedServer(nil)
	mux := http.NewServeMux()
	oauth.New(oauth.Config{
		Issuer: "http://" + srv.Listener.Addr().String(),
		Store:  st,
		Auth: &clientauth.Authenticator{
			Clients:  st,
			Verifier: identity.NewSecretVerifier(time.Minute, nil),
			Limiter:  ratelimit.NewLimiter(5, time.Minute, nil),
		},
		Logger: log,
	}).Mount(mux)
	srv.Config.Handler = server.Handler(server.Config{Logger: log, Observe: func(route string, status int, _ time.Duration) {
		mu.Lock()
		observed[route] = status
		mu.Unlock()
	}}, mux)
	srv.Start()
	defer srv.Close()

	c, secret, err := oauth.Registration.New(registry.Spec{Name: "web"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	post := func(ctx context.Context, path, form string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ID, secret)
		return srv.Client().Do(req)
	}
	resp, err := post(t.Context(), oauth.PathToken, "grant_type=client_credentials")
	if err != nil {
		t.Fatal(err)
	}
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tk)
	resp.Body.Close()
	if err != nil || tk.AccessToken == "" {
		t.Fatalf("token: %d, %v", resp.StatusCode, err)
	}

	st.mu.Lock()
	st.armed = true
	st.mu.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-st.entered; cancel() }()
	if resp, err := post(ctx, oauth.PathIntrospect, "token="+url.QueryEscape(tk.AccessToken)); err == nil {
		resp.Body.Close()
		t.Fatalf("the introspection was answered %d; want the client to have gone", resp.StatusCode)
	}

	// The server notices the client has gone, then finishes the request.
	const route = "POST " + oauth.PathIntrospect
	deadline := time.Now().Add(5 * time.Second)
	var line *logRecord
	for line == nil && time.Now().Before(deadline) {
		for _, r := range logs.all() {
			if r.msg == "request" && r.attrs["route"].String() == route {
				line = &r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if line == nil {
		t.Fatal("no request log line for the introspection")
	}
	if got := line.attrs["status"].Int64(); got != server.StatusClientClosed {
		t.Errorf("request log status %d; want %d", got, server.StatusClientClosed)
	}
	mu.Lock()
	got := observed[route]
	mu.Unlock()
	if got != server.StatusClientClosed {
		t.Errorf("metrics observed status %d; want %d", got, server.StatusClientClosed)
	}
	wentAway := false
	for _, r := range logs.all() {
		if r.level >= slog.LevelWarn {
			t.Errorf("logged at %v: %s %v", r.level, r.msg, r.attrs)
		}
		wentAway = wentAway || (r.level == slog.LevelDebug && r.msg == "client went away")
	}
	if !wentAway {
		t.Error("the dropped client is not logged at debug")
	}
}
