package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ceiling serves the machine's ceiling: a bare net/http handler that
// reads the same form body the token endpoints read and answers 200, and
// on pathAnswer the answer an introspection gets, with nothing worked
// out (see opCeilingAnswer). It is
// the hidden subcommand "ceiling", started as a child process and pinned
// like the server, so that each operation can be given as a fraction of
// what plain Go HTTP does on this core.
func ceiling(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           ceilingHandler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(stdout, "ceiling listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if err := srv.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ceilingHandler is the ceiling's handler: a bare function, no mux, so
// that the ceiling routes nothing.
func ceilingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" && r.PostForm.Get("grant_type") == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if r.URL.Path != pathAnswer {
			w.WriteHeader(http.StatusOK)
			return
		}
		h := w.Header()
		for k, v := range introspectionHeaders {
			h[k] = v
		}
		h["X-Request-Id"] = []string{"8a3c5e7f9b1d2f40"}
		w.WriteHeader(http.StatusOK)
		w.Write(introspectionAnswer) //nolint:errcheck // the load generator counts failures
	})
}

// pathAnswer is where the ceiling answers as introspection does.
const pathAnswer = "/answer"

// introspectionHeaders are the headers tokend's introspection answers
// with, but the request id: the security headers WSO2 Identity Server
// sends, the CORS headers of its OAuth endpoints, and no caching
// (TestCeilingAnswersAsIntrospection compares them with tokend's).
var introspectionHeaders = http.Header{
	"Access-Control-Allow-Headers": {"authorization,Access-Control-Allow-Origin,Content-Type,SOAPAction,Authorization"},
	"Access-Control-Allow-Methods": {"POST"},
	"Cache-Control":                {"no-store"},
	"Content-Type":                 {"application/json;charset=UTF-8"},
	"Pragma":                       {"no-cache"},
	"X-Content-Type-Options":       {"nosniff"},
	"X-Frame-Options":              {"DENY"},
	"X-Xss-Protection":             {"1; mode=block"},
}

// introspectionAnswer is an active opaque token's introspection, as long
// as tokend's.
var introspectionAnswer = []byte(`{"active":true,"client_id":"M5tRWyeBrb0R4uXpxg8nLWEG9VNU","sub":"M5tRWyeBrb0R4uXpxg8nLWEG9VNU",` +
	`"token_type":"Bearer","exp":1796561364,"iat":1796557764,"nbf":1796557764,"iss":"http://127.0.0.1:18080"}`)
