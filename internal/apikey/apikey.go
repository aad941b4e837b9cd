// Package apikey makes and checks diffgate API keys (K1–K3).
//
// A key reads dg_live_<id>_<secret><checksum> (dg_test_ for sandbox keys).
// The id is public and is how a key is looked up; the secret carries the
// strength; the checksum lets us reject typos before touching the database
// and lets secret scanners confirm a match offline. The checksum is no
// security control: anyone can compute it.
package apikey

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"log/slog"

	"github.com/diffgate/diffgate/internal/apperr"
)

const (
	// LivePrefix starts keys that run paid reviewers.
	LivePrefix = "dg_live_"
	// TestPrefix starts sandbox keys, which run only the builtin reviewer.
	TestPrefix = "dg_test_"

	// IDLen is the length of the public key id.
	IDLen = 12
	// SecretLen is the length of the secret: 32 base62 characters hold
	// 190 bits.
	SecretLen = 32
	// ChecksumLen is the length of the CRC32 checksum in base62; 62^6
	// exceeds 2^32, so every checksum fits.
	ChecksumLen = 6
	// Len is the length of every key.
	Len = len(LivePrefix) + IDLen + 1 + SecretLen + ChecksumLen

	// Pattern is a regular expression matching any well-formed key, for
	// secret scanners and redactors; Parse still decides on the checksum.
	Pattern = `dg_(?:live|test)_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}`

	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// Key is a freshly generated key. Plaintext is shown to its owner once and
// never stored; String and LogValue hide it so it cannot be logged by
// accident.
type Key struct {
	Plaintext string
	ID        string
	Sandbox   bool
}

// String shows the key without its secret.
func (k Key) String() string { return Display(k.ID, k.Sandbox) }

// GoString keeps %#v from printing the secret.
func (k Key) GoString() string { return "apikey.Key{" + k.String() + "}" }

// LogValue keeps slog from printing the secret.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Parsed is a key that is well formed; whether it is genuine is for the
// Hasher and the store to decide.
type Parsed struct {
	ID      string
	Sandbox bool
	Secret  string
}

// String shows the key without its secret.
func (p Parsed) String() string { return Display(p.ID, p.Sandbox) }

// GoString keeps %#v from printing the secret.
func (p Parsed) GoString() string { return "apikey.Parsed{" + p.String() + "}" }

// LogValue keeps slog from printing the secret.
func (p Parsed) LogValue() slog.Value { return slog.StringValue(p.String()) }

// Display is how a key is shown after creation: prefix and id, secret
// masked.
func Display(id string, sandbox bool) string {
	return prefix(sandbox) + id + "_…"
}

func prefix(sandbox bool) string {
	if sandbox {
		return TestPrefix
	}
	return LivePrefix
}

// Generate makes a new key from crypto/rand.
func Generate(sandbox bool) (Key, error) {
	var b [Len]byte
	n := copy(b[:], prefix(sandbox))
	if err := randomBase62(b[n : n+IDLen]); err != nil {
		return Key{}, fmt.Errorf("generate api key: %w", err)
	}
	n += IDLen
	b[n] = '_'
	n++
	if err := randomBase62(b[n : n+SecretLen]); err != nil {
		return Key{}, fmt.Errorf("generate api key: %w", err)
	}
	n += SecretLen
	putChecksum(b[n:], crc32.ChecksumIEEE(b[:n]))
	s := string(b[:])
	return Key{Plaintext: s, ID: s[len(LivePrefix) : len(LivePrefix)+IDLen], Sandbox: sandbox}, nil
}

// randomBase62 fills dst with uniformly random base62 characters. Bytes
// of 248 and above are rejected so that b%62 has no bias.
func randomBase62(dst []byte) error {
	var buf [64]byte
	i := 0
	for i < len(dst) {
		if _, err := rand.Read(buf[:]); err != nil {
			return err
		}
		for _, c := range buf {
			if c >= 248 {
				continue
			}
			dst[i] = alphabet[c%62]
			i++
			if i == len(dst) {
				break
			}
		}
	}
	return nil
}

// putChecksum writes v in base62, most significant digit first, padded
// with zeros to len(dst).
func putChecksum(dst []byte, v uint32) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = alphabet[v%62]
		v /= 62
	}
}

// errInvalid is the one answer to every malformed key, so that a caller
// learns nothing about which part was wrong. The cause is for logs and
// never quotes the key.
func errInvalid(why string) error {
	return apperr.Wrap(apperr.Unauthorized, "invalid credentials", fmt.Errorf("api key: %s", why))
}

// Parse checks a key's form: prefix, length, alphabet, separator and
// checksum. Every failure is the same Unauthorized error.
func Parse(s string) (Parsed, error) {
	if len(s) != Len {
		return Parsed{}, errInvalid("wrong length")
	}
	var sandbox bool
	switch s[:len(LivePrefix)] {
	case LivePrefix:
	case TestPrefix:
		sandbox = true
	default:
		return Parsed{}, errInvalid("unknown prefix")
	}
	idStart := len(LivePrefix)
	secStart := idStart + IDLen + 1
	sumStart := secStart + SecretLen
	if s[secStart-1] != '_' {
		return Parsed{}, errInvalid("missing separator")
	}
	if !isBase62(s[idStart:secStart-1]) || !isBase62(s[secStart:]) {
		return Parsed{}, errInvalid("bad character")
	}
	var want [ChecksumLen]byte
	putChecksum(want[:], crc32.ChecksumIEEE([]byte(s[:sumStart])))
	if string(want[:]) != s[sumStart:] {
		return Parsed{}, errInvalid("bad checksum")
	}
	return Parsed{ID: s[idStart : secStart-1], Sandbox: sandbox, Secret: s[secStart:sumStart]}, nil
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
