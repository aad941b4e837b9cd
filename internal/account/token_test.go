package account

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/diffgate/diffgate/internal/apperr"
)

func mustKey(t testing.TB) Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t testing.TB, active Key, others ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(active, others...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// validClaims are the claims Issue would write at now.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": TokenIssuer,
		"aud": []string{TokenAudience},
		"sub": "42",
		"sid": "sess-1",
		"jti": "tok-1",
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(15 * time.Minute).Unix(),
	}
}

func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

func wantUnauthorized(t *testing.T, what string, err error) {
	t.Helper()
	wantKind(t, what, err, apperr.Unauthorized)
	if msg := apperr.PublicMessage(err); msg != UnauthorizedMessage {
		t.Errorf("%s public message = %q, want the generic %q", what, msg, UnauthorizedMessage)
	}
}

// A2: a 15-minute EdDSA token with kid round-trips.
func TestIssueVerifyRoundTrip(t *testing.T) {
	clock := newFakeClock()
	key := mustKey(t)
	iss := &Issuer{Keyring: mustRing(t, key), Now: clock.Now}

	tok, exp, err := iss.Issue(7, "session-abc")
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(15 * time.Minute); !exp.Equal(want) {
		t.Errorf("Issue expiry = %v, want %v", exp, want)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["alg"] != "EdDSA" || parsed.Header["kid"] != key.ID {
		t.Errorf("token header = %v, want alg EdDSA and kid %q", parsed.Header, key.ID)
	}
	mc := parsed.Claims.(jwt.MapClaims)
	for _, name := range []string{"sub", "sid", "iat", "exp", "nbf", "iss", "aud", "jti"} {
		if _, ok := mc[name]; !ok {
			t.Errorf("token lacks claim %q", name)
		}
	}

	clock.Advance(14 * time.Minute)
	c, err := iss.Verify(tok)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if c.UserID != 7 || c.SessionID != "session-abc" || c.KeyID != key.ID || c.TokenID == "" || !c.ExpiresAt.Equal(exp) {
		t.Errorf("Verify claims = %+v", c)
	}

	tok2, _, _ := iss.Issue(7, "session-abc")
	c2, _ := iss.Verify(tok2)
	if c2.TokenID == c.TokenID {
		t.Errorf("two tokens share jti %q", c.TokenID)
	}

	custom := &Issuer{Keyring: iss.Keyring, Now: clock.Now, TTL: time.Minute}
	if _, exp, _ := custom.Issue(1, "s"); !exp.Equal(clock.Now().Add(time.Minute)) {
		t.Errorf("TTL 1m: expiry = %v, want %v", exp, clock.Now().Add(time.Minute))
	}
	for _, bad := range []struct {
		uid int64
		sid string
	}{{0, "s"}, {-1, "s"}, {1, ""}} {
		if _, _, err := iss.Issue(bad.uid, bad.sid); err == nil {
			t.Errorf("Issue(%d, %q) = nil error, want error", bad.uid, bad.sid)
		}
	}
}

// A2, A3: expiry and not-before follow the injected clock.
func TestVerifyTimeBounds(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		ok      bool
	}{
		{"just issued", 0, true},
		{"one second before expiry", 15*time.Minute - time.Second, true},
		{"inside leeway after expiry", 15*time.Minute + 3*time.Second, true},
		{"expired", 15*time.Minute + 6*time.Second, false},
		{"long expired", 24 * time.Hour, false},
		{"inside leeway before issue", -3 * time.Second, true},
		{"not yet valid", -time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			iss := &Issuer{Keyring: mustRing(t, mustKey(t)), Now: clock.Now}
			tok, _, err := iss.Issue(1, "s")
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(tt.advance)
			_, err = iss.Verify(tok)
			if tt.ok && err != nil {
				t.Fatalf("Verify after %v = %v, want ok", tt.advance, err)
			}
			if !tt.ok {
				wantUnauthorized(t, "Verify", err)
			}
		})
	}
}

// A3: anything but a well-formed token of ours is one generic 401.
func TestVerifyRejects(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	key := mustKey(t)
	iss := &Issuer{Keyring: mustRing(t, key), Now: clock.Now}
	good, _, err := iss.Issue(42, "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	// Warm the verified-token cache so near-copies of a good token are
	// tried against it too.
	if _, err := iss.Verify(good); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger := mustKey(t)

	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := validClaims(now)
		edit(c)
		return c
	}
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)/2] == 'A' {
			b[len(b)/2] = 'B'
		} else {
			b[len(b)/2] = 'A'
		}
		return string(b)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	noneToken := b64([]byte(`{"alg":"none","typ":"JWT","kid":"`+key.ID+`"}`)) + "." + parts[1] + "."
	noneSigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims(now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	forged := b64([]byte(`{"alg":"EdDSA","typ":"JWT","kid":"`+key.ID+`"}`)) + "." +
		b64([]byte(`{"iss":"diffgate","aud":"diffgate-api","sub":"1","sid":"x","jti":"y","iat":1,"nbf":1,"exp":9999999999}`)) + "." + parts[2]

	tests := []struct {
		name, token string
	}{
		{"empty", ""},
		{"garbage", "not.a.token"},
		{"two parts", parts[0] + "." + parts[1]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2])},
		{"tampered payload", parts[0] + "." + flip(parts[1]) + "." + parts[2]},
		{"payload swapped under old signature", forged},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"alg none, hand-made", noneToken},
		{"alg none, library-made", noneSigned},
		{"HS256 keyed with the public key", sign(t, jwt.SigningMethodHS256, []byte(key.Public()), key.ID, validClaims(now))},
		{"HS256 keyed with the kid", sign(t, jwt.SigningMethodHS256, []byte(key.ID), key.ID, validClaims(now))},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, key.ID, validClaims(now))},
		{"unknown kid", sign(t, jwt.SigningMethodEdDSA, stranger.Private, stranger.ID, validClaims(now))},
		{"known kid, other key", sign(t, jwt.SigningMethodEdDSA, stranger.Private, key.ID, validClaims(now))},
		{"missing kid", sign(t, jwt.SigningMethodEdDSA, key.Private, "", validClaims(now))},
		{"wrong issuer", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { c["iss"] = "evil" }))},
		{"no issuer", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { delete(c, "iss") }))},
		{"wrong audience", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { c["aud"] = "other-api" }))},
		{"no audience", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"no exp", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"no nbf", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { delete(c, "nbf") }))},
		{"no iat", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { delete(c, "iat") }))},
		{"iat in future", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }))},
		{"no sid", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { delete(c, "sid") }))},
		{"no jti", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { delete(c, "jti") }))},
		{"sub not a number", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { c["sub"] = "admin" }))},
		{"sub zero", sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(func(c jwt.MapClaims) { c["sub"] = "0" }))},
		{"oversized", good + strings.Repeat("A", maxTokenBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iss.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify(%s) = %+v, nil; want unauthorized", tt.name, c)
			}
			wantUnauthorized(t, "Verify("+tt.name+")", err)
		})
	}
	// The control: the same construction with nothing wrong verifies.
	if _, err := iss.Verify(sign(t, jwt.SigningMethodEdDSA, key.Private, key.ID, validClaims(now))); err != nil {
		t.Fatalf("Verify(well-formed hand-signed token) = %v, want ok", err)
	}
}

// A2: keys rotate; old tokens verify while their key stays in the ring.
func TestKeyRotation(t *testing.T) {
	clock := newFakeClock()
	k1, k2 := mustKey(t), mustKey(t)
	ring1 := mustRing(t, k1)
	old, _, _ := (&Issuer{Keyring: ring1, Now: clock.Now}).Issue(1, "s")

	ring2, err := ring1.Rotate(k2)
	if err != nil {
		t.Fatal(err)
	}
	iss2 := &Issuer{Keyring: ring2, Now: clock.Now}
	if ring2.Active().ID != k2.ID {
		t.Fatalf("after Rotate active = %s, want %s", ring2.Active().ID, k2.ID)
	}
	if c, err := iss2.Verify(old); err != nil || c.KeyID != k1.ID {
		t.Fatalf("Verify(token of rotated-out key still in ring) = %+v, %v; want ok with kid %s", c, err, k1.ID)
	}
	fresh, _, _ := iss2.Issue(1, "s")
	if c, err := iss2.Verify(fresh); err != nil || c.KeyID != k2.ID {
		t.Fatalf("Verify(new token) = %+v, %v; want kid %s", c, err, k2.ID)
	}

	ring3, err := ring2.Without(k1.ID)
	if err != nil {
		t.Fatal(err)
	}
	iss3 := &Issuer{Keyring: ring3, Now: clock.Now}
	_, err = iss3.Verify(old)
	wantUnauthorized(t, "Verify(token of removed key)", err)
	if _, err := iss3.Verify(fresh); err != nil {
		t.Errorf("Verify(token of active key) after removal of the old = %v", err)
	}
	if _, err := ring3.Without(k2.ID); err == nil {
		t.Error("Without(active) = nil error, want error")
	}
	// The old ring is unchanged by rotation (immutability).
	if _, err := (&Issuer{Keyring: ring1, Now: clock.Now}).Verify(fresh); err == nil {
		t.Error("ring1 verifies a token of a key added later")
	}
}

// A3: the verified-token cache never outlives what it vouches for.
func TestVerifyCache(t *testing.T) {
	clock := newFakeClock()
	k1, k2 := mustKey(t), mustKey(t)
	iss := &Issuer{Keyring: mustRing(t, k1), Now: clock.Now}
	tok, _, _ := iss.Issue(9, "s9")
	first, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := iss.Verify(tok); err != nil || again != first {
		t.Fatalf("second Verify = %+v, %v; want %+v", again, err, first)
	}

	t.Run("expiry", func(t *testing.T) {
		c := &fakeClock{t: clock.Now()}
		iss := &Issuer{Keyring: iss.Keyring, Now: c.Now}
		if _, err := iss.Verify(tok); err != nil {
			t.Fatal(err)
		}
		c.Advance(15*time.Minute + 6*time.Second)
		_, err := iss.Verify(tok)
		wantUnauthorized(t, "Verify(cached, now expired)", err)
	})
	t.Run("clock before nbf", func(t *testing.T) {
		c := &fakeClock{t: clock.Now()}
		iss := &Issuer{Keyring: iss.Keyring, Now: c.Now}
		if _, err := iss.Verify(tok); err != nil {
			t.Fatal(err)
		}
		c.Advance(-time.Minute)
		_, err := iss.Verify(tok)
		wantUnauthorized(t, "Verify(cached, clock before nbf)", err)
	})
	t.Run("key removed", func(t *testing.T) {
		iss := &Issuer{Keyring: mustRing(t, k2, k1), Now: clock.Now}
		if _, err := iss.Verify(tok); err != nil {
			t.Fatal(err)
		}
		iss.Keyring, _ = iss.Keyring.Without(k1.ID)
		_, err := iss.Verify(tok)
		wantUnauthorized(t, "Verify(cached, key removed)", err)
	})
	t.Run("kid reused for another key", func(t *testing.T) {
		iss := &Issuer{Keyring: mustRing(t, k1), Now: clock.Now}
		if _, err := iss.Verify(tok); err != nil {
			t.Fatal(err)
		}
		iss.Keyring = mustRing(t, Key{ID: k1.ID, Private: k2.Private})
		_, err := iss.Verify(tok)
		wantUnauthorized(t, "Verify(cached, kid now names another key)", err)
	})
	t.Run("bounded", func(t *testing.T) {
		iss := &Issuer{Keyring: iss.Keyring, Now: clock.Now, CacheSize: 4}
		for n := int64(1); n <= 20; n++ {
			tok, _, _ := iss.Issue(n, "s")
			if c, err := iss.Verify(tok); err != nil || c.UserID != n {
				t.Fatalf("Verify(token %d) = %+v, %v", n, c, err)
			}
		}
		if n := len(iss.cache); n > 4 {
			t.Errorf("cache holds %d tokens, want <= 4", n)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		iss := &Issuer{Keyring: iss.Keyring, Now: clock.Now, CacheSize: -1}
		if _, err := iss.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if iss.cache != nil {
			t.Errorf("cache used with CacheSize -1")
		}
	})
}

// BenchmarkVerifyJWT measures one access-token check as the gateway does it,
// the same token arriving again (goal: well under 50µs).
func BenchmarkVerifyJWT(b *testing.B) {
	benchVerify(b, 0)
}

// BenchmarkVerifyJWTUncached measures the full signature check a token's
// first use costs.
func BenchmarkVerifyJWTUncached(b *testing.B) {
	benchVerify(b, -1)
}

func benchVerify(b *testing.B, cacheSize int) {
	clock := newFakeClock()
	k1, k2, k3 := mustKey(b), mustKey(b), mustKey(b)
	iss := &Issuer{Keyring: mustRing(b, k1, k2, k3), Now: clock.Now, CacheSize: cacheSize}
	tok, _, err := iss.Issue(123456, "0b8f7f5e-session")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
