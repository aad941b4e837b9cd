package llm

import (
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestNewConfig(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty means success
	}{
		{"anthropic without key", Config{Provider: "anthropic"}, "ANTHROPIC_API_KEY"},
		{"openai without key", Config{Provider: "openai"}, "OPENAI_API_KEY"},
		{"gemini without key", Config{Provider: "gemini", APIKey: "  "}, "GEMINI_API_KEY"},
		{"compatible without base URL", Config{Provider: "openai-compatible"}, "no base URL"},
		{"compatible without key", Config{Provider: "openai-compatible", BaseURL: "http://localhost:11434/v1"}, ""},
		{"unknown provider", Config{Provider: "bard", APIKey: "k"}, `unknown provider "bard"`},
		{"budget too small", Config{Provider: "anthropic", APIKey: "k", InputBudget: 1000}, "input budget"},
		{"anthropic", Config{Provider: "anthropic", APIKey: "k"}, ""},
		{"openai", Config{Provider: "openai", APIKey: "k"}, ""},
		{"gemini", Config{Provider: "gemini", APIKey: "k"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New(%+v) = %v, want error containing %q", tc.cfg, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v) = %v, want success", tc.cfg, err)
			}
			if r.Name() != tc.cfg.Provider {
				t.Errorf("Name() = %q, want %q", r.Name(), tc.cfg.Provider)
			}
			b, ok := r.(review.Budgeted)
			if !ok {
				t.Fatalf("%T is not review.Budgeted", r)
			}
			_, _, total := Defaults(tc.cfg.Provider)
			if got := b.InputBudget(); got <= minDiffBudget || got >= total-review.EstimateTokens(systemPrompt()) {
				t.Errorf("InputBudget() = %d, want above %d and below %d minus the prompt", got, minDiffBudget, total)
			}
		})
	}
}

// R5: the budget left for the diff shrinks with the configured budget.
func TestInputBudgetFollowsConfig(t *testing.T) {
	small, err := NewAnthropic(Config{APIKey: "k", InputBudget: 20000})
	if err != nil {
		t.Fatal(err)
	}
	large, err := NewAnthropic(Config{APIKey: "k", InputBudget: 30000})
	if err != nil {
		t.Fatal(err)
	}
	if d := large.InputBudget() - small.InputBudget(); d != 10000 {
		t.Errorf("InputBudget difference = %d, want 10000", d)
	}
}

func TestDefaults(t *testing.T) {
	cases := []struct {
		provider, url, model string
		budget               int
	}{
		{"anthropic", "https://api.anthropic.com", "claude-sonnet-4-5", 100000},
		{"openai", "https://api.openai.com", "gpt-4.1", 100000},
		{"gemini", "https://generativelanguage.googleapis.com", "gemini-2.5-flash", 100000},
		{"openai-compatible", "", "qwen2.5-coder", 3000},
		{"nope", "", "", 0},
	}
	for _, tc := range cases {
		u, m, b := Defaults(tc.provider)
		if u != tc.url || m != tc.model || b != tc.budget {
			t.Errorf("Defaults(%q) = %q, %q, %d; want %q, %q, %d", tc.provider, u, m, b, tc.url, tc.model, tc.budget)
		}
	}
}

// R1, R3: the rendering of every kind of file change, pinned by a golden file.
func TestRenderDiffGolden(t *testing.T) {
	d := testDiff()
	d.Files = append(d.Files,
		&diff.File{NewPath: "cmd/new.go", Status: diff.Added, Similarity: -1, NewMode: "100644", Hunks: []*diff.Hunk{{
			OldStart: 0, OldLines: 0, NewStart: 1, NewLines: 2,
			Lines: []diff.Line{
				{Kind: diff.Add, Content: "package main", NewLine: 1},
				{Kind: diff.Add, Content: "// no newline", NewLine: 2, NoNewline: true},
			},
		}}},
		&diff.File{OldPath: "old/gone.txt", Status: diff.Deleted, Similarity: -1, Hunks: []*diff.Hunk{{
			OldStart: 1, OldLines: 1, NewStart: 0, NewLines: 0,
			Lines: []diff.Line{{Kind: diff.Delete, Content: "bye", OldLine: 1}},
		}}},
		&diff.File{OldPath: "a.sh", NewPath: "b.sh", Status: diff.Renamed, Similarity: 90, OldMode: "100644", NewMode: "100755", Hunks: []*diff.Hunk{{
			OldStart: 98, OldLines: 2, NewStart: 99, NewLines: 3,
			Lines: []diff.Line{
				{Kind: diff.Context, Content: "echo a", OldLine: 98, NewLine: 99},
				{Kind: diff.Add, Content: "echo b", NewLine: 100},
				{Kind: diff.Context, Content: "echo c", OldLine: 99, NewLine: 101},
			},
		}}},
		&diff.File{OldPath: "odd\nname", NewPath: "odd\nname", Similarity: -1},
	)
	got := RenderDiff(d)
	golden := filepath.Join("testdata", "render.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got != string(want) {
		t.Errorf("RenderDiff() =\n%s\nwant\n%s", got, want)
	}
	if RenderDiff(nil) != "" {
		t.Errorf("RenderDiff(nil) = %q, want empty", RenderDiff(nil))
	}
}

// R6
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	cases := []struct {
		name  string
		h     map[string]string
		wantD time.Duration
	}{
		{"seconds", map[string]string{"Retry-After": "20"}, 20 * time.Second},
		{"fraction", map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond},
		{"http date", map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"date in the past", map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{"milliseconds first", map[string]string{"Retry-After-Ms": "250", "Retry-After": "1"}, 250 * time.Millisecond},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0},
		{"negative", map[string]string{"Retry-After": "-3"}, 0},
		{"absent", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.h {
				h.Set(k, v)
			}
			if got := parseRetryAfter(h, now); got != tc.wantD {
				t.Errorf("parseRetryAfter(%v) = %v, want %v", tc.h, got, tc.wantD)
			}
		})
	}
}

// R6: full jitter stays under a ceiling that doubles up to MaxDelay.
func TestBackoffCeiling(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: 350 * time.Millisecond}.withDefaults()
	for n, ceil := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 350 * time.Millisecond, 9: 350 * time.Millisecond} {
		for i := 0; i < 50; i++ {
			if d := p.backoff(n); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, ceil)
			}
		}
	}
}

// R6: a 429 about money is final; Gemini's RetryInfo sets the wait.
func TestProviderErrorParsing(t *testing.T) {
	quota := openAIStyleError(429, nil, []byte(`{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`))
	if !quota.final || quota.Type != "insufficient_quota" {
		t.Errorf("openAIStyleError(insufficient_quota) = %+v, want final", quota)
	}
	rate := openAIStyleError(429, nil, []byte(`{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`))
	if rate.final || rate.Type != "rate_limit_exceeded" || rate.Message != "slow down" {
		t.Errorf("openAIStyleError(rate_limit_exceeded) = %+v", rate)
	}
	vllm := openAIStyleError(400, nil, []byte(`{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}`))
	if vllm.Message != "bad" || vllm.Type != "BadRequestError" {
		t.Errorf("openAIStyleError(vLLM) = %+v", vllm)
	}
	plain := openAIStyleError(500, nil, []byte(`{"error":"model not loaded"}`))
	if plain.Message != "model not loaded" {
		t.Errorf("openAIStyleError(string) = %+v", plain)
	}
	g := geminiError(429, nil, []byte(`[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}]`))
	if g.RetryAfter != 1500*time.Millisecond || g.Type != "RESOURCE_EXHAUSTED" {
		t.Errorf("geminiError(array) = %+v", g)
	}
	a := anthropicError(529, nil, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	if a.Type != "overloaded_error" || a.Message != "Overloaded" {
		t.Errorf("anthropicError = %+v", a)
	}
}

func TestCleanRedactsAndFlattens(t *testing.T) {
	got := clean("bad key sk-123\nsecond\tline "+strings.Repeat("x", 400), "sk-123", 40)
	if strings.Contains(got, "sk-123") || strings.ContainsAny(got, "\n\t") || len([]rune(got)) != 41 {
		t.Errorf("clean() = %q, want redacted, one line, 40 runes and an ellipsis", got)
	}
}

// R2, R3: the validation of decoded answers.
func TestParseFindings(t *testing.T) {
	files := map[string]bool{"a.go": true}
	const ok = `{"file":"a.go","start_line":3,"end_line":4,"severity":"high","category":"correctness","message":"m","suggestion":"","confidence":0.5}`
	cases := []struct {
		name    string
		payload string
		strict  bool
		want    int    // findings on success
		wantErr string // substring of the problem
	}{
		{"valid", `{"findings":[` + ok + `]}`, true, 1, ""},
		{"empty list", `{"findings":[]}`, true, 0, ""},
		{"file level", `{"findings":[{"file":"a.go","start_line":0,"end_line":0,"severity":"info","category":"other","message":"m","confidence":1}]}`, true, 1, ""},
		{"missing findings", `{}`, true, 0, `"findings" is missing`},
		{"findings not array", `{"findings":{}}`, true, 0, "not an array"},
		{"not JSON", `LGTM`, true, 0, "syntax error"},
		{"cut off", `{"findings":[{"file":"a.go"`, true, 0, "ends early"},
		{"empty", ``, true, 0, "no structured output"},
		{"trailing", `{"findings":[]} {}`, true, 0, "after the JSON"},
		{"unknown field strict", `{"findings":[],"summary":"x"}`, true, 0, `unknown field "summary"`},
		{"unknown field lenient", `{"findings":[],"summary":"x"}`, false, 0, ""},
		{"unknown file", `{"findings":[{"file":"b.go","start_line":1,"end_line":1,"severity":"low","category":"style","message":"m","confidence":0.5}]}`, true, 0, "findings[0].file"},
		{"reversed lines", `{"findings":[{"file":"a.go","start_line":5,"end_line":4,"severity":"low","category":"style","message":"m","confidence":0.5}]}`, true, 0, "end_line"},
		{"negative line", `{"findings":[{"file":"a.go","start_line":-1,"end_line":4,"severity":"low","category":"style","message":"m","confidence":0.5}]}`, true, 0, "negative"},
		{"half file level", `{"findings":[{"file":"a.go","start_line":0,"end_line":4,"severity":"low","category":"style","message":"m","confidence":0.5}]}`, true, 0, "start_line"},
		{"bad severity", `{"findings":[{"file":"a.go","start_line":1,"end_line":1,"severity":"urgent","category":"style","message":"m","confidence":0.5}]}`, true, 0, "severity"},
		{"capital severity strict", `{"findings":[{"file":"a.go","start_line":1,"end_line":1,"severity":"High","category":"style","message":"m","confidence":0.5}]}`, true, 0, "severity"},
		{"capitals lenient", `{"findings":[{"file":"a.go","start_line":1,"end_line":1,"severity":"High","category":"Style","message":"m","confidence":0.5}]}`, false, 1, ""},
		{"bad category", `{"findings":[{"file":"a.go","start_line":1,"end_line":1,"severity":"low","category":"vibes","message":"m","confidence":0.5}]}`, true, 0, "category"},
		{"empty message", `{"findings":[{"file":"a.go","start_line":1,"end_line":1,"severity":"low","category":"style","message":"  ","confidence":0.5}]}`, true, 0, "message"},
		{"confidence range", `{"findings":[{"file":"a.go","start_line":1,"end_line":1,"severity":"low","category":"style","message":"m","confidence":1.5}]}`, true, 0, "confidence"},
		{"missing confidence", `{"findings":[{"file":"a.go","start_line":1,"end_line":1,"severity":"low","category":"style","message":"m"}]}`, true, 0, "confidence: required"},
		{"wrong type", `{"findings":[{"file":"a.go","start_line":"1","end_line":1,"severity":"low","category":"style","message":"m","confidence":0.5}]}`, true, 0, "wrong type"},
		{"fenced lenient", "```json\n{\"findings\":[" + ok + "]}\n```", false, 1, ""},
		{"stringified array lenient", `{"findings":"[` + strings.ReplaceAll(ok, `"`, `\"`) + `]"}`, false, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFindings([]byte(tc.payload), files, tc.strict, "rv")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseFindings(%q) = %v, want error containing %q", tc.payload, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFindings(%q) = %v", tc.payload, err)
			}
			if len(got) != tc.want {
				t.Fatalf("parseFindings(%q) = %d findings, want %d", tc.payload, len(got), tc.want)
			}
			for _, f := range got {
				if len(f.Reviewers) != 1 || f.Reviewers[0] != "rv" {
					t.Errorf("finding reviewers = %v, want [rv]", f.Reviewers)
				}
			}
		})
	}
}

// Problems are shown in errors, so they must not quote the answer.
func TestParseFindingsProblemsDoNotQuoteAnswer(t *testing.T) {
	const secret = "AKIAIOSFODNN7EXAMPLE"
	payloads := []string{
		secret,
		`{"findings":[{"file":"` + secret + `","start_line":1,"end_line":1,"severity":"low","category":"style","message":"m","confidence":0.5}]}`,
		`{"findings":[{"file":"a.go","start_line":1,"end_line":1,"severity":"` + secret + `","category":"style","message":"m","confidence":0.5}]}`,
		`{"findings":[{"file":"a.go","start_line":"` + secret + `","end_line":1}]}`,
	}
	for _, p := range payloads {
		_, err := parseFindings([]byte(p), map[string]bool{"a.go": true}, true, "rv")
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("parseFindings(%q) = %v, want an error that does not quote the answer", p, err)
		}
	}
}

func TestCorrectionWording(t *testing.T) {
	if got := correction(errTruncated); !strings.Contains(got, "cut off") {
		t.Errorf("correction(truncated) = %q", got)
	}
	if got := correction(errors.New("findings[0].severity: bad")); !strings.Contains(got, "findings[0].severity: bad") {
		t.Errorf("correction() = %q, want the problem named", got)
	}
}
