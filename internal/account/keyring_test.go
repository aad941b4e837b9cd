package account

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestNewKeyringValidates(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	tests := []struct {
		name   string
		active Key
		others []Key
		ok     bool
	}{
		{"one key", k1, nil, true},
		{"two keys", k1, []Key{k2}, true},
		{"duplicate id", k1, []Key{{ID: k1.ID, Private: k2.Private}}, false},
		{"same key twice", k1, []Key{k1}, false},
		{"empty id", Key{Private: k1.Private}, nil, false},
		{"long id", Key{ID: strings.Repeat("k", 65), Private: k1.Private}, nil, false},
		{"short private key", Key{ID: "x", Private: k1.Private[:32]}, nil, false},
		{"no private key", Key{ID: "x"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyring(tt.active, tt.others...)
			if (err == nil) != tt.ok {
				t.Errorf("NewKeyring(%s) error = %v, want ok %v", tt.name, err, tt.ok)
			}
		})
	}
	kr := mustRing(t, k1, k2)
	if ids := kr.IDs(); len(ids) != 2 || ids[0] != k1.ID || ids[1] != k2.ID {
		t.Errorf("IDs() = %v, want [%s %s]", ids, k1.ID, k2.ID)
	}
}

func TestGenerateKeyDistinct(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	if a.ID == b.ID || a.Private.Equal(b.Private) {
		t.Fatalf("two generated keys collide: %s, %s", a.ID, b.ID)
	}
	if len(a.Private) != ed25519.PrivateKeySize {
		t.Fatalf("private key is %d bytes", len(a.Private))
	}
}

// A key's secret never shows in formatted or logged output.
func TestKeyDoesNotLeak(t *testing.T) {
	k := mustKey(t)
	secrets := []string{
		base64.RawURLEncoding.EncodeToString(k.Private.Seed()),
		base64.StdEncoding.EncodeToString(k.Private),
		hex.EncodeToString(k.Private.Seed()),
		fmt.Sprint([]byte(k.Private)[:8]),
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", k)
	outputs := map[string]string{
		"%v":     fmt.Sprintf("%v", k),
		"%+v":    fmt.Sprintf("%+v", k),
		"%#v":    fmt.Sprintf("%#v", k),
		"String": k.String(),
		"log":    logged.String(),
	}
	for verb, out := range outputs {
		if !strings.Contains(out, k.ID) {
			t.Errorf("%s output %q does not name the key id", verb, out)
		}
		for _, s := range secrets {
			if strings.Contains(out, strings.Trim(s, "[]")) {
				t.Errorf("%s output %q contains key material", verb, out)
			}
		}
	}
}

func TestKeyringFileRoundTrip(t *testing.T) {
	k1, k2, k3 := mustKey(t), mustKey(t), mustKey(t)
	kr := mustRing(t, k2, k1, k3)
	b, err := MarshalKeyring(kr)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeyring(b)
	if err != nil {
		t.Fatalf("ParseKeyring(MarshalKeyring) = %v", err)
	}
	if got, want := fmt.Sprint(back.IDs()), fmt.Sprint(kr.IDs()); got != want {
		t.Errorf("ids after round trip = %s, want %s", got, want)
	}
	if !back.Active().Private.Equal(k2.Private) {
		t.Error("active key changed in round trip")
	}
	// A token signed before saving verifies after loading.
	clock := newFakeClock()
	tok, _, _ := (&Issuer{Keyring: kr, Now: clock.Now}).Issue(3, "s")
	if _, err := (&Issuer{Keyring: back, Now: clock.Now}).Verify(tok); err != nil {
		t.Errorf("Verify with reloaded ring = %v", err)
	}
}

func TestParseKeyringRejects(t *testing.T) {
	k := mustKey(t)
	seed := base64.RawURLEncoding.EncodeToString(k.Private.Seed())
	file := func(version int, active, alg, s string) string {
		return fmt.Sprintf(`{"version":%d,"active":%q,"keys":[{"kid":%q,"alg":%q,"seed":%q}]}`, version, active, k.ID, alg, s)
	}
	tests := []struct{ name, in string }{
		{"not json", "seed=" + seed},
		{"empty", ""},
		{"wrong version", file(2, k.ID, "EdDSA", seed)},
		{"active missing", file(1, "other", "EdDSA", seed)},
		{"wrong alg", file(1, k.ID, "HS256", seed)},
		{"short seed", file(1, k.ID, "EdDSA", seed[:20])},
		{"seed not base64url", file(1, k.ID, "EdDSA", strings.Repeat("*", 43))},
		{"no keys", `{"version":1,"active":"x","keys":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := ParseKeyring([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseKeyring(%s) = %v, nil; want error", tt.name, kr.IDs())
			}
			if strings.Contains(err.Error(), seed[:12]) {
				t.Errorf("ParseKeyring error %q quotes the seed", err)
			}
		})
	}
	if _, err := ParseKeyring([]byte(file(1, k.ID, "EdDSA", seed))); err != nil {
		t.Errorf("ParseKeyring(valid) = %v", err)
	}
}
