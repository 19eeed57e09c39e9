package ssf

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/outbound"
	"github.com/tokend/tokend/internal/store"
)

// Errors of the management operations; the HTTP side answers them 400,
// 404 and 403.
var (
	ErrInvalid   = errors.New("ssf: invalid request")
	ErrNotFound  = errors.New("ssf: no such stream")
	ErrForbidden = errors.New("ssf: not the caller's stream")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// config is what the store keeps of a stream beyond its columns.
type config struct {
	Aud             []string `json:"aud"`
	EventsRequested []string `json:"events_requested,omitempty"`
	// EndpointURL and AuthorizationHeader are a push stream's: where to
	// POST, and the Authorization header to send (SSF 1.0 §6.1.1). The
	// header is the receiver's credential, which tokend must present, so
	// it is kept as it is; no answer shows it.
	EndpointURL         string `json:"endpoint_url,omitempty"`
	AuthorizationHeader string `json:"authorization_header,omitempty"`
	Description         string `json:"description,omitempty"`
	// Removed are the keys of the subjects the receiver removed
	// (subjectKeys): default_subjects is ALL.
	Removed []string `json:"removed_subjects,omitempty"`
	// FailingSince is when pushes to the receiver began to fail; zero
	// while they succeed.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// Verified is when the receiver last asked for a verification event.
	Verified time.Time `json:"verified,omitzero"`
	// LastActivity is when the receiver was last active, as recorded at
	// most once every activityEvery; zero before its first activity.
	LastActivity time.Time `json:"last_activity,omitzero"`
}

// stream is a stored stream with its configuration read.
type stream struct {
	store.Stream
	config
}

func parse(s store.Stream) (stream, error) {
	st := stream{Stream: s}
	if err := json.Unmarshal(s.Config, &st.config); err != nil {
		return st, fmt.Errorf("ssf: stream %q configuration: %w", s.ID, err)
	}
	return st, nil
}

func (st stream) store() (store.Stream, error) {
	b, err := json.Marshal(st.config)
	st.Stream.Config = b
	return st.Stream, err
}

func (st stream) audClaim() any {
	if len(st.Aud) == 1 {
		return st.Aud[0]
	}
	return st.Aud
}

// delivered are the event types the stream gets: those it requested that
// tokend supports, or all of them when it requested none.
func (st stream) delivered() []string {
	if len(st.EventsRequested) == 0 {
		return EventsSupported
	}
	var out []string
	for _, e := range EventsSupported {
		if slices.Contains(st.EventsRequested, e) {
			out = append(out, e)
		}
	}
	return out
}

// wants reports whether sig is for the stream: of a type it gets, about a
// subject it has not removed, and not from before it was created.
func (st stream) wants(sig signal, at time.Time) bool {
	if st.Status == StatusDisabled || at.Before(st.CreatedAt) || !slices.Contains(st.delivered(), sig.typ) {
		return false
	}
	for _, k := range sig.keys {
		if slices.Contains(st.Removed, k) {
			return false
		}
	}
	return true
}

// Delivery is a stream's delivery member (SSF 1.0 §8.1.1, §6.1).
type Delivery struct {
	Method              string `json:"method"`
	EndpointURL         string `json:"endpoint_url,omitempty"`
	AuthorizationHeader string `json:"authorization_header,omitempty"`
}

// StreamConfig is a stream's configuration as the management API shows it
// (SSF 1.0 §8.1.1).
type StreamConfig struct {
	StreamID        string   `json:"stream_id"`
	Iss             string   `json:"iss"`
	Aud             any      `json:"aud"`
	EventsSupported []string `json:"events_supported"`
	EventsRequested []string `json:"events_requested,omitempty"`
	EventsDelivered []string `json:"events_delivered"`
	Delivery        Delivery `json:"delivery"`
	Description     string   `json:"description,omitempty"`
	// MinVerificationInterval is in seconds (SSF 1.0 §8.1.1).
	MinVerificationInterval int `json:"min_verification_interval"`
	// InactivityTimeout is in seconds (SSF 1.0 §8.1.1): a stream whose
	// receiver is not active for that long is paused. Absent when the
	// transmitter pauses none.
	InactivityTimeout int `json:"inactivity_timeout,omitempty"`
}

// Request is the body of a create, update or replace (SSF 1.0 §8.1.1.1,
// §8.1.1.3, §8.1.1.4): the receiver-supplied members. An absent member is
// nil: an update keeps it, a replace clears it. Aud is tokend's: an admin
// creating a stream for a receiver names it; a client's stream is for the
// client, its aud the client ID, unless the client names its push
// endpoint's own URL (checkClientAud).
type Request struct {
	StreamID        string    `json:"stream_id"`
	EventsRequested *[]string `json:"events_requested"`
	Delivery        *Delivery `json:"delivery"`
	Description     *string   `json:"description"`
	Aud             any       `json:"aud"`
}

// Caller is who calls the management API: an admin, or a client an admin
// allowed to manage streams.
type Caller struct {
	Admin    bool
	ClientID string
}

func (t *Transmitter) view(st stream) StreamConfig {
	d := Delivery{Method: st.Method, EndpointURL: st.EndpointURL}
	if st.Method == MethodPoll {
		d.EndpointURL = t.cfg.PollEndpoint(st.ID)
	}
	return StreamConfig{StreamID: st.ID, Iss: t.cfg.Issuer, Aud: st.audClaim(), EventsSupported: EventsSupported,
		EventsRequested: st.EventsRequested, EventsDelivered: st.delivered(), Delivery: d, Description: st.Description,
		MinVerificationInterval: int(t.cfg.MinVerification.Seconds()), InactivityTimeout: int(max(t.cfg.InactivityTimeout, 0).Seconds())}
}

// apply sets on st what req says; replace clears what it leaves out.
func apply(st *stream, req Request, replace bool) error {
	if req.EventsRequested != nil {
		st.EventsRequested = *req.EventsRequested
	} else if replace {
		st.EventsRequested = nil
	}
	if req.Description != nil {
		st.Description = *req.Description
	} else if replace {
		st.Description = ""
	}
	if len(st.Description) > 1000 {
		st.Description = st.Description[:1000] // SSF 1.0 §8.1.1: the transmitter may truncate it
	}
	d := req.Delivery
	if d == nil && !replace {
		return nil
	}
	if d == nil || d.Method == "" {
		d = &Delivery{Method: MethodPoll} // SSF 1.0 §8.1.1.1: no delivery means poll
	}
	switch d.Method {
	case MethodPoll:
		st.Method, st.EndpointURL, st.AuthorizationHeader = MethodPoll, "", ""
	case MethodPush:
		u, err := url.Parse(d.EndpointURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			return invalid("delivery.endpoint_url must be an absolute http or https URL")
		}
		st.Method, st.EndpointURL, st.AuthorizationHeader = MethodPush, d.EndpointURL, d.AuthorizationHeader
	default:
		return invalid("delivery.method %q is not supported: %s or %s", d.Method, MethodPush, MethodPoll)
	}
	return nil
}

// audOf is the aud a create request named, a string or strings.
func audOf(v any) ([]string, error) {
	switch a := v.(type) {
	case nil:
		return nil, nil
	case string:
		if a != "" {
			return []string{a}, nil
		}
	case []any:
		var out []string
		for _, x := range a {
			s, ok := x.(string)
			if !ok || s == "" {
				return nil, invalid("aud must be a string or an array of strings")
			}
			out = append(out, s)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, invalid("aud must be a string or an array of strings")
}

// checkClientAud holds the aud a client named for its stream to the one
// it may name. SSF 1.0 has the transmitter supply aud, and tokend makes a
// client's stream's aud the client ID; a receiver that accepts only SETs
// for its own identifier (tokend's receiver is one) needs that instead. A
// client may name it, as the receiver's own URL at its push endpoint: each
// value an absolute URL with delivery.endpoint_url's scheme and host. The
// SETs meant for that audience then go nowhere but to it, so that no
// client can collect SETs addressed to another receiver (by poll, or by
// push to itself) and replay them there. An update that moves the
// delivery elsewhere is refused while the aud stays.
func checkClientAud(st stream) error {
	if len(st.Aud) == 1 && st.Aud[0] == st.Owner {
		return nil
	}
	const rule = "a client's stream may name as aud only the receiver's own URL at its push endpoint (the scheme and host of delivery.endpoint_url)"
	ep, err := url.Parse(st.EndpointURL)
	if st.Method != MethodPush || err != nil {
		return invalid("%s: this stream is not pushed", rule)
	}
	for _, a := range st.Aud {
		u, err := url.Parse(a)
		if err != nil || u.Scheme != ep.Scheme || !strings.EqualFold(u.Host, ep.Host) || u.User != nil || u.Fragment != "" {
			return invalid("%s: %q is not at %s://%s", rule, a, ep.Scheme, ep.Host)
		}
	}
	return nil
}

// Create creates a stream for the caller (SSF 1.0 §8.1.1.1).
func (t *Transmitter) Create(ctx context.Context, c Caller, req Request) (StreamConfig, error) {
	now := t.cfg.Now()
	id := rand.Text()
	st := stream{Stream: store.Stream{ID: id, Owner: c.ClientID, Status: StatusEnabled, CreatedAt: now, UpdatedAt: now}}
	aud, err := audOf(req.Aud)
	if err != nil {
		return StreamConfig{}, err
	}
	st.Aud = aud
	if len(st.Aud) == 0 {
		st.Aud = []string{cmpOr(c.ClientID, id)}
	}
	if err := apply(&st, req, true); err != nil {
		return StreamConfig{}, err
	}
	if !c.Admin {
		if err := checkClientAud(st); err != nil {
			return StreamConfig{}, err
		}
	}
	s, err := st.store()
	if err != nil {
		return StreamConfig{}, err
	}
	if err := t.cfg.Store.CreateStream(ctx, s); err != nil {
		return StreamConfig{}, err
	}
	t.log.InfoContext(ctx, "ssf stream created", "stream", id, "method", st.Method, "owner", c.ClientID)
	return t.view(st), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// get returns stream id if the caller may see it: an admin any, a client
// its own. Another client's is ErrNotFound, as SSF 1.0 §8.1.1.2's 404
// "for this receiver" has it.
func (t *Transmitter) get(ctx context.Context, c Caller, id string) (stream, error) {
	if id == "" {
		return stream{}, invalid("stream_id is required")
	}
	s, err := t.cfg.Store.GetStream(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.Admin && s.Owner != c.ClientID) {
		return stream{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return stream{}, err
	}
	return parse(s)
}

// Get returns the caller's stream id (SSF 1.0 §8.1.1.2).
func (t *Transmitter) Get(ctx context.Context, c Caller, id string) (StreamConfig, error) {
	st, err := t.get(ctx, c, id)
	if err != nil {
		return StreamConfig{}, err
	}
	t.active(ctx, st)
	return t.view(st), nil
}

// List returns the caller's streams: an admin's are all of them.
func (t *Transmitter) List(ctx context.Context, c Caller) ([]StreamConfig, error) {
	all, err := t.cfg.Store.ListStreams(ctx)
	if err != nil {
		return nil, err
	}
	out := []StreamConfig{}
	for _, s := range all {
		if !c.Admin && s.Owner != c.ClientID {
			continue
		}
		st, err := parse(s)
		if err != nil {
			return nil, err
		}
		out = append(out, t.view(st))
	}
	return out, nil
}

// update applies fn to the caller's stream id in one store transaction.
func (t *Transmitter) update(ctx context.Context, c Caller, id string, fn func(*stream) error) (stream, error) {
	if _, err := t.get(ctx, c, id); err != nil {
		return stream{}, err
	}
	var out stream
	_, err := t.cfg.Store.UpdateStream(ctx, id, func(s store.Stream) (store.Stream, error) {
		st, err := parse(s)
		if err != nil {
			return s, err
		}
		if err := fn(&st); err != nil {
			return s, err
		}
		st.UpdatedAt = t.cfg.Now()
		st.LastActivity = st.UpdatedAt // every update is the receiver's (or an admin's) call
		out = st
		return st.store()
	})
	if errors.Is(err, store.ErrNotFound) {
		return stream{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return out, err
}

// Update changes the members req has (PATCH, SSF 1.0 §8.1.1.3); Replace
// sets them all, clearing those req leaves out (PUT, §8.1.1.4).
func (t *Transmitter) Update(ctx context.Context, c Caller, req Request, replace bool) (StreamConfig, error) {
	if req.Aud != nil {
		return StreamConfig{}, invalid("aud cannot be updated")
	}
	st, err := t.update(ctx, c, req.StreamID, func(st *stream) error {
		if err := apply(st, req, replace); err != nil {
			return err
		}
		if !c.Admin {
			return checkClientAud(*st)
		}
		return nil
	})
	if err != nil {
		return StreamConfig{}, err
	}
	return t.view(st), nil
}

// Delete deletes the caller's stream id and the SETs queued for it
// (SSF 1.0 §8.1.1.5).
func (t *Transmitter) Delete(ctx context.Context, c Caller, id string) error {
	if _, err := t.get(ctx, c, id); err != nil {
		return err
	}
	if err := t.cfg.Store.DeleteStream(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return err
	}
	t.log.InfoContext(ctx, "ssf stream deleted", "stream", id)
	return nil
}

// Status is a stream's status (SSF 1.0 §8.1.2).
type Status struct {
	StreamID string `json:"stream_id"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

// GetStatus returns the status of the caller's stream id (§8.1.2.1).
func (t *Transmitter) GetStatus(ctx context.Context, c Caller, id string) (Status, error) {
	st, err := t.get(ctx, c, id)
	if err != nil {
		return Status{}, err
	}
	t.active(ctx, st)
	return Status{StreamID: st.ID, Status: st.Status, Reason: st.Reason}, nil
}

// SetStatus sets the status of the caller's stream (§8.1.2.2). Enabling
// a push stream makes its held SETs due at once.
func (t *Transmitter) SetStatus(ctx context.Context, c Caller, s Status) (Status, error) {
	switch s.Status {
	case StatusEnabled, StatusPaused, StatusDisabled:
	default:
		return Status{}, invalid("status must be enabled, paused or disabled")
	}
	st, err := t.update(ctx, c, s.StreamID, func(st *stream) error {
		st.Status, st.Reason = s.Status, s.Reason
		if s.Status == StatusEnabled {
			st.FailingSince = time.Time{}
		}
		return nil
	})
	if err != nil {
		return Status{}, err
	}
	t.log.InfoContext(ctx, "ssf stream status", "stream", st.ID, "status", st.Status)
	if st.Status == StatusEnabled {
		outbound.Signal(t.due)
	}
	return Status{StreamID: st.ID, Status: st.Status, Reason: st.Reason}, nil
}

// TooSoonError refuses a verification request that came sooner than
// min_verification_interval after the last (SSF 1.0 §8.1.4.2: a 429).
type TooSoonError struct{ RetryAfter time.Duration }

func (e *TooSoonError) Error() string {
	return fmt.Sprintf("ssf: a verification was requested less than min_verification_interval ago; retry in %s", e.RetryAfter.Round(time.Second))
}

// Verify queues a verification event on the caller's stream, echoing
// state (SSF 1.0 §8.1.4.2), unless the last came less than
// MinVerification ago (*TooSoonError). A disabled stream transmits
// nothing.
func (t *Transmitter) Verify(ctx context.Context, c Caller, id, state string) error {
	now := t.cfg.Now()
	st, err := t.update(ctx, c, id, func(st *stream) error {
		if wait := st.Verified.Add(t.cfg.MinVerification).Sub(now); wait > 0 {
			return &TooSoonError{RetryAfter: wait}
		}
		st.Verified = now
		return nil
	})
	if err != nil || st.Status == StatusDisabled {
		return err
	}
	event := map[string]any{}
	if state != "" {
		event["state"] = state
	}
	jti := rand.Text()
	sig := signal{typ: EventVerification, txn: jti, subject: map[string]any{"format": "opaque", "id": st.ID}, payload: event}
	claims, err := t.claims(st, sig, jti, now)
	if err != nil {
		return err
	}
	set := store.StreamSET{StreamID: st.ID, JTI: jti, Claims: claims, NextAttempt: now, CreatedAt: now}
	if err := t.cfg.Store.QueueSETs(ctx, "", 0, 0, []store.StreamSET{set}); err != nil {
		return err
	}
	t.queued()
	return nil
}

// SubjectRequest is the body of an add or remove subject request (SSF 1.0
// §8.1.3.2, §8.1.3.3).
type SubjectRequest struct {
	StreamID string         `json:"stream_id"`
	Subject  map[string]any `json:"subject"`
	Verified *bool          `json:"verified,omitempty"`
}

// AddSubject adds a subject back to the caller's stream, RemoveSubject
// removes one: the stream gets every subject's events (default_subjects
// ALL) but those of the subjects removed.
func (t *Transmitter) AddSubject(ctx context.Context, c Caller, req SubjectRequest) error {
	return t.subjects(ctx, c, req, false)
}

// RemoveSubject: see AddSubject.
func (t *Transmitter) RemoveSubject(ctx context.Context, c Caller, req SubjectRequest) error {
	return t.subjects(ctx, c, req, true)
}

func (t *Transmitter) subjects(ctx context.Context, c Caller, req SubjectRequest, remove bool) error {
	keys := subjectKeys(req.Subject)
	if len(keys) == 0 {
		return invalid("subject must be a subject identifier (RFC 9493) of format iss_sub, email, opaque, aliases or complex")
	}
	_, err := t.update(ctx, c, req.StreamID, func(st *stream) error {
		st.Removed = slices.DeleteFunc(st.Removed, func(k string) bool { return slices.Contains(keys, k) })
		if remove {
			st.Removed = append(st.Removed, keys...)
		}
		return nil
	})
	return err
}
