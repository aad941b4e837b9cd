package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
)

// OpenAI reviews with OpenAI Chat Completions and strict Structured
// Outputs (response_format json_schema).
type OpenAI struct {
	chat
}

// OpenAICompatible reviews with any server that speaks Chat Completions
// (Ollama, vLLM, LM Studio). It asks for json_schema output and, when the
// server says it does not support that, falls back to json_object with
// the schema spelled out in the prompt for the rest of its life.
type OpenAICompatible struct {
	chat
	jsonObject atomic.Bool
}

var (
	_ review.Reviewer = (*OpenAI)(nil)
	_ review.Budgeted = (*OpenAI)(nil)
	_ review.Reviewer = (*OpenAICompatible)(nil)
	_ review.Budgeted = (*OpenAICompatible)(nil)
)

// chat is what both Chat Completions reviewers share.
type chat struct {
	base
	url    string
	system string
	format json.RawMessage // response_format for json_schema
	// compat selects max_tokens (which every compatible server knows) over
	// max_completion_tokens, and lenient validation.
	compat bool
}

// NewOpenAI builds the OpenAI reviewer.
func NewOpenAI(cfg Config) (*OpenAI, error) {
	system := systemPrompt()
	format := mustJSON(map[string]any{
		"type": "json_schema",
		"json_schema": map[string]any{
			"name":   "findings",
			"strict": true,
			"schema": findingsSchema(true),
		},
	})
	b, err := newBase(cfg, ProviderOpenAI, "OPENAI_API_KEY", system, string(format))
	if err != nil {
		return nil, err
	}
	b.baseURL = trimVersion(b.baseURL)
	return &OpenAI{chat{base: b, url: b.baseURL + "/v1/chat/completions", system: system, format: format}}, nil
}

// NewOpenAICompatible builds a reviewer for an OpenAI-compatible server.
// BaseURL is required and includes the version path, e.g.
// http://localhost:11434/v1 for Ollama.
func NewOpenAICompatible(cfg Config) (*OpenAICompatible, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, fmt.Errorf("%s: no base URL (for example http://localhost:11434/v1 for Ollama)", ProviderOpenAICompatible)
	}
	schema := findingsSchema(true)
	// Spelled out always: small local models follow a shown shape better,
	// and the json_object fallback has nothing else to go by.
	system := systemPrompt() + "\nAnswer with a single JSON object and nothing else (no prose, no code fences), matching this JSON Schema:\n" + string(mustJSON(schema)) + "\n"
	format := mustJSON(map[string]any{
		"type": "json_schema",
		"json_schema": map[string]any{
			"name":   "findings",
			"strict": true,
			"schema": schema,
		},
	})
	b, err := newBase(cfg, ProviderOpenAICompatible, "", system, string(format))
	if err != nil {
		return nil, err
	}
	return &OpenAICompatible{chat: chat{base: b, url: b.baseURL + "/chat/completions", system: system, format: format, compat: true}}, nil
}

// Review asks the model for findings on d, one chunk of a diff.
func (o *OpenAI) Review(ctx context.Context, d *diff.Diff) (*review.Report, error) {
	return o.reviewWith(ctx, d, true, func(prompt string) conversation {
		return &chatConv{c: &o.chat, msgs: o.startMessages(prompt)}
	})
}

// Review asks the model for findings on d, one chunk of a diff.
func (o *OpenAICompatible) Review(ctx context.Context, d *diff.Diff) (*review.Report, error) {
	return o.reviewWith(ctx, d, false, func(prompt string) conversation {
		return &chatConv{c: &o.chat, msgs: o.startMessages(prompt), fallback: &o.jsonObject}
	})
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func (c *chat) startMessages(prompt string) []chatMessage {
	return []chatMessage{{Role: "system", Content: c.system}, {Role: "user", Content: prompt}}
}

type chatConv struct {
	c    *chat
	msgs []chatMessage
	// fallback is the compatible reviewer's json_object switch; nil for OpenAI.
	fallback *atomic.Bool
}

func (v *chatConv) send(ctx context.Context) (turn, error) {
	useObject := v.fallback != nil && v.fallback.Load()
	raw, err := v.post(ctx, useObject)
	var apiErr *APIError
	if err != nil && !useObject && v.fallback != nil && errors.As(err, &apiErr) && jsonSchemaUnsupported(apiErr) {
		v.fallback.Store(true)
		raw, err = v.post(ctx, true)
	}
	if err != nil {
		return turn{}, err
	}
	var resp struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
				Refusal *string `json:"refusal"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return turn{problem: fmt.Errorf("the response is not valid JSON: %s", jsonProblem(err))}, nil
	}
	t := turn{
		model: resp.Model,
		usage: review.Usage{InputTokens: resp.Usage.PromptTokens, OutputTokens: resp.Usage.CompletionTokens},
	}
	if len(resp.Choices) == 0 {
		t.problem = errNoOutput
		return t, nil
	}
	ch := resp.Choices[0]
	if ch.Message.Content != nil {
		t.payload = []byte(*ch.Message.Content)
		t.reply = *ch.Message.Content
	}
	switch {
	case ch.Message.Refusal != nil && *ch.Message.Refusal != "":
		t.problem = errRefused
	case ch.FinishReason == "length":
		t.problem = errTruncated
	case ch.FinishReason == "content_filter":
		t.problem = fmt.Errorf("%w (content filter)", errRefused)
	case len(strings.TrimSpace(string(t.payload))) == 0:
		t.problem = errNoOutput
	}
	return t, nil
}

// chatRequest is a Chat Completions request. maxOut is never 0 (newBase
// sets a default), so omitempty drops only the field the API does not use.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	ResponseFormat      json.RawMessage `json:"response_format"`
	MaxTokens           int             `json:"max_tokens,omitempty"`
	MaxCompletionTokens int             `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
}

var jsonObjectFormat = json.RawMessage(`{"type":"json_object"}`)

func (v *chatConv) post(ctx context.Context, jsonObject bool) ([]byte, error) {
	c := v.c
	// A struct rather than a map: encoded once per request, and the
	// prompt and schema dominate its size.
	req := chatRequest{Model: c.model, Messages: v.msgs, ResponseFormat: c.format}
	if jsonObject {
		req.ResponseFormat = jsonObjectFormat
	}
	if c.compat {
		req.MaxTokens = c.maxOut
		req.Temperature = new(float64) // 0
	} else {
		// Reasoning models reject max_tokens and any temperature but 1.
		req.MaxCompletionTokens = c.maxOut
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", c.name, err)
	}
	h := http.Header{}
	if c.key != "" {
		h.Set("Authorization", "Bearer "+c.key)
	}
	return c.withRetry(ctx, call{
		provider:   c.name,
		key:        c.key,
		url:        c.url,
		header:     h,
		body:       body,
		parseError: openAIStyleError,
	})
}

func (v *chatConv) correct(t turn, problem error) {
	if s, _ := t.reply.(string); strings.TrimSpace(s) != "" {
		v.msgs = append(v.msgs, chatMessage{Role: "assistant", Content: s})
	}
	v.msgs = append(v.msgs, chatMessage{Role: "user", Content: correction(problem)})
}

// jsonSchemaUnsupported recognises a server turning down json_schema
// output, which servers word in many ways but always about the
// response format.
func jsonSchemaUnsupported(e *APIError) bool {
	if e.Status != http.StatusBadRequest && e.Status != http.StatusUnprocessableEntity {
		return false
	}
	m := strings.ToLower(e.Message + " " + e.Type)
	return strings.Contains(m, "response_format") || strings.Contains(m, "json_schema") || strings.Contains(m, "response format")
}
