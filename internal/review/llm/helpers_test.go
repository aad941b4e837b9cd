package llm

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/review/llm/llmtest"
)

var allProviders = []string{ProviderAnthropic, ProviderOpenAI, ProviderGemini, ProviderOpenAICompatible}

const testFile = "internal/app/handler.go"

// testDiff is one modified file with a deletion and two additions, plus
// a binary file. New-file lines 10..14 exist in the hunk; 12 and 13 are
// added.
func testDiff() *diff.Diff {
	return &diff.Diff{Files: []*diff.File{
		{
			OldPath: testFile, NewPath: testFile, Status: diff.Modified, Similarity: -1,
			Hunks: []*diff.Hunk{{
				OldStart: 10, OldLines: 4, NewStart: 10, NewLines: 5, Section: "func Serve(w http.ResponseWriter, r *http.Request) {",
				Lines: []diff.Line{
					{Kind: diff.Context, Content: "\tq := r.URL.Query()", OldLine: 10, NewLine: 10},
					{Kind: diff.Context, Content: "\tname := q.Get(\"name\")", OldLine: 11, NewLine: 11},
					{Kind: diff.Delete, Content: "\trows, err := db.Query(\"SELECT * FROM users WHERE name = ?\", name)", OldLine: 12},
					{Kind: diff.Add, Content: "\tquery := \"SELECT * FROM users WHERE name = '\" + name + \"'\"", NewLine: 12},
					{Kind: diff.Add, Content: "\trows, err := db.Query(query)", NewLine: 13},
					{Kind: diff.Context, Content: "\tif err != nil {", OldLine: 13, NewLine: 14},
				},
			}},
		},
		{OldPath: "assets/logo.png", NewPath: "assets/logo.png", Status: diff.Modified, Similarity: -1, Binary: true},
	}}
}

func sqlFinding() llmtest.Finding {
	return llmtest.Finding{
		File: testFile, StartLine: 12, EndLine: 13, Severity: "high", Category: "security",
		Message:    "SQL query built by string concatenation from request input allows SQL injection.",
		Suggestion: "\trows, err := db.Query(\"SELECT * FROM users WHERE name = ?\", name)",
		Confidence: 0.9,
	}
}

// sleeps records the waits the retry loop asks for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// fakeFor starts the fake of a provider.
func fakeFor(t *testing.T, provider string, opts llmtest.Options) *llmtest.Server {
	t.Helper()
	return llmtest.New(t, provider, opts)
}

// reviewerFor builds a reviewer of provider against srv whose retries
// record their waits instead of sleeping.
func reviewerFor(t *testing.T, provider string, srv *llmtest.Server, edit func(*Config)) (review.Reviewer, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	cfg := Config{
		Provider: provider,
		APIKey:   llmtest.APIKey,
		BaseURL:  srv.URL,
		Retry:    RetryPolicy{Sleep: sl.sleep},
	}
	if edit != nil {
		edit(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s) = %v", provider, err)
	}
	return r, sl
}

// wantModel is the model each fake reports for the default model.
func wantModel(provider string) string {
	switch provider {
	case ProviderAnthropic:
		return "claude-sonnet-4-5-20250929"
	case ProviderOpenAI:
		return "gpt-4.1-2025-04-14"
	case ProviderGemini:
		return "gemini-2.5-flash"
	}
	return "qwen2.5-coder"
}

// usageOf sums what the fake reported for its successful answers.
func usageOf(srv *llmtest.Server) review.Usage {
	var u review.Usage
	for _, r := range srv.Requests() {
		u.Add(review.Usage{InputTokens: r.InputTokens, OutputTokens: r.OutputTokens})
	}
	return u
}
