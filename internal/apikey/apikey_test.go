package apikey

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/apperr"
)

// K1: generated keys have the documented shape and parse back.
func TestGenerateParseRoundTrip(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		t.Run(fmt.Sprint("sandbox=", sandbox), func(t *testing.T) {
			k, err := Generate(sandbox)
			if err != nil {
				t.Fatalf("Generate(%v) error: %v", sandbox, err)
			}
			wantPrefix := LivePrefix
			if sandbox {
				wantPrefix = TestPrefix
			}
			if !strings.HasPrefix(k.Plaintext, wantPrefix) || len(k.Plaintext) != Len {
				t.Fatalf("Generate(%v) = key of length %d with prefix %q, want length %d and prefix %q",
					sandbox, len(k.Plaintext), k.Plaintext[:8], Len, wantPrefix)
			}
			if k.Sandbox != sandbox || len(k.ID) != IDLen {
				t.Errorf("Generate(%v) = {ID len %d, Sandbox %v}", sandbox, len(k.ID), k.Sandbox)
			}
			p, err := Parse(k.Plaintext)
			if err != nil {
				t.Fatalf("Parse(generated) error: %v", err)
			}
			if p.ID != k.ID || p.Sandbox != sandbox || len(p.Secret) != SecretLen {
				t.Errorf("Parse(generated) = {%s %v secret len %d}, want {%s %v %d}",
					p.ID, p.Sandbox, len(p.Secret), k.ID, sandbox, SecretLen)
			}
			if !strings.Contains(k.Plaintext, "_"+p.Secret) {
				t.Errorf("Parse(generated) secret is not the key's secret part")
			}
		})
	}
}

// K1: keys are unique and use the whole alphabet (no bias towards a few
// characters from a broken rejection loop).
func TestGenerateRandomness(t *testing.T) {
	const n = 2000
	seen := make(map[string]bool, n)
	counts := make(map[byte]int)
	for range n {
		k, err := Generate(false)
		if err != nil {
			t.Fatal(err)
		}
		if seen[k.ID] {
			t.Fatalf("Generate returned id %s twice", k.ID)
		}
		seen[k.ID] = true
		p, _ := Parse(k.Plaintext)
		for i := 0; i < len(p.Secret); i++ {
			counts[p.Secret[i]]++
		}
	}
	if len(counts) != 62 {
		t.Errorf("secrets used %d distinct characters, want 62", len(counts))
	}
	// 64,000 characters over 62 symbols: about 1032 each. A symbol off by
	// more than 30% means a biased generator, not bad luck (p < 1e-20).
	for c, got := range counts {
		if got < 720 || got > 1340 {
			t.Errorf("character %q appears %d times in %d secrets, want about 1032", c, got, n)
		}
	}
}

// withChecksum builds a key from a body with a correct checksum, so tests
// can reach the checks that come before it.
func withChecksum(body string) string {
	var sum [ChecksumLen]byte
	putChecksum(sum[:], crc32.ChecksumIEEE([]byte(body)))
	return body + string(sum[:])
}

// K1: Parse is strict and every failure is the same Unauthorized error.
func TestParseRejects(t *testing.T) {
	k, err := Generate(false)
	if err != nil {
		t.Fatal(err)
	}
	good := k.Plaintext
	body := good[:Len-ChecksumLen]
	id := good[8:20]
	secret := good[21 : 21+SecretLen]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"prefix only", "dg_live_"},
		{"truncated", good[:Len-1]},
		{"extra char", good + "a"},
		{"leading space", " " + good[:Len-1]},
		{"trailing newline", good + "\n"},
		{"unknown prefix", withChecksum("dg_prod_" + body[8:])},
		{"upper prefix", withChecksum("DG_LIVE_" + body[8:])},
		{"missing separator", withChecksum("dg_live_" + id + "x" + secret)},
		{"dash in id", withChecksum("dg_live_" + id[:11] + "-_" + secret)},
		{"underscore in secret", withChecksum("dg_live_" + id + "_" + secret[:31] + "_")},
		{"non-ascii in secret", withChecksum("dg_live_" + id + "_" + secret[:30] + "é")},
		{"typo in id", flip(good, 10)},
		{"typo in secret", flip(good, 30)},
		{"typo in checksum", flip(good, Len-1)},
		{"live switched to test", "dg_test_" + good[8:]},
		{"swapped characters", swapDiffering(good, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in == good {
				t.Fatalf("test case %q did not alter the key", tt.name)
			}
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want Unauthorized", tt.in)
			}
			if k := apperr.KindOf(err); k != apperr.Unauthorized {
				t.Errorf("Parse(%q) kind = %v, want %v", tt.in, k, apperr.Unauthorized)
			}
			if got := apperr.PublicMessage(err); got != "invalid credentials" {
				t.Errorf("Parse(%q) public message = %q, want the generic one", tt.in, got)
			}
			if len(tt.in) > 20 && strings.Contains(err.Error(), tt.in[20:]) {
				t.Errorf("Parse(%q) error %q quotes the key", tt.in, err)
			}
		})
	}
}

// K1: a key must never reach a log or a format verb in full.
func TestKeyDoesNotPrintSecret(t *testing.T) {
	k, err := Generate(true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(k.Plaintext)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("made", "key", k, "parsed", p)
	outs := map[string]string{
		"%v k": fmt.Sprintf("%v", k), "%+v k": fmt.Sprintf("%+v", k), "%#v k": fmt.Sprintf("%#v", k),
		"%q k": fmt.Sprintf("%q", k), "%v p": fmt.Sprintf("%v", p), "%#v p": fmt.Sprintf("%#v", p),
		"%+v p": fmt.Sprintf("%+v", p), "slog": buf.String(),
	}
	for name, out := range outs {
		if strings.Contains(out, p.Secret) {
			t.Errorf("%s = %q, holds the secret", name, out)
		}
		if !strings.Contains(out, k.ID) {
			t.Errorf("%s = %q, want it to show the id %s", name, out, k.ID)
		}
	}
}

func TestHasher(t *testing.T) {
	if _, err := NewHasher(make([]byte, 31)); err == nil {
		t.Error("NewHasher(31 bytes) = nil error, want a rejection")
	}
	pepper := bytes.Repeat([]byte{7}, 32)
	h, err := NewHasher(pepper)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewHasher(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pepper[0] = 9 // the Hasher must have its own copy
	k1, _ := Generate(false)
	k2, _ := Generate(false)
	stored := h.Hash(k1.Plaintext)
	if len(stored) != 32 {
		t.Errorf("len(Hash) = %d, want 32", len(stored))
	}
	tests := []struct {
		name   string
		h      *Hasher
		plain  string
		stored []byte
		want   bool
	}{
		{"same key", h, k1.Plaintext, stored, true},
		{"other key", h, k2.Plaintext, stored, false},
		{"other pepper", other, k1.Plaintext, stored, false},
		{"truncated digest", h, k1.Plaintext, stored[:31], false},
		{"empty digest", h, k1.Plaintext, nil, false},
		{"plain sha256 is not the digest", h, k1.Plaintext, sha256Of(k1.Plaintext), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.Verify(tt.plain, tt.stored); got != tt.want {
				t.Errorf("Verify(key, digest) = %v, want %v", got, tt.want)
			}
		})
	}
	if bytes.Contains(stored, []byte(k1.Plaintext[21:30])) {
		t.Error("Hash output holds part of the plaintext")
	}
	if again := h.Hash(k1.Plaintext); !bytes.Equal(again, stored) {
		t.Error("Hash is not deterministic")
	}
}

// K2
func TestParseScopes(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{nil, []string{}, false},
		{[]string{"reviews:write"}, []string{"reviews:write"}, false},
		{[]string{"usage:read", "keys:manage", "reviews:read", "reviews:write"},
			[]string{"keys:manage", "reviews:read", "reviews:write", "usage:read"}, false},
		{[]string{"reviews:read", "reviews:read", "keys:manage"}, []string{"keys:manage", "reviews:read"}, false},
		{[]string{"reviews:read", "admin"}, nil, true},
		{[]string{"Reviews:Read"}, nil, true},
		{[]string{" reviews:read"}, nil, true},
		{[]string{""}, nil, true},
		{[]string{"reviews:*"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			got, err := ParseScopes(tt.in)
			if tt.wantErr {
				if err == nil || apperr.KindOf(err) != apperr.Invalid {
					t.Fatalf("ParseScopes(%q) error = %v, want an Invalid error", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseScopes(%q) error: %v", tt.in, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || got == nil {
				t.Errorf("ParseScopes(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// K2
func TestHasAndDefaults(t *testing.T) {
	def := DefaultScopes()
	if !Has(def, ScopeReviewsWrite) || !Has(def, ScopeReviewsRead) {
		t.Errorf("DefaultScopes() = %q, want reviews:write and reviews:read", def)
	}
	if Has(def, ScopeKeysManage) || Has(def, ScopeUsageRead) || len(def) != 2 {
		t.Errorf("DefaultScopes() = %q, want only the review scopes", def)
	}
	if Has(nil, ScopeReviewsRead) {
		t.Error("Has(nil, reviews:read) = true")
	}
	if Has([]string{"reviews:write"}, "reviews") {
		t.Error(`Has([reviews:write], "reviews") = true, want exact matching`)
	}
	all, err := ParseScopes(AllScopes())
	if err != nil || fmt.Sprint(all) != fmt.Sprint(AllScopes()) {
		t.Errorf("ParseScopes(AllScopes()) = %q, %v; want AllScopes sorted", all, err)
	}
}

// K1: Pattern finds every generated key, so scanners can rely on it.
func TestPatternMatchesKeys(t *testing.T) {
	re := regexp.MustCompile(`\b` + Pattern + `\b`)
	for i := range 50 {
		k, err := Generate(i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		line := `curl -H "Authorization: Bearer ` + k.Plaintext + `" https://example.test`
		if got := re.FindString(line); got != k.Plaintext {
			t.Errorf("Pattern found %q in a line with key %s, want the whole key", got, k)
		}
	}
	if re.MatchString("dg_live_short_key") {
		t.Error("Pattern matches a malformed key")
	}
}

// swapDiffering swaps the first two adjacent, different characters of s
// at or after i, so the swap always changes a random key.
func swapDiffering(s string, i int) string {
	for ; i+1 < len(s); i++ {
		if s[i] != s[i+1] {
			return s[:i] + s[i+1:i+2] + s[i:i+1] + s[i+2:]
		}
	}
	return s
}
