package scim_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// profileOf is what the store holds of u's profile claims.
type profileOf struct {
	Email                          string
	EmailVerified                  bool
	GivenName, FamilyName, Display string
}

func storedProfile(t *testing.T, s *ts.Server, id string) profileOf {
	t.Helper()
	u, err := s.Store.GetUserByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return profileOf{u.Email, u.EmailVerified, u.GivenName, u.FamilyName, u.Name}
}

// TestProfileCreateAndReplace: POST and PUT store emails (the primary
// value, else the first; verified when sent so), name.givenName,
// name.familyName and displayName, and answer with them; a PUT that
// omits one keeps it.
func TestProfileCreateAndReplace(t *testing.T) {
	s := ts.New(t)
	r := s.Do(http.MethodPost, scim.PathUsers, `{`+userSchema+`,"userName":"dora","password":"dora's password",
		"name":{"givenName":"Dora","familyName":"Explorer","formatted":"Dora Explorer"},"displayName":"Dora E.",
		"emails":[{"value":"dora@work.example","type":"work"},{"value":"dora@home.example","primary":true,"verified":true}]}`,
		ts.AdminBearer, "Content-Type: application/scim+json")
	if r.Status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	var u scim.User
	r.JSON(t, &u)
	want := scim.User{
		Name: &scim.Name{GivenName: "Dora", FamilyName: "Explorer"}, DisplayName: "Dora E.",
		Emails: []scim.Email{{Value: "dora@home.example", Primary: true, Verified: true}},
	}
	profile := func(u scim.User) scim.User {
		return scim.User{Name: u.Name, DisplayName: u.DisplayName, Emails: u.Emails}
	}
	if d := cmp.Diff(profile(u), want); d != "" {
		t.Errorf("POST answer (-got +want):\n%s", d)
	}
	if got, want := storedProfile(t, s, u.ID), (profileOf{"dora@home.example", true, "Dora", "Explorer", "Dora E."}); got != want {
		t.Errorf("stored %+v; want %+v", got, want)
	}

	for _, step := range []struct {
		name, body string
		want       profileOf
	}{
		{"first email when none is primary, unverified", `"emails":[{"value":"a@x.example"},{"value":"b@x.example"}]`,
			profileOf{"a@x.example", false, "Dora", "Explorer", "Dora E."}},
		{"primary as Entra ID spells it", `"emails":[{"value":"a@x.example"},{"value":"b@x.example","primary":"True","verified":"true"}]`,
			profileOf{"b@x.example", true, "Dora", "Explorer", "Dora E."}},
		{"name without familyName clears it", `"name":{"givenName":"Dolores"},"displayName":""`,
			profileOf{"b@x.example", true, "Dolores", "", ""}},
		{"omitted attributes stay", ``, profileOf{"b@x.example", true, "Dolores", "", ""}},
		{"no emails clears the address", `"emails":[]`, profileOf{"", false, "Dolores", "", ""}},
	} {
		body := `{` + userSchema + `,"userName":"dora"`
		if step.body != "" {
			body += "," + step.body
		}
		r := s.Do(http.MethodPut, scim.PathUsers+"/"+u.ID, body+`}`, ts.AdminBearer)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: PUT %d %s", step.name, r.Status, r.Body)
		}
		if got := storedProfile(t, s, u.ID); got != step.want {
			t.Errorf("%s: stored %+v; want %+v", step.name, got, step.want)
		}
	}
}

// TestProfilePatch: PATCH sets and removes the profile attributes by
// path, sub-attribute path (as Entra ID and Okta send them) and value
// object; a new address by emails[...].value is not verified.
func TestProfilePatch(t *testing.T) {
	s := ts.New(t)
	alice := s.User("alice", false)
	url := scim.PathUsers + "/" + alice.ID
	steps := []struct {
		name, ops string
		want      profileOf
	}{
		{"replace by paths", `[{"op":"replace","path":"displayName","value":"Alice"},
			{"op":"add","path":"name","value":{"givenName":"Alice","familyName":"Liddell"}},
			{"op":"replace","path":"emails","value":[{"value":"alice@example.com","primary":true,"verified":true}]}]`,
			profileOf{"alice@example.com", true, "Alice", "Liddell", "Alice"}},
		{"sub-attributes", `[{"op":"Replace","path":"name.familyName","value":"Hargreaves"},
			{"op":"Replace","path":"emails[type eq \"work\"].value","value":"alice@work.example"}]`,
			profileOf{"alice@work.example", false, "Alice", "Hargreaves", "Alice"}},
		{"value object with paths as keys", `[{"op":"Replace","value":{"name.givenName":"Al","displayName":"Al H."}}]`,
			profileOf{"alice@work.example", false, "Al", "Hargreaves", "Al H."}},
		{"ignored sub-attribute", `[{"op":"replace","path":"name.formatted","value":"x"}]`,
			profileOf{"alice@work.example", false, "Al", "Hargreaves", "Al H."}},
		{"remove", `[{"op":"remove","path":"name.givenName"},{"op":"remove","path":"emails[type eq \"work\"]"},{"op":"remove","path":"displayName"}]`,
			profileOf{"", false, "", "Hargreaves", ""}},
	}
	for _, step := range steps {
		r := s.Do(http.MethodPatch, url, patchOp+step.ops+`}`, ts.AdminBearer)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: PATCH %d %s", step.name, r.Status, r.Body)
		}
		if got := storedProfile(t, s, alice.ID); got != step.want {
			t.Errorf("%s: stored %+v; want %+v", step.name, got, step.want)
		}
		var u scim.User
		r.JSON(t, &u)
		if (u.Name != nil && u.Name.FamilyName != step.want.FamilyName) || u.DisplayName != step.want.Display || (len(u.Emails) > 0) != (step.want.Email != "") {
			t.Errorf("%s: answer %s does not show %+v", step.name, r.Body, step.want)
		}
	}
	for _, e := range s.Events() {
		if e.GrantID != "" || e.Reason != store.ReasonClaimsChanged {
			t.Errorf("profile changes logged %v; want claims_changed subject entries alone, nothing revoked", e)
		}
	}
}

// TestProfileBadInput: profile attributes of the wrong type are
// invalidValue, and a filter on a single-valued attribute or a path below
// a sub-attribute invalidPath; nothing is changed.
func TestProfileBadInput(t *testing.T) {
	s := ts.New(t)
	alice := s.User("alice", false)
	url := scim.PathUsers + "/" + alice.ID
	cases := []struct {
		name, method, body string
		scimType           string
	}{
		{"displayName not a string", http.MethodPut, `{` + userSchema + `,"userName":"alice","displayName":1}`, scim.TypeInvalidValue},
		{"name not an object", http.MethodPut, `{` + userSchema + `,"userName":"alice","name":"Alice"}`, scim.TypeInvalidValue},
		{"emails without a value", http.MethodPut, `{` + userSchema + `,"userName":"alice","emails":[{"primary":true}]}`, scim.TypeInvalidValue},
		{"emails primary not a boolean", http.MethodPut, `{` + userSchema + `,"userName":"alice","emails":[{"value":"a@x","primary":2}]}`, scim.TypeInvalidValue},
		{"filter on name", http.MethodPatch, patchOp + `[{"op":"replace","path":"name[givenName eq \"x\"].givenName","value":"y"}]}`, scim.TypeInvalidPath},
		{"below a sub-attribute", http.MethodPatch, patchOp + `[{"op":"replace","path":"name.givenName.x","value":"y"}]}`, scim.TypeInvalidPath},
		{"sub-attribute of displayName", http.MethodPatch, patchOp + `[{"op":"replace","path":"displayName.x","value":"y"}]}`, scim.TypeInvalidPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, s.Do(tc.method, url, tc.body, ts.AdminBearer), http.StatusBadRequest, tc.scimType)
		})
	}
	if got := storedProfile(t, s, alice.ID); got != (profileOf{}) {
		t.Errorf("stored %+v; want nothing", got)
	}
}
