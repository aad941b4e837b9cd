package diff

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestParseErrors checks that malformed input is refused with the line that
// is wrong (R1).
func TestParseErrors(t *testing.T) {
	const hdr = "diff --git a/x b/x\n--- a/x\n+++ b/x\n" // lines 1-3
	tests := []struct {
		name  string
		in    string
		line  int
		inMsg string
	}{
		{"no file header", "hello\nworld\n", 1, "no file header"},
		{"no file header after blank lines", "\n\nsome prose\n", 3, "no file header"},
		{"hunk before file header", "intro\n@@ -1 +1 @@\n-a\n+b\n", 2, "before any file header"},
		{"hunk after prose", hdr + "@@ -1 +1 @@\n-a\n+b\nprose\n@@ -5 +5 @@\n-c\n+d\n", 8, "before any file header"},
		{"bad hunk header", hdr + "@@ -1,x +1 @@\n", 4, "bad hunk header"},
		{"hunk header without new range", hdr + "@@ -1,2 @@\n", 4, "bad hunk header"},
		{"hunk header without closing", hdr + "@@ -1 +1\n-a\n+b\n", 4, "bad hunk header"},
		{"hunk header junk after closing", hdr + "@@ -1 +1 @@x\n-a\n+b\n", 4, "bad hunk header"},
		{"hunk header zero start", hdr + "@@ -0,2 +1 @@\n-a\n-b\n+c\n", 4, "bad hunk header"},
		{"hunk header huge number", hdr + "@@ -1,99999999999 +1 @@\n", 4, "bad hunk header"},
		{"truncated at EOF", hdr + "@@ -1,3 +1,3 @@\n a\n-b\n+c\n", 7, "ends early"},
		{"truncated by next file", hdr + "@@ -1,3 +1,3 @@\n a\n-b\n+c\n" + hdr, 8, "ends early"},
		{"truncated by next hunk", hdr + "@@ -1,3 +1,3 @@\n a\n@@ -9 +9 @@\n-x\n+y\n", 6, "ends early"},
		{"bad prefix", hdr + "@@ -1,2 +1,2 @@\n a\n*b\n", 6, "prefix"},
		{"too many deletes", hdr + "@@ -1 +1,2 @@\n-a\n-b\n+c\n", 6, "more deleted"},
		{"too many adds", hdr + "@@ -1,2 +1 @@\n+a\n+b\n-c\n", 6, "more added"},
		{"too many context", hdr + "@@ -1,2 +1 @@\n a\n b\n-c\n", 6, "more context"},
		{"extra line after hunk", hdr + "@@ -1 +1 @@\n-a\n+b\n+c\n", 7, "more lines"},
		{"extra delete after hunk", hdr + "@@ -1 +1 @@\n-a\n+b\n-c\n", 7, "more lines"},
		{"backslash first", hdr + "@@ -1 +1 @@\n\\ No newline at end of file\n-a\n+b\n", 5, "no line before"},
		{"--- without +++ in git header", "diff --git a/x b/x\n--- a/x\n@@ -1 +1 @@\n", 2, "not followed"},
		{"plain file truncated", "--- x\t2024-01-01\n+++ x\t2024-01-02\n@@ -1,2 +1,2 @@\n-a\n", 4, "ends early"},
		{"CRLF bad header", "diff --git a/x b/x\r\n--- a/x\r\n+++ b/x\r\n@@ -1 +1 @ \r\n", 4, "bad hunk header"},
		{"CR-only line endings", "diff --git a/x b/x\r--- a/x\r+++ b/x\r@@ -1 +1 @@\r-a\r+b\r", 1, "carriage return"},
		{"CR-only plain diff", "--- a/x\r+++ b/x\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n", 2, "carriage return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %v, %v, want *ParseError at line %d", tt.in, d, err, tt.line)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Msg, tt.inMsg) {
				t.Errorf("Parse(%q) error = %v, want line %d and message containing %q", tt.in, err, tt.line, tt.inMsg)
			}
			if d != nil {
				t.Errorf("Parse(%q) returned a diff with an error", tt.in)
			}
		})
	}
}

// TestParseBlank checks that blank input is an empty diff, not an error.
func TestParseBlank(t *testing.T) {
	for _, in := range []string{"", "\n", " \n\t\n", "\r\n\r\n"} {
		d, err := Parse([]byte(in))
		if err != nil || d == nil || len(d.Files) != 0 {
			t.Errorf("Parse(%q) = %v, %v, want empty diff and no error", in, d, err)
		}
	}
}

// TestParseDoesNotAliasInput checks that changing the input buffer after
// Parse leaves the parsed contents alone.
func TestParseDoesNotAliasInput(t *testing.T) {
	in := []byte("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n")
	d, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'X'
	}
	if got := d.Files[0].Hunks[0].Lines[1].Content; got != "new" {
		t.Errorf("content after overwriting input = %q, want %q", got, "new")
	}
}

// TestParseLinesCannotGrowIntoNeighbours checks that appending to one hunk's
// lines never overwrites the next hunk's.
func TestParseLinesCannotGrowIntoNeighbours(t *testing.T) {
	in := "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n@@ -9 +9 @@\n-c\n+d\n"
	d, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	h := d.Files[0].Hunks
	_ = append(h[0].Lines, Line{Content: "intruder"})
	if got := h[1].Lines[0].Content; got != "c" {
		t.Errorf("second hunk first line = %q after append to first hunk, want %q", got, "c")
	}
}

// R1: the size limit refuses a diff whole and never truncates it.
func TestRead(t *testing.T) {
	small := "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
	tests := []struct {
		name    string
		in      string
		limit   int64
		tooBig  bool
		wantLen int64
	}{
		{"under limit", small, int64(len(small)) + 10, false, 0},
		{"exactly the limit", small, int64(len(small)), false, 0},
		{"one byte over", small, int64(len(small)) - 1, true, int64(len(small))},
		{"far over", small + strings.Repeat("x", 100), 10, true, 11},
		{"default limit", small, 0, false, 0},
		{"negative means default", small, -5, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Read(strings.NewReader(tt.in), tt.limit)
			var tl *TooLargeError
			if tt.tooBig {
				if !errors.As(err, &tl) {
					t.Fatalf("Read(%d bytes, %d) = %v, %v, want *TooLargeError", len(tt.in), tt.limit, d, err)
				}
				if tl.Limit != tt.limit || tl.Size != tt.wantLen {
					t.Errorf("Read(%d bytes, %d) error = %+v, want Limit %d Size %d", len(tt.in), tt.limit, tl, tt.limit, tt.wantLen)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read(%d bytes, %d) error: %v", len(tt.in), tt.limit, err)
			}
			if len(d.Files) != 1 || d.Files[0].Hunks[0].Lines[1].Content != "b" {
				t.Errorf("Read(%d bytes, %d) = %+v, want one file whose added line is %q", len(tt.in), tt.limit, d.Files, "b")
			}
		})
	}
}

// TestReadDefaultLimit checks the 2 MiB default of R1.
func TestReadDefaultLimit(t *testing.T) {
	big := bytes.Repeat([]byte("x"), DefaultMaxSize+1)
	_, err := Read(bytes.NewReader(big), 0)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != DefaultMaxSize {
		t.Errorf("Read(%d bytes, 0) = %v, want *TooLargeError with limit %d", len(big), err, DefaultMaxSize)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadPropagatesReaderError(t *testing.T) {
	cause := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader("--- a/x\n"), failingReader{cause})
	d, err := Read(r, 1000)
	if !errors.Is(err, cause) {
		t.Errorf("Read(failing reader) = %v, %v, want error wrapping %v", d, err, cause)
	}
}

// TestParseFields spot-checks fields the golden files also cover, so that a
// wrong -update cannot hide a regression in the basics.
func TestParseFields(t *testing.T) {
	in := "diff --git a/foo bar b/foo bar\nold mode 100644\nnew mode 100755\n" +
		"diff --git \"a/t\\303\\251st\" \"b/t\\303\\251st\"\n--- \"a/t\\303\\251st\"\n+++ \"b/t\\303\\251st\"\n@@ -1 +1,2 @@\n-x\r\n+y\r\n+z\n\\ No newline at end of file\n"
	d, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 2 {
		t.Fatalf("Parse(%q) = %d files, want 2", in, len(d.Files))
	}
	f0, f1 := d.Files[0], d.Files[1]
	if f0.OldPath != "foo bar" || f0.NewPath != "foo bar" || f0.OldMode != "100644" || f0.NewMode != "100755" {
		t.Errorf("mode change = %+v, want paths %q and modes 100644 -> 100755", f0, "foo bar")
	}
	if f1.Path() != "tést" {
		t.Errorf("quoted path = %q, want %q", f1.Path(), "tést")
	}
	lines := f1.Hunks[0].Lines
	want := []Line{
		{Kind: Delete, Content: "x", OldLine: 1, CRLF: true},
		{Kind: Add, Content: "y", NewLine: 1, CRLF: true},
		{Kind: Add, Content: "z", NewLine: 2, NoNewline: true},
	}
	if len(lines) != len(want) {
		t.Fatalf("lines = %+v, want %+v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, lines[i], want[i])
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct {
		in, want, rest string
		ok             bool
	}{
		{`"a/t\303\251st"`, "a/tést", "", true},
		{`"tab\there" x`, "tab\there", " x", true},
		{`"q\"b\\s\n\a\b\f\r\v"`, "q\"b\\s\n\a\b\f\r\v", "", true},
		{`"unterminated`, "", `"unterminated`, false},
		{`"bad\q"`, "", `"bad\q"`, false},
		{`"short\30"`, "", `"short\30"`, false},
		{`"dangling\`, "", `"dangling\`, false},
		{`plain`, "", "plain", false},
	}
	for _, tt := range tests {
		got, rest, ok := unquote(tt.in)
		if got != tt.want || rest != tt.rest || ok != tt.ok {
			t.Errorf("unquote(%q) = %q, %q, %v, want %q, %q, %v", tt.in, got, rest, ok, tt.want, tt.rest, tt.ok)
		}
	}
}

// R1: git's prefixes are stripped only when git wrote them; with
// --no-prefix a one-letter top directory is part of the path.
func TestGitPrefixes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a/ b/", "diff --git a/x/main.go b/x/main.go\n--- a/x/main.go\n+++ b/x/main.go\n@@ -1 +1 @@\n-a\n+b\n", "x/main.go"},
		{"mnemonic", "diff --git i/main.go w/main.go\n--- i/main.go\n+++ w/main.go\n@@ -1 +1 @@\n-a\n+b\n", "main.go"},
		{"no prefix, one-letter dir", "diff --git x/main.go x/main.go\n--- x/main.go\n+++ x/main.go\n@@ -1 +1 @@\n-a\n+b\n", "x/main.go"},
		{"no prefix, new file", "diff --git x/new.go x/new.go\nnew file mode 100644\n--- /dev/null\n+++ x/new.go\n@@ -0,0 +1 @@\n+b\n", "x/new.go"},
		{"prefixed new file", "diff --git a/new.go b/new.go\nnew file mode 100644\n--- /dev/null\n+++ b/new.go\n@@ -0,0 +1 @@\n+b\n", "new.go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := d.Files[0].Path(); got != tt.want {
				t.Errorf("Parse(%q) path = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// R5: files the input names without showing their change are reported,
// not dropped.
func TestOmitted(t *testing.T) {
	in := "Only in new: secret.env\n" +
		"* Unmerged path conflict.py\n" +
		"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
	d, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 1 || len(d.Omitted) != 2 {
		t.Fatalf("Parse = %d files, omitted %+v; want 1 file and 2 omitted", len(d.Files), d.Omitted)
	}
	if d.Omitted[0].Path != "new/secret.env" || d.Omitted[1].Path != "conflict.py" {
		t.Errorf("omitted = %+v", d.Omitted)
	}
	only, err := Parse([]byte("* Unmerged path f.py\n"))
	if err != nil || len(only.Omitted) != 1 {
		t.Errorf("Parse(only an unmerged path) = %+v, %v; want it omitted, no error", only, err)
	}
}
