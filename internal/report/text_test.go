package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/review"
)

func renderText(t *testing.T, res *review.Result, color bool) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "text", res, Options{Color: color}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTextColor(t *testing.T) {
	res := representative()
	// A hostile message tries to smuggle its own escape sequences.
	res.Findings[0].Message = "ok\x1b[2J\x1b]0;title\x07 hidden\u202Egnp.exe"
	res.Findings[0].Suggestion = "x := 1\x1b[31m\n"
	res.Skipped[0].Reason = "bad\x1breason"
	res.Reviewers[2].Error = "boom\x1b[1A"

	plain := renderText(t, res, false)
	if strings.ContainsRune(plain, '\x1b') {
		t.Errorf("text without colour contains ESC:\n%q", plain)
	}
	if strings.ContainsRune(plain, '\u202E') {
		t.Errorf("text contains a bidi override:\n%q", plain)
	}

	colored := renderText(t, res, true)
	if !strings.Contains(colored, "\x1b[1;31mCRITICAL\x1b[0m") {
		t.Errorf("coloured text lacks a red CRITICAL label:\n%s", colored)
	}
	if !strings.Contains(colored, "\x1b[31mfailed\x1b[0m") {
		t.Errorf("coloured text does not mark the failed reviewer:\n%s", colored)
	}
	// Colour is the only difference, and only our own sequences appear.
	if got := ansi.ReplaceAllString(colored, ""); got != plain {
		t.Errorf("coloured text minus colour codes differs from plain text:\ngot:\n%s\nwant:\n%s", got, plain)
	}
	if strings.ContainsRune(ansi.ReplaceAllString(colored, ""), '\x1b') {
		t.Errorf("coloured text carries foreign escape sequences:\n%q", colored)
	}
}

func TestTextContents(t *testing.T) {
	tests := []struct {
		name string
		res  *review.Result
		want []string // lines that must appear, in order
	}{
		{
			name: "empty",
			res:  &review.Result{Files: 3, Reviewers: []review.ReviewerResult{{Name: "builtin", OK: true}}},
			want: []string{"No findings.", "", "reviewers: builtin ok"},
		},
		{
			name: "file level and multi-line",
			res: &review.Result{Files: 1, Findings: []review.Finding{
				{File: "a.go", StartLine: 12, EndLine: 14, Severity: review.High, Category: "security", Reviewers: []string{"anthropic"}, Message: "bad"},
				{File: "a.go", Severity: review.Low, Category: "style", Reviewers: []string{"gemini"}, Message: "meh"},
			}},
			want: []string{
				"a.go",
				"  file   LOW   style     meh  [gemini]",
				"  12-14  HIGH  security  bad  [anthropic]",
				"",
				"2 findings (1 high, 1 low) in 1 of 1 file",
			},
		},
		{
			name: "suggestion and multi-line message", // R2
			res: &review.Result{Files: 2, Findings: []review.Finding{
				{File: "b.go", StartLine: 3, EndLine: 3, Severity: review.Medium, Category: "correctness", Rule: "DG-1", Reviewers: []string{"builtin", "openai"}, Message: "first\r\nsecond", Suggestion: "\treturn nil\n"},
			}},
			want: []string{
				"b.go",
				"  3  MEDIUM  correctness  first  [DG-1; builtin, openai]",
				"      second",
				"      suggestion:",
				"        \treturn nil",
				"",
				"1 finding (1 medium) in 1 of 2 files",
			},
		},
		{
			name: "skipped and failures", // R5
			res: &review.Result{
				Files:   1,
				Skipped: []review.Skipped{{File: "z.go", StartLine: 5, EndLine: 9, Reviewer: "gemini", Reason: "too large"}, {File: "y.bin", Reason: "binary"}},
				Reviewers: []review.ReviewerResult{
					{Name: "builtin", OK: true},
					{Name: "gemini", Model: "gemini-2.5-pro", OK: false, Error: "quota exceeded", Usage: review.Usage{InputTokens: 10, OutputTokens: 2}},
				},
			},
			want: []string{
				"No findings.",
				"",
				"Not reviewed:",
				"  y.bin (whole file) [all reviewers]: binary",
				"  z.go:5-9 [gemini]: too large",
				"",
				"Reviewer errors:",
				"  gemini: quota exceeded",
				"",
				"reviewers: builtin ok, gemini failed (gemini-2.5-pro, 10 in / 2 out tokens)",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := renderText(t, tc.res, false)
			if want := strings.Join(tc.want, "\n") + "\n"; got != want {
				t.Errorf("text output:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
