package oauth

import (
	"encoding/json"
	"net/http"
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
	buf := make([]byte, 0, 512)
	_, err := w.Write(append(in.appendJSON(buf), '\n'))
	return err
}
