package scim

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tokend/tokend/internal/store"
)

// The profile attributes tokend keeps, for OpenID Connect userinfo: of
// name, givenName and familyName; displayName; of emails, the primary
// value, or the first, with whether it was sent verified. Each may be
// cleared (PATCH remove, or an empty value); a PUT that omits one leaves
// it as it is, as with active.

// Name is the name attribute as tokend keeps it (RFC 7643 §4.1.1).
type Name struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Email is the one email address tokend keeps (RFC 7643 §4.1.2). verified
// is no sub-attribute of the core schema; it is read when a client sends
// it, and returned when true.
type Email struct {
	Value    string `json:"value"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified,omitempty"`
}

// profile is what a request sets of the profile attributes; nil means not
// set, a pointer to "" clears.
type profile struct {
	email         *string
	emailVerified bool // with email
	givenName     *string
	familyName    *string
	displayName   *string
}

// apply writes the profile attributes p sets into u.
func (p profile) apply(u *store.User) {
	if p.email != nil {
		u.Email, u.EmailVerified = *p.email, p.emailVerified && *p.email != ""
	}
	if p.givenName != nil {
		u.GivenName = *p.givenName
	}
	if p.familyName != nil {
		u.FamilyName = *p.familyName
	}
	if p.displayName != nil {
		u.Name = *p.displayName
	}
}

func ptr(s string) *string { return &s }

// setDisplayName reads displayName's value, a string.
func (p *profile) setDisplayName(value json.RawMessage) error {
	var s string
	if err := json.Unmarshal(value, &s); err != nil {
		return errValue("displayName must be a string")
	}
	p.displayName = &s
	return nil
}

// setName reads name's value, an object; givenName and familyName are
// kept, absent ones cleared, and the other sub-attributes ignored.
func (p *profile) setName(value json.RawMessage) error {
	if !isObject(value) {
		return errValue("name must be an object")
	}
	var n struct{ GivenName, FamilyName *string }
	if err := json.Unmarshal(value, &n); err != nil {
		return errValue("name's givenName and familyName must be strings")
	}
	p.givenName, p.familyName = ptr(""), ptr("")
	if n.GivenName != nil {
		p.givenName = n.GivenName
	}
	if n.FamilyName != nil {
		p.familyName = n.FamilyName
	}
	return nil
}

// setEmails reads emails' value: an array of email objects (one object
// is taken as an array of it), of which the primary one is kept, else the
// first; an empty array clears the address.
func (p *profile) setEmails(value json.RawMessage) error {
	if isObject(value) {
		value = append(append(json.RawMessage{'['}, value...), ']')
	}
	var list []struct {
		Value             *string
		Primary, Verified json.RawMessage
	}
	if err := json.Unmarshal(value, &list); err != nil {
		return errValue("emails must be an array of objects with a string value")
	}
	p.email, p.emailVerified = ptr(""), false
	chosen := -1
	for i, e := range list {
		if e.Value == nil {
			return errValue("each of emails needs a string value")
		}
		primary, err := optionalBool(e.Primary)
		if err != nil {
			return errValue("emails' primary must be a boolean")
		}
		if chosen < 0 || primary {
			chosen = i
		}
		if primary {
			break
		}
	}
	if chosen < 0 {
		return nil
	}
	verified, err := optionalBool(list[chosen].Verified)
	if err != nil {
		return errValue("emails' verified must be a boolean")
	}
	p.email, p.emailVerified = list[chosen].Value, verified
	return nil
}

// optionalBool reads a boolean that may be absent (false).
func optionalBool(v json.RawMessage) (bool, error) {
	if v == nil || isNull(v) {
		return false, nil
	}
	return parseBool(v)
}

// setSub sets the sub-attribute sub (lower case) of the profile attribute
// k, the target of a PATCH path such as name.givenName or
// emails[type eq "work"].value: tokend keeps one email address, which
// any filter on emails selects. Other sub-attributes of the schema are
// ignored.
func (p *profile) setSub(k attrKind, path, sub string, value json.RawMessage) error {
	var s string
	switch {
	case k == attrName && (sub == "givenname" || sub == "familyname"):
		if err := json.Unmarshal(value, &s); err != nil {
			return errValue(path + " must be a string")
		}
		if sub == "givenname" {
			p.givenName = &s
		} else {
			p.familyName = &s
		}
	case k == attrEmails && sub == "value":
		if err := json.Unmarshal(value, &s); err != nil {
			return errValue(path + " must be a string")
		}
		p.email, p.emailVerified = &s, false // a new address is not verified
	}
	return nil
}

// remove clears what a PATCH remove of the profile attribute k, or of its
// sub-attribute sub, removes.
func (p *profile) remove(k attrKind, sub string) {
	switch k {
	case attrDisplayName:
		p.displayName = ptr("")
	case attrEmails:
		p.email, p.emailVerified = ptr(""), false
	case attrName:
		if sub == "" || sub == "givenname" {
			p.givenName = ptr("")
		}
		if sub == "" || sub == "familyname" {
			p.familyName = ptr("")
		}
	}
}

// splitSub splits a PATCH path below its attribute into the attribute's
// name, whether a value filter follows it, and the sub-attribute, in
// lower case: "emails[type eq \"work\"].value" is emails, true, value.
func splitSub(p string) (base string, filtered bool, sub string, err error) {
	base = p
	if i := strings.IndexAny(p, "[."); i >= 0 {
		base, p = p[:i], p[i:]
		if strings.HasPrefix(p, "[") {
			j := strings.LastIndex(p, "]")
			if j < 0 {
				return "", false, "", errPath(fmt.Sprintf("unclosed filter in path %q", p))
			}
			filtered, p = true, p[j+1:]
		}
		if p != "" {
			rest, ok := strings.CutPrefix(p, ".")
			if !ok || rest == "" || strings.ContainsAny(rest, ".[]") {
				return "", false, "", errPath(fmt.Sprintf("path %q goes below a sub-attribute", p))
			}
			sub = strings.ToLower(rest)
		}
	}
	return base, filtered, sub, nil
}

// profileAttrs returns the profile attributes of u as SCIM shows them.
func profileAttrs(u store.User) (*Name, string, []Email) {
	var name *Name
	if u.GivenName != "" || u.FamilyName != "" {
		name = &Name{GivenName: u.GivenName, FamilyName: u.FamilyName}
	}
	var emails []Email
	if u.Email != "" {
		emails = []Email{{Value: u.Email, Primary: true, Verified: u.EmailVerified}}
	}
	return name, u.Name, emails
}
