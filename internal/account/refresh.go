package account

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Refresh-token policy (A2).
const (
	// RefreshTokenPrefix makes refresh tokens recognisable to people and to
	// secret scanners, and distinct from API keys and JWTs.
	RefreshTokenPrefix = "dgr_"
	// DefaultRefreshGrace is how long a just-rotated refresh token is still
	// honoured, so two tabs refreshing at once do not log the user out.
	DefaultRefreshGrace = 10 * time.Second
	// RefreshAbsoluteLifetime caps a session family, however often it is
	// refreshed.
	RefreshAbsoluteLifetime = 30 * 24 * time.Hour

	refreshSecretBytes = 32
)

var refreshTokenLen = len(RefreshTokenPrefix) + base64.RawURLEncoding.EncodedLen(refreshSecretBytes)

// NewRefreshToken returns a fresh opaque refresh token (shown to the client
// once) and the SHA-256 hash the store keeps instead of it.
func NewRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, refreshSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("new refresh token: %w", err)
	}
	token = RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token), nil
}

// HashRefreshToken is the lookup key of a refresh token. A plain SHA-256 is
// enough: the token holds 256 random bits, so there is nothing to
// brute-force, and a database leak reveals no usable token.
func HashRefreshToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// WellFormedRefreshToken reports whether token has the shape NewRefreshToken
// produces, so junk is refused without a database lookup.
func WellFormedRefreshToken(token string) bool {
	if len(token) != refreshTokenLen || !strings.HasPrefix(token, RefreshTokenPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token[len(RefreshTokenPrefix):])
	return err == nil
}

// RefreshOutcome is what to do with a presented refresh token.
type RefreshOutcome int

const (
	// RefreshRotate: the token is current; mark it used and issue a new one.
	RefreshRotate RefreshOutcome = iota
	// RefreshGrace: the token was rotated moments ago (a concurrent
	// refresh); answer with fresh tokens but do not treat it as theft.
	RefreshGrace
	// RefreshReuse: a used token came back outside the grace window, a sign
	// it was stolen; revoke the whole session family.
	RefreshReuse
	// RefreshExpired: the family has outlived its absolute lifetime or was
	// revoked; refuse.
	RefreshExpired
)

func (o RefreshOutcome) String() string {
	switch o {
	case RefreshRotate:
		return "rotate"
	case RefreshGrace:
		return "grace"
	case RefreshReuse:
		return "reuse"
	}
	return "expired"
}

// RefreshPolicy decides refresh outcomes; zero fields take the defaults.
type RefreshPolicy struct {
	Grace    time.Duration
	Lifetime time.Duration
}

// Decide classifies a refresh attempt at now for a token of a family created
// at familyCreated, used (rotated) at usedAt (zero when unused), in a family
// revoked or not.
func (p RefreshPolicy) Decide(now, familyCreated, usedAt time.Time, revoked bool) RefreshOutcome {
	grace, life := p.Grace, p.Lifetime
	if grace <= 0 {
		grace = DefaultRefreshGrace
	}
	if life <= 0 {
		life = RefreshAbsoluteLifetime
	}
	switch {
	case revoked || !now.Before(familyCreated.Add(life)):
		return RefreshExpired
	case usedAt.IsZero():
		return RefreshRotate
	case now.Sub(usedAt) <= grace:
		return RefreshGrace
	default:
		return RefreshReuse
	}
}
