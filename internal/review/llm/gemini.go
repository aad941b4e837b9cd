package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
)

// Gemini reviews with the Gemini API's generateContent and a
// responseSchema.
type Gemini struct {
	base
	url    string
	system string
	schema json.RawMessage
}

var (
	_ review.Reviewer = (*Gemini)(nil)
	_ review.Budgeted = (*Gemini)(nil)
)

// NewGemini builds the Gemini reviewer.
func NewGemini(cfg Config) (*Gemini, error) {
	system := systemPrompt()
	schema := mustJSON(geminiSchema())
	b, err := newBase(cfg, ProviderGemini, "GEMINI_API_KEY", system, string(schema))
	if err != nil {
		return nil, err
	}
	b.baseURL = strings.TrimSuffix(b.baseURL, "/v1beta")
	model := strings.TrimPrefix(b.model, "models/")
	b.model = model
	if cfg.MaxOutputTokens <= 0 && (strings.HasPrefix(model, "gemini-1.") || strings.HasPrefix(model, "gemini-2.0")) {
		// Models before 2.5 do not think and refuse a cap above their
		// 8192-token output limit.
		b.maxOut = defaultMaxOutput
	}
	return &Gemini{
		base:   b,
		url:    b.baseURL + "/v1beta/models/" + url.PathEscape(model) + ":generateContent",
		system: system,
		schema: schema,
	}, nil
}

// Review asks the model for findings on d, one chunk of a diff.
func (g *Gemini) Review(ctx context.Context, d *diff.Diff) (*review.Report, error) {
	// Gemini decodes against responseSchema, so anything outside it is
	// a fault worth a corrective retry.
	return g.reviewWith(ctx, d, true, func(prompt string) conversation {
		return &geminiConv{g: g, contents: []geminiContent{{Role: "user", Parts: []geminiPart{{Text: prompt}}}}}
	})
}

type geminiPart struct {
	Text string `json:"text"`
}

type geminiContent struct {
	Role  string       `json:"role"`
	Parts []geminiPart `json:"parts"`
}

type geminiConv struct {
	g        *Gemini
	contents []geminiContent
}

func (c *geminiConv) send(ctx context.Context) (turn, error) {
	g := c.g
	body, err := json.Marshal(map[string]any{
		"contents":          c.contents,
		"systemInstruction": map[string]any{"parts": []geminiPart{{Text: g.system}}},
		"generationConfig": map[string]any{
			"responseMimeType": "application/json",
			"responseSchema":   g.schema,
			"maxOutputTokens":  g.maxOut,
			"temperature":      0,
		},
	})
	if err != nil {
		return turn{}, fmt.Errorf("%s: encode request: %w", g.name, err)
	}
	h := http.Header{}
	// The key goes in a header, never the URL, so it cannot leak through
	// an error that quotes the URL.
	h.Set("x-goog-api-key", g.key)
	raw, err := g.withRetry(ctx, call{
		provider:   g.name,
		key:        g.key,
		url:        g.url,
		header:     h,
		body:       body,
		parseError: geminiError,
	})
	if err != nil {
		return turn{}, err
	}
	var resp struct {
		Candidates []struct {
			Content struct {
				Parts []struct {
					Text    string `json:"text"`
					Thought bool   `json:"thought"`
				} `json:"parts"`
			} `json:"content"`
			FinishReason string `json:"finishReason"`
		} `json:"candidates"`
		PromptFeedback struct {
			BlockReason string `json:"blockReason"`
		} `json:"promptFeedback"`
		UsageMetadata struct {
			PromptTokenCount     int `json:"promptTokenCount"`
			CandidatesTokenCount int `json:"candidatesTokenCount"`
			ThoughtsTokenCount   int `json:"thoughtsTokenCount"`
		} `json:"usageMetadata"`
		ModelVersion string `json:"modelVersion"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return turn{problem: fmt.Errorf("the response is not valid JSON: %s", jsonProblem(err))}, nil
	}
	t := turn{
		model: resp.ModelVersion,
		usage: review.Usage{
			InputTokens: resp.UsageMetadata.PromptTokenCount,
			// Thinking is billed as output.
			OutputTokens: resp.UsageMetadata.CandidatesTokenCount + resp.UsageMetadata.ThoughtsTokenCount,
		},
	}
	if r := resp.PromptFeedback.BlockReason; r != "" {
		t.problem = fmt.Errorf("%w (prompt blocked: %s)", errRefused, clean(r, "", 40))
		return t, nil
	}
	if len(resp.Candidates) == 0 {
		t.problem = errNoOutput
		return t, nil
	}
	cand := resp.Candidates[0]
	var text strings.Builder
	for _, p := range cand.Content.Parts {
		if !p.Thought {
			text.WriteString(p.Text)
		}
	}
	t.payload = []byte(text.String())
	t.reply = text.String()
	switch cand.FinishReason {
	case "", "STOP":
		if len(bytes.TrimSpace(t.payload)) == 0 {
			t.problem = errNoOutput
		}
	case "MAX_TOKENS":
		t.problem = errTruncated
	default:
		t.problem = fmt.Errorf("%w (finish reason %s)", errRefused, clean(cand.FinishReason, "", 40))
	}
	return t, nil
}

func (c *geminiConv) correct(t turn, problem error) {
	text := correction(problem)
	if s, _ := t.reply.(string); strings.TrimSpace(s) != "" {
		c.contents = append(c.contents,
			geminiContent{Role: "model", Parts: []geminiPart{{Text: s}}},
			geminiContent{Role: "user", Parts: []geminiPart{{Text: text}}})
		return
	}
	last := &c.contents[len(c.contents)-1]
	last.Parts = append(last.Parts, geminiPart{Text: text})
}

// geminiError reads Google's error envelope
// {"error":{"code","message","status","details":[...]}}, taking the wait
// from a google.rpc.RetryInfo detail.
func geminiError(_ int, _ http.Header, body []byte) *APIError {
	type envelope struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Type       string `json:"@type"`
				RetryDelay string `json:"retryDelay"`
			} `json:"details"`
		} `json:"error"`
	}
	var e envelope
	if json.Unmarshal(body, &e) != nil {
		// Some Google front ends wrap the envelope in an array.
		var list []envelope
		if json.Unmarshal(body, &list) != nil || len(list) == 0 {
			return &APIError{}
		}
		e = list[0]
	}
	out := &APIError{Type: e.Error.Status, Message: e.Error.Message}
	for _, d := range e.Error.Details {
		if strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			if v, err := time.ParseDuration(d.RetryDelay); err == nil && v > 0 {
				out.RetryAfter = v
			}
		}
	}
	return out
}
