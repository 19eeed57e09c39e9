package web_test

import (
	"os"
	"testing"

	"github.com/tokend/tokend/internal/identity"
)

// TestMain runs the tests with cheap password hashes: every flow signs a
// user in, and the production cost only slows them.
func TestMain(m *testing.M) {
	identity.UseTestHashCost()
	os.Exit(m.Run())
}
