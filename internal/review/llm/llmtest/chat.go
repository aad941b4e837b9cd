package llmtest

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

var schemaName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func badChat(param, msg string) *failure {
	return &failure{status: 400, typ: "invalid_request_error", param: param, msg: msg}
}

// checkChat checks a request as POST /v1/chat/completions does. openai
// selects OpenAI's own strictness (bearer key always required, unknown
// arguments rejected, json_schema required); requiredKey is what a
// compatible server demands, if anything.
func checkChat(r *http.Request, _ []byte, body map[string]any, openai bool, requiredKey string) *failure {
	if r.URL.Path != "/v1/chat/completions" {
		return &failure{status: 404, typ: "invalid_request_error", msg: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)}
	}
	if r.Method != http.MethodPost {
		return &failure{status: 405, typ: "invalid_request_error", msg: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path)}
	}
	auth := r.Header.Get("Authorization")
	key, hasBearer := strings.CutPrefix(auth, "Bearer ")
	switch {
	case openai && auth == "":
		return &failure{status: 401, typ: "invalid_request_error",
			msg: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."}
	case openai && (!hasBearer || key != APIKey):
		return &failure{status: 401, typ: "invalid_request_error", code: "invalid_api_key",
			msg: "Incorrect API key provided: " + mask(key) + ". You can find your API key at https://platform.openai.com/account/api-keys."}
	case !openai && requiredKey != "" && key != requiredKey:
		// Some proxies echo the key they were given; the client must not.
		return &failure{status: 401, typ: "authentication_error", msg: "invalid api key: " + key}
	}
	if !jsonContentType(r) {
		return badChat("", "Invalid content type. Expected application/json.")
	}
	if body == nil {
		return badChat("", "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")
	}
	if openai {
		if extra := unknownKeys(body, "model", "messages", "response_format", "max_tokens", "max_completion_tokens",
			"temperature", "top_p", "n", "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty",
			"logit_bias", "logprobs", "top_logprobs", "user", "seed", "tools", "tool_choice", "parallel_tool_calls",
			"reasoning_effort", "store", "metadata", "service_tier", "modalities", "prediction", "audio",
			"verbosity", "web_search_options", "safety_identifier", "prompt_cache_key"); len(extra) > 0 {
			sort.Strings(extra)
			return badChat(extra[0], "Unrecognized request argument supplied: "+extra[0])
		}
	}
	if str(body["model"]) == "" {
		return badChat("model", "you must provide a model parameter")
	}
	msgs, ok := body["messages"].([]any)
	if !ok {
		return badChat("messages", "Missing required parameter: 'messages'.")
	}
	if len(msgs) == 0 {
		return badChat("messages", "[] is too short - 'messages'")
	}
	for i, mv := range msgs {
		m, _ := mv.(map[string]any)
		role := str(m["role"])
		switch role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			return badChat(fmt.Sprintf("messages.[%d].role", i), fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.", role))
		}
		switch c := m["content"].(type) {
		case string:
		case []any:
			if len(c) == 0 {
				return badChat(fmt.Sprintf("messages.[%d].content", i), "Invalid 'messages["+fmt.Sprint(i)+"].content': empty array.")
			}
		case nil:
			if role != "assistant" {
				return badChat(fmt.Sprintf("messages.[%d].content", i), "Invalid value for 'content': expected a string, got null.")
			}
		default:
			return badChat(fmt.Sprintf("messages.[%d].content", i), "Invalid type for 'content': expected a string or an array.")
		}
	}
	for _, k := range []string{"max_tokens", "max_completion_tokens"} {
		if v, ok := body[k]; ok && !positiveInt(v) {
			return badChat(k, fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= 1.", k))
		}
	}
	if openai {
		if _, ok := body["max_tokens"]; ok {
			if _, ok := body["max_completion_tokens"]; ok {
				return badChat("max_tokens", "max_tokens and max_completion_tokens cannot both be set")
			}
		}
	}
	rf, ok := body["response_format"].(map[string]any)
	if !ok {
		return badChat("response_format", "fake: response_format is required")
	}
	switch str(rf["type"]) {
	case "json_schema":
		js, ok := rf["json_schema"].(map[string]any)
		if !ok {
			return badChat("response_format.json_schema", "Missing required parameter: 'response_format.json_schema'.")
		}
		name := str(js["name"])
		if !schemaName.MatchString(name) {
			return badChat("response_format.json_schema.name", "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.")
		}
		schema, ok := js["schema"].(map[string]any)
		if !ok {
			return badChat("response_format.json_schema.schema", "fake: a schema is required")
		}
		if strict, _ := js["strict"].(bool); strict {
			if msg := strictProblem(schema, nil); msg != "" {
				return badChat("response_format", fmt.Sprintf("Invalid schema for response_format '%s': %s", name, msg))
			}
		} else if openai {
			return badChat("response_format", "fake: strict must be true")
		}
	case "json_object":
		if openai {
			return badChat("response_format", "fake: the reviewer must use json_schema with OpenAI")
		}
		if !strings.Contains(strings.ToLower(bodyText(body)), "json") {
			return badChat("messages", "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
		}
	case "text":
		return badChat("response_format", "fake: structured output is required")
	default:
		return badChat("response_format.type", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'json_object', 'json_schema', and 'text'.", str(rf["type"])))
	}
	return nil
}

// strictProblem applies the Structured Outputs rules for strict mode:
// every object sets additionalProperties false and lists all of its
// properties as required; the root is an object.
func strictProblem(schema map[string]any, path []string) string {
	ctx := "In context=(" + strings.Join(quoteAll(path), ", ") + ")"
	if len(path) == 0 && str(schema["type"]) != "object" {
		return ctx + ", schema must be a JSON Schema of 'type: \"object\"', got 'type: \"" + str(schema["type"]) + "\"'."
	}
	if _, ok := schema["type"]; !ok {
		if _, ok := schema["anyOf"]; !ok {
			return ctx + ", schema must have a 'type' key."
		}
	}
	if str(schema["type"]) == "object" {
		if ap, ok := schema["additionalProperties"].(bool); !ok || ap {
			return ctx + ", 'additionalProperties' is required to be supplied and to be false."
		}
		props, _ := schema["properties"].(map[string]any)
		req := map[string]bool{}
		if list, ok := schema["required"].([]any); ok {
			for _, r := range list {
				req[str(r)] = true
			}
		}
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !req[k] {
				return ctx + ", 'required' is required to be supplied and to be an array including every key in properties. Missing '" + k + "'."
			}
		}
		for _, k := range keys {
			sub, _ := props[k].(map[string]any)
			if msg := strictProblem(sub, append(append([]string{}, path...), "properties", k)); msg != "" {
				return msg
			}
		}
	}
	if items, ok := schema["items"].(map[string]any); ok {
		return strictProblem(items, append(append([]string{}, path...), "items"))
	}
	return ""
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = "'" + v + "'"
	}
	return out
}

func (s *Server) chatAnswer(a Answer, body map[string]any, promptBytes int, rec *Request) any {
	model := s.opts.Model
	if model == "" {
		model = str(body["model"])
		if s.Provider == OpenAI && !strings.HasSuffix(model, "-2025-04-14") {
			model += "-2025-04-14"
		}
	}
	text := findingsJSON(a)
	var content, refusal any = text, nil
	finish := "stop"
	switch a.kind {
	case kindRefusal:
		content, refusal = nil, "I'm sorry, I can't help with that request."
		text = "I'm sorry, I can't help with that request."
	case kindTruncated:
		text = `{"findings":[{"file":"`
		content = text
		finish = "length"
	}
	rec.InputTokens = tokens(promptBytes)
	rec.OutputTokens = tokens(len(text))
	return map[string]any{
		"id":      "chatcmpl-Fake0001",
		"object":  "chat.completion",
		"created": 1760000000,
		"model":   model,
		"choices": []any{map[string]any{
			"index": 0,
			"message": map[string]any{
				"role":        "assistant",
				"content":     content,
				"refusal":     refusal,
				"annotations": []any{},
			},
			"logprobs":      nil,
			"finish_reason": finish,
		}},
		"usage": map[string]any{
			"prompt_tokens":     rec.InputTokens,
			"completion_tokens": rec.OutputTokens,
			"total_tokens":      rec.InputTokens + rec.OutputTokens,
		},
		"service_tier":       "default",
		"system_fingerprint": "fp_fake",
	}
}
