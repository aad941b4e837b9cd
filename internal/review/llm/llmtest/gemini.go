package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

func badGemini(msg string) *failure {
	return &failure{status: 400, typ: "INVALID_ARGUMENT", msg: msg}
}

func unknownGemini(path, name string) *failure {
	return &failure{status: 400, typ: "INVALID_ARGUMENT",
		msg: fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", name, path),
		detail: []any{map[string]any{
			"@type":           "type.googleapis.com/google.rpc.BadRequest",
			"fieldViolations": []any{map[string]any{"field": path, "description": fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", name, path)}},
		}},
	}
}

// geminiModel returns the model of a generateContent path, or "".
func geminiModel(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1beta/models/")
	if !ok {
		return ""
	}
	model, ok := strings.CutSuffix(rest, ":generateContent")
	if !ok || model == "" || strings.Contains(model, "/") {
		return ""
	}
	return model
}

// checkGemini checks a request as POST
// /v1beta/models/{model}:generateContent does.
func checkGemini(r *http.Request, body map[string]any) *failure {
	model := geminiModel(r.URL.Path)
	if model == "" {
		return &failure{status: 404, typ: "NOT_FOUND", msg: "The requested URL " + r.URL.Path + " was not found on this server."}
	}
	if r.Method != http.MethodPost {
		return &failure{status: 405, typ: "UNIMPLEMENTED", msg: "Method not allowed"}
	}
	switch key := r.Header.Get("x-goog-api-key"); {
	case key == "" && r.URL.Query().Get("key") == "":
		return &failure{status: 403, typ: "PERMISSION_DENIED",
			msg: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."}
	case key != APIKey:
		return &failure{status: 400, typ: "INVALID_ARGUMENT", msg: "API key not valid. Please pass a valid API key.",
			detail: []any{map[string]any{
				"@type":    "type.googleapis.com/google.rpc.ErrorInfo",
				"reason":   "API_KEY_INVALID",
				"domain":   "googleapis.com",
				"metadata": map[string]any{"service": "generativelanguage.googleapis.com"},
			}}}
	}
	if !strings.HasPrefix(model, "gemini-") {
		return &failure{status: 404, typ: "NOT_FOUND",
			msg: "models/" + model + " is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."}
	}
	if !jsonContentType(r) {
		return badGemini("Invalid JSON payload received. Expected application/json.")
	}
	if body == nil {
		return badGemini("Invalid JSON payload received. Unexpected token.")
	}
	if extra := unknownKeys(body, "contents", "systemInstruction", "system_instruction", "generationConfig",
		"generation_config", "safetySettings", "safety_settings", "tools", "toolConfig", "tool_config",
		"cachedContent", "cached_content"); len(extra) > 0 {
		return unknownGemini("", extra[0])
	}
	contents, ok := body["contents"].([]any)
	if !ok || len(contents) == 0 {
		return badGemini("* GenerateContentRequest.contents: contents is not specified\n")
	}
	for i, cv := range contents {
		c, _ := cv.(map[string]any)
		if extra := unknownKeys(c, "role", "parts"); len(extra) > 0 {
			return unknownGemini(fmt.Sprintf("contents[%d]", i), extra[0])
		}
		if role := str(c["role"]); role != "user" && role != "model" && role != "" {
			return badGemini(fmt.Sprintf("Please use a valid role: user, model. (contents[%d].role = %q)", i, role))
		}
		if f := checkGeminiParts(fmt.Sprintf("contents[%d]", i), c["parts"]); f != nil {
			return f
		}
	}
	if si, ok := body["systemInstruction"]; ok {
		m, _ := si.(map[string]any)
		if extra := unknownKeys(m, "role", "parts"); len(extra) > 0 {
			return unknownGemini("system_instruction", extra[0])
		}
		if f := checkGeminiParts("system_instruction", m["parts"]); f != nil {
			return f
		}
	}
	gc, _ := body["generationConfig"].(map[string]any)
	if extra := unknownKeys(gc, "responseMimeType", "responseSchema", "responseJsonSchema", "maxOutputTokens",
		"temperature", "topP", "topK", "candidateCount", "stopSequences", "seed", "presencePenalty",
		"frequencyPenalty", "thinkingConfig", "responseModalities", "responseLogprobs", "logprobs",
		"mediaResolution", "speechConfig"); len(extra) > 0 {
		return unknownGemini("generation_config", extra[0])
	}
	if v, ok := gc["maxOutputTokens"]; ok {
		if !positiveInt(v) {
			return badGemini("* GenerateContentRequest.generation_config.max_output_tokens: must be positive\n")
		}
		if n, _ := v.(json.Number).Int64(); n > geminiOutputLimit(model) {
			return badGemini(fmt.Sprintf("Unable to submit request because it has a maxOutputTokens value of %d but the supported range is from 1 (inclusive) to %d (exclusive). Update the value and try again.", n, geminiOutputLimit(model)+1))
		}
	}
	if tc, ok := gc["thinkingConfig"]; ok {
		if f := checkGeminiThinking(model, tc); f != nil {
			return f
		}
	}
	schema, hasSchema := gc["responseSchema"].(map[string]any)
	if hasSchema {
		if mt := str(gc["responseMimeType"]); mt != "application/json" && mt != "text/x.enum" {
			return badGemini("* GenerateContentRequest.generation_config.response_mime_type: response_mime_type must be application/json when response_schema is set.\n")
		}
		if msg := geminiSchemaProblem(schema, "generation_config.response_schema"); msg != "" {
			return badGemini(msg)
		}
	}
	if !hasSchema {
		return badGemini("fake: generationConfig.responseSchema is required")
	}
	return nil
}

// geminiOutputLimit is a model's output token limit: 8192 before the 2.5
// models, 65536 from them on.
func geminiOutputLimit(model string) int64 {
	if strings.HasPrefix(model, "gemini-1.") || strings.HasPrefix(model, "gemini-2.0") {
		return 8192
	}
	return 65536
}

// checkGeminiThinking checks generationConfig.thinkingConfig: the 2.5
// models take a thinkingBudget within their range (-1 for dynamic, 0 to
// turn thinking off where allowed), later models a thinkingLevel, and
// never both.
func checkGeminiThinking(model string, v any) *failure {
	tc, ok := v.(map[string]any)
	if !ok {
		return badGemini("Invalid JSON payload received. 'generation_config.thinking_config' must be an object.")
	}
	if extra := unknownKeys(tc, "includeThoughts", "thinkingBudget", "thinkingLevel"); len(extra) > 0 {
		return unknownGemini("generation_config.thinking_config", extra[0])
	}
	budget, hasBudget := tc["thinkingBudget"]
	_, hasLevel := tc["thinkingLevel"]
	if hasBudget && hasLevel {
		return badGemini("thinking_budget and thinking_level are not supported together.")
	}
	if !hasBudget || !strings.HasPrefix(model, "gemini-2.5") {
		return nil
	}
	num, _ := budget.(json.Number)
	n, err := num.Int64()
	lo, hi := int64(0), int64(24576)
	switch {
	case strings.HasPrefix(model, "gemini-2.5-pro"):
		lo, hi = 128, 32768
	case strings.HasPrefix(model, "gemini-2.5-flash-lite"):
		lo = 512
	}
	if err != nil || n != -1 && !(n == 0 && lo == 0 || n >= max(lo, 1) && n <= hi) {
		return badGemini(fmt.Sprintf("The thinking budget %s is invalid. Please choose a value between %d and %d.", num, lo, hi))
	}
	return nil
}

func checkGeminiParts(path string, v any) *failure {
	parts, ok := v.([]any)
	if !ok || len(parts) == 0 {
		return badGemini(fmt.Sprintf("* GenerateContentRequest.%s.parts: contents.parts must not be empty.\n", path))
	}
	for j, pv := range parts {
		p, _ := pv.(map[string]any)
		if extra := unknownKeys(p, "text", "thought", "thoughtSignature", "inlineData", "fileData",
			"functionCall", "functionResponse"); len(extra) > 0 {
			return unknownGemini(fmt.Sprintf("%s.parts[%d]", path, j), extra[0])
		}
		if _, ok := p["text"].(string); !ok {
			return badGemini(fmt.Sprintf("* GenerateContentRequest.%s.parts[%d].data: required oneof field 'data' must have one initialized field\n", path, j))
		}
	}
	return nil
}

var geminiTypes = map[string]bool{"TYPE_UNSPECIFIED": true, "STRING": true, "NUMBER": true, "INTEGER": true,
	"BOOLEAN": true, "ARRAY": true, "OBJECT": true, "NULL": true}

// geminiSchemaProblem checks a responseSchema against the Schema message:
// only its fields, types from its Type enum, required naming properties.
func geminiSchemaProblem(schema map[string]any, path string) string {
	if extra := unknownKeys(schema, "type", "format", "title", "description", "nullable", "enum", "maxItems",
		"minItems", "properties", "required", "propertyOrdering", "items", "minimum", "maximum", "anyOf",
		"minLength", "maxLength", "pattern", "example", "default", "minProperties", "maxProperties"); len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", extra[0], path)
	}
	t := str(schema["type"])
	if !geminiTypes[t] {
		return fmt.Sprintf("Invalid JSON payload received. Invalid value at '%s.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), %q", path, t)
	}
	if _, ok := schema["enum"]; ok && t != "STRING" && t != "INTEGER" {
		return fmt.Sprintf("* GenerateContentRequest.%s.enum: only allowed for STRING type\n", path)
	}
	props, _ := schema["properties"].(map[string]any)
	if _, ok := schema["properties"]; ok && t != "OBJECT" {
		return fmt.Sprintf("* GenerateContentRequest.%s.properties: only allowed for OBJECT type\n", path)
	}
	for _, key := range []string{"required", "propertyOrdering"} {
		if list, ok := schema[key].([]any); ok {
			for _, r := range list {
				if _, ok := props[str(r)]; !ok {
					return fmt.Sprintf("* GenerateContentRequest.%s.%s[]: property is not defined\n", path, key)
				}
			}
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub, ok := props[k].(map[string]any)
		if !ok {
			return fmt.Sprintf("Invalid JSON payload received. '%s.properties[%s]' must be an object.", path, k)
		}
		if msg := geminiSchemaProblem(sub, path+".properties["+k+"].value"); msg != "" {
			return msg
		}
	}
	if t == "ARRAY" {
		items, ok := schema["items"].(map[string]any)
		if !ok {
			return fmt.Sprintf("* GenerateContentRequest.%s.items: missing field.\n", path)
		}
		return geminiSchemaProblem(items, path+".items")
	}
	return ""
}

func (s *Server) geminiAnswer(a Answer, r *http.Request, promptBytes int, rec *Request) any {
	model := s.opts.Model
	if model == "" {
		model = geminiModel(r.URL.Path)
	}
	text := findingsJSON(a)
	const thoughts = 7
	rec.InputTokens = tokens(promptBytes)
	usage := func(out int) map[string]any {
		rec.OutputTokens = out + thoughts
		return map[string]any{
			"promptTokenCount":     rec.InputTokens,
			"candidatesTokenCount": out,
			"thoughtsTokenCount":   thoughts,
			"totalTokenCount":      rec.InputTokens + out + thoughts,
			"promptTokensDetails":  []any{map[string]any{"modality": "TEXT", "tokenCount": rec.InputTokens}},
		}
	}
	if a.kind == kindRefusal {
		u := usage(0)
		delete(u, "thoughtsTokenCount")
		rec.OutputTokens = 0
		u["totalTokenCount"] = rec.InputTokens
		return map[string]any{
			"promptFeedback": map[string]any{"blockReason": "PROHIBITED_CONTENT"},
			"usageMetadata":  u,
			"modelVersion":   model,
			"responseId":     "fake-response-id",
		}
	}
	finish := "STOP"
	if a.kind == kindTruncated {
		finish = "MAX_TOKENS"
		text = `{"findings":[{"file":"`
	}
	return map[string]any{
		"candidates": []any{map[string]any{
			"content":      map[string]any{"parts": []any{map[string]any{"text": text}}, "role": "model"},
			"finishReason": finish,
			"index":        0,
		}},
		"usageMetadata": usage(tokens(len(text))),
		"modelVersion":  model,
		"responseId":    "fake-response-id",
	}
}
