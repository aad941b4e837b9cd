package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

func badAnthropic(msg string) *failure {
	return &failure{status: 400, typ: "invalid_request_error", msg: msg}
}

// checkAnthropic checks a request as POST /v1/messages does.
func checkAnthropic(r *http.Request, raw []byte, body map[string]any) *failure {
	if r.URL.Path != "/v1/messages" {
		return &failure{status: 404, typ: "not_found_error", msg: "Not Found"}
	}
	if r.Method != http.MethodPost {
		return &failure{status: 405, typ: "invalid_request_error", msg: "Method Not Allowed"}
	}
	switch key := r.Header.Get("x-api-key"); {
	case key == "":
		return &failure{status: 401, typ: "authentication_error", msg: "x-api-key header is required"}
	case key != APIKey:
		return &failure{status: 401, typ: "authentication_error", msg: "invalid x-api-key"}
	}
	switch v := r.Header.Get("anthropic-version"); {
	case v == "":
		return badAnthropic("anthropic-version: header is required")
	case v != "2023-06-01" && v != "2023-01-01":
		return badAnthropic(fmt.Sprintf("anthropic-version: invalid version %q", v))
	}
	if !jsonContentType(r) {
		return badAnthropic("Invalid content-type header: expected application/json")
	}
	if body == nil {
		return badAnthropic("There was an error parsing the body of your request. Please check that it's valid JSON.")
	}
	if extra := unknownKeys(body, "model", "messages", "max_tokens", "system", "tools", "tool_choice",
		"temperature", "top_p", "top_k", "stop_sequences", "stream", "metadata", "thinking",
		"service_tier", "container", "mcp_servers"); len(extra) > 0 {
		return badAnthropic(extra[0] + ": Extra inputs are not permitted")
	}
	if str(body["model"]) == "" {
		return badAnthropic("model: Field required")
	}
	if _, ok := body["max_tokens"]; !ok {
		return badAnthropic("max_tokens: Field required")
	}
	if !positiveInt(body["max_tokens"]) {
		return badAnthropic("max_tokens: Input should be a valid integer greater than or equal to 1")
	}
	if t, ok := body["temperature"].(json.Number); ok {
		if v, err := t.Float64(); err != nil || v < 0 || v > 1 {
			return badAnthropic("temperature: Input should be less than or equal to 1")
		}
	}
	switch sys := body["system"].(type) {
	case nil, string:
	case []any:
		for i, b := range sys {
			if m, _ := b.(map[string]any); str(m["type"]) != "text" {
				return badAnthropic(fmt.Sprintf("system.%d.type: Input should be 'text'", i))
			}
		}
	default:
		return badAnthropic("system: Input should be a valid string or list")
	}
	if f := checkAnthropicMessages(body["messages"]); f != nil {
		return f
	}
	tools, ok := body["tools"].([]any)
	if _, present := body["tools"]; present && !ok {
		return badAnthropic("tools: Input should be a valid list")
	}
	names := map[string]bool{}
	for i, tv := range tools {
		t, _ := tv.(map[string]any)
		name := str(t["name"])
		if !toolName.MatchString(name) {
			return badAnthropic(fmt.Sprintf("tools.%d.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", i))
		}
		schema, ok := t["input_schema"].(map[string]any)
		if !ok {
			return badAnthropic(fmt.Sprintf("tools.%d.custom.input_schema: Field required", i))
		}
		if str(schema["type"]) != "object" {
			return badAnthropic(fmt.Sprintf("tools.%d.custom.input_schema.type: Input should be 'object'", i))
		}
		names[name] = true
	}
	tc, _ := body["tool_choice"].(map[string]any)
	if tc != nil {
		switch str(tc["type"]) {
		case "auto", "any", "none":
		case "tool":
			if !names[str(tc["name"])] {
				return badAnthropic(fmt.Sprintf("tool_choice.tool.name: tool %q not found in tools", str(tc["name"])))
			}
		default:
			return badAnthropic("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
		}
	}
	// What the reviewer must ask for; not an API rule but this fake's contract.
	if !names["report_findings"] || str(tc["type"]) != "tool" || str(tc["name"]) != "report_findings" {
		return badAnthropic("fake: expected tool report_findings forced by tool_choice {\"type\":\"tool\",\"name\":\"report_findings\"}")
	}
	_ = raw
	return nil
}

func checkAnthropicMessages(v any) *failure {
	msgs, ok := v.([]any)
	if !ok {
		return badAnthropic("messages: Field required")
	}
	if len(msgs) == 0 {
		return badAnthropic("messages: at least one message is required")
	}
	var pendingToolUses map[string]bool
	for i, mv := range msgs {
		m, _ := mv.(map[string]any)
		role := str(m["role"])
		if role != "user" && role != "assistant" {
			return badAnthropic(fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i))
		}
		if i == 0 && role != "user" {
			return badAnthropic(`messages: first message must use the "user" role`)
		}
		blocks, f := anthropicBlocks(i, m["content"])
		if f != nil {
			return f
		}
		results := map[string]bool{}
		uses := map[string]bool{}
		for j, b := range blocks {
			switch str(b["type"]) {
			case "text":
				if _, ok := b["text"].(string); !ok {
					return badAnthropic(fmt.Sprintf("messages.%d.content.%d.text: Field required", i, j))
				}
			case "tool_use":
				if role != "assistant" {
					return badAnthropic(fmt.Sprintf("messages.%d.content.%d: tool_use blocks are only allowed in assistant messages", i, j))
				}
				if str(b["id"]) == "" || str(b["name"]) == "" {
					return badAnthropic(fmt.Sprintf("messages.%d.content.%d.tool_use: id and name are required", i, j))
				}
				if _, ok := b["input"].(map[string]any); !ok {
					return badAnthropic(fmt.Sprintf("messages.%d.content.%d.tool_use.input: Input should be a valid dictionary", i, j))
				}
				uses[str(b["id"])] = true
			case "tool_result":
				if role != "user" {
					return badAnthropic(fmt.Sprintf("messages.%d.content.%d: tool_result blocks are only allowed in user messages", i, j))
				}
				id := str(b["tool_use_id"])
				if !pendingToolUses[id] {
					return badAnthropic(fmt.Sprintf("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, id))
				}
				results[id] = true
			default:
				return badAnthropic(fmt.Sprintf("messages.%d.content.%d.type: unsupported block type %q", i, j, str(b["type"])))
			}
		}
		for id := range pendingToolUses {
			if !results[id] {
				return badAnthropic(fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i-1, id))
			}
		}
		pendingToolUses = uses
	}
	if len(pendingToolUses) > 0 {
		return badAnthropic("messages: the final assistant message has tool_use blocks without tool_result")
	}
	if last, _ := msgs[len(msgs)-1].(map[string]any); str(last["role"]) != "user" {
		// Prefill is allowed by the API but never what a reviewer means.
		return badAnthropic("fake: the last message must be the user's")
	}
	return nil
}

func anthropicBlocks(i int, content any) ([]map[string]any, *failure) {
	switch c := content.(type) {
	case string:
		if strings.TrimSpace(c) == "" {
			return nil, badAnthropic(fmt.Sprintf("messages.%d: all messages must have non-empty content", i))
		}
		return []map[string]any{{"type": "text", "text": c}}, nil
	case []any:
		if len(c) == 0 {
			return nil, badAnthropic(fmt.Sprintf("messages.%d: all messages must have non-empty content", i))
		}
		out := make([]map[string]any, 0, len(c))
		for j, b := range c {
			m, ok := b.(map[string]any)
			if !ok {
				return nil, badAnthropic(fmt.Sprintf("messages.%d.content.%d: Input should be a valid dictionary", i, j))
			}
			out = append(out, m)
		}
		return out, nil
	}
	return nil, badAnthropic(fmt.Sprintf("messages.%d.content: Field required", i))
}

func (s *Server) anthropicAnswer(a Answer, body map[string]any, promptBytes int, rec *Request) any {
	model := s.opts.Model
	if model == "" {
		model = str(body["model"])
		if !strings.HasSuffix(model, "-20250929") {
			model += "-20250929"
		}
	}
	text := findingsJSON(a)
	var content []any
	stop := "tool_use"
	toolUse := func(input any) map[string]any {
		return map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_01Fake%04d", s.Count()), "name": "report_findings", "input": input}
	}
	switch a.kind {
	case kindRefusal:
		stop = "refusal"
		content = []any{}
		text = ""
	case kindTruncated:
		stop = "max_tokens"
		content = []any{toolUse(map[string]any{})}
		text = `{"findings":[{"file":"`
	default:
		var obj map[string]any
		if json.Unmarshal([]byte(text), &obj) == nil {
			content = []any{toolUse(obj)}
		} else {
			stop = "end_turn"
			content = []any{map[string]any{"type": "text", "text": text}}
		}
	}
	rec.InputTokens = tokens(promptBytes)
	rec.OutputTokens = tokens(len(text))
	return map[string]any{
		"id":            "msg_01FakeAnswer",
		"type":          "message",
		"role":          "assistant",
		"model":         model,
		"content":       content,
		"stop_reason":   stop,
		"stop_sequence": nil,
		"usage": map[string]any{
			"input_tokens":                rec.InputTokens,
			"output_tokens":               rec.OutputTokens,
			"cache_creation_input_tokens": 0,
			"cache_read_input_tokens":     0,
			"service_tier":                "standard",
		},
	}
}
