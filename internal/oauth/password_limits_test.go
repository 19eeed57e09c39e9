package oauth_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
)

// TestConcurrentPasswordGuessesAreLimited: hundreds of wrong passwords for
// one user sent at once through the password grant; no more than the
// limit are checked, the rest are refused before argon2id runs.
func TestConcurrentPasswordGuessesAreLimited(t *testing.T) {
	// Checks as slow as in production, so that guesses sent at once
	// overlap as they would against a real server.
	defer identity.UseProductionHashCost()()
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	h.user("victim", "correct horse battery")
	const n = 250
	statuses := burst(t, from("127.0.0.2"), h.srv.URL+oauth.PathToken, n, func(i int) (string, string) {
		return "grant_type=password&username=victim&password=guess-" + strconv.Itoa(i), basic(id, secret)
	})
	checkChecked(t, statuses, n, http.StatusBadRequest)

	h.clock.Advance(time.Minute)
	if status, body := send(t, from("127.0.0.2"), h.srv.URL+oauth.PathToken, "grant_type=password&username=victim&password=correct+horse+battery", basic(id, secret)); status != http.StatusOK {
		t.Errorf("the right password after the window: %d %s; want 200", status, body)
	}
}

// TestPasswordSprayIsLimitedPerAddress: wrong passwords for ever new
// usernames from one address (so that no user reaches its limit) meet the
// address's limit; another address is not held up, and neither is the
// app's own client authentication at the spraying address (a user's typos
// through an app must not stop the app from revoking).
func TestPasswordSprayIsLimitedPerAddress(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	for _, name := range []string{"alice", "bob", "carol"} {
		h.user(name, "correct horse battery")
	}
	token := h.srv.URL + oauth.PathToken
	sprayer := from("127.0.0.5")
	statuses := map[int]int{}
	for i, name := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"} {
		status, _ := send(t, sprayer, token, "grant_type=password&username="+name+"&password=Summer2025%21", basic(id, secret))
		statuses[status]++
		if i >= harnessLimit && status != http.StatusTooManyRequests {
			t.Errorf("guess %d (user %s) from the spraying address: %d; want 429", i+1, name, status)
		}
	}
	if statuses[http.StatusBadRequest] != harnessLimit {
		t.Errorf("answers to the spray: %v; want %d checked (400), the rest 429", statuses, harnessLimit)
	}
	if status, body := send(t, from("127.0.0.6"), token, "grant_type=password&username=alice&password=correct+horse+battery", basic(id, secret)); status != http.StatusOK {
		t.Errorf("alice from another address: %d %s; want 200", status, body)
	}
	if status, body := send(t, sprayer, h.srv.URL+oauth.PathRevoke, "token=x", basic(id, secret)); status != http.StatusOK {
		t.Errorf("the app's revocation from the spraying address: %d %s; want 200", status, body)
	}
}
