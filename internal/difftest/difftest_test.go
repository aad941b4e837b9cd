package difftest

import (
	"bytes"
	"testing"
)

func TestLargeDiff(t *testing.T) {
	data := LargeDiff(t)
	if n := len(data); n < 3<<20 || n > 6<<20 {
		t.Errorf("LargeDiff() = %d bytes, want 3 to 6 MiB", n)
	}
	for _, want := range []string{"\n--- old/", "\n+++ new/", "\n@@ -0,0 +1,", "+0,0 @@", "\n-", "1970-01-01"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("LargeDiff() has no %q", want)
		}
	}
	if again := LargeDiff(t); &again[0] != &data[0] {
		t.Error("LargeDiff() built the corpus twice")
	}
}
