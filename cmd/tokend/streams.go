package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	"github.com/tokend/tokend/internal/store"
)

// upstreamTokenEnv is the environment variable that can hold the bearer
// token for the upstream transmitter, instead of --token-stdin: never a
// flag's value, which ps and the shell's history would show.
const upstreamTokenEnv = "TOKEND_UPSTREAM_TOKEN"

// streamsCmd is a `tokend streams` command line at work: this tokend as
// a Shared Signals receiver, managing its streams at an upstream
// transmitter (SSF 1.0 §8) over HTTP.
type streamsCmd struct {
	name       string // e.g. "streams create"
	sub        string
	fs         *flag.FlagSet
	upstream   string // --upstream: the transmitter's issuer
	tokenStdin bool   // --token-stdin
	asJSON     bool   // --json
	issuer     string // --issuer: this server's issuer (create)
	endpoint   string // --endpoint: where the upstream pushes (create)
	events     stringList
	descr      string // --description (create)
	set        string // --set (status)
	reason     string // --reason (status)
	state      string // --state (verify)

	stdin  io.Reader
	stdout io.Writer
	pos    []string
	token  string
	up     *upstream
}

// streamsSubcommands are the subcommands of `tokend streams`, by name.
var streamsSubcommands = map[string]func(context.Context, *streamsCmd) error{
	"create": streamsCreate,
	"list":   streamsList,
	"show":   streamsShow,
	"status": streamsStatus,
	"verify": streamsVerify,
	"delete": streamsDelete,
}

// streamsCommand subscribes this tokend, as a receiver, to upstream
// transmitters, and manages those streams.
func streamsCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := needSubcommand("streams", args, stderr); err != nil {
		return err
	}
	c := &streamsCmd{sub: args[0], name: "streams " + args[0], stdin: stdin, stdout: stdout}
	c.fs = newFlagSet(c.name, stderr)
	c.flags()
	pos, err := parseArgs(c.fs, args[1:])
	if err != nil {
		return err
	}
	c.pos = pos
	if err := c.check(); err != nil {
		return err
	}
	if c.token, err = c.readToken(); err != nil {
		return err
	}
	if c.up, err = discover(ctx, c.upstream, c.token); err != nil {
		return err
	}
	return streamsSubcommands[c.sub](ctx, c)
}

// flags defines the flags of c's subcommand: each has only those it
// reads, so that -h shows only them.
func (c *streamsCmd) flags() {
	fs := c.fs
	fs.StringVar(&c.upstream, "upstream", envOr("TOKEND_UPSTREAM", ""), "the upstream transmitter's issuer URL, whose /.well-known/ssf-configuration is read (env TOKEND_UPSTREAM)")
	fs.BoolVar(&c.tokenStdin, "token-stdin", false, "read the upstream's bearer access token from standard input (else env "+upstreamTokenEnv+")")
	if c.sub != "delete" && c.sub != "verify" {
		fs.BoolVar(&c.asJSON, "json", false, "print the upstream's JSON answer")
	}
	switch c.sub {
	case "create":
		dataFlag(fs)
		fs.StringVar(&c.issuer, "issuer", "", "this server's issuer, the aud of the SETs pushed to it; default TOKEND_ISSUER, else as serve derives it from TOKEND_ADDR and TOKEND_INSECURE_HTTP")
		fs.StringVar(&c.endpoint, "endpoint", "", "where the upstream pushes the SETs; default the issuer's "+ssfhttp.PathReceive)
		fs.Var(&c.events, "event", "an event type to request (repeatable); default those this tokend acts on")
		fs.StringVar(&c.descr, "description", "", "a description of the stream, kept by the upstream")
	case "status":
		fs.StringVar(&c.set, "set", "", "set the status: enabled, paused or disabled (default: only show it)")
		fs.StringVar(&c.reason, "reason", "", "the reason given with --set")
	case "verify":
		fs.StringVar(&c.state, "state", "", "the state the verification event echoes; default a fresh one")
	}
}

// check refuses a command line that cannot work, before any request.
func (c *streamsCmd) check() error {
	if _, ok := streamsSubcommands[c.sub]; !ok {
		return usagef("streams: unknown subcommand %q: want one of %s", c.sub, subNames("streams"))
	}
	if c.upstream == "" {
		return usagef("%s: --upstream URL is required: the transmitter's issuer (run \"tokend %s -h\")", c.name, c.name)
	}
	if err := checkUpstreamURL("--upstream", c.upstream); err != nil {
		return usagef("%s: %v", c.name, err)
	}
	switch c.sub {
	case "create", "list":
		return noArgs(c.name, c.pos)
	}
	if len(c.pos) != 1 {
		return usagef("%s: want exactly one stream ID (run \"tokend streams list --upstream %s\" for them)", c.name, c.upstream)
	}
	if c.set != "" && !slices.Contains([]string{ssf.StatusEnabled, ssf.StatusPaused, ssf.StatusDisabled}, c.set) {
		return usagef("%s: --set %q: want enabled, paused or disabled", c.name, c.set)
	}
	if c.reason != "" && c.set == "" {
		return usagef("%s: --reason goes with --set", c.name)
	}
	return nil
}

// readToken reads the upstream's bearer token from standard input
// (--token-stdin) or the environment. It is sent to the upstream alone,
// and never printed.
func (c *streamsCmd) readToken() (string, error) {
	if c.tokenStdin {
		tok, err := firstLine(c.stdin)
		if err != nil {
			return "", err
		}
		if tok = strings.TrimSpace(tok); tok == "" {
			return "", usagef("%s: --token-stdin: standard input holds no token", c.name)
		}
		return tok, nil
	}
	if tok := strings.TrimSpace(os.Getenv(upstreamTokenEnv)); tok != "" {
		return tok, nil
	}
	return "", usagef("%s: no token for the upstream: pipe it with --token-stdin, or set %s (an access token of a client the upstream allows to manage streams; for a tokend upstream, a client made with --ssf-streams, its token from client_credentials)", c.name, upstreamTokenEnv)
}

// streamIn is a stream as a transmitter's configuration endpoint shows it
// (SSF 1.0 §8.1.1), with the members the CLI prints.
type streamIn struct {
	StreamID        string       `json:"stream_id"`
	Aud             any          `json:"aud"`
	EventsDelivered []string     `json:"events_delivered"`
	Delivery        ssf.Delivery `json:"delivery"`
	Description     string       `json:"description,omitempty"`
}

func (s streamIn) auds() []string {
	switch a := s.Aud.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			if str, ok := v.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

// receiverEvents are the events this tokend's receiver acts on: what a
// stream it creates requests unless --event says otherwise.
var receiverEvents = []string{ssf.EventSessionRevoked, ssf.EventCredentialChange, ssf.EventAccountDisabled, ssf.EventAccountPurged}

// streamsCreate subscribes this tokend to the upstream: a push stream to
// its /ssf/receive, for its issuer as the aud. It first makes sure the
// upstream is a trusted issuer here: otherwise every SET it pushed would
// be refused, and a transmitter does not send a refused SET again.
func streamsCreate(ctx context.Context, c *streamsCmd) error {
	if !slices.Contains(c.up.cfg.DeliveryMethods, ssf.MethodPush) {
		return fmt.Errorf("the upstream %s does not push SETs (its delivery_methods_supported has no %s), and tokend receives only pushed ones", c.up.issuer, ssf.MethodPush)
	}
	if err := c.trusted(ctx); err != nil {
		return err
	}
	issuer := strings.TrimSuffix(cmpOr(c.issuer, defaultIssuer()), "/")
	endpoint := cmpOr(c.endpoint, issuer+ssfhttp.PathReceive)
	events := []string(c.events)
	if len(events) == 0 {
		events = receiverEvents
	}
	req := map[string]any{"aud": issuer, "events_requested": events,
		"delivery": ssf.Delivery{Method: ssf.MethodPush, EndpointURL: endpoint}}
	if c.descr != "" {
		req["description"] = c.descr
	}
	var got streamIn
	raw, err := c.up.call(ctx, http.MethodPost, c.up.cfg.Configuration, req, &got)
	if err != nil {
		return err
	}
	if !slices.Contains(got.auds(), issuer) {
		// The receiver would refuse every SET: take the stream back
		// rather than leave one whose SETs are all lost.
		_, derr := c.up.call(ctx, http.MethodDelete, withStreamID(c.up.cfg.Configuration, got.StreamID), nil, nil)
		return fmt.Errorf("the upstream made stream %s for aud %v, not this server's issuer %s, and this server's receiver refuses SETs for another audience; the stream was deleted again (%v). Check --issuer", got.StreamID, got.Aud, issuer, cmpOr(errString(derr), "ok"))
	}
	return printResult(c.stdout, c.asJSON, raw, func() error {
		fmt.Fprintf(c.stdout, "stream %s created at %s: it pushes to %s, aud %s\n", got.StreamID, c.up.issuer, got.Delivery.EndpointURL, issuer)
		fmt.Fprintf(c.stdout, "events: %s\n", strings.Join(got.EventsDelivered, " "))
		return nil
	})
}

// trusted fails unless the upstream is a trusted issuer in this tokend's
// store, saying how to trust it.
func (c *streamsCmd) trusted(ctx context.Context) error {
	st, err := openStore(ctx, c.fs, true)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.GetIssuer(ctx, c.up.issuer)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("the upstream %s is not a trusted issuer here, so its SETs would be refused, and lost: trust its keys first:\n  tokend issuer add --iss %s --jwks-uri %s", c.up.issuer, c.up.issuer, c.up.cfg.JWKSURI)
	}
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// streamsList lists the streams the token's client has at the upstream.
func streamsList(ctx context.Context, c *streamsCmd) error {
	var list []streamIn
	raw, err := c.up.call(ctx, http.MethodGet, c.up.cfg.Configuration, nil, &list)
	if err != nil {
		return err
	}
	return printResult(c.stdout, c.asJSON, raw, func() error {
		return printTable(c.stdout, "STREAM\tDELIVERY\tAUD\tEVENTS", list, func(s streamIn) string {
			return fmt.Sprintf("%s\t%s\t%s\t%d", s.StreamID, deliveryText(s.Delivery), strings.Join(s.auds(), " "), len(s.EventsDelivered))
		})
	})
}

func deliveryText(d ssf.Delivery) string {
	if d.Method == ssf.MethodPoll {
		return "poll " + d.EndpointURL
	}
	return "push " + d.EndpointURL
}

// streamsShow shows one stream and its status.
func streamsShow(ctx context.Context, c *streamsCmd) error {
	var s streamIn
	raw, err := c.up.call(ctx, http.MethodGet, withStreamID(c.up.cfg.Configuration, c.pos[0]), nil, &s)
	if err != nil {
		return err
	}
	return printResult(c.stdout, c.asJSON, raw, func() error {
		fmt.Fprintf(c.stdout, "stream:      %s\ndelivery:    %s\naud:         %s\n", s.StreamID, deliveryText(s.Delivery), strings.Join(s.auds(), " "))
		if s.Description != "" {
			fmt.Fprintf(c.stdout, "description: %s\n", s.Description)
		}
		fmt.Fprintf(c.stdout, "events:      %s\n", strings.Join(s.EventsDelivered, "\n             "))
		return nil
	})
}

// streamsStatus shows a stream's status, or with --set changes it.
func streamsStatus(ctx context.Context, c *streamsCmd) error {
	if c.up.cfg.Status == "" {
		return fmt.Errorf("the upstream %s has no status_endpoint", c.up.issuer)
	}
	var s ssf.Status
	var raw json.RawMessage
	var err error
	if c.set == "" {
		raw, err = c.up.call(ctx, http.MethodGet, withStreamID(c.up.cfg.Status, c.pos[0]), nil, &s)
	} else {
		raw, err = c.up.call(ctx, http.MethodPost, c.up.cfg.Status, ssf.Status{StreamID: c.pos[0], Status: c.set, Reason: c.reason}, &s)
	}
	if err != nil {
		return err
	}
	return printResult(c.stdout, c.asJSON, raw, func() error {
		line := fmt.Sprintf("stream %s: %s", c.pos[0], s.Status)
		if s.Reason != "" {
			line += " (" + s.Reason + ")"
		}
		fmt.Fprintln(c.stdout, line)
		return nil
	})
}

// streamsVerify asks the upstream for a verification event (SSF 1.0
// §8.1.4.2); this server's log shows it arrive.
func streamsVerify(ctx context.Context, c *streamsCmd) error {
	if c.up.cfg.Verification == "" {
		return fmt.Errorf("the upstream %s has no verification_endpoint", c.up.issuer)
	}
	state := cmpOr(c.state, strconv.FormatInt(time.Now().UnixNano(), 36))
	if _, err := c.up.call(ctx, http.MethodPost, c.up.cfg.Verification, map[string]string{"stream_id": c.pos[0], "state": state}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "verification requested on stream %s, state %s: the SET comes by the stream's delivery\n", c.pos[0], state)
	return nil
}

// streamsDelete deletes a stream at the upstream: it sends nothing more.
func streamsDelete(ctx context.Context, c *streamsCmd) error {
	if _, err := c.up.call(ctx, http.MethodDelete, withStreamID(c.up.cfg.Configuration, c.pos[0]), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "stream %s deleted at %s\n", c.pos[0], c.up.issuer)
	return nil
}

func withStreamID(endpoint, id string) string {
	sep := "?"
	if strings.Contains(endpoint, "?") {
		sep = "&"
	}
	return endpoint + sep + "stream_id=" + url.QueryEscape(id)
}

// upstream is a transmitter, as its configuration (SSF 1.0 §7.1) says,
// and the token the CLI calls it with.
type upstream struct {
	issuer string
	token  string
	cfg    struct {
		Issuer          string   `json:"issuer"`
		JWKSURI         string   `json:"jwks_uri"`
		DeliveryMethods []string `json:"delivery_methods_supported"`
		Configuration   string   `json:"configuration_endpoint"`
		Status          string   `json:"status_endpoint"`
		Verification    string   `json:"verification_endpoint"`
	}
	http *http.Client
}

// discover reads the upstream's transmitter configuration, at the
// well-known URL of SSF 1.0 §7.2, and checks it names the upstream as its
// issuer and endpoints the token may be sent to.
func discover(ctx context.Context, issuer, token string) (*upstream, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	u, _ := url.Parse(issuer) // checked by checkUpstreamURL
	wellKnown := u.Scheme + "://" + u.Host + "/.well-known/ssf-configuration" + u.Path
	up := &upstream{issuer: issuer, token: token, http: &http.Client{
		Timeout: 30 * time.Second,
		// A redirect could take the bearer token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, err
	}
	resp, err := up.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the upstream's transmitter configuration: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the upstream has no Shared Signals transmitter configuration: GET %s answered %d", wellKnown, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&up.cfg); err != nil {
		return nil, fmt.Errorf("the upstream's transmitter configuration at %s is not JSON: %w", wellKnown, err)
	}
	if strings.TrimSuffix(up.cfg.Issuer, "/") != issuer {
		return nil, fmt.Errorf("the transmitter configuration at %s names issuer %q, not %s: give --upstream as its issuer", wellKnown, up.cfg.Issuer, issuer)
	}
	if up.cfg.Configuration == "" {
		return nil, fmt.Errorf("the upstream %s has no configuration_endpoint: its streams cannot be managed", issuer)
	}
	for name, ep := range map[string]string{"configuration_endpoint": up.cfg.Configuration, "status_endpoint": up.cfg.Status, "verification_endpoint": up.cfg.Verification} {
		if ep != "" {
			if err := checkUpstreamURL(name, ep); err != nil {
				return nil, fmt.Errorf("the upstream's %v", err)
			}
		}
	}
	return up, nil
}

// call sends the request with the token, body as JSON when not nil, and
// decodes a 2xx answer into out when not nil, returning its bytes. Any
// other answer is an error in the user's words.
func (up *upstream) call(ctx context.Context, method, endpoint string, body, out any) (json.RawMessage, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+up.token)
	resp, err := up.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the upstream: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		return nil, upstreamError(method, resp.StatusCode, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("the upstream's answer to %s %s is not the JSON expected: %w", method, endpoint, err)
		}
	}
	return raw, nil
}

// upstreamError says what an answer other than 2xx means for the user.
func upstreamError(method string, status int, body []byte) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	detail := cmpOr(e.Description, e.Error)
	if detail == "" {
		detail = strings.TrimSpace(string(body))
		if len(detail) > 200 {
			detail = detail[:200] + "…"
		}
	}
	switch status {
	case http.StatusUnauthorized:
		return errors.New("the upstream refused the token (401): it is expired, revoked, or not one of its access tokens; get a new one (for a tokend upstream: client_credentials of a client made with --ssf-streams)")
	case http.StatusForbidden:
		return fmt.Errorf("the upstream does not let this token's client manage streams (403): %s", cmpOr(detail, "ask its admin to allow it (for a tokend upstream: tokend client create --ssf-streams)"))
	case http.StatusNotFound:
		return errors.New("the upstream has no such stream for this token's client (404)")
	case http.StatusBadRequest:
		return fmt.Errorf("the upstream refused the request (400): %s", detail)
	case http.StatusTooManyRequests:
		return fmt.Errorf("the upstream asks to wait before asking again (429): %s", detail)
	}
	return fmt.Errorf("the upstream answered %s with %d: %s", method, status, detail)
}

// checkUpstreamURL accepts an https URL, or an http one to a loopback host
// (a test transmitter on this machine): the bearer token goes to it, and
// over plain HTTP elsewhere anyone on the way could take it.
func checkUpstreamURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return fmt.Errorf("%s %q is not an https URL", name, raw)
	}
	if u.Scheme == "http" {
		switch u.Hostname() {
		case "127.0.0.1", "::1", "localhost":
		default:
			return fmt.Errorf("%s %q: want https (http only to 127.0.0.1, [::1] or localhost, for tests): the bearer token would cross the network in the clear", name, raw)
		}
	}
	return nil
}

// cmpOr is a, or b when a is empty.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
