package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/diffgate/diffgate/internal/review"
)

// Problems with an answer that no schema check can find.
var (
	errTruncated = errors.New("the answer was cut off at the output token limit")
	errRefused   = errors.New("the model refused to answer")
	errNoOutput  = errors.New("the answer held no structured output")
)

// severityEnum lists severities from the highest, the order a model reads best.
var severityEnum = []string{"critical", "high", "medium", "low", "info"}

var findingFields = []string{"file", "start_line", "end_line", "severity", "category", "message", "suggestion", "confidence"}

func fieldHelp(field string) string {
	switch field {
	case "file":
		return "Path of the file exactly as written after \"File:\" in the diff."
	case "start_line":
		return "First line of the finding, a new-file line number shown in the diff; 0 for the whole file."
	case "end_line":
		return "Last line of the finding, at least start_line; 0 for the whole file."
	case "severity":
		return "How bad the problem is."
	case "category":
		return "The kind of problem."
	case "message":
		return "What is wrong and why it matters, in one or two sentences."
	case "suggestion":
		return "Replacement code for the cited lines, or empty when no concrete fix is clear."
	case "confidence":
		return "How sure you are that the problem is real, from 0 to 1."
	}
	return ""
}

// findingsSchema is the JSON Schema of the answer. Anthropic takes it as a
// tool's input_schema; OpenAI-compatible servers take it as is too.
// strictOpenAI shapes it for OpenAI's strict mode, which wants every
// property required (so suggestion becomes a string that may be empty)
// and takes no numeric range keywords.
func findingsSchema(strictOpenAI bool) map[string]any {
	props := map[string]any{}
	for _, f := range findingFields {
		p := map[string]any{"description": fieldHelp(f)}
		switch f {
		case "start_line", "end_line":
			p["type"] = "integer"
			if !strictOpenAI {
				p["minimum"] = 0
			}
		case "confidence":
			p["type"] = "number"
			if !strictOpenAI {
				p["minimum"] = 0
				p["maximum"] = 1
			}
		case "severity":
			p["type"] = "string"
			p["enum"] = severityEnum
		case "category":
			p["type"] = "string"
			p["enum"] = review.Categories
		default:
			p["type"] = "string"
		}
		props[f] = p
	}
	required := findingFields
	if !strictOpenAI {
		required = without(findingFields, "suggestion")
	}
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"findings": map[string]any{
				"type":        "array",
				"description": "The problems found; empty when there are none.",
				"items": map[string]any{
					"type":                 "object",
					"properties":           props,
					"required":             required,
					"additionalProperties": false,
				},
			},
		},
		"required":             []string{"findings"},
		"additionalProperties": false,
	}
}

// geminiSchema is the findings schema in the OpenAPI 3.0 subset that
// Gemini's responseSchema takes: upper-case types, format "enum" on
// enumerations, no additionalProperties, and propertyOrdering so the
// model writes fields in a stable order.
func geminiSchema() map[string]any {
	props := map[string]any{}
	for _, f := range findingFields {
		p := map[string]any{"description": fieldHelp(f)}
		switch f {
		case "start_line", "end_line":
			p["type"] = "INTEGER"
			p["minimum"] = 0
		case "confidence":
			p["type"] = "NUMBER"
			p["minimum"] = 0
			p["maximum"] = 1
		case "severity":
			p["type"] = "STRING"
			p["format"] = "enum"
			p["enum"] = severityEnum
		case "category":
			p["type"] = "STRING"
			p["format"] = "enum"
			p["enum"] = review.Categories
		default:
			p["type"] = "STRING"
		}
		props[f] = p
	}
	return map[string]any{
		"type": "OBJECT",
		"properties": map[string]any{
			"findings": map[string]any{
				"type":        "ARRAY",
				"description": "The problems found; empty when there are none.",
				"items": map[string]any{
					"type":             "OBJECT",
					"properties":       props,
					"required":         without(findingFields, "suggestion"),
					"propertyOrdering": findingFields,
				},
			},
		},
		"required":         []string{"findings"},
		"propertyOrdering": []string{"findings"},
	}
}

func without(list []string, drop string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("llm: marshal constant value: %v", err)) // a programming error, not input
	}
	return b
}

// wireFinding has pointers so that a missing field can be told from a zero.
type wireFinding struct {
	File       *string  `json:"file"`
	StartLine  *int     `json:"start_line"`
	EndLine    *int     `json:"end_line"`
	Severity   *string  `json:"severity"`
	Category   *string  `json:"category"`
	Message    *string  `json:"message"`
	Suggestion *string  `json:"suggestion"`
	Confidence *float64 `json:"confidence"`
}

// parseFindings decodes and validates an answer. strict rejects unknown
// fields and non-canonical spellings, for providers that enforce the
// schema while decoding; lenient mode tolerates what small local models
// tend to add (code fences, capitalised enums, extra fields). Problems
// name fields and positions but never quote the answer, so they are safe
// in an error message.
func parseFindings(payload []byte, files map[string]bool, strict bool, reviewer string) ([]review.Finding, error) {
	payload = bytes.TrimSpace(payload)
	if !strict {
		payload = stripFence(payload)
	}
	if len(payload) == 0 {
		return nil, errNoOutput
	}
	var top struct {
		Findings json.RawMessage `json:"findings"`
	}
	if err := decodeJSON(payload, &top, strict); err != nil {
		return nil, err
	}
	raw := bytes.TrimSpace(top.Findings)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, errors.New(`the required field "findings" is missing`)
	}
	if !strict && raw[0] == '"' {
		// Some models send the array as a JSON string inside the object.
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			raw = []byte(s)
		}
	}
	var wire []json.RawMessage
	if err := json.Unmarshal(raw, &wire); err != nil {
		return nil, errors.New(`"findings" is not an array`)
	}
	out := make([]review.Finding, 0, len(wire))
	for i, w := range wire {
		var wf wireFinding
		if err := decodeJSON(w, &wf, strict); err != nil {
			return nil, fmt.Errorf("findings[%d]: %v", i, err)
		}
		f, err := checkFinding(&wf, files, strict)
		if err != nil {
			return nil, fmt.Errorf("findings[%d].%v", i, err)
		}
		f.Reviewers = []string{reviewer}
		out = append(out, f)
	}
	return out, nil
}

func decodeJSON(data []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not valid JSON for the schema: %s", jsonProblem(err))
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q has the wrong type (%s where %s is required)", typ.Field, typ.Value, typ.Type)
		}
		return fmt.Sprintf("%s where %s is required", typ.Value, typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends early"
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(msg, "json: unknown field ")
	}
	return "malformed JSON"
}

func checkFinding(w *wireFinding, files map[string]bool, strict bool) (review.Finding, error) {
	var f review.Finding
	missing := func(name string) error { return fmt.Errorf("%s: required field is missing", name) }
	if w.File == nil {
		return f, missing("file")
	}
	f.File = *w.File
	if !files[f.File] {
		return f, errors.New("file: not a file of this diff; use the path exactly as written after \"File:\"")
	}
	if w.StartLine == nil {
		return f, missing("start_line")
	}
	if w.EndLine == nil {
		return f, missing("end_line")
	}
	f.StartLine, f.EndLine = *w.StartLine, *w.EndLine
	switch {
	case f.StartLine < 0 || f.EndLine < 0:
		return f, errors.New("start_line: line numbers cannot be negative")
	case f.StartLine > f.EndLine:
		return f, errors.New("end_line: must not be less than start_line")
	case f.StartLine == 0 && f.EndLine != 0:
		return f, errors.New("start_line: 0 (whole file) requires end_line 0 too")
	}
	if w.Severity == nil {
		return f, missing("severity")
	}
	sev, err := review.ParseSeverity(*w.Severity)
	if err != nil || (strict && *w.Severity != sev.String()) {
		return f, fmt.Errorf("severity: must be one of %s", strings.Join(severityEnum, ", "))
	}
	f.Severity = sev
	if w.Category == nil {
		return f, missing("category")
	}
	f.Category = *w.Category
	if !strict {
		f.Category = strings.ToLower(strings.TrimSpace(f.Category))
	}
	if !review.ValidCategory(f.Category) {
		return f, fmt.Errorf("category: must be one of %s", strings.Join(review.Categories, ", "))
	}
	if w.Message == nil {
		return f, missing("message")
	}
	f.Message = strings.TrimSpace(*w.Message)
	if f.Message == "" {
		return f, errors.New("message: must not be empty")
	}
	if w.Suggestion != nil {
		f.Suggestion = *w.Suggestion
	}
	if w.Confidence == nil {
		return f, missing("confidence")
	}
	f.Confidence = *w.Confidence
	if math.IsNaN(f.Confidence) || f.Confidence < 0 || f.Confidence > 1 {
		return f, errors.New("confidence: must be between 0 and 1")
	}
	return f, nil
}

// stripFence removes a Markdown code fence around the JSON, which models
// in plain JSON mode add despite being told not to.
func stripFence(b []byte) []byte {
	if !bytes.HasPrefix(b, []byte("```")) {
		return b
	}
	b = b[3:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	b = bytes.TrimSpace(b)
	b = bytes.TrimSuffix(b, []byte("```"))
	return bytes.TrimSpace(b)
}
