package diff

import (
	"testing"

	"github.com/diffgate/diffgate/internal/difftest"
)

func BenchmarkParse(b *testing.B) {
	data := difftest.LargeDiff(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseLargeDiff checks a real multi-MiB diff -ruN end to end: it
// parses, every file has a path, and the invariants hold.
func TestParseLargeDiff(t *testing.T) {
	data := difftest.LargeDiff(t)
	d, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(large diff) error: %v", err)
	}
	var added, deleted, modified int
	for _, f := range d.Files {
		if f.Path() == "" {
			t.Errorf("file without a path: %+v", f)
		}
		switch f.Status {
		case Added:
			added++
		case Deleted:
			deleted++
		case Modified:
			modified++
		}
	}
	if added == 0 || deleted == 0 || modified == 0 {
		t.Errorf("Parse(large diff) = %d added, %d deleted, %d modified files, want some of each", added, deleted, modified)
	}
	checkInvariants(t, d)
}
