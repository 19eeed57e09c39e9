package scim

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		filter, want string
	}{
		{`userName eq "alice"`, "alice"},
		{`username EQ "alice"`, "alice"},
		{`  userName   eq	"alice"  `, "alice"},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice"`, "alice"},
		{`userName eq "al\"ice\\"`, `al"ice\`},
		{`userName eq "\u00e9"`, "é"},
		{`userName eq ""`, ""},
		{`userName eq "a b and c"`, "a b and c"},
	} {
		got, err := ParseFilter(tc.filter)
		if err != nil || got != tc.want {
			t.Errorf("ParseFilter(%q) = %q, %v; want %q, nil", tc.filter, got, err, tc.want)
		}
	}
	for _, filter := range []string{
		``,
		`userName`,
		`userName eq`,
		`userName eq `,
		`userName eq alice`,
		`userName eq 'alice'`,
		`userName eq "alice`,
		`userName eq "alice" and active eq true`,
		`userName eq "alice" or userName eq "bob"`,
		`userName eq "alice""bob"`,
		`userName ne "alice"`,
		`userName co "alice"`,
		`userName sw "alice"`,
		`userName pr`,
		`userName eq true`,
		`userName eq null`,
		`userName eq 1`,
		`(userName eq "alice")`,
		`not (userName eq "alice")`,
		`displayName eq "alice"`,
		`emails[type eq "work"] eq "alice"`,
		`userName.value eq "alice"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName eq "alice"`,
		`eq "alice"`,
	} {
		if got, err := ParseFilter(filter); !errors.Is(err, ErrUnsupportedFilter) {
			t.Errorf("ParseFilter(%q) = %q, %v; want ErrUnsupportedFilter", filter, got, err)
		}
	}
}

// FuzzParseFilter: no input panics, and whatever is accepted is the
// userName eq form whose value, written back as a filter, parses to itself.
func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{
		`userName eq "alice"`, `USERNAME Eq "a\"b"`, `userName eq "\ud800"`, `userName eq "x" and y`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, "userName\teq\t\"x\"", `(`, `"`, "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		name, err := ParseFilter(filter)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedFilter) || name != "" {
				t.Fatalf("ParseFilter(%q) = %q, %v; want \"\", ErrUnsupportedFilter", filter, name, err)
			}
			return
		}
		quoted, err := json.Marshal(name)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseFilter(`userName eq ` + string(quoted))
		if err != nil || again != name {
			t.Fatalf("ParseFilter(%q) = %q, but its round trip gives %q, %v", filter, name, again, err)
		}
	})
}
