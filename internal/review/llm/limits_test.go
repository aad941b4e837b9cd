package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/review/llm/llmtest"
)

// R6: a provider address that redirects never gets the key or the diff
// to the redirect's target, with the default client or the caller's, and
// the caller's client is not changed.
func TestRedirectNotFollowed(t *testing.T) {
	for _, p := range allProviders {
		for _, own := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/own client %v", p, own), func(t *testing.T) {
				var elsewhere atomic.Int32
				target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					elsewhere.Add(1)
					w.WriteHeader(http.StatusOK)
				}))
				t.Cleanup(target.Close)
				var asked atomic.Int32
				redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					asked.Add(1)
					http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
				}))
				t.Cleanup(redirector.Close)

				cfg := Config{Provider: p, APIKey: llmtest.APIKey, BaseURL: redirector.URL, Retry: RetryPolicy{Sleep: (&sleeps{}).sleep}}
				if p == ProviderOpenAICompatible {
					cfg.BaseURL += "/v1"
				}
				var mine *http.Client
				if own {
					mine = &http.Client{}
					cfg.HTTPClient = mine
				}
				r, err := New(cfg)
				if err != nil {
					t.Fatalf("New(%s) = %v", p, err)
				}
				_, err = r.Review(context.Background(), testDiff())
				var apiErr *APIError
				if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTemporaryRedirect || apiErr.Retryable {
					t.Fatalf("Review() error = %v, want a non-retryable APIError with status 307", err)
				}
				if msg := err.Error(); !strings.Contains(msg, "redirect") || strings.Contains(msg, llmtest.APIKey) ||
					strings.Contains(msg, target.URL) || strings.Contains(msg, "\n") {
					t.Errorf("Review() error = %q, want one line naming the redirect, without key or target", msg)
				}
				if n := elsewhere.Load(); n != 0 {
					t.Errorf("redirect target received %d requests, want 0", n)
				}
				if n := asked.Load(); n != 1 {
					t.Errorf("provider address received %d requests, want 1 (a redirect is not retried)", n)
				}
				if own && mine.CheckRedirect != nil {
					t.Errorf("caller's HTTPClient.CheckRedirect was set, want it left nil")
				}
			})
		}
	}
}

// R5: each provider asks for its default answer cap: openai-compatible a
// small one that fits a local context window beside the prompt, Gemini a
// large one that leaves room after thinking.
func TestDefaultMaxOutputTokensSent(t *testing.T) {
	cases := []struct {
		provider string
		path     []string // where the cap sits in the request body
		want     int
	}{
		{ProviderAnthropic, []string{"max_tokens"}, 8192},
		{ProviderOpenAI, []string{"max_completion_tokens"}, 8192},
		{ProviderGemini, []string{"generationConfig", "maxOutputTokens"}, 16384},
		{ProviderOpenAICompatible, []string{"max_tokens"}, 1536},
	}
	for _, tc := range cases {
		t.Run(tc.provider, func(t *testing.T) {
			if got := DefaultMaxOutputTokens(tc.provider); got != tc.want {
				t.Errorf("DefaultMaxOutputTokens(%q) = %d, want %d", tc.provider, got, tc.want)
			}
			srv := fakeFor(t, tc.provider, llmtest.Options{})
			r, _ := reviewerFor(t, tc.provider, srv, nil)
			if _, err := r.Review(context.Background(), testDiff()); err != nil {
				t.Fatalf("Review() error = %v", err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d, want 1", len(reqs))
			}
			var v any = reqs[0].Body
			for _, k := range tc.path {
				m, _ := v.(map[string]any)
				v = m[k]
			}
			if got := fmt.Sprint(v); got != fmt.Sprint(tc.want) {
				t.Errorf("request %v = %v, want %d", tc.path, v, tc.want)
			}
		})
	}
}

// R5: with the openai-compatible defaults, a chunk that fills the input
// budget gives a prompt within the 3000-token budget, and with the
// 1536-token answer it fits Ollama's default 4096-token window once the
// estimate's over-count (three bytes a token; code runs nearer four) is
// taken out.
func TestCompatibleDefaultsFitLocalContext(t *testing.T) {
	const ollamaWindow = 4096
	srv := fakeFor(t, ProviderOpenAICompatible, llmtest.Options{})
	r, _ := reviewerFor(t, ProviderOpenAICompatible, srv, nil)
	budget := r.(review.Budgeted).InputBudget()
	if budget < minDiffBudget {
		t.Fatalf("InputBudget() = %d, want at least %d", budget, minDiffBudget)
	}
	h := &diff.Hunk{NewStart: 1}
	d := &diff.Diff{Files: []*diff.File{{NewPath: testFile, Status: diff.Added, Similarity: -1, Hunks: []*diff.Hunk{h}}}}
	for n := 1; ; n++ {
		h.Lines = append(h.Lines, diff.Line{Kind: diff.Add, Content: "\tif err := s.db.QueryRowContext(ctx, q, id).Scan(&v); err != nil {", NewLine: n})
		h.NewLines = n
		if review.EstimateTokens(RenderDiff(d)) > budget {
			h.Lines, h.NewLines = h.Lines[:n-1], n-1
			break
		}
	}
	if _, err := r.Review(context.Background(), d); err != nil {
		t.Fatalf("Review() error = %v", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	prompt := review.EstimateTokens(reqs[0].Prompt())
	if prompt > defaultLocalBudget {
		t.Errorf("prompt of a full chunk = %d estimated tokens, want at most %d", prompt, defaultLocalBudget)
	}
	maxOut, err := strconv.Atoi(fmt.Sprint(reqs[0].Body["max_tokens"]))
	if err != nil {
		t.Fatalf("request max_tokens = %v, want a number", reqs[0].Body["max_tokens"])
	}
	if real := prompt*3/4 + maxOut; real > ollamaWindow {
		t.Errorf("prompt (~%d real tokens) + max_tokens %v = %d, want at most %d", prompt*3/4, maxOut, real, ollamaWindow)
	}
}

// R3: a Gemini model before 2.5 gets the cap its API accepts (8192), as
// the 16384 of the thinking models is refused there.
func TestGeminiOlderModelCap(t *testing.T) {
	srv := fakeFor(t, ProviderGemini, llmtest.Options{})
	r, _ := reviewerFor(t, ProviderGemini, srv, func(c *Config) { c.Model = "gemini-2.0-flash" })
	if _, err := r.Review(context.Background(), testDiff()); err != nil {
		t.Fatalf("Review(gemini-2.0-flash) error = %v", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	gc, _ := reqs[0].Body["generationConfig"].(map[string]any)
	if got := fmt.Sprint(gc["maxOutputTokens"]); got != "8192" {
		t.Errorf("maxOutputTokens = %s, want 8192", got)
	}
}

// R5: the Chat Completions body each flavour sends: openai-compatible asks
// for temperature 0 and max_tokens; OpenAI sends max_completion_tokens and
// no temperature (reasoning models reject any but 1); both carry the
// model, the two messages and the json_schema response format.
func TestChatRequestFields(t *testing.T) {
	for _, tc := range []struct {
		provider string
		want     []string // keys, sorted
	}{
		{ProviderOpenAICompatible, []string{"max_tokens", "messages", "model", "response_format", "temperature"}},
		{ProviderOpenAI, []string{"max_completion_tokens", "messages", "model", "response_format"}},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			srv := fakeFor(t, tc.provider, llmtest.Options{})
			r, _ := reviewerFor(t, tc.provider, srv, nil)
			if _, err := r.Review(context.Background(), testDiff()); err != nil {
				t.Fatalf("Review() error = %v", err)
			}
			body := srv.Requests()[0].Body
			var keys []string
			for k := range body {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.want) {
				t.Errorf("request keys = %v, want %v", keys, tc.want)
			}
			if tc.provider == ProviderOpenAICompatible && fmt.Sprint(body["temperature"]) != "0" {
				t.Errorf("temperature = %v, want 0", body["temperature"])
			}
			rf, _ := body["response_format"].(map[string]any)
			msgs, _ := body["messages"].([]any)
			if rf["type"] != "json_schema" || len(msgs) != 2 {
				t.Errorf("response_format %v, %d messages; want json_schema and 2", rf, len(msgs))
			}
		})
	}
}
