// Package server wires tokend's HTTP side: routes, TLS (with a self-signed
// certificate made on first start), and the middleware every request goes
// through (request id, structured request log, security headers, panic
// recovery). It holds no OAuth logic: that is package oauth.
package server
