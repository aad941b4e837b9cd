package diff

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse holds Parse to its contract on any input: no panic, either a
// *ParseError or a diff whose line numbers agree with its hunk headers.
func FuzzParse(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.diff"))
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\\n+y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %T %v, want *ParseError", err, err)
			}
			if pe.Line < 1 {
				t.Fatalf("Parse error at line %d, want >= 1", pe.Line)
			}
			return
		}
		checkInvariants(t, d)
	})
}
