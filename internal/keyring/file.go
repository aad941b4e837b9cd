package keyring

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FileMode is the only mode a keyring file may have: it holds every key.
const FileMode os.FileMode = 0o600

// fileForm is the JSON form of a keyring:
//
//	{"version":1,"active":"k1a2b3c4d","keys":[{"id":"k1a2b3c4d","key":"<base64 of 32 bytes>"}]}
type fileForm struct {
	Version int       `json:"version"`
	Active  string    `json:"active"`
	Keys    []fileKey `json:"keys"`
}

type fileKey struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// Marshal encodes the keyring, key material included, for a 0600 file.
func (kr *Keyring) Marshal() ([]byte, error) {
	f := fileForm{Version: 1, Active: kr.active}
	for _, k := range kr.keys {
		f.Keys = append(f.Keys, fileKey{ID: k.id, Key: base64.StdEncoding.EncodeToString(k.material)})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keyring: marshal: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse decodes what Marshal wrote. Errors name key ids, never material.
func Parse(data []byte) (*Keyring, error) {
	var f fileForm
	if err := json.Unmarshal(data, &f); err != nil {
		// The decoder's message may quote input, which holds keys.
		return nil, errors.New("keyring: parse: not a keyring JSON document")
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("keyring: parse: unsupported version %d", f.Version)
	}
	var active *Key
	var others []Key
	for _, fk := range f.Keys {
		m, err := base64.StdEncoding.Strict().DecodeString(fk.Key)
		if err != nil {
			return nil, fmt.Errorf("keyring: parse: key %q is not base64", fk.ID)
		}
		k, err := NewKey(fk.ID, m)
		clear(m)
		if err != nil {
			return nil, fmt.Errorf("keyring: parse: %w", err)
		}
		if fk.ID == f.Active && active == nil {
			active = &k
			continue
		}
		others = append(others, k)
	}
	if active == nil {
		return nil, fmt.Errorf("keyring: parse: active key %q is not in keys", f.Active)
	}
	return New(*active, others...)
}

// ReadFile loads a keyring file, refusing one that group or others could read.
func ReadFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring: %s has mode %v, want %v", path, fi.Mode().Perm(), FileMode)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer clear(data)
	return Parse(data)
}

// WriteFile replaces path atomically with the keyring at mode 0600, so a
// crash mid-rotation leaves either the old or the new keyring, never half.
func (kr *Keyring) WriteFile(path string) (err error) {
	data, err := kr.Marshal()
	if err != nil {
		return err
	}
	defer clear(data)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keyring-*")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(FileMode); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return nil
}
