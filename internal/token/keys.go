package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tokend/tokend/internal/atomicfile"

	"github.com/go-jose/go-jose/v4"
)

// Signing algorithms tokend can sign access tokens with.
const (
	RS256 = string(jose.RS256)
	ES256 = string(jose.ES256)
	EdDSA = string(jose.EdDSA)
)

// SupportedAlgs lists the algorithms a key may have, default first.
var SupportedAlgs = []string{RS256, ES256, EdDSA}

// Key is one signing key with its self-signed certificate (so x5t and
// x5t#S256 are real thumbprints).
type Key struct {
	ID        string
	Alg       string
	Private   crypto.Signer
	Cert      *x509.Certificate
	CreatedAt time.Time
	// RetiredAt is zero while the key signs; once retired, the key stays
	// published until LastExpiry, the latest expiry of any token it signed.
	RetiredAt  time.Time
	LastExpiry time.Time

	// header is the base64url protected header of the key's tokens, made
	// once by go-jose; minting reuses it (see JWTs.Mint).
	header string
}

// keyMeta is a key's entry in keys.json.
type keyMeta struct {
	ID         string    `json:"kid"`
	Alg        string    `json:"alg"`
	CreatedAt  time.Time `json:"created_at"`
	RetiredAt  time.Time `json:"retired_at,omitzero"`
	LastExpiry time.Time `json:"last_expiry,omitzero"`
}

// Keyring holds the signing keys of a data folder: <dir>/keys.json lists
// them, <dir>/<kid>.key.pem (mode 0600) and <dir>/<kid>.crt.pem hold each.
// Several processes share one keyring (the server and `tokend keys
// rotate`): every change is a read-modify-write under an exclusive file
// lock, and the server re-reads keys.json when it changes.
type Keyring struct {
	dir string
	now func() time.Time

	mu        sync.RWMutex
	keys      []*Key // newest first; keys[0] is the active one
	loadedMod time.Time
	checkedAt time.Time
}

// expiryMargin is how far ahead LastExpiry is recorded, so that keys.json
// is rewritten about once an hour under steady issuance, not per token.
const expiryMargin = time.Hour

// reloadEvery bounds how often the keyring looks for changes made by
// another process.
const reloadEvery = time.Second

// OpenKeyring opens the keyring in dir, creating a first key of alg when
// it has none. now may be nil.
func OpenKeyring(dir, alg string, now func() time.Time) (*Keyring, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token: create key folder: %w", err)
	}
	k := &Keyring{dir: dir, now: now}
	err := k.locked(func(metas []keyMeta) ([]keyMeta, error) {
		if len(metas) > 0 {
			return nil, nil
		}
		return k.addKey(metas, alg)
	})
	if err != nil {
		return nil, err
	}
	return k, k.reload(true)
}

// EnsureActive rotates to a new key of alg unless the active key already
// has that algorithm: the server's --jwt-alg takes effect at start.
func (k *Keyring) EnsureActive(alg string) error {
	err := k.locked(func(metas []keyMeta) ([]keyMeta, error) {
		if len(metas) > 0 && metas[0].RetiredAt.IsZero() && metas[0].Alg == alg {
			return nil, nil
		}
		return k.addKey(metas, alg)
	})
	if err != nil {
		return err
	}
	return k.reload(true)
}

// Rotate makes a new key of alg the active one; the old key is retired and
// stays published until its last token expires.
func (k *Keyring) Rotate(alg string) (*Key, error) {
	err := k.locked(func(metas []keyMeta) ([]keyMeta, error) { return k.addKey(metas, alg) })
	if err != nil {
		return nil, err
	}
	if err := k.reload(true); err != nil {
		return nil, err
	}
	return k.Active(), nil
}

// addKey generates a key of alg in front of metas, retiring the old active key.
func (k *Keyring) addKey(metas []keyMeta, alg string) ([]keyMeta, error) {
	now := k.now().UTC()
	key, err := generateKey(alg, now)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key.Private)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(k.dir, key.ID+".key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(k.dir, key.ID+".crt.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: key.Cert.Raw}), 0o644); err != nil {
		return nil, err
	}
	for i := range metas {
		if metas[i].RetiredAt.IsZero() {
			metas[i].RetiredAt = now
		}
	}
	return append([]keyMeta{{ID: key.ID, Alg: alg, CreatedAt: now}}, metas...), nil
}

// Active returns the key that signs new tokens.
func (k *Keyring) Active() *Key {
	k.maybeReload()
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[0]
}

// Lookup returns the key with that kid, if it is still published.
func (k *Keyring) Lookup(kid string) (*Key, bool) {
	k.maybeReload()
	k.mu.RLock()
	defer k.mu.RUnlock()
	now := k.now()
	for _, key := range k.keys {
		if key.ID == kid && key.published(now) {
			return key, true
		}
	}
	return nil, false
}

// Keys returns every key of the keyring, newest first, published or not.
func (k *Keyring) Keys() []*Key {
	k.maybeReload()
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]*Key(nil), k.keys...)
}

func (key *Key) published(now time.Time) bool {
	return key.RetiredAt.IsZero() || now.Before(key.LastExpiry)
}

// JWKS returns the public keys whose tokens may still be alive (RFC 7517),
// each with its certificate and thumbprints.
func (k *Keyring) JWKS() jose.JSONWebKeySet {
	now := k.now()
	var set jose.JSONWebKeySet
	for _, key := range k.Keys() {
		if !key.published(now) {
			continue
		}
		set.Keys = append(set.Keys, key.public())
	}
	return set
}

func (key *Key) public() jose.JSONWebKey {
	sha1Sum := sha1.Sum(key.Cert.Raw)
	sha256Sum := sha256.Sum256(key.Cert.Raw)
	return jose.JSONWebKey{
		Key:                         key.Private.Public(),
		KeyID:                       key.ID,
		Algorithm:                   key.Alg,
		Use:                         "sig",
		Certificates:                []*x509.Certificate{key.Cert},
		CertificateThumbprintSHA1:   sha1Sum[:],
		CertificateThumbprintSHA256: sha256Sum[:],
	}
}

// NoteExpiry records that key signed a token expiring at exp, so the key is
// published until then. It writes keys.json only when exp passes what is
// recorded, and then records exp plus a margin, so steady issuance rewrites
// the file about once an hour. It returns before the token is handed out:
// a crash can never leave a live token whose key has been dropped.
func (k *Keyring) NoteExpiry(key *Key, exp time.Time) error {
	k.mu.RLock()
	covered := !exp.After(key.LastExpiry)
	k.mu.RUnlock()
	if covered {
		return nil
	}
	until := exp.Add(expiryMargin).UTC()
	err := k.locked(func(metas []keyMeta) ([]keyMeta, error) {
		for i := range metas {
			if metas[i].ID == key.ID && metas[i].LastExpiry.Before(until) {
				metas[i].LastExpiry = until
				return metas, nil
			}
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	k.mu.Lock()
	if key.LastExpiry.Before(until) {
		key.LastExpiry = until
	}
	k.mu.Unlock()
	return nil
}

// maybeReload re-reads keys.json when another process changed it; at most
// once per reloadEvery.
func (k *Keyring) maybeReload() {
	k.mu.RLock()
	due := k.now().Sub(k.checkedAt) >= reloadEvery
	k.mu.RUnlock()
	if due {
		_ = k.reload(false) // keep serving the keys we have if the folder is unreadable
	}
}

// reload reads keys.json (and any key files not yet loaded) when its
// modification time changed, or always when force is set.
func (k *Keyring) reload(force bool) error {
	path := filepath.Join(k.dir, "keys.json")
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("token: keyring: %w", err)
	}
	k.mu.Lock()
	k.checkedAt = k.now()
	unchanged := fi.ModTime().Equal(k.loadedMod)
	old := k.keys
	k.mu.Unlock()
	if unchanged && !force {
		return nil
	}
	metas, err := readMetas(path)
	if err != nil {
		return err
	}
	if len(metas) == 0 {
		return errors.New("token: keyring has no keys")
	}
	byID := make(map[string]*Key, len(old))
	for _, key := range old {
		byID[key.ID] = key
	}
	keys := make([]*Key, 0, len(metas))
	for _, m := range metas {
		key := byID[m.ID]
		if key == nil {
			if key, err = k.loadKey(m); err != nil {
				return err
			}
		} else {
			copied := *key
			key = &copied
		}
		key.RetiredAt, key.LastExpiry = m.RetiredAt, m.LastExpiry
		keys = append(keys, key)
	}
	k.mu.Lock()
	k.keys, k.loadedMod = keys, fi.ModTime()
	k.mu.Unlock()
	return nil
}

func (k *Keyring) loadKey(m keyMeta) (*Key, error) {
	keyPEM, err := os.ReadFile(filepath.Join(k.dir, m.ID+".key.pem"))
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", m.ID, err)
	}
	certPEM, err := os.ReadFile(filepath.Join(k.dir, m.ID+".crt.pem"))
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", m.ID, err)
	}
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		return nil, fmt.Errorf("token: key %s: not PEM", m.ID)
	}
	priv, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", m.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("token: key %s: not a signing key", m.ID)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", m.ID, err)
	}
	key := &Key{ID: m.ID, Alg: m.Alg, Private: signer, Cert: cert, CreatedAt: m.CreatedAt}
	if key.header, err = protectedHeader(key); err != nil {
		return nil, err
	}
	return key, nil
}

// locked runs fn on keys.json under an exclusive lock of the folder and
// writes back what fn returns (nil: no change).
func (k *Keyring) locked(fn func([]keyMeta) ([]keyMeta, error)) error {
	lock, err := os.OpenFile(filepath.Join(k.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("token: keyring lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("token: keyring lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	path := filepath.Join(k.dir, "keys.json")
	metas, err := readMetas(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	next, err := fn(metas)
	if err != nil || next == nil {
		return err
	}
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

func readMetas(path string) ([]keyMeta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var metas []keyMeta
	if err := json.Unmarshal(b, &metas); err != nil {
		return nil, fmt.Errorf("token: %s: %w", path, err)
	}
	return metas, nil
}

// generateKey makes a key of alg with a self-signed certificate; its kid is
// the RFC 7638 thumbprint of the public key.
func generateKey(alg string, now time.Time) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("token: unsupported signing algorithm %q (want one of %v)", alg, SupportedAlgs)
	}
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: priv.Public()}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "tokend signing key " + kid},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	key := &Key{ID: kid, Alg: alg, Private: priv, Cert: cert, CreatedAt: now}
	if key.header, err = protectedHeader(key); err != nil {
		return nil, err
	}
	return key, nil
}

// protectedHeader returns the key's RFC 9068 JWS header (typ at+jwt, alg,
// kid, x5t, x5t#S256), base64url-encoded, as go-jose serialises it: it
// signs an empty payload once and keeps the first segment.
func protectedHeader(key *Key) (string, error) {
	pub := key.public()
	opts := (&jose.SignerOptions{}).
		WithType("at+jwt").
		WithHeader("kid", key.ID).
		WithHeader("x5t", base64.RawURLEncoding.EncodeToString(pub.CertificateThumbprintSHA1)).
		WithHeader("x5t#S256", base64.RawURLEncoding.EncodeToString(pub.CertificateThumbprintSHA256))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Alg), Key: key.Private}, opts)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(nil)
	if err != nil {
		return "", err
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return "", err
	}
	header, _, _ := strings.Cut(compact, ".")
	return header, nil
}
