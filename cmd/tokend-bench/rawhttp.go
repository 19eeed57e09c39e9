package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// generator sends the requests of a timed phase: one keep-alive connection
// per worker.
type generator interface {
	// do sends one form POST on worker w's connection and returns the
	// status and the body, which is valid until w's next call.
	do(w int, path, auth, body string) (int, []byte, error)
	close()
}

// httpGen is the generator on net/http's client.
type httpGen struct {
	c    *http.Client
	base string
	bufs []bytes.Buffer
}

func newHTTPGen(c *http.Client, base string, workers int) *httpGen {
	return &httpGen{c: c, base: base, bufs: make([]bytes.Buffer, workers)}
}

func (g *httpGen) do(w int, path, auth, body string) (int, []byte, error) {
	return post(context.Background(), g.c, g.base+path, auth, body, &g.bufs[w])
}

func (g *httpGen) close() { g.c.CloseIdleConnections() }

// rawGen is a minimal HTTP/1.1 client: each worker writes a request on its
// own connection and reads the answer, with no more work than that. It
// costs the generator's core a fraction of what net/http's client does,
// so that the generator, not the server, is never the bottleneck, not even
// against the ceiling.
type rawGen struct {
	host  string // host:port
	conns []*rawConn
}

type rawConn struct {
	c    net.Conn
	br   *bufio.Reader
	wbuf []byte
	body []byte
}

func newRawGen(base string, workers int) (*rawGen, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("the raw client speaks plain HTTP only, not %s", u.Scheme)
	}
	return &rawGen{host: u.Host, conns: make([]*rawConn, workers)}, nil
}

func (g *rawGen) close() {
	for _, c := range g.conns {
		if c != nil && c.c != nil {
			c.c.Close()
		}
	}
}

func (g *rawGen) do(w int, path, auth, body string) (int, []byte, error) {
	rc := g.conns[w]
	if rc == nil {
		rc = &rawConn{}
		g.conns[w] = rc
	}
	if rc.c == nil {
		c, err := net.DialTimeout("tcp", g.host, 5*time.Second)
		if err != nil {
			return 0, nil, err
		}
		rc.c, rc.br = c, bufio.NewReaderSize(c, 16<<10)
	}
	status, b, keep, err := rc.roundTrip(g.host, path, auth, body)
	if err != nil || !keep {
		rc.c.Close()
		rc.c = nil
	}
	return status, b, err
}

func (rc *rawConn) roundTrip(host, path, auth, body string) (status int, b []byte, keep bool, err error) {
	w := rc.wbuf[:0]
	w = append(w, "POST "...)
	w = append(w, path...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, host...)
	w = append(w, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"...)
	if auth != "" {
		w = append(w, "Authorization: "...)
		w = append(w, auth...)
		w = append(w, "\r\n"...)
	}
	w = append(w, "Content-Length: "...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n\r\n"...)
	w = append(w, body...)
	rc.wbuf = w
	_ = rc.c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := rc.c.Write(w); err != nil {
		return 0, nil, false, err
	}
	return rc.readResponse()
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one answer: the status line, the headers it needs
// (Content-Length, Transfer-Encoding, Connection) and the body. The status
// line, the headers and a body of known length (tokend's answers to the
// timed requests are short enough for net/http to give their length) are
// read in line rather than in steps of their own: this runs once per
// request of a timed phase, on the generator's one core.
func (rc *rawConn) readResponse() (status int, b []byte, keep bool, err error) {
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, errMalformed
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, errMalformed
	}
	keep = line[7] == '1'
	length, chunked := -1, false
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, false, errMalformed
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "Content-Length"):
			if length, err = strconv.Atoi(string(v)); err != nil || length < 0 {
				return 0, nil, false, errMalformed
			}
		case asciiEqualFold(k, "Transfer-Encoding"):
			chunked = asciiEqualFold(v, "chunked")
		case asciiEqualFold(k, "Connection"):
			if asciiEqualFold(v, "close") {
				keep = false
			}
		}
	}
	rc.body = rc.body[:0]
	switch {
	case chunked:
		err = rc.readChunked()
	case length >= 0:
		rc.body, err = readN(rc.br, rc.body, length)
	default:
		// No length: the body runs to the end of the connection.
		var all []byte
		all, err = io.ReadAll(rc.br)
		rc.body, keep = append(rc.body, all...), false
	}
	if err != nil {
		return 0, nil, false, err
	}
	return status, rc.body, keep, nil
}

// readChunked appends a chunked body to rc.body, and reads the trailers
// after its last chunk.
func (rc *rawConn) readChunked() error {
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line, _, _ = bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(line), 16, 32)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			// Trailers, then the blank line.
			for {
				t, err := rc.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if rc.body, err = readN(rc.br, rc.body, int(n)+2); err != nil {
			return err
		}
		rc.body = rc.body[:len(rc.body)-2]
	}
}

// readN appends n bytes from r to b.
func readN(r io.Reader, b []byte, n int) ([]byte, error) {
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	_, err := io.ReadFull(r, b[start:])
	return b, err
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
