package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: the prefixes joined by ","; "error" for an error
	}{
		{"", ""},
		{" , ", ""},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{" 192.0.2.10 , ::1 ", "192.0.2.10/32,::1/128"},
		{"10.0.0.0/8,,fd00::/8,", "10.0.0.0/8,fd00::/8"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"10.0.0/8", "error"},
		{"10.0.0.0/33", "error"},
		{"proxy.example", "error"},
		{"fe80::1%eth0", "error"},
		{"10.0.0.0/8;192.0.2.1", "error"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ps, err := ParseTrustedProxies(tc.in)
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			gotS := strings.Join(got, ",")
			if err != nil {
				gotS = "error"
				if !strings.Contains(err.Error(), "trusted proxy") {
					t.Errorf("error %q does not say what is wrong", err)
				}
			}
			if gotS != tc.want {
				t.Errorf("ParseTrustedProxies(%q) = %q (%v); want %q", tc.in, gotS, err, tc.want)
			}
		})
	}
}

// TestTrustedProxies: over real HTTP (the peer is 127.0.0.1), the address
// downstream handlers and the request log see. X-Forwarded-For is read
// only from a trusted peer, and then its rightmost address that is not a
// trusted proxy is the client; from any other peer it is ignored.
func TestTrustedProxies(t *testing.T) {
	const peer = "peer" // the test server's view of the connection: 127.0.0.1:port
	for _, tc := range []struct {
		name    string
		trusted string
		xff     []string // header lines
		want    string
	}{
		{"trusted peer", "127.0.0.0/8", []string{"203.0.113.7"}, "203.0.113.7"},
		{"trusted peer given as an address", "127.0.0.1", []string{"203.0.113.7"}, "203.0.113.7"},
		{"trusted peer, no header", "127.0.0.0/8", nil, peer},
		{"trusted peer, empty header", "127.0.0.0/8", []string{" "}, peer},
		{"forged entries on the left", "127.0.0.0/8,10.0.0.0/8", []string{"198.51.100.1, 203.0.113.7, 10.0.0.5"}, "203.0.113.7"},
		{"every entry a trusted proxy", "127.0.0.0/8,10.0.0.0/8", []string{"10.0.0.9, 10.0.0.5"}, "10.0.0.9"},
		{"several header lines", "127.0.0.0/8", []string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7"},
		{"garbage on the left", "127.0.0.0/8", []string{"garbage, 203.0.113.7"}, "203.0.113.7"},
		{"garbage on the right", "127.0.0.0/8", []string{"203.0.113.7, garbage"}, peer},
		{"garbage behind a trusted proxy", "127.0.0.0/8,10.0.0.0/8", []string{"garbage, 10.0.0.5"}, "10.0.0.5"},
		{"with a port", "127.0.0.0/8", []string{"203.0.113.7:4711"}, "203.0.113.7"},
		{"IPv6 with a port", "127.0.0.0/8", []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
		{"IPv4-mapped IPv6", "127.0.0.0/8", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"untrusted peer", "192.0.2.0/24", []string{"203.0.113.7"}, peer},
		{"no trusted proxies", "", []string{"203.0.113.7"}, peer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusted, err := ParseTrustedProxies(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			var logBuf bytes.Buffer
			mux := http.NewServeMux()
			mux.HandleFunc("POST /oauth2/revoke", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, r.RemoteAddr)
			})
			srv := httptest.NewServer(Handler(Config{Logger: slog.New(slog.NewJSONHandler(&logBuf, nil)), TrustedProxies: trusted}, mux))
			defer srv.Close()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/oauth2/revoke", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			srv.Close() // waits for the handler, and so for its log line

			got := string(b)
			if tc.want == peer {
				ap, err := netip.ParseAddrPort(got)
				if err != nil || ap.Addr() != netip.MustParseAddr("127.0.0.1") {
					t.Fatalf("RemoteAddr %q; want the peer's, 127.0.0.1:port", got)
				}
			} else if got != tc.want {
				t.Fatalf("RemoteAddr %q; want %q", got, tc.want)
			}
			if want := `"remote":"` + got + `"`; !strings.Contains(logBuf.String(), want) {
				t.Errorf("log %s lacks %s", logBuf.String(), want)
			}
		})
	}
}
