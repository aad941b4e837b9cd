package account

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// Key is one Ed25519 signing key and the id ("kid") tokens name it by.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
}

// GenerateKey makes a new signing key from crypto/rand. Its id is derived
// from the public key, so two different keys never share an id.
func GenerateKey() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate signing key: %w", err)
	}
	return keyFromPrivate(priv), nil
}

func keyFromPrivate(priv ed25519.PrivateKey) Key {
	sum := sha256.Sum256(priv.Public().(ed25519.PublicKey))
	return Key{ID: base64.RawURLEncoding.EncodeToString(sum[:12]), Private: priv}
}

// Public is the verification half of k.
func (k Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// String, GoString and LogValue name the key without its private bytes, so a
// key printed or logged by mistake leaks nothing.
func (k Key) String() string       { return "ed25519 key " + k.ID }
func (k Key) GoString() string     { return "account.Key{ID: " + fmt.Sprintf("%q", k.ID) + "}" }
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }
func (k Key) valid() error {
	if k.ID == "" || len(k.ID) > maxKeyIDBytes {
		return fmt.Errorf("key id must be 1..%d bytes", maxKeyIDBytes)
	}
	if len(k.Private) != ed25519.PrivateKeySize {
		return fmt.Errorf("key %s: private key is %d bytes, want %d", k.ID, len(k.Private), ed25519.PrivateKeySize)
	}
	return nil
}

const maxKeyIDBytes = 64

// Keyring holds the keys access tokens may be signed with: one active key
// signs new tokens, and every key in the ring verifies. Rotation adds a new
// active key and keeps the old one until the tokens it signed have expired.
// A Keyring is immutable, so it can be shared by goroutines and swapped as a
// whole (for example through an atomic.Pointer) when keys rotate.
type Keyring struct {
	active Key
	keys   map[string]Key
	order  []string // active first, then the others as given
}

// NewKeyring returns a ring that signs with active and also verifies with
// others. Ids must be unique.
func NewKeyring(active Key, others ...Key) (*Keyring, error) {
	kr := &Keyring{active: active, keys: make(map[string]Key, 1+len(others))}
	for _, k := range append([]Key{active}, others...) {
		if err := k.valid(); err != nil {
			return nil, fmt.Errorf("new keyring: %w", err)
		}
		if _, dup := kr.keys[k.ID]; dup {
			return nil, fmt.Errorf("new keyring: duplicate key id %q", k.ID)
		}
		kr.keys[k.ID] = k
		kr.order = append(kr.order, k.ID)
	}
	return kr, nil
}

// Active is the key new tokens are signed with.
func (kr *Keyring) Active() Key { return kr.active }

// IDs lists the key ids, the active one first.
func (kr *Keyring) IDs() []string { return slices.Clone(kr.order) }

// publicKey returns the verification key for kid.
func (kr *Keyring) publicKey(kid string) (ed25519.PublicKey, bool) {
	k, ok := kr.keys[kid]
	if !ok {
		return nil, false
	}
	return k.Public(), true
}

// Rotate returns a new ring signing with next and still verifying with all
// keys of kr.
func (kr *Keyring) Rotate(next Key) (*Keyring, error) {
	rest := make([]Key, 0, len(kr.order))
	for _, id := range kr.order {
		rest = append(rest, kr.keys[id])
	}
	return NewKeyring(next, rest...)
}

// Without returns a new ring lacking kid; tokens signed with it stop
// verifying. The active key cannot be removed.
func (kr *Keyring) Without(kid string) (*Keyring, error) {
	if kid == kr.active.ID {
		return nil, errors.New("keyring: cannot remove the active key")
	}
	var rest []Key
	for _, id := range kr.order[1:] {
		if id != kid {
			rest = append(rest, kr.keys[id])
		}
	}
	return NewKeyring(kr.active, rest...)
}

// keyringFile is the on-disk form of a Keyring. The server writes it with
// mode 0600; only the 32-byte seed of each key is stored.
type keyringFile struct {
	Version int           `json:"version"`
	Active  string        `json:"active"`
	Keys    []keyFileItem `json:"keys"`
}

type keyFileItem struct {
	ID   string `json:"kid"`
	Alg  string `json:"alg"`
	Seed string `json:"seed"` // base64url, no padding
}

const keyringFileVersion = 1

// MarshalKeyring encodes kr for the server's key file. The result is secret.
func MarshalKeyring(kr *Keyring) ([]byte, error) {
	f := keyringFile{Version: keyringFileVersion, Active: kr.active.ID}
	for _, id := range kr.order {
		f.Keys = append(f.Keys, keyFileItem{
			ID:   id,
			Alg:  "EdDSA",
			Seed: base64.RawURLEncoding.EncodeToString(kr.keys[id].Private.Seed()),
		})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal keyring: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseKeyring decodes what MarshalKeyring wrote. Errors never quote the
// file's content.
func ParseKeyring(b []byte) (*Keyring, error) {
	var f keyringFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, errors.New("parse keyring: not valid JSON")
	}
	if f.Version != keyringFileVersion {
		return nil, fmt.Errorf("parse keyring: unsupported version %d", f.Version)
	}
	var active *Key
	var others []Key
	for i, it := range f.Keys {
		if it.Alg != "EdDSA" {
			return nil, fmt.Errorf("parse keyring: key %d: unsupported alg %q", i, it.Alg)
		}
		seed, err := base64.RawURLEncoding.DecodeString(it.Seed)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("parse keyring: key %d: seed must be %d bytes of base64url", i, ed25519.SeedSize)
		}
		k := Key{ID: it.ID, Private: ed25519.NewKeyFromSeed(seed)}
		if it.ID == f.Active && active == nil {
			active = &k
			continue
		}
		others = append(others, k)
	}
	if active == nil {
		return nil, errors.New("parse keyring: active key not among keys")
	}
	return NewKeyring(*active, others...)
}
