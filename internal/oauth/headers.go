package oauth

import (
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/tokend/tokend/internal/token"
)

// Header values every response of a form endpoint carries. They are
// assigned to the header map rather than Set: the names are canonical
// already, and sharing the value slices (net/http only reads them; an Add
// appends to a full slice, so copies) saves an allocation per header per
// request, on the answers the server gives most often.
var (
	hdrJSON           = []string{contentTypeJSON}
	hdrHTML           = []string{"text/html"}
	hdrNoStore        = []string{"no-store"}
	hdrNoCache        = []string{"no-cache"}
	hdrPOST           = []string{http.MethodPost}
	hdrAllowHeads     = []string{corsAllowHeaders}
	hdrAllowHeadsDPoP = []string{corsAllowHeadersDPoP}
	hdrExposeHeads    = []string{corsExposeHeaders}
	hdrAnyOrigin      = []string{"*"}
	hdrMaxAgeOneDay   = []string{"86400"}
)

// noStore sets the headers that RFC 6749 §5.1 requires of every response
// carrying tokens, and that we send on every answer of a form endpoint.
func noStore(h http.Header, contentType []string) {
	h["Content-Type"] = contentType
	h["Cache-Control"] = hdrNoStore
	h["Pragma"] = hdrNoCache
}

// appendJSON appends the introspection response as encoding/json would
// marshal it, without reflection: it is the body of the most frequent
// answer the server gives.
func (in *introspection) appendJSON(b []byte) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, in.Active)
	field := func(name, v string) {
		if v != "" {
			b = append(b, ',', '"')
			b = append(b, name...)
			b = append(b, '"', ':')
			b = appendJSONString(b, v)
		}
	}
	number := func(name string, v int64) {
		if v != 0 {
			b = append(b, ',', '"')
			b = append(b, name...)
			b = append(b, '"', ':')
			b = strconv.AppendInt(b, v, 10)
		}
	}
	field("scope", in.Scope)
	field("client_id", in.ClientID)
	field("username", in.Username)
	field("sub", in.Subject)
	field("token_type", in.TokenType)
	number("exp", in.ExpiresAt)
	number("iat", in.IssuedAt)
	number("nbf", in.NotBefore)
	field("iss", in.Issuer)
	field("jti", in.JTI)
	if in.Confirmation != nil {
		b = append(b, `,"cnf":{"jkt":`...)
		b = appendJSONString(b, in.Confirmation.JKT)
		b = append(b, '}')
	}
	if len(in.Audience) > 0 || len(in.Act) > 0 || len(in.ExchangedFrom) > 0 {
		b = in.appendExchange(b)
	}
	return append(b, '}')
}

// appendExchange appends the members of an exchanged token (RFC 8693),
// rare enough to go through encoding/json.
func (in *introspection) appendExchange(b []byte) []byte {
	rest, err := json.Marshal(struct {
		Audience      token.Audience  `json:"aud,omitempty"`
		Act           json.RawMessage `json:"act,omitempty"`
		ExchangedFrom []string        `json:"exchanged_from,omitempty"`
	}{in.Audience, in.Act, in.ExchangedFrom})
	if err != nil || len(rest) <= 2 { // act is the store's, written as JSON by the token endpoint
		return b
	}
	b = append(b, ',')
	return append(b, rest[1:len(rest)-1]...)
}

// appendJSONString appends s as a JSON string. Plain ASCII is copied as it
// is; anything encoding/json would escape (quotes, backslashes, control
// characters, <, >, &, invalid UTF-8, U+2028 and U+2029) goes through
// encoding/json, so the output is always the same as its.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
