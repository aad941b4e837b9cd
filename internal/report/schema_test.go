package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/diffgate/diffgate/internal/review"
)

// The schemas under testdata are verbatim copies of the published ones (see
// testdata/SOURCES.md). Each is registered under its canonical URL and the
// loader refuses every other URL, so validation never touches the network.
const (
	sarifSchemaURL  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	rdjsonSchemaURL = "https://raw.githubusercontent.com/reviewdog/reviewdog/master/proto/rdf/jsonschema/DiagnosticResult.jsonschema"
	rdjsonJSONURL   = "https://raw.githubusercontent.com/reviewdog/reviewdog/master/proto/rdf/jsonschema/DiagnosticResult.json"
)

// localLoader maps schema URLs to files under testdata.
type localLoader map[string]string

func (l localLoader) Load(u string) (any, error) {
	path, ok := l[u]
	if !ok {
		return nil, fmt.Errorf("schema %s is not available offline", u)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

func compileSchema(t *testing.T, url string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(localLoader{
		sarifSchemaURL:  filepath.Join("testdata", "sarif-schema-2.1.0.json"),
		SARIFSchemaURI:  filepath.Join("testdata", "sarif-schema-2.1.0.json"),
		rdjsonSchemaURL: filepath.Join("testdata", "rdjson", "DiagnosticResult.jsonschema"),
		rdjsonJSONURL:   filepath.Join("testdata", "rdjson", "DiagnosticResult.json"),
	})
	// Formats such as "uri-reference" are assertions here, so a badly
	// encoded artifact URI fails the test.
	c.AssertFormat()
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", url, err)
	}
	return s
}

func decodeInstance(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b)
	}
	return v
}

func render(t *testing.T, format string, res *review.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, format, res, Options{ToolVersion: "1.2.3", Rules: catalogue()}); err != nil {
		t.Fatalf("Write(%s) = %v", format, err)
	}
	return buf.Bytes()
}

// The stored copy must be the real SARIF 2.1.0 schema, not some other file.
func TestSARIFSchemaIsTheOfficialOne(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schema      string         `json:"$schema"`
		ID          string         `json:"id"`
		Title       string         `json:"title"`
		Definitions map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if s.ID != sarifSchemaURL {
		t.Errorf("schema id = %q, want %q", s.ID, sarifSchemaURL)
	}
	if want := "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"; s.Title != want {
		t.Errorf("schema title = %q, want %q", s.Title, want)
	}
	for _, def := range []string{"result", "reportingDescriptor", "physicalLocation", "region", "fix", "notification"} {
		if _, ok := s.Definitions[def]; !ok {
			t.Errorf("schema lacks definition %q", def)
		}
	}
}

// R7: SARIF output is valid SARIF 2.1.0 for every kind of Result.
func TestSARIFValidAgainstSchema(t *testing.T) {
	schema := compileSchema(t, sarifSchemaURL)
	for _, tc := range schemaCases() {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, "sarif", tc.res)
			if err := schema.Validate(decodeInstance(t, out)); err != nil {
				t.Fatalf("SARIF for %s is invalid: %v\n%s", tc.name, err, out)
			}
			checkSARIFSemantics(t, tc.res, out)
		})
	}
}

// checkSARIFSemantics checks what the schema cannot: indexes point at the
// right rule, URIs decode to the finding's path, file-level findings have
// no region, and what GitHub needs to rank security alerts is there.
func checkSARIFSemantics(t *testing.T, res *review.Result, out []byte) {
	t.Helper()
	var log sarifLog
	if err := json.Unmarshal(out, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "diffgate" || run.Tool.Driver.Version != "1.2.3" {
		t.Errorf("driver = %q %q, want diffgate 1.2.3", run.Tool.Driver.Name, run.Tool.Driver.Version)
	}
	if len(run.Results) != len(res.Findings) {
		t.Fatalf("results = %d, want %d (one per finding)", len(run.Results), len(res.Findings))
	}
	findings := sortedFindings(res.Findings)
	for i, r := range run.Results {
		f := findings[i]
		if r.RuleIndex < 0 || r.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d: ruleIndex %d does not point at rule %q", i, r.RuleIndex, r.RuleID)
		}
		if want := ruleID(&f); r.RuleID != want {
			t.Errorf("result %d: ruleId = %q, want %q", i, r.RuleID, want)
		}
		loc := r.Locations[0].PhysicalLocation
		got, err := url.PathUnescape(loc.ArtifactLocation.URI)
		if err != nil || got != f.File {
			t.Errorf("result %d: uri %q decodes to %q (%v), want %q", i, loc.ArtifactLocation.URI, got, err, f.File)
		}
		// The schema's uri-reference check is lenient (it lets spaces
		// through), so check the encoding strictly here.
		if !strictURIPath(loc.ArtifactLocation.URI) {
			t.Errorf("result %d: uri %q is not strictly percent-encoded", i, loc.ArtifactLocation.URI)
		}
		if f.FileLevel() != (loc.Region == nil) {
			t.Errorf("result %d: file-level %v but region %+v", i, f.FileLevel(), loc.Region)
		}
		if loc.Region != nil && (loc.Region.StartLine != f.StartLine || loc.Region.EndLine < loc.Region.StartLine) {
			t.Errorf("result %d: region %+v for lines %d-%d", i, *loc.Region, f.StartLine, f.EndLine)
		}
		for _, rv := range f.Reviewers {
			if !strings.Contains(r.Message.Text, rv) {
				t.Errorf("result %d: message %q does not name reviewer %q (R4)", i, r.Message.Text, rv)
			}
		}
	}
	for _, rule := range run.Tool.Driver.Rules {
		p := rule.Properties
		if !slices.Contains(p.Tags, "security") {
			t.Errorf("rule %s: tags %v lack \"security\"", rule.ID, p.Tags)
		}
		if rule.DefaultConfiguration.Level != "note" && p.SecuritySeverity == "" {
			t.Errorf("rule %s: level %s without security-severity", rule.ID, rule.DefaultConfiguration.Level)
		}
	}
	// R5: every skipped part is reported.
	if n := len(run.Invocations[0].Notifications); n < len(res.Skipped) {
		t.Errorf("notifications = %d, want at least %d skipped parts", n, len(res.Skipped))
	}
}

// R7: rdjson output is valid against reviewdog's published schemas.
func TestRDJSONValidAgainstSchema(t *testing.T) {
	schemas := map[string]*jsonschema.Schema{
		"DiagnosticResult.jsonschema": compileSchema(t, rdjsonSchemaURL),
		"DiagnosticResult.json":       compileSchema(t, rdjsonJSONURL),
	}
	for _, tc := range schemaCases() {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, "rdjson", tc.res)
			inst := decodeInstance(t, out)
			for name, s := range schemas {
				if err := s.Validate(inst); err != nil {
					t.Errorf("rdjson for %s is invalid against %s: %v\n%s", tc.name, name, err, out)
				}
			}
			checkRDJSONSemantics(t, tc.res, out)
		})
	}
}

func checkRDJSONSemantics(t *testing.T, res *review.Result, out []byte) {
	t.Helper()
	var doc rdResult
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Diagnostics) != len(res.Findings) {
		t.Fatalf("diagnostics = %d, want %d", len(doc.Diagnostics), len(res.Findings))
	}
	findings := sortedFindings(res.Findings)
	for i, d := range doc.Diagnostics {
		f := findings[i]
		if d.Location.Path != f.File {
			t.Errorf("diagnostic %d: path %q, want %q", i, d.Location.Path, f.File)
		}
		if f.FileLevel() != (d.Location.Range == nil) {
			t.Errorf("diagnostic %d: file-level %v but range %+v", i, f.FileLevel(), d.Location.Range)
		}
		for _, s := range d.Suggestions {
			// reviewdog only posts a suggested change whose lines are the
			// diagnostic's own.
			if d.Location.Range == nil || s.Range != *d.Location.Range {
				t.Errorf("diagnostic %d: suggestion range %+v, location range %+v", i, s.Range, d.Location.Range)
			}
			if strings.HasSuffix(s.Text, "\n") {
				t.Errorf("diagnostic %d: suggestion text %q ends in a line break", i, s.Text)
			}
		}
	}
}

// The validators must be able to fail, or the tests above prove nothing.
func TestSchemasRejectBrokenDocuments(t *testing.T) {
	sarif := compileSchema(t, sarifSchemaURL)
	rdLoose := compileSchema(t, rdjsonSchemaURL)
	rdStrict := compileSchema(t, rdjsonJSONURL)

	// Start from real output, so the broken documents differ from valid
	// ones by exactly one field.
	validSARIF := render(t, "sarif", representative())
	validRD := render(t, "rdjson", representative())

	tests := []struct {
		name   string
		schema *jsonschema.Schema
		doc    []byte
		edit   func(m map[string]any)
	}{
		{"sarif level fatal", sarif, validSARIF, func(m map[string]any) {
			result(m, 0)["level"] = "fatal"
		}},
		{"sarif version 2.0.0", sarif, validSARIF, func(m map[string]any) {
			m["version"] = "2.0.0"
		}},
		{"sarif startLine 0", sarif, validSARIF, func(m map[string]any) {
			region(result(m, 1))["startLine"] = 0
		}},
		{"sarif result without message", sarif, validSARIF, func(m map[string]any) {
			delete(result(m, 0), "message")
		}},
		{"sarif uri with bad escape", sarif, validSARIF, func(m map[string]any) {
			artifact(result(m, 0))["uri"] = "100%zz.go"
		}},
		{"sarif uri with backslash", sarif, validSARIF, func(m map[string]any) {
			artifact(result(m, 0))["uri"] = `dir\file.go`
		}},
		{"sarif duplicate tags", sarif, validSARIF, func(m map[string]any) {
			rule := m["runs"].([]any)[0].(map[string]any)["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)[0].(map[string]any)
			rule["properties"].(map[string]any)["tags"] = []any{"security", "security"}
		}},
		{"rdjson severity FATAL", rdStrict, validRD, func(m map[string]any) {
			m["diagnostics"].([]any)[0].(map[string]any)["severity"] = "FATAL"
		}},
		{"rdjson line as string (strict)", rdStrict, validRD, func(m map[string]any) {
			rdStart(m)["line"] = "12"
		}},
		{"rdjson line as string (loose)", rdLoose, validRD, func(m map[string]any) {
			rdStart(m)["line"] = "12"
		}},
		{"rdjson diagnostics null", rdLoose, validRD, func(m map[string]any) {
			m["diagnostics"] = nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(tc.doc, &m); err != nil {
				t.Fatal(err)
			}
			if err := tc.schema.Validate(decodeInstance(t, mustJSON(t, m))); err != nil {
				t.Fatalf("unedited document invalid: %v", err)
			}
			tc.edit(m)
			if err := tc.schema.Validate(decodeInstance(t, mustJSON(t, m))); err == nil {
				t.Errorf("Validate(%s) = nil, want an error", tc.name)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func result(m map[string]any, i int) map[string]any {
	return m["runs"].([]any)[0].(map[string]any)["results"].([]any)[i].(map[string]any)
}

func physical(r map[string]any) map[string]any {
	return r["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
}

func region(r map[string]any) map[string]any { return physical(r)["region"].(map[string]any) }
func artifact(r map[string]any) map[string]any {
	return physical(r)["artifactLocation"].(map[string]any)
}

// rdStart is the start of the first diagnostic that has a range.
func rdStart(m map[string]any) map[string]any {
	for _, d := range m["diagnostics"].([]any) {
		loc := d.(map[string]any)["location"].(map[string]any)
		if r, ok := loc["range"].(map[string]any); ok {
			return r["start"].(map[string]any)
		}
	}
	panic("no diagnostic with a range")
}

// strictURIPath reports whether s holds only RFC 3986 unreserved
// characters, slashes and well-formed percent escapes.
func strictURIPath(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/' || isUnreserved(c):
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'F'
}
