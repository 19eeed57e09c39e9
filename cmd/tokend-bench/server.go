package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildTokend builds ./cmd/tokend of the module this program is run from
// into dir and returns the binary's path.
func buildTokend(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "tokend")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/tokend/tokend/cmd/tokend")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build tokend: %w\n%s", err, out.String())
	}
	return bin, nil
}

// proc is a child process that serves HTTP: tokend serve, or the ceiling.
type proc struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:PORT
	log  *os.File
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, valid after done
}

// listening matches the start-up line of tokend serve and of the ceiling.
var listening = regexp.MustCompile(`listening on (https?)://(\S+)`)

// pinned returns argv run on CPU cpu with taskset, or argv itself when
// cpu < 0.
func pinned(cpu int, argv ...string) []string {
	if cpu < 0 {
		return argv
	}
	return append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
}

// startProc starts argv with env added to the environment, sends its standard error to logPath, and waits
// for the line that says where it listens. A process that exits first is
// an error that quotes the end of its log.
func startProc(ctx context.Context, argv []string, env []string, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(childEnv(), env...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &proc{cmd: cmd, log: logf, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := listening.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1] + "://" + m[2]
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	select {
	case u := <-found:
		p.url = u
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening (%v):\n%s", strings.Join(argv, " "), p.err, tail(logPath, 2000))
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, fmt.Errorf("%s did not say where it listens within 60 s:\n%s", strings.Join(argv, " "), tail(logPath, 2000))
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
}

// pid returns the process id. Under taskset it is the server's own:
// taskset replaces itself with the program it runs.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// kill ends the process at once (SIGKILL: no shutdown, nothing flushed)
// and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to shut down (SIGTERM) and waits up to 30 s
// before killing it.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// childEnv is this process's environment without TOKEND_* variables, so
// that tokend runs on what the program's flags say, not on the caller's
// settings, and keeps its admin token in <data>/admin-token.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKEND_") {
			env = append(env, kv)
		}
	}
	return env
}

// lastLine returns the last line of s that is not blank: the error a
// command printed after its usage.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// cli runs one tokend CLI command on the data folder and returns its
// standard output.
func cli(ctx context.Context, bin, data string, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, append(args, "--data", data)...)
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tokend %s: %w: %s", strings.Join(args[:2], " "), err, lastLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// client is a registered client and its Authorization header.
type client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

func (c client) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(c.Secret)))
}

// createClient registers a client through the CLI.
func createClient(ctx context.Context, bin, data, name string, extra ...string) (client, error) {
	out, err := cli(ctx, bin, data, "", append([]string{"client", "create", "--name", name, "--json"}, extra...)...)
	if err != nil {
		return client{}, err
	}
	var c client
	if err := json.Unmarshal(out, &c); err != nil {
		return client{}, fmt.Errorf("client create printed %q: %w", out, err)
	}
	if c.ID == "" || c.Secret == "" {
		return client{}, fmt.Errorf("client create printed no client_id or client_secret: %q", out)
	}
	return c, nil
}

// processCPU returns the user and system CPU time a process has used;
// pid 0 is this process.
func processCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0, err
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// count the fields after its closing one. utime and stime are fields
	// 14 and 15, in clock ticks of 1/100 s on Linux.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}
