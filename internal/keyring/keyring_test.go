package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustKey(t *testing.T) Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() error = %v", err)
	}
	return k
}

func mustRing(t *testing.T, active Key, others ...Key) *Keyring {
	t.Helper()
	kr, err := New(active, others...)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return kr
}

// D5: what is sealed opens to the same bytes, and the sealed form names
// its key and holds no plaintext.
func TestSealOpenRoundTrip_D5(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"webhook secret", []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), []byte("webhook_endpoint:42:secret")},
		{"empty plaintext", []byte{}, []byte("oauth_token:7:access")},
		{"empty aad", []byte("sk-provider-key"), nil},
		{"binary", bytes.Repeat([]byte{0, 255, 7}, 1000), []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := kr.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal() error = %v", err)
			}
			if want := "v1." + kr.Active() + "."; !strings.HasPrefix(sealed, want) {
				t.Errorf("Seal() = %q, want prefix %q", sealed, want)
			}
			if len(tt.plaintext) > 4 && strings.Contains(sealed, string(tt.plaintext)) {
				t.Errorf("Seal() = %q contains the plaintext", sealed)
			}
			got, err := kr.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open(%q) error = %v", sealed, err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open(%q) = %q, want %q", sealed, got, tt.plaintext)
			}
			if kid, err := KeyID(sealed); err != nil || kid != kr.Active() {
				t.Errorf("KeyID(%q) = %q, %v, want %q", sealed, kid, err, kr.Active())
			}
		})
	}
}

// D5: flipping any bit of any character of a sealed value, or of any byte
// of its decoded body, makes Open fail.
func TestOpenTampered_D5(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	aad := []byte("webhook_endpoint:42:secret")
	sealed, err := kr.Seal([]byte("whsec_secretsecretsecret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("string", func(t *testing.T) {
		for i := range len(sealed) {
			for bit := range 8 {
				b := []byte(sealed)
				b[i] ^= 1 << bit
				if pt, err := kr.Open(string(b), aad); err == nil {
					t.Fatalf("Open(%q) = %q, nil; want error (byte %d bit %d flipped)", b, pt, i, bit)
				}
			}
		}
	})
	t.Run("body", func(t *testing.T) {
		prefix := sealed[:strings.LastIndex(sealed, ".")+1]
		raw, err := base64.RawURLEncoding.DecodeString(sealed[len(prefix):])
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for bit := range 8 {
				b := bytes.Clone(raw)
				b[i] ^= 1 << bit
				s := prefix + base64.RawURLEncoding.EncodeToString(b)
				_, err := kr.Open(s, aad)
				if !errors.Is(err, ErrOpen) {
					t.Fatalf("Open(byte %d bit %d flipped) error = %v, want %v", i, bit, err, ErrOpen)
				}
			}
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for n := range len(sealed) {
			if _, err := kr.Open(sealed[:n], aad); err == nil {
				t.Fatalf("Open(%q) error = nil, want error", sealed[:n])
			}
		}
	})
}

// D5: a value opens only under its own key and its own row's aad, so
// swapping ciphertexts between rows fails.
func TestOpenWrongKeyKidAAD_D5(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	kr := mustRing(t, k1)
	secret := []byte("whsec_endpoint42")
	row42 := []byte("webhook_endpoint:42:secret")
	row43 := []byte("webhook_endpoint:43:secret")
	sealed42, err := kr.Seal(secret, row42)
	if err != nil {
		t.Fatal(err)
	}
	// Same id, other material: as if the keyring file were replaced.
	impostor, err := NewKey(k1.ID(), k2.material)
	if err != nil {
		t.Fatal(err)
	}
	relabelled := strings.Replace(sealed42, "."+k1.ID()+".", "."+k2.ID()+".", 1)
	tests := []struct {
		name   string
		ring   *Keyring
		sealed string
		aad    []byte
		want   error
	}{
		{"other row's aad (swapped ciphertext)", kr, sealed42, row43, ErrOpen},
		{"no aad", kr, sealed42, nil, ErrOpen},
		{"key missing from ring", mustRing(t, k2), sealed42, row42, ErrUnknownKey},
		{"same kid, other material", mustRing(t, impostor), sealed42, row42, ErrOpen},
		{"relabelled to another kid the ring holds", mustRing(t, k1, k2), relabelled, row42, ErrOpen},
		{"unknown version", kr, "v2" + sealed42[2:], row42, ErrMalformed},
		{"empty", kr, "", row42, ErrMalformed},
		{"bad kid", kr, "v1.a b.AAAA", row42, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.ring.Open(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open(%q, %q) = %q, %v; want %v", tt.sealed, tt.aad, pt, err, tt.want)
			}
			if strings.Contains(err.Error(), string(secret)) {
				t.Errorf("Open() error %q reveals the secret", err)
			}
		})
	}
}

// D5: after a rotation old values still open, need rotation, and Reseal
// moves them to the new key; retiring the old key afterwards loses nothing.
func TestRotation_D5(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	before := mustRing(t, oldKey)
	aad := []byte("oauth_token:9:refresh")
	secret := []byte("gho_refresh_token_value")
	sealedOld, err := before.Seal(secret, aad)
	if err != nil {
		t.Fatal(err)
	}
	if before.NeedsRotation(sealedOld) {
		t.Errorf("NeedsRotation(%q) = true before rotation, want false", sealedOld)
	}

	after, err := before.Rotate(newKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := after.KeyIDs(), []string{newKey.ID(), oldKey.ID()}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Rotate().KeyIDs() = %v, want %v", got, want)
	}
	if got, err := after.Open(sealedOld, aad); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Open(old value) after rotation = %q, %v; want %q", got, err, secret)
	}
	if !after.NeedsRotation(sealedOld) {
		t.Errorf("NeedsRotation(%q) = false after rotation, want true", sealedOld)
	}
	resealed, err := after.Reseal(sealedOld, aad)
	if err != nil {
		t.Fatalf("Reseal() error = %v", err)
	}
	if kid, _ := KeyID(resealed); kid != newKey.ID() {
		t.Errorf("Reseal() key id = %q, want %q", kid, newKey.ID())
	}
	if after.NeedsRotation(resealed) {
		t.Errorf("NeedsRotation(%q) = true after Reseal, want false", resealed)
	}
	if again, err := after.Reseal(resealed, aad); err != nil || again != resealed {
		t.Errorf("Reseal(current value) = %q, %v; want it unchanged", again, err)
	}
	if _, err := after.Reseal(sealedOld, []byte("oauth_token:10:refresh")); !errors.Is(err, ErrOpen) {
		t.Errorf("Reseal(wrong aad) error = %v, want %v", err, ErrOpen)
	}

	retired, err := after.Without(oldKey.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := retired.Open(resealed, aad); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Open(resealed) after retiring old key = %q, %v; want %q", got, err, secret)
	}
	if _, err := retired.Open(sealedOld, aad); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open(old value) after retiring old key error = %v, want %v", err, ErrUnknownKey)
	}
	if _, err := after.Without(newKey.ID()); err == nil {
		t.Error("Without(active key) error = nil, want error")
	}
	if !after.NeedsRotation("garbage") {
		t.Error(`NeedsRotation("garbage") = false, want true`)
	}
}

// D5: random nonces never repeat, so equal plaintexts seal differently.
func TestNonceUniqueness_D5(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	const n = 10000
	seen := make(map[string]bool, n)
	for range n {
		s, err := kr.Seal([]byte("same"), []byte("same"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(s[strings.LastIndex(s, ".")+1:])
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(raw[:nonceSize])
		if seen[nonce] {
			t.Fatalf("Seal() repeated nonce %x", nonce)
		}
		seen[nonce] = true
	}
}

func TestNewRejects(t *testing.T) {
	k := mustKey(t)
	tests := []struct {
		name   string
		id     string
		length int
	}{
		{"dot in id", "k.1", KeySize},
		{"empty id", "", KeySize},
		{"long id", strings.Repeat("k", 33), KeySize},
		{"short key", "k1", 16},
		{"long key", "k1", 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKey(tt.id, make([]byte, tt.length)); err == nil {
				t.Errorf("NewKey(%q, %d bytes) error = nil, want error", tt.id, tt.length)
			}
		})
	}
	if _, err := New(k, k); err == nil {
		t.Error("New(k, k) error = nil, want duplicate id error")
	}
	if _, err := New(Key{}); err == nil {
		t.Error("New(Key{}) error = nil, want error")
	}
}

// D5, D3: printing keys or keyrings with any verb shows ids only.
func TestFormatHidesMaterial_D5(t *testing.T) {
	k := mustKey(t)
	kr := mustRing(t, k)
	hexKey := fmt.Sprintf("%x", k.material)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d", "%q"} {
		for _, v := range []any{k, &k, kr, *kr} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, hexKey) || strings.Contains(got, fmt.Sprint(k.material)) ||
				strings.Contains(got, base64.StdEncoding.EncodeToString(k.material)) {
				t.Errorf("Sprintf(%q, %T) = %q reveals key material", verb, v, got)
			}
			if !strings.Contains(got, k.ID()) {
				t.Errorf("Sprintf(%q, %T) = %q, want the key id %q", verb, v, got, k.ID())
			}
		}
	}
}

func TestConcurrentSealOpen(t *testing.T) {
	kr := mustRing(t, mustKey(t))
	done := make(chan error, 8)
	for i := range 8 {
		go func() {
			aad := []byte(fmt.Sprintf("row:%d", i))
			for range 200 {
				s, err := kr.Seal([]byte("x"), aad)
				if err == nil {
					_, err = kr.Open(s, aad)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
