package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// TestTLSOffersAEADSuitesOnly: over TLS 1.2 the server completes a
// handshake only with an ECDHE AEAD suite; a client offering nothing but
// a CBC suite is refused. TLS 1.3 works.
func TestTLSOffersAEADSuitesOnly(t *testing.T) {
	dir := t.TempDir()
	cert, err := LoadOrCreateCert(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Config{Addr: "127.0.0.1:0", TLS: &cert}, http.NotFoundHandler(), func(a net.Addr) { addrc <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	var addr string
	select {
	case a := <-addrc:
		addr = a.String()
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}

	cases := []struct {
		name    string
		version uint16
		suite   uint16 // 0: the client's defaults
		ok      bool
	}{
		{"1.2 ECDHE-ECDSA AES-128-CBC-SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false},
		{"1.2 ECDHE-ECDSA AES-256-CBC-SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, false},
		{"1.2 ECDHE-ECDSA AES-128-CBC-SHA256", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, false},
		{"1.2 ECDHE-ECDSA AES-128-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true},
		{"1.2 ECDHE-ECDSA AES-256-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, true},
		{"1.2 ECDHE-ECDSA ChaCha20-Poly1305", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true},
		{"1.3", tls.VersionTLS13, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: c.version, MaxVersion: c.version}
			if c.suite != 0 {
				cfg.CipherSuites = []uint16{c.suite}
			}
			d := tls.Dialer{Config: cfg}
			conn, err := d.DialContext(t.Context(), "tcp", addr)
			if !c.ok {
				if err == nil {
					state := conn.(*tls.Conn).ConnectionState()
					conn.Close()
					t.Fatalf("handshake completed with %s; want it refused", tls.CipherSuiteName(state.CipherSuite))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			state := conn.(*tls.Conn).ConnectionState()
			if state.Version != c.version || (c.suite != 0 && state.CipherSuite != c.suite) {
				t.Errorf("got %s with %s; want %s with %s", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite),
					tls.VersionName(c.version), tls.CipherSuiteName(c.suite))
			}
		})
	}
}
