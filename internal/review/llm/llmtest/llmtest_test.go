package llmtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func objectSchema() map[string]any {
	return map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"findings": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
		"required":             []any{"findings"},
		"additionalProperties": false,
	}
}

// validRequest is a minimal request each fake accepts.
func validRequest(provider string) (path string, header map[string]string, body map[string]any) {
	switch provider {
	case Anthropic:
		return "/v1/messages",
			map[string]string{"x-api-key": APIKey, "anthropic-version": "2023-06-01"},
			map[string]any{
				"model": "claude-sonnet-4-5", "max_tokens": 100,
				"messages":    []any{map[string]any{"role": "user", "content": "hi"}},
				"tools":       []any{map[string]any{"name": "report_findings", "input_schema": objectSchema()}},
				"tool_choice": map[string]any{"type": "tool", "name": "report_findings"},
			}
	case Gemini:
		return "/v1beta/models/gemini-2.5-flash:generateContent",
			map[string]string{"x-goog-api-key": APIKey},
			map[string]any{
				"contents": []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "hi"}}}},
				"generationConfig": map[string]any{"responseMimeType": "application/json", "responseSchema": map[string]any{
					"type": "OBJECT", "properties": map[string]any{"findings": map[string]any{"type": "ARRAY", "items": map[string]any{"type": "STRING"}}},
					"required": []any{"findings"},
				}},
			}
	}
	return "/v1/chat/completions",
		map[string]string{"Authorization": "Bearer " + APIKey},
		map[string]any{
			"model":    "gpt-4.1",
			"messages": []any{map[string]any{"role": "user", "content": "hi"}},
			"response_format": map[string]any{"type": "json_schema", "json_schema": map[string]any{
				"name": "findings", "strict": true, "schema": objectSchema(),
			}},
		}
}

func send(t *testing.T, s *Server, path string, header map[string]string, body map[string]any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(s.URL, "/v1")+path, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// The fakes turn down what the real APIs turn down, in their own format.
func TestFakesCheckRequests(t *testing.T) {
	cases := []struct {
		provider   string
		name       string
		edit       func(path *string, h map[string]string, b map[string]any)
		wantStatus int
		wantBody   string
	}{
		{Anthropic, "valid", nil, 200, `"stop_reason":"tool_use"`},
		{Anthropic, "no key", func(_ *string, h map[string]string, _ map[string]any) { h["x-api-key"] = "" }, 401, `"type":"authentication_error"`},
		{Anthropic, "no version", func(_ *string, h map[string]string, _ map[string]any) { h["anthropic-version"] = "" }, 400, "anthropic-version: header is required"},
		{Anthropic, "wrong content type", func(_ *string, h map[string]string, _ map[string]any) { h["Content-Type"] = "text/plain" }, 400, "content-type"},
		{Anthropic, "no max_tokens", func(_ *string, _ map[string]string, b map[string]any) { delete(b, "max_tokens") }, 400, "max_tokens: Field required"},
		{Anthropic, "extra field", func(_ *string, _ map[string]string, b map[string]any) { b["response_format"] = "json" }, 400, "Extra inputs are not permitted"},
		{Anthropic, "tool not forced", func(_ *string, _ map[string]string, b map[string]any) { delete(b, "tool_choice") }, 400, "report_findings"},
		{Anthropic, "orphan tool_result", func(_ *string, _ map[string]string, b map[string]any) {
			b["messages"] = []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "tool_result", "tool_use_id": "x", "content": "e"}}}}
		}, 400, "unexpected `tool_use_id`"},
		{Anthropic, "wrong path", func(p *string, _ map[string]string, _ map[string]any) { *p = "/v1/complete" }, 404, "not_found_error"},

		{OpenAI, "valid", nil, 200, `"object":"chat.completion"`},
		{OpenAI, "no key", func(_ *string, h map[string]string, _ map[string]any) { h["Authorization"] = "" }, 401, "You didn't provide an API key"},
		{OpenAI, "wrong key masked", func(_ *string, h map[string]string, _ map[string]any) { h["Authorization"] = "Bearer sk-abcdefghijkl" }, 401, `"code":"invalid_api_key"`},
		{OpenAI, "unknown argument", func(_ *string, _ map[string]string, b map[string]any) { b["foo"] = 1 }, 400, "Unrecognized request argument supplied: foo"},
		{OpenAI, "not strict compliant", func(_ *string, _ map[string]string, b map[string]any) {
			s := objectSchema()
			delete(s, "additionalProperties")
			b["response_format"].(map[string]any)["json_schema"].(map[string]any)["schema"] = s
		}, 400, "'additionalProperties' is required"},
		{OpenAI, "optional property in strict", func(_ *string, _ map[string]string, b map[string]any) {
			s := objectSchema()
			s["required"] = []any{}
			b["response_format"].(map[string]any)["json_schema"].(map[string]any)["schema"] = s
		}, 400, "Missing 'findings'"},
		{OpenAI, "no messages", func(_ *string, _ map[string]string, b map[string]any) { delete(b, "messages") }, 400, "Missing required parameter: 'messages'"},

		{OpenAICompatible, "json_object without the word", func(_ *string, _ map[string]string, b map[string]any) {
			b["response_format"] = map[string]any{"type": "json_object"}
		}, 400, "must contain the word 'json'"},
		{OpenAICompatible, "json_object", func(_ *string, _ map[string]string, b map[string]any) {
			b["response_format"] = map[string]any{"type": "json_object"}
			b["messages"] = []any{map[string]any{"role": "user", "content": "answer in JSON"}}
		}, 200, `"finish_reason":"stop"`},
		{OpenAICompatible, "no key is fine", func(_ *string, h map[string]string, _ map[string]any) { h["Authorization"] = "" }, 200, `"choices"`},

		{Gemini, "valid", nil, 200, `"finishReason":"STOP"`},
		{Gemini, "no key", func(_ *string, h map[string]string, _ map[string]any) { h["x-goog-api-key"] = "" }, 403, `"status":"PERMISSION_DENIED"`},
		{Gemini, "wrong key", func(_ *string, h map[string]string, _ map[string]any) { h["x-goog-api-key"] = "nope" }, 400, "API_KEY_INVALID"},
		{Gemini, "unknown model", func(p *string, _ map[string]string, _ map[string]any) { *p = "/v1beta/models/gpt-4:generateContent" }, 404, "is not found for API version v1beta"},
		{Gemini, "unknown field", func(_ *string, _ map[string]string, b map[string]any) { b["system"] = "x" }, 400, `Unknown name \"system\"`},
		{Gemini, "json schema keyword", func(_ *string, _ map[string]string, b map[string]any) {
			b["generationConfig"].(map[string]any)["responseSchema"].(map[string]any)["additionalProperties"] = false
		}, 400, `Unknown name \"additionalProperties\"`},
		{Gemini, "schema without mime type", func(_ *string, _ map[string]string, b map[string]any) {
			delete(b["generationConfig"].(map[string]any), "responseMimeType")
		}, 400, "response_mime_type"},
		{Gemini, "output cap above the model's limit", func(_ *string, _ map[string]string, b map[string]any) {
			b["generationConfig"].(map[string]any)["maxOutputTokens"] = 65537
		}, 400, "supported range is from 1 (inclusive) to 65537 (exclusive)"},
		{Gemini, "output cap at the model's limit", func(_ *string, _ map[string]string, b map[string]any) {
			b["generationConfig"].(map[string]any)["maxOutputTokens"] = 65536
		}, 200, `"finishReason":"STOP"`},
		{Gemini, "output cap above an older model's limit", func(p *string, _ map[string]string, b map[string]any) {
			*p = "/v1beta/models/gemini-2.0-flash:generateContent"
			b["generationConfig"].(map[string]any)["maxOutputTokens"] = 16384
		}, 400, "to 8193 (exclusive)"},
		{Gemini, "thinking budget in range", func(_ *string, _ map[string]string, b map[string]any) {
			b["generationConfig"].(map[string]any)["thinkingConfig"] = map[string]any{"thinkingBudget": 0}
		}, 200, `"finishReason":"STOP"`},
		{Gemini, "thinking off on pro", func(p *string, _ map[string]string, b map[string]any) {
			*p = "/v1beta/models/gemini-2.5-pro:generateContent"
			b["generationConfig"].(map[string]any)["thinkingConfig"] = map[string]any{"thinkingBudget": 0}
		}, 400, "between 128 and 32768"},
		{Gemini, "thinking budget and level", func(_ *string, _ map[string]string, b map[string]any) {
			b["generationConfig"].(map[string]any)["thinkingConfig"] = map[string]any{"thinkingBudget": 1024, "thinkingLevel": "low"}
		}, 400, "not supported together"},
		{Gemini, "unknown thinking field", func(_ *string, _ map[string]string, b map[string]any) {
			b["generationConfig"].(map[string]any)["thinkingConfig"] = map[string]any{"budget": 1024}
		}, 400, `Unknown name \"budget\"`},
		{Gemini, "empty contents", func(_ *string, _ map[string]string, b map[string]any) { b["contents"] = []any{} }, 400, "contents is not specified"},
	}
	for _, tc := range cases {
		t.Run(tc.provider+"/"+tc.name, func(t *testing.T) {
			s := New(t, tc.provider, Options{})
			path, h, b := validRequest(tc.provider)
			if tc.edit != nil {
				tc.edit(&path, h, b)
			}
			status, body := send(t, s, path, h, b)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Errorf("POST %s = %d %s, want %d containing %q", path, status, body, tc.wantStatus, tc.wantBody)
			}
			if got := s.Requests(); len(got) != 1 || got[0].Status != tc.wantStatus {
				t.Errorf("recorded %+v, want one request with status %d", got, tc.wantStatus)
			}
		})
	}
}

// Scripted answers come in the provider's envelope and order; the queue
// falls back to an empty OK.
func TestFakeScript(t *testing.T) {
	s := NewGemini(t)
	s.Script(RateLimited("12"), Overloaded())
	path, h, b := validRequest(Gemini)
	wants := []struct {
		status int
		body   string
	}{
		{429, `"retryDelay":"12s"`},
		{503, `"status":"UNAVAILABLE"`},
		{200, `{\"findings\":[]}`},
	}
	for i, w := range wants {
		status, body := send(t, s, path, h, b)
		if status != w.status || !strings.Contains(body, w.body) {
			t.Errorf("answer %d = %d %s, want %d containing %q", i, status, body, w.status, w.body)
		}
	}
	if s.Count() != 3 {
		t.Errorf("Count() = %d, want 3", s.Count())
	}
}
