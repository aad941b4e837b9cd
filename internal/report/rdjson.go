package report

import (
	"bytes"
	"strings"

	"github.com/diffgate/diffgate/internal/review"
)

// reviewdog's Diagnostic Format, JSON flavour (DiagnosticResult message of
// proto/rdf/reviewdog.proto).
type (
	rdResult struct {
		Source      rdSource       `json:"source"`
		Severity    string         `json:"severity,omitempty"`
		Diagnostics []rdDiagnostic `json:"diagnostics"`
	}
	rdSource struct {
		Name string `json:"name"`
		URL  string `json:"url,omitempty"`
	}
	rdDiagnostic struct {
		Message     string         `json:"message"`
		Location    rdLocation     `json:"location"`
		Severity    string         `json:"severity"`
		Source      rdSource       `json:"source"`
		Code        rdCode         `json:"code"`
		Suggestions []rdSuggestion `json:"suggestions,omitempty"`
	}
	rdLocation struct {
		Path string `json:"path"`
		// Range is absent for a finding about the whole file.
		Range *rdRange `json:"range,omitempty"`
	}
	// rdRange without columns is line-wise: it covers the start line to
	// the end of the end line.
	rdRange struct {
		Start rdPosition `json:"start"`
		End   rdPosition `json:"end"`
	}
	rdPosition struct {
		Line int `json:"line"`
	}
	rdCode struct {
		Value string `json:"value"`
	}
	rdSuggestion struct {
		Range rdRange `json:"range"`
		Text  string  `json:"text"`
	}
)

// rdSeverities, indexed by review.Severity. reviewdog has three levels;
// critical and high fail a check as errors.
var rdSeverities = [...]string{
	review.Info:     "INFO",
	review.Low:      "INFO",
	review.Medium:   "WARNING",
	review.High:     "ERROR",
	review.Critical: "ERROR",
}

func writeRDJSON(buf *bytes.Buffer, res *review.Result, opts *Options) error {
	findings := sortedFindings(res.Findings)
	out := rdResult{
		Source:      rdSource{Name: ToolName, URL: opts.informationURI()},
		Diagnostics: make([]rdDiagnostic, 0, len(findings)),
	}
	worst := review.Info
	for i := range findings {
		f := &findings[i]
		sev := validSeverity(f.Severity)
		worst = max(worst, sev)
		source := ToolName
		if len(f.Reviewers) > 0 {
			source = strings.Join(f.Reviewers, ", ")
		}
		d := rdDiagnostic{
			Message:  f.Message,
			Location: rdLocation{Path: f.File},
			Severity: rdSeverities[sev],
			Source:   rdSource{Name: source},
			Code:     rdCode{Value: ruleID(f)},
		}
		if !f.FileLevel() {
			r := rdRange{Start: rdPosition{Line: f.StartLine}, End: rdPosition{Line: endLine(f)}}
			d.Location.Range = &r
			if f.Suggestion != "" {
				// reviewdog turns a suggestion into a GitHub suggested change
				// only when its lines are exactly the diagnostic's and it has
				// no columns; the text then replaces those whole lines and
				// must not end in a line break of its own.
				d.Suggestions = []rdSuggestion{{Range: r, Text: replacementText(f.Suggestion)}}
			}
		}
		out.Diagnostics = append(out.Diagnostics, d)
	}
	if len(findings) > 0 {
		out.Severity = rdSeverities[worst]
	}
	return encodeJSON(buf, out)
}
