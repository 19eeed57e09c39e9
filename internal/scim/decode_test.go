package scim

import "testing"

// FuzzDecode: no request body, attribute name or PATCH path makes the
// decoders panic.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","password":"p","active":false}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"urn:ietf:params:scim:schemas:core:2.0:User:userName":"a","emails":[{"value":"x"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":"False"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","value":{"password":"x","displayName":"y"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[type eq \"work\"].value"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:İİİ","value":1}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"name.givenName":"x","emails[primary eq true].value":"a@b"}}]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"name":{"givenName":"a"},"emails":{"value":"x","primary":"true","verified":true}}`,
		`null`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = decodeUser(body)
		_, _ = decodePatch(body)
		for _, p := range []string{string(body), SchemaUser + ":" + string(body)} {
			_, _, _, _ = targetOf(p)
			_ = attribute(p)
		}
	})
}
