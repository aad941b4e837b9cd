package apikey

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
)

// MinPepperLen is the shortest pepper NewHasher accepts: as long as the
// HMAC-SHA256 output, so the pepper is never the weak part.
const MinPepperLen = 32

// Hasher turns key plaintexts into the digests the store keeps. It is
// HMAC-SHA256 under a server pepper, so a stolen database alone cannot be
// used to test guessed keys.
type Hasher struct {
	pepper []byte
}

// NewHasher makes a Hasher; the pepper must be at least MinPepperLen
// bytes and is copied.
func NewHasher(pepper []byte) (*Hasher, error) {
	if len(pepper) < MinPepperLen {
		return nil, errors.New("api key hasher: pepper shorter than 32 bytes")
	}
	return &Hasher{pepper: append([]byte(nil), pepper...)}, nil
}

// Hash is the digest to store for plaintext (the whole key, prefix and
// checksum included, so a live key and a test key never share a digest).
func (h *Hasher) Hash(plaintext string) []byte {
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(plaintext))
	return m.Sum(nil)
}

// Verify reports whether plaintext hashes to stored, in constant time.
func (h *Hasher) Verify(plaintext string, stored []byte) bool {
	return hmac.Equal(h.Hash(plaintext), stored)
}
