package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTokenExchangeREADMEAsPrinted runs the README's token exchange as
// printed, after the Quick start's server, client and user: two services
// allowed to exchange, alice's tokens, a delegated exchange and one more
// from it, their introspection, and the revocation of alice's refresh
// token, after which every token of the chain is inactive and the log has
// one event per grant, each naming its parent.
func TestTokenExchangeREADMEAsPrinted(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the README's commands need it (.ci/run installs curl and jq)", tool)
		}
	}
	qs := sectionBlocks(t, "## Quick start")
	te := sectionBlocks(t, "## Token exchange")
	if len(qs) < 2 || len(te) != 3 {
		t.Fatalf("the Quick start has %d sh blocks, the token exchange section %d; this test needs the first two and 3", len(qs), len(te))
	}
	out, _ := runReadme(t, readmeScript(t, []string{qs[0], qs[1], te[0], te[1], te[2]}, ""), chooseReadmeNet(t), "")
	if len(out) != 5 {
		t.Fatalf("%d of 5 blocks ran", len(out))
	}
	if n := strings.Count(out[3], `"scope":"billing","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"`); n != 2 {
		t.Errorf("%d of the two exchanges answer scope billing and an access token:\n%s", n, out[3])
	}
	if strings.Contains(out[3], `"refresh_token"`) {
		t.Errorf("an exchange answered a refresh token:\n%s", out[3])
	}
	for _, want := range []string{`"active":true`, `"act":{"sub":"`, `"exchanged_from":["`} {
		if !strings.Contains(out[3], want) {
			t.Errorf("the introspection of billing-api's token has no %s:\n%s", want, out[3])
		}
	}
	if n := strings.Count(out[4], `{"active":false}`); n != 3 || strings.Contains(out[4], `"active":true`) {
		t.Errorf("after the root's revocation %d of 3 tokens are inactive:\n%s", n, out[4])
	}
	if n := strings.Count(out[4], `"parent_grant_id":"`); n != 2 {
		t.Errorf("the log's last three events name %d parents; want 2:\n%s", n, out[4])
	}
}
