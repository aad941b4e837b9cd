// Package llmtest provides wire-faithful fakes of the LLM provider APIs
// for tests: httptest servers that check each request the way the real
// API does (method, path, auth, version header, content type, body shape,
// structured-output settings), answer faults in the provider's own error
// format, and play scripted answers.
package llmtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// APIKey is the only key the fakes accept.
const APIKey = "dg-test-0123456789abcdef-provider-key"

// Provider names, as the llm package spells them.
const (
	Anthropic        = "anthropic"
	OpenAI           = "openai"
	Gemini           = "gemini"
	OpenAICompatible = "openai-compatible"
)

// Finding is one finding as the model writes it on the wire. Fields are
// plain so that a test can script invalid values too.
type Finding struct {
	File       string  `json:"file"`
	StartLine  int     `json:"start_line"`
	EndLine    int     `json:"end_line"`
	Severity   string  `json:"severity"`
	Category   string  `json:"category"`
	Message    string  `json:"message"`
	Suggestion string  `json:"suggestion"`
	Confidence float64 `json:"confidence"`
}

type answerKind int

const (
	kindOK answerKind = iota
	kindContent
	kindRateLimited
	kindOverloaded
	kindServerError
	kindMalformedBody
	kindRefusal
	kindTruncated
	kindSlow
)

// Answer is one scripted answer of a fake.
type Answer struct {
	kind       answerKind
	findings   []Finding
	content    string
	retryAfter string
	release    <-chan struct{}
	then       *Answer
}

// OK answers successfully with the findings, in the provider's real
// response envelope with usage.
func OK(findings ...Finding) Answer { return Answer{kind: kindOK, findings: findings} }

// Content answers successfully with raw as the model's text: use it for
// answers that are not JSON or violate the findings schema. For Anthropic
// a JSON object becomes the tool input; anything else becomes a text
// block with no tool call, as the API never sends malformed tool input.
func Content(raw string) Answer { return Answer{kind: kindContent, content: raw} }

// RateLimited answers 429. retryAfter is sent as the Retry-After header
// ("2" or an HTTP-date; empty for none), or for Gemini as the retryDelay
// of a google.rpc.RetryInfo detail when it is a number of seconds.
func RateLimited(retryAfter string) Answer {
	return Answer{kind: kindRateLimited, retryAfter: retryAfter}
}

// Overloaded answers 529 overloaded_error (Anthropic) or 503.
func Overloaded() Answer { return Answer{kind: kindOverloaded} }

// ServerError answers 500.
func ServerError() Answer { return Answer{kind: kindServerError} }

// MalformedBody answers 200 with a body that is not valid JSON.
func MalformedBody() Answer { return Answer{kind: kindMalformedBody} }

// Refusal answers with the provider's refusal: an OpenAI refusal message,
// Anthropic stop_reason "refusal", a Gemini prompt block.
func Refusal() Answer { return Answer{kind: kindRefusal} }

// Truncated answers with output cut off at the token limit.
func Truncated() Answer { return Answer{kind: kindTruncated} }

// Slow holds the request until release is closed (then answers with then)
// or the client gives up.
func Slow(release <-chan struct{}, then Answer) Answer {
	return Answer{kind: kindSlow, release: release, then: &then}
}

// Options tune a fake.
type Options struct {
	// APIKey, for openai-compatible only, makes the server require this
	// bearer key; empty accepts any or none, as local servers do.
	APIKey string
	// RejectJSONSchema makes an openai-compatible server refuse
	// response_format json_schema with 400, like servers without support.
	RejectJSONSchema bool
	// Model overrides the model name the fake reports.
	Model string
}

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	// Body is the decoded JSON body (nil when it did not decode).
	Body map[string]any
	// Status is what the fake answered.
	Status int
	// InputTokens and OutputTokens are the usage the fake reported.
	InputTokens, OutputTokens int
}

// Server is a fake provider API.
type Server struct {
	// URL is the base URL to configure the reviewer with. For
	// openai-compatible it includes /v1, as users write it.
	URL      string
	Provider string

	opts Options
	hs   *httptest.Server

	mu      sync.Mutex
	script  []Answer
	reqs    []Request
	holding int
}

// NewAnthropic starts a fake Anthropic Messages API.
func NewAnthropic(t testing.TB) *Server { return New(t, Anthropic, Options{}) }

// NewOpenAI starts a fake OpenAI Chat Completions API.
func NewOpenAI(t testing.TB) *Server { return New(t, OpenAI, Options{}) }

// NewGemini starts a fake Gemini API.
func NewGemini(t testing.TB) *Server { return New(t, Gemini, Options{}) }

// NewOpenAICompatible starts a fake OpenAI-compatible server.
func NewOpenAICompatible(t testing.TB, opts Options) *Server {
	return New(t, OpenAICompatible, opts)
}

// New starts a fake of provider; it is closed when the test ends.
func New(t testing.TB, provider string, opts Options) *Server {
	t.Helper()
	switch provider {
	case Anthropic, OpenAI, Gemini, OpenAICompatible:
	default:
		t.Fatalf("llmtest.New: unknown provider %q", provider)
	}
	s := &Server{Provider: provider, opts: opts}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.hs.Close)
	s.URL = s.hs.URL
	if provider == OpenAICompatible {
		s.URL += "/v1"
	}
	return s
}

// Script queues answers for the next requests that pass the checks. When
// the queue is empty the fake answers OK with no findings.
func (s *Server) Script(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, answers...)
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count is the number of requests received so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func (s *Server) next() Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		return OK()
	}
	a := s.script[0]
	s.script = s.script[1:]
	return a
}

// failure is a request the real API would turn down.
type failure struct {
	status int
	typ    string // Anthropic error.type, OpenAI error.type, Gemini error.status
	code   string // OpenAI error.code
	param  string // OpenAI error.param
	msg    string
	detail []any // Gemini error.details
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&body) == nil {
		rec.Body = body
	}
	var f *failure
	switch s.Provider {
	case Anthropic:
		f = checkAnthropic(r, raw, body)
	case OpenAI:
		f = checkChat(r, raw, body, true, "")
	case OpenAICompatible:
		f = checkChat(r, raw, body, false, s.opts.APIKey)
		if f == nil && s.opts.RejectJSONSchema && responseFormatType(body) == "json_schema" {
			f = &failure{status: 400, typ: "invalid_request_error", param: "response_format",
				msg: "response_format type 'json_schema' is not supported by this server"}
		}
	case Gemini:
		f = checkGemini(r, body)
	}
	if f != nil {
		rec.Status = f.status
		s.record(rec)
		s.writeFailure(w, f)
		return
	}
	a := s.next()
	if a.kind == kindSlow {
		s.hold(1)
		select {
		case <-a.release:
			s.hold(-1)
			a = *a.then
		case <-r.Context().Done():
			s.hold(-1)
			rec.Status = 499 // client closed the request
			s.record(rec)
			return
		}
	}
	s.answer(w, r, a, body, &rec)
	s.record(rec)
}

func (s *Server) hold(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holding += n
}

// Holding reports whether a Slow answer is holding a request right now.
func (s *Server) Holding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holding > 0
}

func (s *Server) record(rec Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, rec)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, a Answer, body map[string]any, rec *Request) {
	switch a.kind {
	case kindRateLimited:
		rec.Status = http.StatusTooManyRequests
		s.writeRateLimited(w, a.retryAfter)
		return
	case kindOverloaded:
		f := s.overloaded()
		rec.Status = f.status
		s.writeFailure(w, f)
		return
	case kindServerError:
		f := s.serverError()
		rec.Status = f.status
		s.writeFailure(w, f)
		return
	case kindMalformedBody:
		rec.Status = http.StatusOK
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"id":"resp_1","choices":[{"message":{"content":"{\"findings\":[`)
		return
	}
	var env any
	switch s.Provider {
	case Anthropic:
		env = s.anthropicAnswer(a, body, len(bodyText(body)), rec)
	case OpenAI, OpenAICompatible:
		env = s.chatAnswer(a, body, len(bodyText(body)), rec)
	case Gemini:
		env = s.geminiAnswer(a, r, len(bodyText(body)), rec)
	}
	rec.Status = http.StatusOK
	writeJSON(w, http.StatusOK, env)
}

// findingsJSON is the model text of an answer.
func findingsJSON(a Answer) string {
	if a.kind == kindContent {
		return a.content
	}
	fs := a.findings
	if fs == nil {
		fs = []Finding{}
	}
	b, _ := json.Marshal(map[string]any{"findings": fs})
	return string(b)
}

// tokens is the fakes' stand-in tokenizer: deterministic and roughly
// the size of real counts.
func tokens(n int) int { return n/4 + 1 }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) writeFailure(w http.ResponseWriter, f *failure) {
	switch s.Provider {
	case Anthropic:
		w.Header().Set("request-id", "req_011CTest")
		writeJSON(w, f.status, map[string]any{
			"type":       "error",
			"error":      map[string]any{"type": f.typ, "message": f.msg},
			"request_id": "req_011CTest",
		})
	case OpenAI, OpenAICompatible:
		writeJSON(w, f.status, map[string]any{"error": map[string]any{
			"message": f.msg, "type": f.typ, "param": nullable(f.param), "code": nullable(f.code),
		}})
	case Gemini:
		e := map[string]any{"code": f.status, "message": f.msg, "status": f.typ}
		if f.detail != nil {
			e["details"] = f.detail
		}
		writeJSON(w, f.status, map[string]any{"error": e})
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) writeRateLimited(w http.ResponseWriter, retryAfter string) {
	switch s.Provider {
	case Anthropic:
		if retryAfter != "" {
			w.Header().Set("retry-after", retryAfter)
		}
		w.Header().Set("anthropic-ratelimit-requests-remaining", "0")
		s.writeFailure(w, &failure{status: 429, typ: "rate_limit_error",
			msg: "This request would exceed the rate limit for your organization of 50 requests per minute."})
	case OpenAI, OpenAICompatible:
		if retryAfter != "" {
			w.Header().Set("retry-after", retryAfter)
		}
		w.Header().Set("x-ratelimit-remaining-requests", "0")
		s.writeFailure(w, &failure{status: 429, typ: "requests", code: "rate_limit_exceeded",
			msg: "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1."})
	case Gemini:
		details := []any{map[string]any{
			"@type": "type.googleapis.com/google.rpc.QuotaFailure",
			"violations": []any{map[string]any{
				"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
				"quotaId":     "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
			}},
		}}
		if retryAfter != "" && isDigits(retryAfter) {
			details = append(details, map[string]any{
				"@type":      "type.googleapis.com/google.rpc.RetryInfo",
				"retryDelay": retryAfter + "s",
			})
		}
		s.writeFailure(w, &failure{status: 429, typ: "RESOURCE_EXHAUSTED", detail: details,
			msg: "You exceeded your current quota, please check your plan and billing details."})
	}
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func (s *Server) overloaded() *failure {
	switch s.Provider {
	case Anthropic:
		return &failure{status: 529, typ: "overloaded_error", msg: "Overloaded"}
	case Gemini:
		return &failure{status: 503, typ: "UNAVAILABLE", msg: "The model is overloaded. Please try again later."}
	}
	return &failure{status: 503, typ: "server_error", msg: "The engine is currently overloaded, please try again later."}
}

func (s *Server) serverError() *failure {
	switch s.Provider {
	case Anthropic:
		return &failure{status: 500, typ: "api_error", msg: "Internal server error"}
	case Gemini:
		return &failure{status: 500, typ: "INTERNAL", msg: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"}
	}
	return &failure{status: 500, typ: "server_error", msg: "The server had an error while processing your request. Sorry about that!"}
}

// Prompt is all the text the request sent to the model: system prompt and
// every message, whatever the provider's body shape.
func (r Request) Prompt() string { return bodyText(r.Body) }

// ResponseFormat is the response_format type of a Chat Completions
// request ("json_schema", "json_object"), empty for other providers.
func (r Request) ResponseFormat() string { return responseFormatType(r.Body) }

// Messages is the number of conversation turns sent (messages or contents).
func (r Request) Messages() int {
	for _, k := range []string{"messages", "contents"} {
		if l, ok := r.Body[k].([]any); ok {
			return len(l)
		}
	}
	return 0
}

func responseFormatType(body map[string]any) string {
	rf, _ := body["response_format"].(map[string]any)
	t, _ := rf["type"].(string)
	return t
}

// bodyText collects every "text" and "content" string and the system
// prompt, skipping schemas so that only what the model reads is counted.
func bodyText(body map[string]any) string {
	var b strings.Builder
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case string:
			if key == "text" || key == "content" || key == "system" {
				b.WriteString(x)
				b.WriteByte('\n')
			}
		case []any:
			for _, e := range x {
				walk(e, key)
			}
		case map[string]any:
			for k, e := range x {
				if k == "tools" || k == "response_format" || k == "generationConfig" || k == "input" {
					continue
				}
				walk(e, k)
			}
		}
	}
	for _, k := range []string{"system", "systemInstruction", "messages", "contents"} {
		if v, ok := body[k]; ok {
			walk(v, k)
		}
	}
	return b.String()
}

func unknownKeys(m map[string]any, allowed ...string) []string {
	var out []string
	for k := range m {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, k)
		}
	}
	return out
}

func jsonContentType(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json")
}

func positiveInt(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	i, err := n.Int64()
	return err == nil && i > 0
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func mask(key string) string {
	if len(key) <= 8 {
		return "****"
	}
	return key[:3] + strings.Repeat("*", 4) + key[len(key)-4:]
}
