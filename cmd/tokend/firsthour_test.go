package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantRefused fails t unless err is an error whose text holds every one
// of words.
func wantRefused(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded; want an error naming %q", what, words)
		return
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q; want it to name %q", what, err, w)
		}
	}
}

// TestServeTLSFilesNamedMustExist: serve makes a self-signed pair only at
// the data folder's own paths; a certificate or key named by flag must
// exist, and one without the other is refused, naming the missing one.
func TestServeTLSFilesNamedMustExist(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "nonexistent", "cert.pem"), filepath.Join(dir, "nonexistent", "key.pem")
	cases := []struct {
		name  string
		args  []string
		words []string
	}{
		{"both missing", []string{"--tls-cert", cert, "--tls-key", key}, []string{"--tls-cert", cert, "must exist"}},
		{"only the certificate", []string{"--tls-cert", cert}, []string{"--tls-key is missing"}},
		{"only the key", []string{"--tls-key", key}, []string{"--tls-cert is missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := t.TempDir()
			args := append([]string{"--addr", "127.0.0.1:0", "--data", data, "--log-level", "error"}, c.args...)
			listened, stop := startServe(t, args...)
			if listened {
				t.Fatal("serve started")
			}
			wantRefused(t, "serve "+strings.Join(c.args, " "), stop(), c.words...)
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nonexistent")); err == nil {
		t.Error("serve created the folder of a certificate it was told to read")
	}

	// The data folder's own pair is made on first start, then reused.
	data := t.TempDir()
	listened, stop := startServe(t, "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error")
	if err := stop(); !listened || err != nil {
		t.Fatalf("serve with the default certificate: %v (listened %t)", err, listened)
	}
	own := []string{"--tls-cert", filepath.Join(data, "tls", "cert.pem"), "--tls-key", filepath.Join(data, "tls", "key.pem")}
	listened, stop = startServe(t, append([]string{"--addr", "127.0.0.1:0", "--data", data, "--log-level", "error"}, own...)...)
	if err := stop(); !listened || err != nil {
		t.Fatalf("serve with an existing pair named by flag: %v (listened %t)", err, listened)
	}
}
