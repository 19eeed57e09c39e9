package scim

import (
	"encoding/json"
	"errors"
	"strings"
)

// ErrUnsupportedFilter: the filter is not of the one form tokend answers,
// userName eq "value" (RFC 7644 §3.4.2.2), or is not a valid filter at all.
var ErrUnsupportedFilter = errors.New(`scim: only the filter userName eq "value" is supported`)

// ParseFilter parses a SCIM filter (RFC 7644 §3.4.2.2) of the form
//
//	userName eq "value"
//
// and returns the value. The attribute name and the operator are
// case-insensitive (RFC 7644 §3.4.2.2) and the attribute may carry the
// core User schema URI; the value is a JSON string (RFC 7159 escapes
// allowed). Every other filter, valid SCIM or not, is ErrUnsupportedFilter,
// answered with 400 invalidFilter.
func ParseFilter(filter string) (userName string, err error) {
	attr, rest, ok := cutField(filter)
	if !ok || !strings.EqualFold(attr, "userName") && !strings.EqualFold(attr, SchemaUser+":userName") {
		return "", ErrUnsupportedFilter
	}
	op, rest, ok := cutField(rest)
	if !ok || !strings.EqualFold(op, "eq") {
		return "", ErrUnsupportedFilter
	}
	value := strings.Trim(rest, " \t")
	if !strings.HasPrefix(value, `"`) {
		return "", ErrUnsupportedFilter
	}
	if err := json.Unmarshal([]byte(value), &userName); err != nil {
		return "", ErrUnsupportedFilter
	}
	return userName, nil
}

// cutField returns the first space-separated field of s and what follows
// it; ok is false when s holds no field followed by a space.
func cutField(s string) (field, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i:], true
}
