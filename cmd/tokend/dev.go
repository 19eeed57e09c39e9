package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/atomicfile"
)

// devCommand is `tokend dev`: tools for trying tokend out and for tests.
// Nothing it makes belongs in production: its keys are plain files in the
// working folder, made by whoever runs it.
func devCommand(args []string, stdout, stderr io.Writer) error {
	if err := needSubcommand("dev", args, stderr); err != nil {
		return err
	}
	return devAssertion(args[1:], stdout, stderr)
}

// maxAssertionTTL is the longest lifetime the server accepts, as
// assertion.Verifier's default MaxLifetime.
const maxAssertionTTL = 24 * time.Hour

// assertionFlags are the flags of `tokend dev assertion`.
type assertionFlags struct {
	iss, sub, aud string
	key, jwks     string
	ttl           time.Duration
}

// devAssertion is `tokend dev assertion`: it prints an assertion for the
// JWT bearer grant (RFC 7523) signed by a test issuer's key, which it
// makes, with the JWK Set to register the issuer with, the first time.
// Each assertion has its own jti, so each is good for one token request.
func devAssertion(args []string, stdout, stderr io.Writer) error {
	var f assertionFlags
	fs := newFlagSet("dev assertion", stderr)
	fs.StringVar(&f.iss, "iss", "", "the test issuer's identifier, the assertion's iss (required); register it with tokend issuer add --iss")
	fs.StringVar(&f.sub, "sub", "", "the subject the assertion names, its sub (required); tokend's grant is for SUB@ISS")
	fs.StringVar(&f.aud, "aud", defaultIssuer(), "the assertion's aud: tokend's issuer or its token endpoint; default the issuer serve derives from TOKEND_ISSUER, or TOKEND_ADDR")
	fs.StringVar(&f.key, "key", "idp-key.pem", "the test issuer's private key (PEM); an ES256 key is made there when the file does not exist")
	fs.StringVar(&f.jwks, "jwks", "idp-jwks.json", "where the key's public JWK Set is written when the file is missing, for tokend issuer add --jwks-file")
	fs.DurationVar(&f.ttl, "ttl", 5*time.Minute, "how long the assertion is valid (exp - iat); tokend accepts at most 24h")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs("dev assertion", pos); err != nil {
		return err
	}
	switch {
	case f.iss == "" || f.sub == "" || f.aud == "":
		return usagef("dev assertion: --iss, --sub and --aud must not be empty, e.g. --iss https://idp.example --sub alice")
	case f.ttl <= 0 || f.ttl > maxAssertionTTL:
		return usagef("dev assertion: --ttl %s: want a positive duration of at most 24h, which tokend accepts", f.ttl)
	}
	key, err := testIssuerKey(f, stderr)
	if err != nil {
		return err
	}
	jws, err := key.sign(f, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, jws)
	return nil
}

// defaultIssuer is the issuer a `tokend serve` started with the same
// environment derives: TOKEND_ISSUER, else its scheme and TOKEND_ADDR.
func defaultIssuer() string {
	if iss := envOr("TOKEND_ISSUER", ""); iss != "" {
		return iss
	}
	scheme := "https"
	if plain, _ := strconv.ParseBool(os.Getenv("TOKEND_INSECURE_HTTP")); plain {
		scheme = "http"
	}
	return scheme + "://" + issuerHost(envOr("TOKEND_ADDR", "localhost:9443"))
}

// issuerKey is a test issuer's signing key.
type issuerKey struct {
	priv crypto.Signer
	alg  jose.SignatureAlgorithm
	kid  string // the RFC 7638 thumbprint of the public key
}

// testIssuerKey reads the key at f.key, or makes an ES256 one there when
// there is no file, and writes the JWK Set of its public half to f.jwks
// when that file is missing. What it made, and a JWK Set that does not
// hold the key, are said on stderr.
func testIssuerKey(f assertionFlags, stderr io.Writer) (issuerKey, error) {
	b, err := os.ReadFile(f.key)
	made := errors.Is(err, fs.ErrNotExist)
	var priv crypto.Signer
	switch {
	case made:
		if priv, err = makeTestKey(f.key); err != nil {
			return issuerKey{}, err
		}
	case err != nil:
		return issuerKey{}, fmt.Errorf("dev assertion: --key: %w", err)
	default:
		if priv, err = parseTestKey(b); err != nil {
			return issuerKey{}, fmt.Errorf("dev assertion: --key %s: %w", f.key, err)
		}
	}
	k, err := newIssuerKey(priv)
	if err != nil {
		return issuerKey{}, fmt.Errorf("dev assertion: --key %s: %w", f.key, err)
	}
	if made {
		fmt.Fprintf(stderr, "made the test issuer's key %s (%s, kid %s)\n", f.key, k.alg, k.kid)
	}
	jwks, err := os.ReadFile(f.jwks)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := k.writeJWKS(f.jwks); err != nil {
			return issuerKey{}, err
		}
		fmt.Fprintf(stderr, "wrote its public JWK Set to %s; trust the issuer with:\n  tokend issuer add --iss %s --jwks-file %s\n", f.jwks, f.iss, f.jwks)
	case err != nil:
		return issuerKey{}, fmt.Errorf("dev assertion: --jwks: %w", err)
	default:
		// Never replaced: an issuer registered with it keeps the keys it
		// had, so a new file would only hide that they differ.
		if keys, err := assertion.ParseJWKS(jwks); err != nil || !holdsKid(keys, k.kid) {
			fmt.Fprintf(stderr, "warning: %s does not hold the key of %s (kid %s): an issuer registered with it refuses this assertion; remove %s to have it written again, and register the issuer again\n",
				f.jwks, f.key, k.kid, f.jwks)
		}
	}
	return k, nil
}

// makeTestKey makes a P-256 key and writes it to path as PKCS #8 PEM,
// mode 0600, refusing to replace a file that appeared meanwhile.
func makeTestKey(path string) (crypto.Signer, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dev assertion: --key: %w", err)
	}
	if err := pem.Encode(file, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		file.Close()
		return nil, err
	}
	return priv, file.Close()
}

// parseTestKey reads a PEM private key: PKCS #8, or SEC 1 (EC) or
// PKCS #1 (RSA), as openssl writes them.
func parseTestKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	return signer, nil
}

// newIssuerKey names priv's algorithm and its thumbprint.
func newIssuerKey(priv crypto.Signer) (issuerKey, error) {
	var alg jose.SignatureAlgorithm
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		alg = map[string]jose.SignatureAlgorithm{"P-256": jose.ES256, "P-384": jose.ES384, "P-521": jose.ES512}[k.Curve.Params().Name]
	case *rsa.PrivateKey:
		alg = jose.RS256
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	}
	if alg == "" {
		return issuerKey{}, fmt.Errorf("a %T key: want EC (P-256, P-384, P-521), RSA or Ed25519", priv)
	}
	thumb, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return issuerKey{}, err
	}
	return issuerKey{priv: priv, alg: alg, kid: base64.RawURLEncoding.EncodeToString(thumb)}, nil
}

// writeJWKS writes the JWK Set of k's public half to path.
func (k issuerKey) writeJWKS(path string) error {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}}}
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("dev assertion: --jwks: %w", err)
	}
	return nil
}

// sign returns the compact JWS of an assertion with f's claims, issued at
// now, with a fresh jti.
func (k issuerKey) sign(f assertionFlags, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss": f.iss, "sub": f.sub, "aud": f.aud,
		"iat": now.Unix(), "exp": now.Add(f.ttl).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti),
	})
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// holdsKid reports whether keys has one with kid.
func holdsKid(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}
