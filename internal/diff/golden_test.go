package diff

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the parser's output")

// TestGolden parses every testdata/*.diff and compares the structure with
// testdata/*.golden (R1: git diff, format-patch, diff -u, diff -ruN, renames,
// copies, new/deleted files, modes, binary files, no-newline markers, CRLF,
// quoted paths).
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.diff"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.diff inputs")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".diff")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", in, err)
			}
			checkInvariants(t, d)
			got, err := json.MarshalIndent(dump(d), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Parse(%s) =\n%s\nwant\n%s", in, got, want)
			}
		})
	}
}

// checkInvariants holds for every successful parse: line numbers follow
// the hunk header and its counts, and no content spans lines.
func checkInvariants(t testing.TB, d *Diff) {
	t.Helper()
	for fi, f := range d.Files {
		if f.Status == Added && f.OldPath != "" || f.Status == Deleted && f.NewPath != "" {
			t.Errorf("file %d: status %v with paths %q -> %q", fi, f.Status, f.OldPath, f.NewPath)
		}
		for hi, h := range f.Hunks {
			oldNo, newNo := h.OldStart, h.NewStart
			var olds, news int
			for li, l := range h.Lines {
				if strings.ContainsRune(l.Content, '\n') {
					t.Errorf("file %d hunk %d line %d: content %q contains a newline", fi, hi, li, l.Content)
				}
				switch l.Kind {
				case Context:
					if l.OldLine != oldNo || l.NewLine != newNo {
						t.Errorf("file %d hunk %d line %d: context at %d/%d, want %d/%d", fi, hi, li, l.OldLine, l.NewLine, oldNo, newNo)
					}
					oldNo++
					newNo++
					olds++
					news++
				case Delete:
					if l.OldLine != oldNo || l.NewLine != 0 {
						t.Errorf("file %d hunk %d line %d: delete at %d/%d, want %d/0", fi, hi, li, l.OldLine, l.NewLine, oldNo)
					}
					oldNo++
					olds++
				case Add:
					if l.NewLine != newNo || l.OldLine != 0 {
						t.Errorf("file %d hunk %d line %d: add at %d/%d, want 0/%d", fi, hi, li, l.OldLine, l.NewLine, newNo)
					}
					newNo++
					news++
				default:
					t.Errorf("file %d hunk %d line %d: kind %d", fi, hi, li, l.Kind)
				}
			}
			if olds != h.OldLines || news != h.NewLines {
				t.Errorf("file %d hunk %d: %d old and %d new lines, header says %d and %d", fi, hi, olds, news, h.OldLines, h.NewLines)
			}
		}
	}
}
