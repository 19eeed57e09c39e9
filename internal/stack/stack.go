package stack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles tokend and the example API into dir and returns their paths.
func Build(ctx context.Context, dir string) (tokend, api string, err error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", "", fmt.Errorf("stack: go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	tokend, api = filepath.Join(dir, "tokend"), filepath.Join(dir, "api")
	for pkg, bin := range map[string]string{"./cmd/tokend": tokend, "./examples/api": api} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("stack: go build %s: %v\n%s", pkg, err, b)
		}
	}
	return tokend, api, nil
}

// Proc is a running process and what it wrote to stderr.
type Proc struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan error
}

// Log returns what the process has written to stderr so far.
func (p *Proc) Log() string { return p.log.String() }

// Stop sends SIGTERM and waits (at most 10 s, then kills).
func (p *Proc) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		return errors.New("stack: process did not stop on SIGTERM")
	}
}

// start runs cmd and waits for a stdout line containing marker; it returns
// that line.
func start(cmd *exec.Cmd, marker string) (*Proc, string, error) {
	p := &Proc{cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), marker) {
				select {
				case found <- sc.Text():
				default:
				}
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case line := <-found:
		return p, line, nil
	case err := <-p.done:
		return nil, "", fmt.Errorf("stack: %s exited before it was ready (%v):\n%s", filepath.Base(cmd.Path), err, p.log)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("stack: %s not ready after 60 s:\n%s", filepath.Base(cmd.Path), p.log)
	}
}

// Tokend is a running `tokend serve` on its own data folder.
type Tokend struct {
	*Proc
	Bin  string
	Data string
	Addr string
	// URL is the base URL and issuer, http://127.0.0.1:PORT.
	URL string
	env []string
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartTokend runs `tokend serve --insecure-http` on data, listening on
// addr (a free loopback port when empty), with the extra serve flags. The
// process ends with ctx.
func StartTokend(ctx context.Context, bin, data, addr string, flags ...string) (*Tokend, error) {
	if addr == "" {
		var err error
		if addr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	env := append(os.Environ(), "TOKEND_DATA="+data, "TOKEND_ADDR="+addr, "TOKEND_LOG_LEVEL=warn")
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--insecure-http"}, flags...)...)
	cmd.Env = env
	p, _, err := start(cmd, "listening on")
	if err != nil {
		return nil, err
	}
	return &Tokend{Proc: p, Bin: bin, Data: data, Addr: addr, URL: "http://" + addr, env: env}, nil
}

// CLI runs a tokend command on the instance's data folder and returns its
// standard output.
func (t *Tokend) CLI(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, t.Bin, args...)
	cmd.Env = t.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("stack: tokend %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// CreateClient runs `tokend client create --json` with the flags and
// returns the new client's id and secret.
func (t *Tokend) CreateClient(ctx context.Context, flags ...string) (id, secret string, err error) {
	out, err := t.CLI(ctx, append([]string{"client", "create", "--json"}, flags...)...)
	if err != nil {
		return "", "", err
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		return "", "", fmt.Errorf("stack: client create printed %q: %w", out, err)
	}
	return c.ID, c.Secret, nil
}

// AdminToken returns the admin token of the data folder.
func (t *Tokend) AdminToken() (string, error) {
	b, err := os.ReadFile(filepath.Join(t.Data, "admin-token"))
	return strings.TrimSpace(string(b)), err
}

// API is the running example API.
type API struct {
	*Proc
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
}

// StartAPI runs the example API against issuer, with the resource server's
// client and the audience to require. The process ends with ctx.
func StartAPI(ctx context.Context, bin, issuer, clientID, clientSecret, audience string) (*API, error) {
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-issuer", issuer, "-audience", audience,
		"-client-id", clientID, "-client-secret", clientSecret)
	cmd.Env = os.Environ()
	p, line, err := start(cmd, "api listening on")
	if err != nil {
		return nil, err
	}
	// "api listening on http://127.0.0.1:PORT (issuer ...)"
	fields := strings.Fields(line)
	if len(fields) < 4 {
		_ = p.Stop()
		return nil, fmt.Errorf("stack: unexpected line %q", line)
	}
	return &API{Proc: p, URL: fields[3]}, nil
}

// syncBuffer is a bytes.Buffer safe for a writing process and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)
