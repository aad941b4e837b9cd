// Package ids makes the identifiers of stored rows: a prefix naming the
// kind, then 48 bits of milliseconds since the Unix epoch and 80 random
// bits in lowercase hex, the layout of a UUIDv7. Ids made later sort
// later, so a table keyed by them grows at its end: an insert touches the
// last pages of its index rather than a random one, which keeps SQLite's
// write-ahead log small under load. 80 random bits make them unguessable
// within a millisecond, though no id is a secret: every lookup also checks
// the owner.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// New returns prefix followed by 32 hex digits for t.
func New(prefix string, t time.Time) string {
	var b [16]byte
	ms := uint64(max(t.UnixMilli(), 0))
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails
	out := make([]byte, len(prefix)+32)
	copy(out, prefix)
	hex.Encode(out[len(prefix):], b[:])
	return string(out)
}
