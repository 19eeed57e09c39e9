// Package ssfhttp is the HTTP side of tokend's Shared Signals transmitter
// (package ssf): the transmitter configuration (SSF 1.0 §7), the stream
// management API (§8) and the poll endpoint (RFC 8936). The management
// API and the poll endpoint take the admin token (or an admin user's Basic
// credentials), or the Bearer access token of a client an admin allowed
// to manage streams (store.Client.SSFStreams), which then sees its own
// streams alone.
package ssfhttp
