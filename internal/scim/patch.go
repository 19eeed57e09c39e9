package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tokend/tokend/internal/adminauth"
)

// PATCH operations (RFC 7644 §3.5.2); op names are case-insensitive, as
// some clients send "Replace".
const (
	opAdd     = "add"
	opReplace = "replace"
	opRemove  = "remove"
)

// patch is PATCH /scim2/Users/{id} (RFC 7644 §3.5.2) with a PatchOp body.
// add and replace set password, active, userName or a profile attribute
// (name, displayName, emails, see profile.go), by path
// ({"op":"replace","path":"active","value":false}) or with a value object
// and no path ({"op":"replace","value":{"active":false}}). Other attributes
// of the User schemas are accepted and ignored, as in POST and PUT; a path
// of no schema is 400 invalidPath, a remove without a path 400 noTarget,
// and removing userName, password or active 400 mutability; removing a
// profile attribute clears it. The operations apply
// together, in one transaction, and answer 200 with the user.
func (s *Users) patch(w http.ResponseWriter, r *http.Request, p adminauth.Principal) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	c, err := decodePatch(body)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if c == (changes{}) {
		u, err := s.byID(r.Context(), id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, resource(u, s.base))
	}
	u, err := s.apply(r.Context(), id, c, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resource(u, s.base))
}

// decodePatch reads a PatchOp message into the changes it makes; a later
// operation on an attribute wins over an earlier one.
func decodePatch(body []byte) (changes, error) {
	var c changes
	m, err := decodeObject(body)
	if err != nil {
		return c, err
	}
	var ops json.RawMessage
	hasSchemas := false
	for name, value := range m {
		switch strings.ToLower(name) {
		case "schemas":
			if err := checkSchemas(value, SchemaPatchOp); err != nil {
				return c, err
			}
			hasSchemas = true
		case "operations":
			ops = value
		default:
			return c, errSyntax(fmt.Sprintf("unknown member %q of a PatchOp", name))
		}
	}
	if !hasSchemas {
		return c, errValue(`schemas is required and must hold "` + SchemaPatchOp + `"`)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(ops, &list); err != nil || len(list) == 0 {
		return c, errSyntax("Operations must be a non-empty array")
	}
	for _, raw := range list {
		if err := c.patchOp(raw); err != nil {
			return c, err
		}
	}
	return c, nil
}

// patchOp applies one operation to c.
func (c *changes) patchOp(raw json.RawMessage) error {
	m, err := decodeObject(raw)
	if err != nil {
		return errSyntax("each operation must be a JSON object")
	}
	var op, path string
	var value json.RawMessage
	hasPath := false
	for name, v := range m {
		switch strings.ToLower(name) {
		case "op":
			if json.Unmarshal(v, &op) != nil {
				return errSyntax("op must be a string")
			}
		case "path":
			if json.Unmarshal(v, &path) != nil {
				return errPath("path must be a string")
			}
			hasPath = true
		case "value":
			value = v
		default:
			return errSyntax(fmt.Sprintf("unknown member %q of an operation", name))
		}
	}
	op = strings.ToLower(op)
	switch op {
	case opAdd, opReplace, opRemove:
	default:
		return errSyntax(fmt.Sprintf("unsupported op %q: want add, replace or remove", op))
	}
	if !hasPath {
		if op == opRemove {
			return newError(http.StatusBadRequest, TypeNoTarget, "remove needs a path")
		}
		return c.setObject(value)
	}
	k, filtered, sub, err := targetOf(path)
	if err != nil {
		return err
	}
	return c.patchPath(op, path, k, filtered, sub, value)
}

// patchPath applies an add, replace or remove of value to the attribute k
// that path names, below it to sub-attribute sub when not "". A filter
// selects among the values of emails only: the others are single-valued.
// The profile attributes may be removed; the others may not.
func (c *changes) patchPath(op, path string, k attrKind, filtered bool, sub string, value json.RawMessage) error {
	profileAttr := k == attrName || k == attrDisplayName || k == attrEmails
	switch {
	case k == attrIgnored:
		return nil
	case filtered && k != attrEmails:
		return errPath(fmt.Sprintf("%q is single-valued: a path cannot filter it", path))
	case sub != "" && (!profileAttr || k == attrDisplayName):
		return errPath(fmt.Sprintf("%q has no sub-attributes", path))
	case op == opRemove && profileAttr:
		c.profile.remove(k, sub)
		return nil
	case op == opRemove:
		return newError(http.StatusBadRequest, TypeMutability, fmt.Sprintf("%s cannot be removed", path))
	case value == nil || isNull(value):
		return errValue(fmt.Sprintf("%s needs a value", path))
	case sub != "":
		return c.profile.setSub(k, path, sub, value)
	}
	return c.set(k, path, value)
}

// setObject applies the value object of an add or replace without a path:
// each member is an attribute to set.
func (c *changes) setObject(value json.RawMessage) error {
	if value == nil || !isObject(value) {
		return errValue("an add or replace without a path needs an object value")
	}
	m, err := decodeObject(value)
	if err != nil {
		return errValue("an add or replace without a path needs an object value")
	}
	// A member may be an attribute path, as Microsoft Entra ID sends
	// {"name.givenName": "Barbara"}.
	for name, v := range m {
		if attribute(name) == attrSchemas {
			continue
		}
		k, filtered, sub, err := targetOf(name)
		if err != nil {
			return err
		}
		if err := c.patchPath(opReplace, name, k, filtered, sub, v); err != nil {
			return err
		}
	}
	return nil
}

// targetOf resolves a PATCH path (RFC 7644 §3.5.2: attrPath, optionally
// with a value filter and a sub-attribute) to the kind of its attribute,
// whether it filters, and its sub-attribute in lower case, or "". The
// schemas attribute cannot be a target.
func targetOf(path string) (k attrKind, filtered bool, sub string, err error) {
	p := strings.TrimSpace(path)
	if hasPrefixFold(p, SchemaEnterpriseUser) {
		return attrIgnored, false, "", nil
	}
	if hasPrefixFold(p, SchemaUser+":") {
		p = p[len(SchemaUser)+1:]
	}
	base, filtered, sub, err := splitSub(p)
	if err != nil {
		return 0, false, "", err
	}
	switch k = attribute(base); k {
	case attrUnknown, attrSchemas:
		return 0, false, "", errPath(fmt.Sprintf("unknown attribute path %q", path))
	}
	return k, filtered, sub, nil
}

// hasPrefixFold reports whether s begins with prefix, ignoring case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
