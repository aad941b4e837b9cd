package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/diffgate/diffgate/internal/review"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// catalogue stands in for the builtin rule catalogue the CLI passes.
func catalogue() []RuleInfo {
	return []RuleInfo{
		{
			ID: "DG-SECRET-AWS-KEY", Title: "AWS access key in source",
			Message:  "An AWS access key ID appears in the changed lines.",
			Fix:      "Remove the key, rotate it, and load it from the environment.",
			Severity: review.Critical, Category: "secret",
		},
		{
			ID: "DG-SQL-CONCAT", Title: "SQL built from strings",
			Message:  "A SQL statement is built by concatenating values.",
			Fix:      "Use placeholders and pass the values as arguments.",
			Severity: review.High, Category: "security",
		},
	}
}

// representative is the Result the golden files show: several files, a
// multi-line finding, a file-level finding, a finding two reviewers agree
// on, a suggestion, a rule missing from the catalogue, a failed reviewer,
// skipped parts and token usage.
func representative() *review.Result {
	return &review.Result{
		Files: 4,
		Findings: []review.Finding{
			{
				File: "internal/db/query.go", StartLine: 40, EndLine: 40, Severity: review.Low,
				Category: "maintainability", Rule: "DG-DEBUG-PRINT", Reviewers: []string{"builtin"},
				Message: "Debug print left in the code.", Confidence: 1,
			},
			{
				File: "internal/db/query.go", StartLine: 12, EndLine: 14, Severity: review.High,
				Category: "security", Rule: "DG-SQL-CONCAT", Reviewers: []string{"builtin", "anthropic"},
				Message:    "SQL query built from user input.",
				Suggestion: "rows, err := db.QueryContext(ctx,\n\t\"SELECT name FROM users WHERE id = ?\", id)\n",
				Confidence: 0.95,
			},
			{
				File: "config/settings.py", StartLine: 3, EndLine: 3, Severity: review.Critical,
				Category: "secret", Rule: "DG-SECRET-AWS-KEY", Reviewers: []string{"builtin"},
				Message: "AWS access key ID in source.", Confidence: 1,
			},
			{
				File: "internal/db/query.go", Severity: review.Medium, Category: "reliability",
				Reviewers: []string{"anthropic"},
				Message:   "Errors from rows.Close are ignored throughout the file.", Confidence: 0.6,
			},
			{
				File: "docs/read me.md", StartLine: 7, EndLine: 9, Severity: review.Info, Category: "style",
				Reviewers: []string{"anthropic"}, Message: "Sentence is hard to follow.", Confidence: 0.4,
			},
		},
		Reviewers: []review.ReviewerResult{
			{Name: "builtin", OK: true, Chunks: 1, Findings: 3, DurationMS: 2},
			{
				Name: "anthropic", Model: "claude-sonnet-4", OK: true, Chunks: 2, Findings: 3, DurationMS: 5400,
				Usage: review.Usage{InputTokens: 1830, OutputTokens: 412},
			},
			{Name: "openai", Model: "gpt-4.1", OK: false, Error: "timed out after 60s", Chunks: 2, DurationMS: 60000},
		},
		Skipped: []review.Skipped{
			{File: "vendor/big.min.js", Reason: "over the size budget of every reviewer"},
			{File: "internal/db/query.go", StartLine: 200, EndLine: 480, Reviewer: "openai", Reason: "reviewer failed"},
		},
	}
}

// schemaCases are the Results every machine format must render valid for.
func schemaCases() []struct {
	name string
	res  *review.Result
} {
	return []struct {
		name string
		res  *review.Result
	}{
		{"empty", &review.Result{}},
		{"representative", representative()},
		{"file level only", &review.Result{Files: 1, Findings: []review.Finding{
			{File: "go.mod", Severity: review.Medium, Category: "other", Reviewers: []string{"gemini"}, Message: "New dependency."},
			{File: "go.mod", Severity: review.Low, Category: "other", Reviewers: nil, Message: "", Suggestion: "ignored at file level"},
		}}},
		{"multi-line with suggestion", &review.Result{Files: 1, Findings: []review.Finding{
			{
				File: "a.go", StartLine: 10, EndLine: 25, Severity: review.High, Category: "correctness",
				Reviewers: []string{"openai"}, Message: "Loop is off by one.", Suggestion: "for i := 0; i < n; i++ {\r\n", Confidence: 0.7,
			},
			{File: "a.go", StartLine: 30, EndLine: 29, Severity: review.Low, Category: "style", Reviewers: []string{"openai"}, Message: "End before start."},
		}}},
		{"multiple reviewers", &review.Result{Files: 2, Findings: []review.Finding{
			{
				File: "b.go", StartLine: 1, EndLine: 1, Severity: review.Critical, Category: "secret",
				Rule: "DG-SECRET-AWS-KEY", Reviewers: []string{"builtin", "anthropic", "gemini"}, Message: "Key.", Confidence: 1,
			},
			{
				File: "b.go", StartLine: 5, EndLine: 6, Severity: review.Medium, Category: "security",
				Reviewers: []string{"anthropic", "openai-compatible"}, Message: "TLS verification disabled.", Confidence: 0.8,
			},
		}, Reviewers: []review.ReviewerResult{{Name: "builtin", OK: true}, {Name: "anthropic", OK: false}}}},
		{"awkward paths", &review.Result{Files: 4, Findings: []review.Finding{
			{File: "dir with spaces/file name.go", StartLine: 2, EndLine: 2, Severity: review.Low, Category: "style", Reviewers: []string{"builtin"}, Rule: "DG-X", Message: "x"},
			{File: "données/résumé.go", StartLine: 3, EndLine: 4, Severity: review.Medium, Category: "security", Reviewers: []string{"builtin"}, Message: "é"},
			{File: "日本/コード.go", StartLine: 1, EndLine: 1, Severity: review.High, Category: "secret", Reviewers: []string{"gemini"}, Message: "🔑 key"},
			{File: "c:weird/100%#?.go", StartLine: 9, EndLine: 9, Severity: review.Info, Category: "other", Reviewers: []string{"gemini"}, Message: "odd"},
		}, Skipped: []review.Skipped{{File: "bin/ü ber.bin", Reason: "binary"}}}},
	}
}

func readGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
