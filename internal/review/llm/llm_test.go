package llm

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/review/llm/llmtest"
)

// R3: each provider's reviewer speaks its API, and the structured answer
// comes back as findings with usage and the model the API reported.
func TestReviewSuccess(t *testing.T) {
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{})
			srv.Script(llmtest.OK(sqlFinding()))
			r, sl := reviewerFor(t, p, srv, nil)
			rep, err := r.Review(context.Background(), testDiff())
			if err != nil {
				t.Fatalf("Review() error = %v", err)
			}
			want := []review.Finding{{
				File: testFile, StartLine: 12, EndLine: 13, Severity: review.High, Category: "security",
				Reviewers: []string{p}, Message: sqlFinding().Message, Suggestion: sqlFinding().Suggestion, Confidence: 0.9,
			}}
			if !reflect.DeepEqual(rep.Findings, want) {
				t.Errorf("Review() findings = %+v, want %+v", rep.Findings, want)
			}
			if got := usageOf(srv); rep.Usage != got || got.InputTokens == 0 || got.OutputTokens == 0 {
				t.Errorf("Review() usage = %+v, want %+v (non-zero)", rep.Usage, got)
			}
			if rep.Model != wantModel(p) {
				t.Errorf("Review() model = %q, want %q", rep.Model, wantModel(p))
			}
			wantSkip := []review.Skipped{{File: "assets/logo.png", Reviewer: p, Reason: "binary file"}}
			if !reflect.DeepEqual(rep.Skipped, wantSkip) {
				t.Errorf("Review() skipped = %+v, want %+v", rep.Skipped, wantSkip)
			}
			if n := srv.Count(); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
			if len(sl.got()) != 0 {
				t.Errorf("sleeps = %v, want none", sl.got())
			}
		})
	}
}

// R3: the model sees new-file line numbers to cite, and deleted lines
// carry none.
func TestPromptHasNewFileLineNumbers(t *testing.T) {
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{})
			r, _ := reviewerFor(t, p, srv, nil)
			if _, err := r.Review(context.Background(), testDiff()); err != nil {
				t.Fatalf("Review() error = %v", err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d, want 1", len(reqs))
			}
			prompt := reqs[0].Prompt()
			for _, want := range []string{
				"File: " + testFile + " (modified)",
				"@@ -10,4 +10,5 @@ func Serve(",
				"  10 | \tq := r.URL.Query()",
				"+ 12 | \tquery := ",
				"+ 13 | \trows, err := db.Query(query)",
				"-    | \trows, err := db.Query(\"SELECT",
				"  14 | \tif err != nil {",
				"File: assets/logo.png (modified, binary, not reviewable)",
				"critical", "maintainability", // severities and categories explained
			} {
				if !strings.Contains(prompt, want) {
					t.Errorf("prompt lacks %q", want)
				}
			}
		})
	}
}

// R6: a 429 is retried after exactly the wait the provider asked for
// (Retry-After, or Gemini's RetryInfo).
func TestRetryHonoursRetryAfter(t *testing.T) {
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{})
			srv.Script(llmtest.RateLimited("7"), llmtest.RateLimited("3"), llmtest.OK(sqlFinding()))
			r, sl := reviewerFor(t, p, srv, nil)
			rep, err := r.Review(context.Background(), testDiff())
			if err != nil {
				t.Fatalf("Review() error = %v", err)
			}
			if len(rep.Findings) != 1 {
				t.Errorf("findings = %d, want 1", len(rep.Findings))
			}
			if got, want := sl.got(), []time.Duration{7 * time.Second, 3 * time.Second}; !reflect.DeepEqual(got, want) {
				t.Errorf("sleeps = %v, want %v", got, want)
			}
			if n := srv.Count(); n != 3 {
				t.Errorf("requests = %d, want 3", n)
			}
		})
	}
}

// R6: overload (529 for Anthropic, 503 elsewhere) and 500 are retried
// with jittered backoff below the growing ceiling.
func TestRetryOverloadedAndServerError(t *testing.T) {
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{})
			srv.Script(llmtest.Overloaded(), llmtest.ServerError(), llmtest.OK())
			r, sl := reviewerFor(t, p, srv, func(c *Config) {
				c.Retry.BaseDelay = 100 * time.Millisecond
				c.Retry.MaxDelay = 150 * time.Millisecond
			})
			if _, err := r.Review(context.Background(), testDiff()); err != nil {
				t.Fatalf("Review() error = %v", err)
			}
			got := sl.got()
			if len(got) != 2 {
				t.Fatalf("sleeps = %v, want 2", got)
			}
			for i, ceil := range []time.Duration{100 * time.Millisecond, 150 * time.Millisecond} {
				if got[i] < 0 || got[i] > ceil {
					t.Errorf("sleep %d = %v, want within [0, %v]", i, got[i], ceil)
				}
			}
			reqs := srv.Requests()
			wantStatus := []int{503, 500, 200}
			if p == ProviderAnthropic {
				wantStatus[0] = 529
			}
			for i, w := range wantStatus {
				if i >= len(reqs) || reqs[i].Status != w {
					t.Fatalf("statuses = %v, want %v", statuses(reqs), wantStatus)
				}
			}
		})
	}
}

func statuses(reqs []llmtest.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

// R6: when every attempt fails the error says so in one safe line.
func TestRetryExhausted(t *testing.T) {
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{})
			srv.Script(llmtest.Overloaded(), llmtest.Overloaded(), llmtest.Overloaded(), llmtest.OK())
			r, _ := reviewerFor(t, p, srv, func(c *Config) { c.Retry.MaxAttempts = 3 })
			_, err := r.Review(context.Background(), testDiff())
			if err == nil {
				t.Fatal("Review() error = nil, want an error")
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || !apiErr.Retryable {
				t.Errorf("Review() error = %v, want a retryable *APIError", err)
			}
			msg := err.Error()
			for _, want := range []string{p + ":", "gave up after 3 attempts", "verloaded"} {
				if !strings.Contains(msg, want) {
					t.Errorf("Review() error = %q, want it to contain %q", msg, want)
				}
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("Review() error = %q, want one line", msg)
			}
			if n := srv.Count(); n != 3 {
				t.Errorf("requests = %d, want 3", n)
			}
		})
	}
}

// R6: a wait that would pass the deadline is not started; the call fails
// at once with a clear error.
func TestRetryAfterBeyondDeadline(t *testing.T) {
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{})
			srv.Script(llmtest.RateLimited("30"), llmtest.OK())
			r, sl := reviewerFor(t, p, srv, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := r.Review(ctx, testDiff())
			if err == nil || !strings.Contains(err.Error(), "would pass the deadline") || !strings.Contains(err.Error(), "429") {
				t.Errorf("Review() error = %v, want a 429 that would pass the deadline", err)
			}
			if len(sl.got()) != 0 {
				t.Errorf("sleeps = %v, want none", sl.got())
			}
			if n := srv.Count(); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
		})
	}
}

// R3: an invalid answer is retried once with a follow-up, then reported
// as a reviewer error.
func TestInvalidAnswerRetriedOnceThenError(t *testing.T) {
	cases := []struct {
		name    string
		answers []llmtest.Answer
	}{
		{"not JSON", []llmtest.Answer{llmtest.Content("Looks good to me!"), llmtest.Content("Still fine.")}},
		{"malformed body", []llmtest.Answer{llmtest.MalformedBody(), llmtest.MalformedBody()}},
		{"schema violation", []llmtest.Answer{
			llmtest.Content(`{"findings":[{"file":"` + testFile + `","start_line":"twelve"}]}`),
			llmtest.OK(llmtest.Finding{File: "nope.go", StartLine: 1, EndLine: 1, Severity: "low", Category: "style", Message: "x", Confidence: 0.5}),
		}},
		{"refusal", []llmtest.Answer{llmtest.Refusal(), llmtest.Refusal()}},
		{"truncated", []llmtest.Answer{llmtest.Truncated(), llmtest.Truncated()}},
	}
	for _, p := range allProviders {
		for _, tc := range cases {
			t.Run(p+"/"+tc.name, func(t *testing.T) {
				srv := fakeFor(t, p, llmtest.Options{})
				srv.Script(tc.answers...)
				srv.Script(llmtest.OK()) // must never be reached
				r, _ := reviewerFor(t, p, srv, nil)
				rep, err := r.Review(context.Background(), testDiff())
				if !errors.Is(err, ErrInvalidAnswer) {
					t.Fatalf("Review() = %+v, %v; want ErrInvalidAnswer", rep, err)
				}
				if !strings.HasPrefix(err.Error(), p+": invalid answer: ") || strings.ContainsAny(err.Error(), "\n\r") {
					t.Errorf("Review() error = %q, want one line starting %q", err, p+": invalid answer: ")
				}
				reqs := srv.Requests()
				if len(reqs) != 2 {
					t.Fatalf("requests = %d, want 2", len(reqs))
				}
				if reqs[1].Status != 200 {
					t.Errorf("follow-up status = %d, want 200 (the fake accepted it)", reqs[1].Status)
				}
				if !strings.Contains(reqs[1].Prompt(), "Your answer was") {
					t.Errorf("follow-up prompt lacks the correction")
				}
			})
		}
	}
}

// R3: after one invalid answer a valid one is accepted, and usage counts
// both calls.
func TestInvalidThenValidAnswer(t *testing.T) {
	bad := sqlFinding()
	bad.Severity = "urgent"
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{})
			srv.Script(llmtest.OK(bad), llmtest.OK(sqlFinding()))
			r, _ := reviewerFor(t, p, srv, nil)
			rep, err := r.Review(context.Background(), testDiff())
			if err != nil {
				t.Fatalf("Review() error = %v", err)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Severity != review.High {
				t.Errorf("findings = %+v, want the one valid finding", rep.Findings)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 {
				t.Fatalf("requests = %d, want 2", len(reqs))
			}
			if got := reqs[1].Prompt(); !strings.Contains(got, "severity: must be one of critical, high") {
				t.Errorf("follow-up does not name the problem")
			}
			if reqs[1].Messages() <= reqs[0].Messages() {
				t.Errorf("follow-up has %d turns, first had %d; want the conversation continued", reqs[1].Messages(), reqs[0].Messages())
			}
			if got := usageOf(srv); rep.Usage != got {
				t.Errorf("usage = %+v, want %+v (both calls)", rep.Usage, got)
			}
		})
	}
}

// R6: a rejected key is not retried, and the error never shows the key,
// even when the server echoes it.
func TestUnauthorizedNotRetried(t *testing.T) {
	const wrongKey = "sk-wrong-0123456789-secret-key-value"
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{APIKey: llmtest.APIKey})
			r, sl := reviewerFor(t, p, srv, func(c *Config) { c.APIKey = wrongKey })
			_, err := r.Review(context.Background(), testDiff())
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("Review() error = %v, want *APIError", err)
			}
			wantStatus := 401
			if p == ProviderGemini {
				wantStatus = 400 // Gemini answers a bad key with INVALID_ARGUMENT
			}
			if apiErr.Status != wantStatus || apiErr.Retryable {
				t.Errorf("Review() error = %+v, want status %d, not retryable", apiErr, wantStatus)
			}
			if strings.Contains(err.Error(), wrongKey) || strings.Contains(err.Error(), "0123456789-secret") {
				t.Errorf("Review() error = %q, contains the key", err)
			}
			if n := srv.Count(); n != 1 || len(sl.got()) != 0 {
				t.Errorf("requests = %d, sleeps = %v; want 1 and none", n, sl.got())
			}
		})
	}
}

// R3: an OpenAI-compatible server without json_schema support gets
// json_object with the schema in the prompt, and the reviewer remembers.
func TestCompatibleFallsBackToJSONObject(t *testing.T) {
	srv := fakeFor(t, ProviderOpenAICompatible, llmtest.Options{RejectJSONSchema: true})
	srv.Script(llmtest.OK(sqlFinding()), llmtest.OK())
	r, _ := reviewerFor(t, ProviderOpenAICompatible, srv, nil)
	for i := 0; i < 2; i++ {
		if _, err := r.Review(context.Background(), testDiff()); err != nil {
			t.Fatalf("Review() #%d error = %v", i, err)
		}
	}
	reqs := srv.Requests()
	var got []string
	for _, rq := range reqs {
		got = append(got, rq.ResponseFormat())
	}
	if want := []string{"json_schema", "json_object", "json_object"}; !reflect.DeepEqual(got, want) {
		t.Errorf("response formats = %v, want %v", got, want)
	}
	if want := []int{400, 200, 200}; !reflect.DeepEqual(statuses(reqs), want) {
		t.Errorf("statuses = %v, want %v", statuses(reqs), want)
	}
	if !strings.Contains(reqs[1].Prompt(), `"start_line"`) {
		t.Errorf("fallback prompt does not spell out the schema")
	}
}

// R4: Review may be called concurrently on one reviewer.
func TestConcurrentReviews(t *testing.T) {
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{RejectJSONSchema: true})
			r, _ := reviewerFor(t, p, srv, nil)
			const n = 8
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := r.Review(context.Background(), testDiff())
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("Review() error = %v", err)
				}
			}
			if got := srv.Count(); got < n {
				t.Errorf("requests = %d, want at least %d", got, n)
			}
		})
	}
}

// R6: cancelling the context ends a call in flight at once.
func TestCancelledContextReturnsPromptly(t *testing.T) {
	for _, p := range allProviders {
		t.Run(p, func(t *testing.T) {
			srv := fakeFor(t, p, llmtest.Options{})
			release := make(chan struct{})
			defer close(release)
			srv.Script(llmtest.Slow(release, llmtest.OK()))
			r, sl := reviewerFor(t, p, srv, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := r.Review(ctx, testDiff())
				done <- err
			}()
			// The call is in flight once the fake holds it; only then cancel.
			for !srv.Holding() {
				time.Sleep(time.Millisecond)
			}
			cancel()
			err := <-done
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Review() error = %v, want context.Canceled", err)
			}
			if len(sl.got()) != 0 {
				t.Errorf("sleeps = %v, want none", sl.got())
			}
		})
	}
}

// R5: a chunk with nothing a model could read costs no call.
func TestNothingReviewableMakesNoCall(t *testing.T) {
	srv := fakeFor(t, ProviderAnthropic, llmtest.Options{})
	r, _ := reviewerFor(t, ProviderAnthropic, srv, nil)
	d := &diff.Diff{Files: []*diff.File{{OldPath: "a.bin", NewPath: "a.bin", Binary: true}}}
	rep, err := r.Review(context.Background(), d)
	if err != nil {
		t.Fatalf("Review() error = %v", err)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].File != "a.bin" {
		t.Errorf("skipped = %+v, want a.bin", rep.Skipped)
	}
	if srv.Count() != 0 {
		t.Errorf("requests = %d, want 0", srv.Count())
	}
}

// R6: network failures are retried like provider faults.
func TestNetworkErrorRetried(t *testing.T) {
	srv := fakeFor(t, ProviderOpenAI, llmtest.Options{})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // nothing listens there any more
	r, sl := reviewerFor(t, ProviderOpenAI, srv, func(c *Config) {
		c.BaseURL = dead.URL
		c.Retry.MaxAttempts = 3
	})
	_, err := r.Review(context.Background(), testDiff())
	if err == nil || !strings.Contains(err.Error(), "request failed") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("Review() error = %v, want a network failure after 3 attempts", err)
	}
	if got := len(sl.got()); got != 2 {
		t.Errorf("sleeps = %d, want 2", got)
	}
}

// R6: without a deadline, a provider asking for a very long wait is a
// failure now rather than a stuck review.
func TestVeryLongRetryAfterFailsWithoutDeadline(t *testing.T) {
	srv := fakeFor(t, ProviderAnthropic, llmtest.Options{})
	srv.Script(llmtest.RateLimited("3600"))
	r, sl := reviewerFor(t, ProviderAnthropic, srv, nil)
	_, err := r.Review(context.Background(), testDiff())
	if err == nil || !strings.Contains(err.Error(), "asks to wait 1h0m0s") {
		t.Errorf("Review() error = %v, want the long wait refused", err)
	}
	if len(sl.got()) != 0 || srv.Count() != 1 {
		t.Errorf("sleeps = %v, requests = %d; want none and 1", sl.got(), srv.Count())
	}
}

// Answers are read with a size cap.
func TestOversizedAnswerRefused(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := strings.Repeat(" ", 1<<20)
		for i := 0; i < 9; i++ {
			io.WriteString(w, chunk)
		}
	}))
	t.Cleanup(big.Close)
	r, _ := reviewerFor(t, ProviderOpenAICompatible, &llmtest.Server{URL: big.URL + "/v1"}, nil)
	_, err := r.Review(context.Background(), testDiff())
	if err == nil || !strings.Contains(err.Error(), "answer larger than") {
		t.Errorf("Review() error = %v, want the answer refused for size", err)
	}
}
