// Package llm holds the reviewers that ask a large language model for
// findings: Anthropic (Messages API), OpenAI (Chat Completions), Gemini
// (generateContent) and any OpenAI-compatible server (Ollama, vLLM,
// LM Studio). They speak plain HTTP, ask for structured JSON against one
// findings schema, validate the answer, and retry provider faults (R3, R6).
//
// Nothing here logs. Errors are one line and safe to show: they name the
// provider, the HTTP status and the provider's error type and message, and
// never carry the API key or any part of the diff.
package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
)

// Provider names as the user writes them.
const (
	ProviderAnthropic        = "anthropic"
	ProviderOpenAI           = "openai"
	ProviderGemini           = "gemini"
	ProviderOpenAICompatible = "openai-compatible"
)

const (
	defaultCloudBudget = 100000
	// A local server's context window holds the prompt and the answer
	// together, and Ollama's default window is 4096 tokens: it silently
	// drops the start of a prompt that does not fit. 3000 estimated tokens
	// (review.EstimateTokens over-counts) plus 1536 of answer fit in it.
	defaultLocalBudget    = 3000
	defaultLocalMaxOutput = 1536
	defaultMaxOutput      = 8192
	// Gemini 2.5 models think before they answer, and thinking counts
	// against maxOutputTokens: at 8192 a large chunk can end in MAX_TOKENS
	// before any findings are written.
	defaultGeminiMaxOutput = 16384
	minDiffBudget          = 500
	promptFramingTokens    = 256 // user-message wording around the diff, and slack
)

// ErrInvalidAnswer marks a model answer that stayed invalid (bad JSON,
// schema violation, refusal, truncation) after one corrective follow-up.
var ErrInvalidAnswer = errors.New("invalid answer")

// Config configures one LLM reviewer. Zero fields take the provider's
// defaults (see Defaults).
type Config struct {
	// Provider is one of anthropic, openai, gemini, openai-compatible.
	Provider string
	// APIKey is required for the cloud providers and optional for
	// openai-compatible servers.
	APIKey string
	// BaseURL overrides the provider's address. For openai-compatible it
	// is required and includes the version path (http://localhost:11434/v1).
	BaseURL string
	Model   string
	// MaxOutputTokens caps the model's answer (see DefaultMaxOutputTokens).
	MaxOutputTokens int
	// InputBudget is the model's input budget in estimated tokens; the
	// reviewer's InputBudget method reports what is left of it for diff
	// text after the prompt.
	InputBudget int
	// HTTPClient defaults to a client without a timeout; deadlines come
	// from the context of each Review call. The reviewer uses a copy that
	// never follows redirects: a 3xx answer is a non-retryable APIError.
	HTTPClient *http.Client
	Retry      RetryPolicy
}

// Defaults returns a provider's default base URL, model and input budget
// in estimated tokens: 100000 for the cloud providers, 3000 for
// openai-compatible, whose local servers often run with a 4096-token
// context window that must also hold the answer (DefaultMaxOutputTokens).
// The base URL of openai-compatible is empty because it has none.
func Defaults(provider string) (baseURL, model string, budget int) {
	switch provider {
	case ProviderAnthropic:
		return "https://api.anthropic.com", "claude-sonnet-4-5", defaultCloudBudget
	case ProviderOpenAI:
		return "https://api.openai.com", "gpt-4.1", defaultCloudBudget
	case ProviderGemini:
		return "https://generativelanguage.googleapis.com", "gemini-2.5-flash", defaultCloudBudget
	case ProviderOpenAICompatible:
		return "", "qwen2.5-coder", defaultLocalBudget
	}
	return "", "", 0
}

// DefaultMaxOutputTokens returns a provider's default cap on the model's
// answer: 8192 for Anthropic and OpenAI, 16384 for Gemini (the thinking
// of its 2.5 models counts against the cap; models before 2.5 get 8192,
// their limit), 1536 for openai-compatible (the answer shares a small
// local context window with the prompt). A thinkingBudget is not set
// instead: its valid range differs by model (2.5 Pro cannot turn
// thinking off) and later models take a thinkingLevel.
func DefaultMaxOutputTokens(provider string) int {
	switch provider {
	case ProviderGemini:
		return defaultGeminiMaxOutput
	case ProviderOpenAICompatible:
		return defaultLocalMaxOutput
	}
	return defaultMaxOutput
}

// New builds the reviewer named by cfg.Provider.
func New(cfg Config) (review.Reviewer, error) {
	switch cfg.Provider {
	case ProviderAnthropic:
		return NewAnthropic(cfg)
	case ProviderOpenAI:
		return NewOpenAI(cfg)
	case ProviderGemini:
		return NewGemini(cfg)
	case ProviderOpenAICompatible:
		return NewOpenAICompatible(cfg)
	}
	return nil, fmt.Errorf("llm: unknown provider %q (want anthropic, openai, gemini or openai-compatible)", cfg.Provider)
}

// base is what every provider shares. It is immutable after construction,
// so Review may run concurrently.
type base struct {
	name    string
	model   string
	key     string
	baseURL string
	maxOut  int
	budget  int // estimated tokens left for diff text
	client  *http.Client
	retry   RetryPolicy
}

// newBase applies defaults. keyEnv names the environment variable the CLI
// reads the key from, so a missing key can be reported usefully; empty
// means the key is optional. fixedPrompt is everything sent besides the
// diff (system prompt, schema) and is subtracted from the budget.
func newBase(cfg Config, name, keyEnv string, fixedPrompt ...string) (base, error) {
	defURL, defModel, defBudget := Defaults(name)
	b := base{
		name:    name,
		model:   cfg.Model,
		key:     strings.TrimSpace(cfg.APIKey),
		baseURL: strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/"),
		maxOut:  cfg.MaxOutputTokens,
		client:  withoutRedirects(cfg.HTTPClient),
		retry:   cfg.Retry.withDefaults(),
	}
	if keyEnv != "" && b.key == "" {
		return base{}, fmt.Errorf("%s: no API key (set %s)", name, keyEnv)
	}
	if b.model == "" {
		b.model = defModel
	}
	if b.baseURL == "" {
		b.baseURL = defURL
	}
	if b.maxOut <= 0 {
		b.maxOut = DefaultMaxOutputTokens(name)
	}
	total := cfg.InputBudget
	if total <= 0 {
		total = defBudget
	}
	b.budget = total - promptFramingTokens
	for _, p := range fixedPrompt {
		b.budget -= review.EstimateTokens(p)
	}
	if b.budget < minDiffBudget {
		return base{}, fmt.Errorf("%s: input budget of %d tokens leaves too little room for a diff after the prompt", name, total)
	}
	return b, nil
}

// withoutRedirects returns a copy of c (or of a default client) that never
// follows a redirect. Go drops only Authorization and Cookie when it
// follows one to another host, so x-api-key, x-goog-api-key and the body,
// which holds the diff, would reach whoever the redirect names. The
// caller's client is left as it is: it may serve other requests.
func withoutRedirects(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	} else {
		cp.Transport = defaultTransport()
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// defaultTransport is http.DefaultTransport keeping more idle connections
// per host: chunks of a large diff (and a server's concurrent reviews) go to
// one provider host at once, and the default of 2 would open and close a
// connection for most of them.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// trimVersion lets a base URL be given with or without its /v1 suffix,
// as SDKs and proxies spell it both ways.
func trimVersion(u string) string { return strings.TrimSuffix(u, "/v1") }

func (b *base) Name() string { return b.name }

// InputBudget is the number of estimated tokens (review.EstimateTokens)
// of RenderDiff output one Review call can take.
func (b *base) InputBudget() int { return b.budget }

// turn is one answer of the model.
type turn struct {
	// payload is the JSON text that should hold the findings object.
	payload []byte
	usage   review.Usage
	model   string
	// problem is set when the answer cannot hold valid findings whatever
	// its payload (refusal, truncation, no structured output).
	problem error
	// reply is the provider's own form of the answer, for the follow-up.
	reply any
}

// conversation is one Review call's exchange with a provider.
type conversation interface {
	// send sends the conversation so far; provider faults are retried
	// inside, so an error here is final.
	send(ctx context.Context) (turn, error)
	// correct appends the invalid answer and a follow-up naming the problem.
	correct(t turn, problem error)
}

// reviewWith runs the shared protocol: ask, validate, correct once.
func (b *base) reviewWith(ctx context.Context, d *diff.Diff, strict bool, start func(prompt string) conversation) (*review.Report, error) {
	rep := &review.Report{Findings: []review.Finding{}}
	files := map[string]bool{}
	reviewable := 0
	if d != nil {
		for _, f := range d.Files {
			files[f.Path()] = true
			if f.Binary {
				rep.Skipped = append(rep.Skipped, review.Skipped{File: f.Path(), Reviewer: b.name, Reason: "binary file"})
				continue
			}
			if len(f.Hunks) > 0 {
				reviewable++
			}
		}
	}
	if reviewable == 0 {
		// Nothing a model could cite: spare the call and its cost.
		return rep, nil
	}
	conv := start(userPrompt(d))
	for attempt := 0; ; attempt++ {
		t, err := conv.send(ctx)
		if err != nil {
			return nil, err
		}
		rep.Usage.Add(t.usage)
		if t.model != "" {
			rep.Model = t.model
		}
		problem := t.problem
		var found []review.Finding
		if problem == nil {
			found, problem = parseFindings(t.payload, files, strict, b.name)
		}
		if problem == nil {
			rep.Findings = found
			return rep, nil
		}
		if attempt == 1 {
			return nil, fmt.Errorf("%s: %w: %v", b.name, ErrInvalidAnswer, problem)
		}
		conv.correct(t, problem)
	}
}
