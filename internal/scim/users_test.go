package scim_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/scim"
	ts "github.com/tokend/tokend/internal/testserver"
)

const userSchema = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`

func TestCreateGetFindReplace(t *testing.T) {
	s := ts.New(t)
	now := s.Clock.Now().UTC().Format(time.RFC3339)
	r := s.Do(http.MethodPost, scim.PathUsers, `{`+userSchema+`,"userName":"carol","password":"carol's password",
		"displayName":"Carol","emails":[{"value":"carol@example.com","primary":true}],"externalId":"c-1","id":"ignored",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`,
		ts.AdminBearer, "Content-Type: application/scim+json")
	if r.Status != http.StatusCreated {
		t.Fatalf("POST: %d %s; want 201", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != scim.ContentType {
		t.Errorf("Content-Type %q; want %q", ct, scim.ContentType)
	}
	var created scim.User
	r.JSON(t, &created)
	if created.ID == "" || created.ID == "ignored" {
		t.Fatalf("created id %q; want a server-assigned id", created.ID)
	}
	want := scim.User{
		Schemas: []string{scim.SchemaUser}, ID: created.ID, UserName: "carol", Active: true,
		DisplayName: "Carol", Emails: []scim.Email{{Value: "carol@example.com", Primary: true}},
		Meta: scim.Meta{ResourceType: "User", Created: now, LastModified: now, Location: s.URL + scim.PathUsers + "/" + created.ID},
	}
	if d := cmp.Diff(created, want); d != "" {
		t.Errorf("created (-got +want):\n%s", d)
	}
	if loc := r.Header.Get("Location"); loc != want.Meta.Location {
		t.Errorf("Location %q; want %q", loc, want.Meta.Location)
	}
	if strings.Contains(strings.ToLower(r.Body), "password") {
		t.Errorf("POST answer %s holds the password", r.Body)
	}

	r = s.Do(http.MethodGet, scim.PathUsers+"/"+created.ID, "", ts.AdminBearer)
	var got scim.User
	r.JSON(t, &got)
	if r.Status != http.StatusOK || !cmp.Equal(got, want) {
		t.Errorf("GET: %d %s; want 200 %+v", r.Status, r.Body, want)
	}

	for _, filter := range []string{`userName eq "carol"`, `USERNAME EQ "carol"`, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "car\u006fl"`} {
		r = s.Do(http.MethodGet, scim.PathUsers+"?filter="+urlQuery(filter), "", ts.AdminBearer)
		var list scim.ListResponse
		r.JSON(t, &list)
		wantList := scim.ListResponse{Schemas: []string{scim.SchemaListResponse}, TotalResults: 1, StartIndex: 1, ItemsPerPage: 1, Resources: []scim.User{want}}
		if d := cmp.Diff(list, wantList); r.Status != http.StatusOK || d != "" {
			t.Errorf("filter %s: status %d (-got +want):\n%s", filter, r.Status, d)
		}
	}
	r = s.Do(http.MethodGet, scim.PathUsers+"?filter="+urlQuery(`userName eq "nobody"`), "", ts.AdminBearer)
	var none scim.ListResponse
	r.JSON(t, &none)
	if d := cmp.Diff(none, scim.ListResponse{Schemas: []string{scim.SchemaListResponse}, StartIndex: 1, Resources: []scim.User{}}); r.Status != http.StatusOK || d != "" {
		t.Errorf("filter for nobody: status %d (-got +want):\n%s", r.Status, d)
	}

	s.Clock.Advance(90 * time.Second)
	r = s.Do(http.MethodPut, scim.PathUsers+"/"+created.ID, `{`+userSchema+`,"userName":"caroline","displayName":"x"}`, ts.AdminBearer)
	var replaced scim.User
	r.JSON(t, &replaced)
	want.UserName, want.DisplayName = "caroline", "x" // emails, omitted, stay
	want.Meta.LastModified = s.Clock.Now().UTC().Format(time.RFC3339)
	if d := cmp.Diff(replaced, want); r.Status != http.StatusOK || d != "" {
		t.Errorf("PUT rename: status %d (-got +want):\n%s", r.Status, d)
	}
	if u, err := s.Store.GetUser(t.Context(), "caroline"); err != nil || u.ID != created.ID {
		t.Errorf("stored caroline = %+v, %v; want the renamed user", u, err)
	}
}

func urlQuery(s string) string { return url.QueryEscape(s) }

func TestListPages(t *testing.T) {
	s := ts.New(t)
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
		s.User(n, false)
	}
	cases := []struct {
		query       string
		total, from int
		names       []string
	}{
		{"", 5, 1, []string{"u1", "u2", "u3", "u4", "u5"}},
		{"?startIndex=2&count=2", 5, 2, []string{"u2", "u3"}},
		{"?startIndex=0&count=1", 5, 1, []string{"u1"}},
		{"?startIndex=5&count=10", 5, 5, []string{"u5"}},
		{"?startIndex=9", 5, 9, nil},
		{"?count=-3", 5, 1, nil},
	}
	for _, c := range cases {
		r := s.Do(http.MethodGet, scim.PathUsers+c.query, "", ts.AdminBearer)
		var list scim.ListResponse
		r.JSON(t, &list)
		var names []string
		for _, u := range list.Resources {
			names = append(names, u.UserName)
		}
		if r.Status != http.StatusOK || list.TotalResults != c.total || list.StartIndex != c.from || list.ItemsPerPage != len(c.names) || !cmp.Equal(names, c.names) {
			t.Errorf("GET %s: %d total %d start %d items %d %v; want total %d start %d %v",
				c.query, r.Status, list.TotalResults, list.StartIndex, list.ItemsPerPage, names, c.total, c.from, c.names)
		}
		if strings.Contains(strings.ToLower(r.Body), "password") {
			t.Errorf("GET %s holds a password: %s", c.query, r.Body)
		}
	}
}

// scimError is the body every SCIM error has (RFC 7644 §3.12).
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType"`
	Detail   string   `json:"detail"`
}

func checkError(t *testing.T, r ts.Response, status int, scimType string) {
	t.Helper()
	var e scimError
	r.JSON(t, &e)
	if r.Status != status || e.Status != strconv.Itoa(status) || e.ScimType != scimType ||
		!cmp.Equal(e.Schemas, []string{scim.SchemaError}) || e.Detail == "" {
		t.Errorf("got %d %s; want %d with a SCIM error of scimType %q", r.Status, r.Body, status, scimType)
	}
	if ct := r.Header.Get("Content-Type"); ct != scim.ContentType {
		t.Errorf("error Content-Type %q; want %q", ct, scim.ContentType)
	}
}

// TestBadInput: every refused request answers a SCIM error and changes
// nothing: no user created or changed, no grant revoked.
func TestBadInput(t *testing.T) {
	s := ts.New(t)
	c, sec := s.Client("web")
	alice := s.User("alice", false)
	s.User("bob", false)
	tk := s.PasswordTokens(c, sec, "alice")
	users := scim.PathUsers
	aliceURL := scim.PathUsers + "/" + alice.ID
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		scimType                 string
	}{
		{"malformed JSON on POST", http.MethodPost, users, `{"userName":"x",`, nil, 400, scim.TypeInvalidSyntax},
		{"NUL in userName", http.MethodPost, users, `{` + userSchema + `,"userName":"a\u0000b","password":"a good password"}`, nil, 400, scim.TypeInvalidSyntax},
		{"malformed JSON on PUT", http.MethodPut, aliceURL, `{` + userSchema + `,"userName":"alice","active":fals}`, nil, 400, scim.TypeInvalidSyntax},
		{"malformed JSON on PATCH", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace",]}`, nil, 400, scim.TypeInvalidSyntax},
		{"not an object", http.MethodPost, users, `["userName"]`, nil, 400, scim.TypeInvalidSyntax},
		{"null body", http.MethodPost, users, `null`, nil, 400, scim.TypeInvalidSyntax},
		{"unknown attribute on POST", http.MethodPost, users, `{` + userSchema + `,"userName":"dave","password":"dave's password","actve":false}`, nil, 400, scim.TypeInvalidSyntax},
		{"unknown attribute on PUT", http.MethodPut, aliceURL, `{` + userSchema + `,"userName":"alice","password":"a new password","isAdmin":true}`, nil, 400, scim.TypeInvalidSyntax},
		{"attribute twice in two cases", http.MethodPut, aliceURL, `{` + userSchema + `,"userName":"alice","active":true,"Active":false}`, nil, 400, scim.TypeInvalidSyntax},
		{"no schemas", http.MethodPost, users, `{"userName":"dave","password":"dave's password"}`, nil, 400, scim.TypeInvalidValue},
		{"unknown schema", http.MethodPost, users, `{"schemas":["` + scim.SchemaUser + `","urn:example:x"],"userName":"dave","password":"dave's password"}`, nil, 400, scim.TypeInvalidValue},
		{"no userName", http.MethodPost, users, `{` + userSchema + `,"password":"dave's password"}`, nil, 400, scim.TypeInvalidValue},
		{"no password", http.MethodPost, users, `{` + userSchema + `,"userName":"dave"}`, nil, 400, scim.TypeInvalidValue},
		{"short password", http.MethodPost, users, `{` + userSchema + `,"userName":"dave","password":"short"}`, nil, 400, scim.TypeInvalidValue},
		{"short password on PATCH", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","path":"password","value":"short"}]}`, nil, 400, scim.TypeInvalidValue},
		{"userName with a space", http.MethodPost, users, `{` + userSchema + `,"userName":"da ve","password":"dave's password"}`, nil, 400, scim.TypeInvalidValue},
		{"active not a boolean", http.MethodPut, aliceURL, `{` + userSchema + `,"userName":"alice","active":0}`, nil, 400, scim.TypeInvalidValue},
		{"duplicate userName", http.MethodPost, users, `{` + userSchema + `,"userName":"bob","password":"another password"}`, nil, 409, scim.TypeUniqueness},
		{"rename onto a taken userName", http.MethodPut, aliceURL, `{` + userSchema + `,"userName":"bob"}`, nil, 409, scim.TypeUniqueness},
		{"rename onto a taken userName by PATCH", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","value":{"userName":"bob","active":false}}]}`, nil, 409, scim.TypeUniqueness},
		{"filter sw", http.MethodGet, users + "?filter=" + urlQuery(`userName sw "a"`), "", nil, 400, scim.TypeInvalidFilter},
		{"filter on another attribute", http.MethodGet, users + "?filter=" + urlQuery(`emails eq "a@example.com"`), "", nil, 400, scim.TypeInvalidFilter},
		{"filter with and", http.MethodGet, users + "?filter=" + urlQuery(`userName eq "alice" and active eq true`), "", nil, 400, scim.TypeInvalidFilter},
		{"filter unquoted", http.MethodGet, users + "?filter=" + urlQuery(`userName eq alice`), "", nil, 400, scim.TypeInvalidFilter},
		{"filter in parentheses", http.MethodGet, users + "?filter=" + urlQuery(`(userName eq "alice")`), "", nil, 400, scim.TypeInvalidFilter},
		{"filter pr", http.MethodGet, users + "?filter=" + urlQuery(`userName pr`), "", nil, 400, scim.TypeInvalidFilter},
		{"empty filter", http.MethodGet, users + "?filter=", "", nil, 400, scim.TypeInvalidFilter},
		{"count not a number", http.MethodGet, users + "?count=ten", "", nil, 400, scim.TypeInvalidValue},
		{"PATCH unknown path", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","path":"activ","value":false}]}`, nil, 400, scim.TypeInvalidPath},
		{"PATCH unknown attribute in a value object", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","value":{"active":false,"superuser":true}}]}`, nil, 400, scim.TypeInvalidPath},
		{"PATCH sub-attribute of password", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","path":"password.value","value":"a new password"}]}`, nil, 400, scim.TypeInvalidPath},
		{"PATCH schemas", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","path":"schemas","value":[]}]}`, nil, 400, scim.TypeInvalidPath},
		{"PATCH remove without path", http.MethodPatch, aliceURL, patchOp + `[{"op":"remove"}]}`, nil, 400, scim.TypeNoTarget},
		{"PATCH remove password", http.MethodPatch, aliceURL, patchOp + `[{"op":"remove","path":"password"}]}`, nil, 400, scim.TypeMutability},
		{"PATCH unknown op", http.MethodPatch, aliceURL, patchOp + `[{"op":"move","path":"active","value":false}]}`, nil, 400, scim.TypeInvalidSyntax},
		{"PATCH no operations", http.MethodPatch, aliceURL, patchOp + `[]}`, nil, 400, scim.TypeInvalidSyntax},
		{"PATCH without the PatchOp schema", http.MethodPatch, aliceURL, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, nil, 400, scim.TypeInvalidValue},
		{"PATCH value missing", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","path":"active"}]}`, nil, 400, scim.TypeInvalidValue},
		{"PATCH null password", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","value":{"password":null}}]}`, nil, 400, scim.TypeInvalidValue},
		{"a later bad operation undoes an earlier good one", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","path":"active","value":false},{"op":"replace","path":"nope","value":1}]}`, nil, 400, scim.TypeInvalidPath},
		{"form body", http.MethodPost, users, `userName=dave`, []string{"Content-Type: application/x-www-form-urlencoded"}, 415, ""},
		{"text/plain body", http.MethodPatch, aliceURL, patchOp + `[{"op":"replace","path":"active","value":false}]}`, []string{"Content-Type: text/plain"}, 415, ""},
		{"too large", http.MethodPost, users, `{` + userSchema + `,"userName":"dave","password":"` + strings.Repeat("p", 70<<10) + `"}`, nil, 413, ""},
		{"unknown id", http.MethodGet, users + "/00000000-0000-4000-8000-000000000000", "", nil, 404, ""},
		{"unknown id on PUT", http.MethodPut, users + "/nope", `{` + userSchema + `,"userName":"x"}`, nil, 404, ""},
		{"unknown id on PATCH", http.MethodPatch, users + "/nope", patchOp + `[{"op":"replace","path":"active","value":false}]}`, nil, 404, ""},
		{"unknown id on DELETE", http.MethodDelete, users + "/nope", "", nil, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(tc.method, tc.path, tc.body, append([]string{ts.AdminBearer}, tc.headers...)...)
			checkError(t, r, tc.status, tc.scimType)
		})
	}
	// Nothing was created, changed or revoked.
	us, err := s.Store.ListUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range us {
		names = append(names, u.Username)
		if u.Disabled {
			t.Errorf("user %s was disabled", u.Username)
		}
	}
	if !cmp.Equal(names, []string{"alice", "bob"}) {
		t.Errorf("users %v; want [alice bob]", names)
	}
	s.CheckLive(t, tk)
	if evs := s.Events(); len(evs) != 0 {
		t.Errorf("revocation log holds %v; want nothing", evs)
	}
	if r := s.Post("/oauth2/token", "grant_type=password&username=alice&password="+urlQuery(ts.Password), ts.Basic(c, sec)); r.Status != http.StatusOK {
		t.Errorf("alice signs in with her password: %d %s; want 200 (password unchanged)", r.Status, r.Body)
	}
}
