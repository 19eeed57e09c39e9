package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// Resource schemas (RFC 7643 §4.1, §4.3).
const (
	SchemaUser           = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaEnterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// What tokend does with each attribute of a User (RFC 7643 §4.1, §3.1),
// by lower-case name: SCIM attribute names are case-insensitive
// (RFC 7643 §2.1).
type attrKind int

const (
	attrUnknown     attrKind = iota // in no schema: refused
	attrIgnored                     // in the core or enterprise schema, or read-only: accepted, not stored
	attrSchemas                     // "schemas"
	attrUserName                    // stored
	attrPassword                    // stored as an argon2id hash; never returned
	attrActive                      // stored (as !Disabled)
	attrName                        // givenName and familyName stored
	attrDisplayName                 // stored
	attrEmails                      // the primary (or first) value stored
)

var attrKinds = map[string]attrKind{
	"schemas":  attrSchemas,
	"username": attrUserName,
	"password": attrPassword,
	"active":   attrActive,
	// The profile claims of OpenID Connect userinfo (see profile.go).
	"name": attrName, "displayname": attrDisplayName, "emails": attrEmails,
	// Common attributes (RFC 7643 §3.1): id and meta are read-only
	// (RFC 7644 §3.3: ignored in a request); externalId is not kept.
	"id": attrIgnored, "meta": attrIgnored, "externalid": attrIgnored,
	// The rest of the core User schema (RFC 7643 §4.1).
	"nickname":   attrIgnored,
	"profileurl": attrIgnored, "title": attrIgnored, "usertype": attrIgnored,
	"preferredlanguage": attrIgnored, "locale": attrIgnored, "timezone": attrIgnored,
	"phonenumbers": attrIgnored, "ims": attrIgnored,
	"photos": attrIgnored, "addresses": attrIgnored, "groups": attrIgnored,
	"entitlements": attrIgnored, "roles": attrIgnored, "x509certificates": attrIgnored,
	// The enterprise extension (RFC 7643 §4.3), as a whole.
	strings.ToLower(SchemaEnterpriseUser): attrIgnored,
}

// attribute returns the kind of a top-level attribute name, or of an
// attribute path's first part, accepting the core schema URI as a prefix
// ("urn:ietf:params:scim:schemas:core:2.0:User:userName") and any
// attribute of the enterprise extension.
func attribute(name string) attrKind {
	switch {
	case hasPrefixFold(name, SchemaUser+":"):
		name = name[len(SchemaUser)+1:]
		if strings.EqualFold(name, "schemas") {
			return attrUnknown
		}
	case hasPrefixFold(name, SchemaEnterpriseUser+":"):
		return attrIgnored
	}
	return attrKinds[strings.ToLower(name)]
}

// changes are the stored attributes a request sets; nil means not set.
type changes struct {
	userName *string
	password *string
	active   *bool
	profile  profile
}

// set records value for attribute kind k, checking its JSON type. A JSON
// null leaves the attribute unset (RFC 7643 §2.5: null is unassigned).
func (c *changes) set(k attrKind, name string, value json.RawMessage) error {
	if isNull(value) {
		return nil
	}
	switch k {
	case attrUserName, attrPassword:
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return errValue(name + " must be a string")
		}
		if k == attrUserName {
			c.userName = &s
		} else {
			c.password = &s
		}
	case attrActive:
		b, err := parseBool(value)
		if err != nil {
			return errValue("active must be a boolean")
		}
		c.active = &b
	case attrName:
		return c.profile.setName(value)
	case attrDisplayName:
		return c.profile.setDisplayName(value)
	case attrEmails:
		return c.profile.setEmails(value)
	}
	return nil
}

// parseBool reads a JSON boolean; the strings "true" and "false" in any
// case are taken too, as Microsoft Entra ID sends them in PATCH.
func parseBool(v json.RawMessage) (bool, error) {
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, errors.New("not a boolean")
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// decodeObject parses body as one JSON object, keyed by attribute name as
// sent. Two names that differ only in case are refused: which one wins
// would be arbitrary.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, errSyntax("the body is not a JSON object")
	}
	seen := make(map[string]bool, len(m))
	for k := range m {
		l := strings.ToLower(k)
		if seen[l] {
			return nil, errSyntax(fmt.Sprintf("attribute %q appears more than once", k))
		}
		seen[l] = true
	}
	return m, nil
}

// decodeUser reads a User resource of a POST or PUT (RFC 7644 §3.3,
// §3.5.1). schemas must name the core User schema, and may name the
// enterprise extension. Attributes of no schema are refused with
// invalidSyntax: RFC 7644 §3.3 only requires read-only attributes to be
// ignored, and dropping an unknown one silently would hide a client's typo
// ("activ": false would leave the user active).
func decodeUser(body []byte) (changes, error) {
	var c changes
	m, err := decodeObject(body)
	if err != nil {
		return c, err
	}
	hasSchemas := false
	for name, value := range m {
		k := attribute(name)
		switch k {
		case attrUnknown:
			return c, errSyntax(fmt.Sprintf("unknown attribute %q", name))
		case attrSchemas:
			if err := checkSchemas(value, SchemaUser, SchemaEnterpriseUser); err != nil {
				return c, err
			}
			hasSchemas = true
		case attrIgnored:
			if strings.EqualFold(name, SchemaEnterpriseUser) && !isNull(value) && !isObject(value) {
				return c, errValue("the enterprise extension must be an object")
			}
		default:
			if err := c.set(k, name, value); err != nil {
				return c, err
			}
		}
	}
	if !hasSchemas {
		return c, errValue(`schemas is required and must hold "` + SchemaUser + `"`)
	}
	return c, nil
}

// checkSchemas checks that value is a list of schema URIs holding the
// first of allowed and none but allowed ones.
func checkSchemas(value json.RawMessage, allowed ...string) error {
	var schemas []string
	if err := json.Unmarshal(value, &schemas); err != nil {
		return errValue("schemas must be an array of strings")
	}
	found := false
	for _, s := range schemas {
		known := false
		for i, a := range allowed {
			if strings.EqualFold(s, a) {
				known = true
				found = found || i == 0
			}
		}
		if !known {
			return errValue(fmt.Sprintf("unsupported schema %q", s))
		}
	}
	if !found {
		return errValue(`schemas must hold "` + allowed[0] + `"`)
	}
	return nil
}

func isObject(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '{'
}

// User is a tokend user as SCIM shows it (RFC 7643 §4.1). The password is
// write-only and never returned.
type User struct {
	Schemas     []string `json:"schemas"`
	ID          string   `json:"id"`
	UserName    string   `json:"userName"`
	Name        *Name    `json:"name,omitempty"`
	DisplayName string   `json:"displayName,omitempty"`
	Emails      []Email  `json:"emails,omitempty"`
	Active      bool     `json:"active"`
	Meta        Meta     `json:"meta"`
}

// Meta is the common meta attribute (RFC 7643 §3.1).
type Meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created"`
	LastModified string `json:"lastModified"`
	Location     string `json:"location"`
}

// ListResponse is a query answer (RFC 7644 §3.4.2).
type ListResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []User   `json:"Resources"`
}

// resource returns u as SCIM shows it; base is the URL of /scim2/Users.
func resource(u store.User, base string) User {
	name, displayName, emails := profileAttrs(u)
	return User{
		Schemas:     []string{SchemaUser},
		ID:          u.ID,
		UserName:    u.Username,
		Name:        name,
		DisplayName: displayName,
		Emails:      emails,
		Active:      !u.Disabled,
		Meta: Meta{
			ResourceType: "User",
			Created:      u.CreatedAt.UTC().Format(time.RFC3339),
			LastModified: u.UpdatedAt.UTC().Format(time.RFC3339),
			Location:     base + "/" + u.ID,
		},
	}
}
