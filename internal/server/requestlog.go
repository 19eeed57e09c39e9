package server

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// The request log line is the one record every request writes, and through
// slog it cost a cached introspection about 2.7 µs of its 12 in tokend's
// handlers: the record's eight attributes copied and walked, its caller's
// program counter taken, each value checked for quoting rune by rune. A
// LogHandler writes that line itself, byte for byte what slog's text or JSON
// handler would write (TestRequestLineIsSlogs compares them), and hands
// every other record, and any request line it cannot be sure to write the
// same, to slog.

// LogHandler is the slog.Handler serve logs through: slog's text or JSON
// handler with the request id of the context added to every record
// (WithRequestIDs), and a fast path for the request log line.
type LogHandler struct {
	requestIDs
	out  *lockedWriter
	json bool
}

// NewLogHandler returns a LogHandler writing records at level or above to
// w, as JSON objects if json, else as slog's text (key=value) lines.
func NewLogHandler(w io.Writer, json bool, level slog.Leveler) *LogHandler {
	out := &lockedWriter{w: w}
	opts := &slog.HandlerOptions{Level: level}
	var inner slog.Handler
	if json {
		inner = slog.NewJSONHandler(out, opts)
	} else {
		inner = slog.NewTextHandler(out, opts)
	}
	return &LogHandler{requestIDs: requestIDs{inner}, out: out, json: json}
}

// lockedWriter serializes the writes of slog's handler and of the fast
// path, so that lines do not interleave on a writer that is not safe for
// concurrent use.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// requestLine is what the request log line says about one request.
type requestLine struct {
	id, method, route, path string
	status, bytes           int
	duration                time.Duration
	remote                  string
}

// attrs are the line's attributes, in order, as slog logs them.
func (l *requestLine) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("request_id", l.id),
		slog.String("method", l.method),
		slog.String("route", l.route),
		slog.String("path", l.path),
		slog.Int("status", l.status),
		slog.Int("bytes", l.bytes),
		slog.Duration("duration", l.duration),
		slog.String("remote", l.remote),
	}
}

// logRequest writes the request line of one request that ended at end.
func logRequest(ctx context.Context, log *slog.Logger, end time.Time, l *requestLine) {
	if h, ok := log.Handler().(*LogHandler); ok && h.writeRequest(ctx, end, l) {
		return
	}
	log.LogAttrs(ctx, slog.LevelInfo, "request", l.attrs()...)
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeRequest writes l if it may, and reports whether the line is dealt
// with: written, or below the level. It is not when a value holds a
// character whose quoting slog decides in a way the fast path does not
// copy.
func (h *LogHandler) writeRequest(ctx context.Context, end time.Time, l *requestLine) bool {
	if !h.Enabled(ctx, slog.LevelInfo) {
		return true
	}
	bp := linePool.Get().(*[]byte)
	defer linePool.Put(bp)
	var b []byte
	var ok bool
	if h.json {
		b, ok = appendRequestJSON((*bp)[:0], end, l)
	} else {
		b, ok = appendRequestText((*bp)[:0], end, l)
	}
	*bp = b
	if ok {
		h.out.Write(b) //nolint:errcheck // slog's handlers drop write errors too
	}
	return ok
}

// appendRequestText appends l as slog's TextHandler writes it.
func appendRequestText(b []byte, end time.Time, l *requestLine) ([]byte, bool) {
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, end)
	b = append(b, " level=INFO msg=request"...)
	ok := true
	str := func(key, v string) {
		b = append(b, ' ')
		b = append(b, key...)
		b = append(b, '=')
		switch classify(v) {
		case plain:
			b = append(b, v...)
		case quoted:
			b = strconv.AppendQuote(b, v)
		default:
			ok = false
		}
	}
	str("request_id", l.id)
	str("method", l.method)
	str("route", l.route)
	str("path", l.path)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(l.status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, int64(l.bytes), 10)
	b = append(b, " duration="...)
	b = append(b, l.duration.String()...)
	str("remote", l.remote)
	return append(b, '\n'), ok
}

// appendRequestJSON appends l as slog's JSONHandler writes it.
func appendRequestJSON(b []byte, end time.Time, l *requestLine) ([]byte, bool) {
	if y := end.Year(); y < 0 || y >= 10000 {
		return b, false // slog writes an error in its place
	}
	b = append(b, `{"time":"`...)
	b = end.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request"`...)
	ok := true
	str := func(key, v string) {
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `":"`...)
		if !jsonRaw(v) {
			ok = false
		}
		b = append(b, v...)
		b = append(b, '"')
	}
	num := func(key string, v int64) {
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, v, 10)
	}
	str("request_id", l.id)
	str("method", l.method)
	str("route", l.route)
	str("path", l.path)
	num("status", int64(l.status))
	num("bytes", int64(l.bytes))
	num("duration", int64(l.duration))
	str("remote", l.remote)
	return append(b, "}\n"...), ok
}

// appendRFC3339Millis is slog's text time: RFC 3339 with exactly three
// digits of fractional seconds, truncated.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	// As slog does: RFC3339Nano trims trailing zeros, so a tenth of a
	// millisecond added keeps four digits, and the fourth is dropped.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// quoting is how slog's text handler writes a string value.
type quoting uint8

const (
	plain  quoting = iota // as it is
	quoted                // strconv.Quote'd
	unsure                // the fast path leaves it to slog
)

// classify says how slog's text handler writes v: as it is when v is
// printable ASCII without a space, '=', '"' or '\\'; quoted when it also
// holds a space, '=' or '"', or is empty. Anything else (a backslash,
// control characters, non-ASCII) slog decides with tables the fast path
// does not copy.
func classify(v string) quoting {
	if v == "" {
		return quoted
	}
	q := plain
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == ' ' || c == '=' || c == '"':
			q = quoted
		case c < 0x21 || c > 0x7e || c == '\\':
			return unsure
		}
	}
	return q
}

// jsonRaw reports whether slog's JSON handler writes v as it is, between
// quotes: printable ASCII without '"' or '\\'. Anything else it escapes
// by tables the fast path does not copy.
func jsonRaw(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
