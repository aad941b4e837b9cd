// Package keyring seals server-side secrets (OAuth tokens, webhook secrets,
// provider keys) with AES-256-GCM at the application layer (D5).
//
// A sealed value reads v1.<kid>.<base64url(nonce|ciphertext)>: it names the
// key that sealed it, so a keyring holding old keys still opens values
// sealed before a rotation, and the rotation command can find and reseal
// them one by one. Every value is bound to associated data naming the row
// and column it belongs to (for example "webhook_endpoint:42:secret"), so a
// ciphertext copied into another row fails to open instead of handing one
// tenant's secret to another.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

const (
	// KeySize is the size of every key: AES-256.
	KeySize = 32
	// version starts every sealed value so the format can change later
	// without guessing.
	version = "v1"
	// nonceSize is GCM's standard nonce; random nonces of this size are
	// safe for far more messages than a keyring will ever seal under one key.
	nonceSize = 12
)

var (
	// ErrMalformed means a sealed value is not in the v1 format.
	ErrMalformed = errors.New("keyring: malformed sealed value")
	// ErrUnknownKey means the value names a key the keyring does not hold.
	ErrUnknownKey = errors.New("keyring: unknown key id")
	// ErrOpen means authentication failed: wrong key, wrong associated data
	// or a tampered value. Deliberately says nothing more.
	ErrOpen = errors.New("keyring: cannot open sealed value")
)

// kidPattern keeps key ids short, printable and free of the "." that
// separates the parts of a sealed value.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Key is one 32-byte AES key with its id. Its fields are unexported and it
// formats as Key(<id>) so the key material cannot reach a log by accident.
type Key struct {
	id       string
	material []byte
}

// NewKey checks id and material and copies material.
func NewKey(id string, material []byte) (Key, error) {
	if !kidPattern.MatchString(id) {
		return Key{}, fmt.Errorf("keyring: key id %q: want 1-32 of [A-Za-z0-9_-]", id)
	}
	if len(material) != KeySize {
		return Key{}, fmt.Errorf("keyring: key %q: want %d bytes, got %d", id, KeySize, len(material))
	}
	return Key{id: id, material: slices.Clone(material)}, nil
}

// GenerateKey makes a key from crypto/rand with a random id "k" + 8 hex digits.
func GenerateKey() (Key, error) {
	var idb [4]byte
	m := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, idb[:]); err != nil {
		return Key{}, fmt.Errorf("keyring: generate key: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, m); err != nil {
		return Key{}, fmt.Errorf("keyring: generate key: %w", err)
	}
	return Key{id: "k" + hex.EncodeToString(idb[:]), material: m}, nil
}

// ID is the key's id, which is public.
func (k Key) ID() string { return k.id }

// Format prints only the id, whatever the verb.
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "keyring.Key(%s)", k.id) }

// Keyring holds the active key, which seals, and older keys, which only
// open. It is immutable and safe for concurrent use.
type Keyring struct {
	active string
	keys   []Key // active first
	aeads  map[string]cipher.AEAD
}

// New makes a keyring sealing under active and opening under active and
// others. Key ids must be unique.
func New(active Key, others ...Key) (*Keyring, error) {
	all := append([]Key{active}, others...)
	kr := &Keyring{active: active.id, aeads: make(map[string]cipher.AEAD, len(all))}
	for _, k := range all {
		if !kidPattern.MatchString(k.id) || len(k.material) != KeySize {
			return nil, errors.New("keyring: invalid key (use NewKey or GenerateKey)")
		}
		if _, dup := kr.aeads[k.id]; dup {
			return nil, fmt.Errorf("keyring: duplicate key id %q", k.id)
		}
		block, err := aes.NewCipher(k.material)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", k.id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", k.id, err)
		}
		kr.aeads[k.id] = aead
		kr.keys = append(kr.keys, Key{id: k.id, material: slices.Clone(k.material)})
	}
	return kr, nil
}

// Rotate returns a keyring sealing under next and still opening under every
// key of kr; kr is unchanged.
func (kr *Keyring) Rotate(next Key) (*Keyring, error) {
	return New(next, kr.keys...)
}

// Without returns a keyring that no longer holds key id, for retiring a key
// once nothing is sealed under it. The active key cannot be removed.
func (kr *Keyring) Without(id string) (*Keyring, error) {
	if id == kr.active {
		return nil, fmt.Errorf("keyring: cannot remove the active key %q", id)
	}
	var rest []Key
	for _, k := range kr.keys[1:] {
		if k.id != id {
			rest = append(rest, k)
		}
	}
	if len(rest) == len(kr.keys)-1 {
		return nil, fmt.Errorf("keyring: key %q: %w", id, ErrUnknownKey)
	}
	return New(kr.keys[0], rest...)
}

// Active is the id of the key that seals.
func (kr *Keyring) Active() string { return kr.active }

// KeyIDs lists every key id, the active one first.
func (kr *Keyring) KeyIDs() []string {
	ids := make([]string, len(kr.keys))
	for i, k := range kr.keys {
		ids[i] = k.id
	}
	return ids
}

// Format prints only key ids, whatever the verb. It has a value receiver
// so that a dereferenced Keyring is covered too.
func (kr Keyring) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "keyring.Keyring(active=%s, keys=%s)", kr.active, strings.Join(kr.KeyIDs(), ","))
}

// Seal encrypts plaintext under the active key, bound to aad.
func (kr *Keyring) Seal(plaintext, aad []byte) (string, error) {
	aead := kr.aeads[kr.active]
	buf := make([]byte, nonceSize, nonceSize+len(plaintext)+aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, buf); err != nil {
		return "", fmt.Errorf("keyring: nonce: %w", err)
	}
	buf = aead.Seal(buf, buf[:nonceSize], plaintext, boundAAD(kr.active, aad))
	return version + "." + kr.active + "." + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal with the same aad, under whichever key
// of the keyring it names.
func (kr *Keyring) Open(sealed string, aad []byte) ([]byte, error) {
	kid, raw, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := kr.aeads[kid]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	if len(raw) < nonceSize+aead.Overhead() {
		return nil, ErrMalformed
	}
	pt, err := aead.Open(nil, raw[:nonceSize], raw[nonceSize:], boundAAD(kid, aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// KeyID is the id of the key a sealed value names, without opening it.
func KeyID(sealed string) (string, error) {
	kid, _, err := parse(sealed)
	return kid, err
}

// NeedsRotation reports whether sealed is not under the active key. A
// malformed value also needs attention, so it reports true and Reseal then
// says what is wrong.
func (kr *Keyring) NeedsRotation(sealed string) bool {
	kid, _, err := parse(sealed)
	return err != nil || kid != kr.active
}

// Reseal opens sealed and seals it again under the active key with the same
// aad. A value already under the active key is returned unchanged once it
// has been checked to open, so rerunning a rotation rewrites nothing.
func (kr *Keyring) Reseal(sealed string, aad []byte) (string, error) {
	pt, err := kr.Open(sealed, aad)
	if err != nil {
		return "", err
	}
	defer clear(pt)
	if !kr.NeedsRotation(sealed) {
		return sealed, nil
	}
	return kr.Seal(pt, aad)
}

func parse(sealed string) (kid string, raw []byte, err error) {
	v, rest, ok := strings.Cut(sealed, ".")
	if !ok || v != version {
		return "", nil, ErrMalformed
	}
	kid, body, ok := strings.Cut(rest, ".")
	if !ok || !kidPattern.MatchString(kid) {
		return "", nil, ErrMalformed
	}
	raw, err = base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return "", nil, ErrMalformed
	}
	return kid, raw, nil
}

// boundAAD also authenticates the format version and key id, so a value
// cannot be relabelled to another key id even if two ids ever shared
// material. Key ids hold no ".", so the encoding is unambiguous.
func boundAAD(kid string, aad []byte) []byte {
	b := make([]byte, 0, len(version)+len(kid)+2+len(aad))
	b = append(b, version...)
	b = append(b, '.')
	b = append(b, kid...)
	b = append(b, '.')
	return append(b, aad...)
}
