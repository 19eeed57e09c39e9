package scim

import (
	"os"
	"testing"

	"github.com/tokend/tokend/internal/identity"
)

// TestMain runs the tests with cheap password hashes: they hash and verify
// passwords by the hundred, and the production cost only slows them.
func TestMain(m *testing.M) {
	identity.UseTestHashCost()
	os.Exit(m.Run())
}
