// Package oauth implements the protocol endpoints of tokend: token
// (RFC 6749), revocation (RFC 7009, WSO2-compatible), introspection
// (RFC 7662), OpenID Connect UserInfo, metadata (RFC 8414, OpenID Connect
// Discovery), dynamic client registration (RFC 7591 at WSO2's path), the
// revocation feed and the Token Status Lists. One file
// per endpoint, and one per grant; errors are those of package oautherr,
// the one error type of RFC 6749 §5.2 and its single writer. It knows no
// SQL: storage is reached through package store, client authentication
// through package clientauth.
package oauth
