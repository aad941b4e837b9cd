package report

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/review"
)

// R7: the four formats, in the order help texts list them.
func TestFormats(t *testing.T) {
	want := []string{"text", "json", "sarif", "rdjson"}
	if got := Formats(); !slices.Equal(got, want) {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
	// Callers may change the slice they get without changing the next one.
	Formats()[0] = "changed"
	if got := Formats(); got[0] != "text" {
		t.Errorf("Formats()[0] = %q after a caller changed its copy, want text", got[0])
	}
	for _, f := range Formats() {
		if err := Write(&bytes.Buffer{}, f, &review.Result{}, Options{}); err != nil {
			t.Errorf("Write(%q, empty result) = %v, want nil", f, err)
		}
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	for _, format := range []string{"", "xml", "SARIF", "rdjsonl"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, format, representative(), Options{})
			if !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("Write(%q) = %v, want ErrUnknownFormat", format, err)
			}
			for _, f := range Formats() {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("Write(%q) error %q does not list format %q", format, err, f)
				}
			}
			if buf.Len() != 0 {
				t.Errorf("Write(%q) wrote %d bytes, want none", format, buf.Len())
			}
		})
	}
}

func TestWriteNilResult(t *testing.T) {
	if err := Write(&bytes.Buffer{}, "text", nil, Options{}); err == nil {
		t.Error("Write(nil result) = nil, want an error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteReportsWriterError(t *testing.T) {
	for _, f := range Formats() {
		err := Write(failingWriter{}, f, representative(), Options{})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("Write(%s) to a failing writer = %v, want the writer's error", f, err)
		}
	}
}

// Output must not depend on the order in which concurrent reviewers
// delivered findings (R4), nor may Write change its input.
func TestWriteDeterministic(t *testing.T) {
	base := representative()
	want := map[string][]byte{}
	for _, f := range Formats() {
		want[f] = render(t, f, base)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		res := representative()
		rng.Shuffle(len(res.Findings), func(a, b int) { res.Findings[a], res.Findings[b] = res.Findings[b], res.Findings[a] })
		rng.Shuffle(len(res.Skipped), func(a, b int) { res.Skipped[a], res.Skipped[b] = res.Skipped[b], res.Skipped[a] })
		before := slices.Clone(res.Findings)
		for _, f := range Formats() {
			if got := render(t, f, res); !bytes.Equal(got, want[f]) {
				t.Errorf("shuffle %d: %s output differs from unshuffled output", i, f)
			}
		}
		if !slices.EqualFunc(before, res.Findings, func(a, b review.Finding) bool { return compareFindings(a, b) == 0 }) {
			t.Fatalf("shuffle %d: Write reordered the caller's findings", i)
		}
	}
}

// Bad severities from a buggy reviewer must not stop the report.
func TestWriteOutOfRangeSeverity(t *testing.T) {
	res := &review.Result{Findings: []review.Finding{
		{File: "a.go", StartLine: 1, EndLine: 1, Severity: review.Severity(42), Category: "other", Message: "too high"},
		{File: "a.go", StartLine: 2, EndLine: 2, Severity: review.Severity(-3), Category: "other", Message: "too low"},
	}}
	for _, f := range Formats() {
		if err := Write(&bytes.Buffer{}, f, res, Options{}); err != nil {
			t.Errorf("Write(%s) with out-of-range severities = %v, want nil", f, err)
		}
	}
}

// Golden files show each format for a representative Result.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file, format string
		opts         Options
	}{
		{"text.golden", "text", Options{}},
		{"text_color.golden", "text", Options{Color: true}},
		{"json.golden", "json", Options{}},
		{"sarif.golden", "sarif", Options{ToolVersion: "1.2.3", Rules: catalogue()}},
		{"rdjson.golden", "rdjson", Options{}},
		{"text_empty.golden", "text", Options{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := representative()
			if strings.Contains(tc.file, "empty") {
				res = &review.Result{Files: 2, Reviewers: []review.ReviewerResult{{Name: "builtin", OK: true}}}
			}
			var buf bytes.Buffer
			if err := Write(&buf, tc.format, res, tc.opts); err != nil {
				t.Fatal(err)
			}
			readGolden(t, tc.file, buf.Bytes())
		})
	}
}

func TestFileURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"internal/db/query.go", "internal/db/query.go"},
		{"./a.go", "a.go"},
		{"dir with spaces/file name.go", "dir%20with%20spaces/file%20name.go"},
		{"données/résumé.go", "donn%C3%A9es/r%C3%A9sum%C3%A9.go"},
		{"c:weird/100%#?.go", "c%3Aweird/100%25%23%3F.go"},
		{`back\slash.go`, "back%5Cslash.go"},
		{"a+b=c@d.go", "a%2Bb%3Dc%40d.go"},
		{"~user/x-y_z.go", "~user/x-y_z.go"},
	}
	for _, tc := range tests {
		if got := fileURI(tc.in); got != tc.want {
			t.Errorf("fileURI(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
