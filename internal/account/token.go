package account

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Access-token constants (A2, A3).
const (
	DefaultAccessTTL = 15 * time.Minute
	TokenIssuer      = "diffgate"
	TokenAudience    = "diffgate-api"
	// clockLeeway absorbs small clock differences between server replicas.
	clockLeeway = 5 * time.Second
	// maxTokenBytes bounds the work an attacker can make Verify do; our
	// tokens are about 400 bytes.
	maxTokenBytes = 2048
)

// UnauthorizedMessage is the one public answer to every failed
// authentication, whatever the cause (A3).
const UnauthorizedMessage = "authentication failed"

// Unauthorized wraps cause in the generic 401 error; the cause is for logs
// only.
func Unauthorized(cause error) error {
	return apperr.Wrap(apperr.Unauthorized, UnauthorizedMessage, cause)
}

// Claims are what a verified access token says.
type Claims struct {
	UserID    int64
	SessionID string
	TokenID   string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// Issuer signs and verifies access tokens: EdDSA (Ed25519) JWTs naming their
// key by kid. TTL defaults to DefaultAccessTTL and Now to time.Now. Use it by
// pointer; to rotate keys, set Keyring before first use or build a new Issuer.
type Issuer struct {
	Keyring *Keyring
	TTL     time.Duration
	Now     func() time.Time
	// CacheSize bounds the cache of verified tokens (default
	// DefaultVerifyCacheSize; negative disables it). A client sends the same
	// access token for its whole life, and a cache hit costs a SHA-256
	// instead of an Ed25519 verification (about 37µs).
	CacheSize int

	cacheMu sync.Mutex
	cache   map[[sha256.Size]byte]verified
}

// DefaultVerifyCacheSize is the default number of verified tokens remembered.
const DefaultVerifyCacheSize = 10_000

// verified is a token that passed Verify, with the key that checked it so a
// key removed from the ring stops vouching for it at once.
type verified struct {
	claims    Claims
	notBefore time.Time
	pub       ed25519.PublicKey
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

func (i *Issuer) ttl() time.Duration {
	if i.TTL > 0 {
		return i.TTL
	}
	return DefaultAccessTTL
}

// Issue signs an access token for userID in sessionID and returns it with
// its expiry (whole seconds, as in the token).
func (i *Issuer) Issue(userID int64, sessionID string) (string, time.Time, error) {
	if userID <= 0 || sessionID == "" {
		return "", time.Time{}, fmt.Errorf("issue token: user id %d or empty session id", userID)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	now := i.now().Truncate(time.Second)
	exp := now.Add(i.ttl())
	key := i.Keyring.Active()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   strconv.FormatInt(userID, 10),
			Audience:  jwt.ClaimStrings{TokenAudience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(jti),
		},
		SessionID: sessionID,
	})
	tok.Header["kid"] = key.ID
	s, err := tok.SignedString(key.Private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	return s, exp, nil
}

// Verify checks token strictly: algorithm EdDSA only (so "none", HMAC and
// RSA/ECDSA tokens are refused before any key is looked at), a kid present in
// the ring, issuer, audience, exp, nbf and iat against the injected clock.
// Every failure is the same Unauthorized error; the reason is only in its
// cause.
func (i *Issuer) Verify(token string) (Claims, error) {
	c, err := i.verify(token)
	if err != nil {
		return Claims{}, Unauthorized(fmt.Errorf("verify access token: %w", err))
	}
	return c, nil
}

func (i *Issuer) verify(token string) (Claims, error) {
	if len(token) > maxTokenBytes {
		return Claims{}, errors.New("token too long")
	}
	var sum [sha256.Size]byte
	if i.CacheSize >= 0 {
		sum = sha256.Sum256([]byte(token))
		if c, ok := i.cached(sum); ok {
			return c, nil
		}
	}
	c, nbf, pub, err := i.verifyFull(token)
	if err != nil {
		return Claims{}, err
	}
	if i.CacheSize >= 0 {
		i.remember(sum, verified{claims: c, notBefore: nbf, pub: pub})
	}
	return c, nil
}

// cached returns the claims of a token verified before, rechecking what can
// have changed since: the clock and the ring.
func (i *Issuer) cached(sum [sha256.Size]byte) (Claims, bool) {
	i.cacheMu.Lock()
	v, ok := i.cache[sum]
	i.cacheMu.Unlock()
	if !ok {
		return Claims{}, false
	}
	pub, ok := i.Keyring.publicKey(v.claims.KeyID)
	if !ok || !pub.Equal(v.pub) {
		return Claims{}, false
	}
	now := i.now()
	if !now.Before(v.claims.ExpiresAt.Add(clockLeeway)) ||
		now.Add(clockLeeway).Before(v.notBefore) ||
		now.Add(clockLeeway).Before(v.claims.IssuedAt) {
		return Claims{}, false
	}
	return v.claims, true
}

func (i *Issuer) remember(sum [sha256.Size]byte, v verified) {
	limit := i.CacheSize
	if limit == 0 {
		limit = DefaultVerifyCacheSize
	}
	now := i.now()
	i.cacheMu.Lock()
	defer i.cacheMu.Unlock()
	if i.cache == nil {
		i.cache = make(map[[sha256.Size]byte]verified)
	}
	if len(i.cache) >= limit {
		// Drop the expired, then (still full) an arbitrary half; map order
		// is random, so no one can pick what survives.
		for k, e := range i.cache {
			if !now.Before(e.claims.ExpiresAt.Add(clockLeeway)) {
				delete(i.cache, k)
			}
		}
		for k := range i.cache {
			if len(i.cache) < limit/2+1 {
				break
			}
			delete(i.cache, k)
		}
	}
	i.cache[sum] = v
}

func (i *Issuer) verifyFull(token string) (Claims, time.Time, ed25519.PublicKey, error) {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(TokenAudience),
		jwt.WithTimeFunc(i.now),
		jwt.WithLeeway(clockLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	)
	var ac accessClaims
	var kid string
	var pub ed25519.PublicKey
	_, err := p.ParseWithClaims(token, &ac, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodEdDSA {
			return nil, errors.New("unexpected signing method")
		}
		k, ok := t.Header["kid"].(string)
		if !ok {
			return nil, errors.New("missing kid")
		}
		p, ok := i.Keyring.publicKey(k)
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", truncate(k, 16))
		}
		kid, pub = k, p
		return p, nil
	})
	if err != nil {
		return Claims{}, time.Time{}, nil, err
	}
	uid, err := strconv.ParseInt(ac.Subject, 10, 64)
	if err != nil || uid <= 0 {
		return Claims{}, time.Time{}, nil, errors.New("bad subject")
	}
	if ac.SessionID == "" || ac.ID == "" || ac.IssuedAt == nil {
		return Claims{}, time.Time{}, nil, errors.New("missing sid, jti or iat")
	}
	return Claims{
		UserID:    uid,
		SessionID: ac.SessionID,
		TokenID:   ac.ID,
		KeyID:     kid,
		IssuedAt:  ac.IssuedAt.Time,
		ExpiresAt: ac.ExpiresAt.Time,
	}, ac.NotBefore.Time, pub, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
