package keyring

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// D5: a keyring written to its file and read back opens what the original
// sealed, and the file is 0600.
func TestFileRoundTrip_D5(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	kr := mustRing(t, newKey, oldKey)
	sealedOld, err := mustRing(t, oldKey).Seal([]byte("old"), []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keyring.json")
	if err := kr.WriteFile(path); err != nil {
		t.Fatalf("WriteFile() error = %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != FileMode {
		t.Errorf("WriteFile() mode = %v, want %v", fi.Mode().Perm(), FileMode)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile() error = %v", err)
	}
	if got.Active() != newKey.ID() {
		t.Errorf("ReadFile().Active() = %q, want %q", got.Active(), newKey.ID())
	}
	if pt, err := got.Open(sealedOld, []byte("a")); err != nil || string(pt) != "old" {
		t.Errorf("ReadFile().Open(old value) = %q, %v; want %q", pt, err, "old")
	}
	sealed, err := got.Seal([]byte("new"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr.Open(sealed, nil); err != nil || string(pt) != "new" {
		t.Errorf("Open(value sealed by reloaded ring) = %q, %v; want %q", pt, err, "new")
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil {
		t.Error("ReadFile(mode 0644) error = nil, want error")
	}
}

func TestParseRejects(t *testing.T) {
	k := mustKey(t)
	good := base64.StdEncoding.EncodeToString(k.material)
	tests := []struct {
		name string
		doc  string
	}{
		{"not json", "{" + good},
		{"version", `{"version":2,"active":"k1","keys":[{"id":"k1","key":"` + good + `"}]}`},
		{"active missing", `{"version":1,"active":"k2","keys":[{"id":"k1","key":"` + good + `"}]}`},
		{"short key", `{"version":1,"active":"k1","keys":[{"id":"k1","key":"AAAA"}]}`},
		{"not base64", `{"version":1,"active":"k1","keys":[{"id":"k1","key":"!!` + good[2:] + `"}]}`},
		{"duplicate id", `{"version":1,"active":"k1","keys":[{"id":"k1","key":"` + good + `"},{"id":"k1","key":"` + good + `"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse(%q) = %v, nil; want error", tt.doc, kr)
			}
			if strings.Contains(err.Error(), good) || strings.Contains(err.Error(), good[:8]) {
				t.Errorf("Parse() error %q reveals key material", err)
			}
		})
	}
}

func TestMarshalParse(t *testing.T) {
	kr := mustRing(t, mustKey(t), mustKey(t), mustKey(t))
	data, err := kr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(Marshal()) error = %v", err)
	}
	again, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("Marshal(Parse(%s)) = %s, want it unchanged", data, again)
	}
}
