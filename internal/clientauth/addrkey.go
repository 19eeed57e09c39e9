package clientauth

// AddressKey is the Limiter key of a request's RemoteAddr: the IPv4
// address, or the IPv6 /64, as Authenticator counts failures. Other
// callers that rate-limit failed authentications per address (the admin
// endpoints) use it so that an address is keyed the same way everywhere.
func AddressKey(remoteAddr string) string { return "addr:" + hostOf(remoteAddr) }

// UserKey is the Limiter key of a username, as the password grant counts
// failed sign-ins: one key per user whichever endpoint was guessed at.
func UserKey(username string) string { return "user:" + username }

// LoginAddressKey is the Limiter key of a request's address for password
// guesses (the password grant, admin HTTP Basic), keyed like AddressKey
// but apart from it: users' typos through an app then never count against
// the app's own client authentication, nor stop it from revoking.
func LoginAddressKey(remoteAddr string) string { return "login-addr:" + hostOf(remoteAddr) }
