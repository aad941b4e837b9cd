package apikey

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

func sha256Of(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// BenchmarkVerify is the per-request cost of checking an API key before the
// store lookup: Parse, then Verify (which hashes) against the stored digest.
func BenchmarkVerify(b *testing.B) {
	h, err := NewHasher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	k, err := Generate(false)
	if err != nil {
		b.Fatal(err)
	}
	stored := h.Hash(k.Plaintext)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(k.Plaintext)
		if err != nil || p.ID == "" {
			b.Fatal("parse failed")
		}
		if !h.Verify(k.Plaintext, stored) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(false); err != nil {
			b.Fatal(err)
		}
	}
}
