package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
)

const (
	anthropicVersion = "2023-06-01"
	findingsTool     = "report_findings"
)

// Anthropic reviews with the Anthropic Messages API. Structured output
// comes from forcing a single tool whose input schema is the findings
// schema.
type Anthropic struct {
	base
	system string
	tool   json.RawMessage
}

var (
	_ review.Reviewer = (*Anthropic)(nil)
	_ review.Budgeted = (*Anthropic)(nil)
)

// NewAnthropic builds the Anthropic reviewer.
func NewAnthropic(cfg Config) (*Anthropic, error) {
	system := systemPrompt()
	tool := mustJSON(map[string]any{
		"name":         findingsTool,
		"description":  "Report the problems found in the diff. Call it exactly once, with an empty list when there are none.",
		"input_schema": findingsSchema(false),
	})
	b, err := newBase(cfg, ProviderAnthropic, "ANTHROPIC_API_KEY", system, string(tool))
	if err != nil {
		return nil, err
	}
	b.baseURL = trimVersion(b.baseURL)
	return &Anthropic{base: b, system: system, tool: tool}, nil
}

// Review asks the model for findings on d, one chunk of a diff.
func (a *Anthropic) Review(ctx context.Context, d *diff.Diff) (*review.Report, error) {
	// Anthropic does not enforce input_schema while decoding, so extra
	// fields are tolerated; everything else is checked.
	return a.reviewWith(ctx, d, false, func(prompt string) conversation {
		return &anthropicConv{a: a, msgs: []anthropicMessage{{Role: "user", Content: []any{anthropicText(prompt)}}}}
	})
}

type anthropicMessage struct {
	Role    string `json:"role"`
	Content []any  `json:"content"`
}

type anthropicBlock struct {
	Type  string          `json:"type"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	Text  string          `json:"text,omitempty"`
}

func anthropicText(s string) map[string]any { return map[string]any{"type": "text", "text": s} }

type anthropicConv struct {
	a    *Anthropic
	msgs []anthropicMessage
}

func (c *anthropicConv) send(ctx context.Context) (turn, error) {
	a := c.a
	body, err := json.Marshal(map[string]any{
		"model":       a.model,
		"max_tokens":  a.maxOut,
		"system":      a.system,
		"messages":    c.msgs,
		"tools":       []json.RawMessage{a.tool},
		"tool_choice": map[string]any{"type": "tool", "name": findingsTool},
		"temperature": 0,
	})
	if err != nil {
		return turn{}, fmt.Errorf("%s: encode request: %w", a.name, err)
	}
	h := http.Header{}
	h.Set("x-api-key", a.key)
	h.Set("anthropic-version", anthropicVersion)
	raw, err := a.withRetry(ctx, call{
		provider:   a.name,
		key:        a.key,
		url:        a.baseURL + "/v1/messages",
		header:     h,
		body:       body,
		parseError: anthropicError,
	})
	if err != nil {
		return turn{}, err
	}
	var resp struct {
		Model      string            `json:"model"`
		Content    []json.RawMessage `json:"content"`
		StopReason string            `json:"stop_reason"`
		Usage      struct {
			InputTokens              int `json:"input_tokens"`
			OutputTokens             int `json:"output_tokens"`
			CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
			CacheReadInputTokens     int `json:"cache_read_input_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return turn{problem: fmt.Errorf("the response is not valid JSON: %s", jsonProblem(err))}, nil
	}
	t := turn{
		model: resp.Model,
		usage: review.Usage{
			InputTokens:  resp.Usage.InputTokens + resp.Usage.CacheCreationInputTokens + resp.Usage.CacheReadInputTokens,
			OutputTokens: resp.Usage.OutputTokens,
		},
		reply: resp.Content,
	}
	for _, rb := range resp.Content {
		var blk anthropicBlock
		if json.Unmarshal(rb, &blk) == nil && blk.Type == "tool_use" && blk.Name == findingsTool {
			t.payload = blk.Input
		}
	}
	switch {
	case resp.StopReason == "max_tokens":
		t.problem = errTruncated
	case resp.StopReason == "refusal":
		t.problem = errRefused
	case t.payload == nil:
		t.problem = fmt.Errorf("%w: the %s tool was not called", errNoOutput, findingsTool)
	}
	return t, nil
}

// correct answers every tool call of the invalid reply with an error
// result, as the API requires a tool_result for each tool_use.
func (c *anthropicConv) correct(t turn, problem error) {
	text := correction(problem)
	blocks, _ := t.reply.([]json.RawMessage)
	var content, results []any
	for _, rb := range blocks {
		var blk anthropicBlock
		if json.Unmarshal(rb, &blk) != nil || (blk.Type == "text" && blk.Text == "") {
			continue // the API refuses empty text blocks in input
		}
		content = append(content, rb)
		if blk.Type == "tool_use" {
			results = append(results, map[string]any{
				"type":        "tool_result",
				"tool_use_id": blk.ID,
				"is_error":    true,
				"content":     text,
			})
		}
	}
	if len(content) == 0 {
		last := &c.msgs[len(c.msgs)-1]
		last.Content = append(last.Content, anthropicText(text))
		return
	}
	if len(results) == 0 {
		results = []any{anthropicText(text)}
	}
	c.msgs = append(c.msgs,
		anthropicMessage{Role: "assistant", Content: content},
		anthropicMessage{Role: "user", Content: results})
}

// anthropicError reads {"type":"error","error":{"type","message"}}.
func anthropicError(_ int, _ http.Header, body []byte) *APIError {
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return &APIError{}
	}
	return &APIError{Type: e.Error.Type, Message: e.Error.Message}
}
