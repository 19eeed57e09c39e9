package oauth

import (
	"encoding/json"
	"net/http"
	"sync"
)

// contentTypeJSON is the Content-Type of every JSON answer.
const contentTypeJSON = "application/json;charset=UTF-8"

// writeJSON writes v as a JSON response with the no-store headers that
// RFC 6749 §5.1 requires of every response carrying tokens.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	noStore(w.Header(), hdrJSON)
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// writeIntrospection writes an introspection response as writeJSON would.
func writeIntrospection(w http.ResponseWriter, in introspection) error {
	noStore(w.Header(), hdrJSON)
	w.WriteHeader(http.StatusOK)
	buf := bodyBufs.Get().(*[]byte)
	*buf = append(in.appendJSON((*buf)[:0]), '\n')
	_, err := w.Write(*buf)
	if cap(*buf) <= maxPooledBody {
		bodyBufs.Put(buf)
	}
	return err
}

// bodyBufs hold the bodies of introspection answers, the most frequent
// answer, between requests: a buffer per answer was an allocation of
// half a KiB each. A Writer keeps nothing of what Write is given (io.Writer).
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBody: a buffer grown past this (a huge scope) is left to the
// collector rather than kept.
const maxPooledBody = 4 << 10
