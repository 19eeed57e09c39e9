// Package clientauth decides who is calling an OAuth endpoint. It reads the
// client's credentials from the request (client_secret_basic,
// client_secret_post, or client_id alone for a public client, RFC 6749
// §2.3.1), checks them against the registered client, and refuses a caller
// that failed too often (Limiter), so secrets cannot be guessed online.
//
// It knows nothing of how errors are rendered: the oauth package turns its
// errors into RFC 6749 §5.2 responses.
package clientauth
