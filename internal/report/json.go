package report

import (
	"bytes"
	"encoding/json"

	"github.com/diffgate/diffgate/internal/review"
)

// JSONVersion is the version of the JSON document. It changes only when a
// field is removed or changes meaning; new fields may appear at any time.
const JSONVersion = 1

// Document is the JSON format, documented here because scripts depend on
// it:
//
//	{
//	  "version": 1,
//	  "findings": [            // sorted by file, line, severity (highest first)
//	    {"file": "a.go", "start_line": 12, "end_line": 14,   // 0, 0: the whole file
//	     "severity": "high",   // critical, high, medium, low, info
//	     "category": "security", "rule": "DG-…",            // rule: builtin findings only
//	     "reviewers": ["builtin", "anthropic"], "message": "…",
//	     "suggestion": "…",    // optional replacement for the lines
//	     "confidence": 0.9}
//	  ],
//	  "reviewers": [{"name", "model", "ok", "error", "usage": {"input_tokens", "output_tokens"},
//	                 "chunks", "findings", "duration_ms"}],
//	  "skipped": [{"file", "start_line", "end_line", "reviewer", "reason"}],  // R5
//	  "summary": {"files": 5, "files_with_findings": 2, "findings": 3, "failed": false,
//	              "by_severity": {"critical": 0, "high": 1, "medium": 0, "low": 2, "info": 0}}
//	}
//
// Lists are always arrays, never null, and by_severity always has all five
// keys.
type Document struct {
	Version   int                     `json:"version"`
	Findings  []review.Finding        `json:"findings"`
	Reviewers []review.ReviewerResult `json:"reviewers"`
	Skipped   []review.Skipped        `json:"skipped"`
	Summary   Summary                 `json:"summary"`
}

// Summary counts what a review found.
type Summary struct {
	// Files is the number of files in the diff.
	Files             int `json:"files"`
	FilesWithFindings int `json:"files_with_findings"`
	Findings          int `json:"findings"`
	// Failed is true when at least one reviewer failed.
	Failed     bool           `json:"failed"`
	BySeverity map[string]int `json:"by_severity"`
}

// NewDocument builds the JSON document of a result.
func NewDocument(res *review.Result) *Document {
	doc := &Document{
		Version:   JSONVersion,
		Findings:  sortedFindings(res.Findings),
		Reviewers: append([]review.ReviewerResult{}, res.Reviewers...),
		Skipped:   sortedSkipped(res.Skipped),
		Summary: Summary{
			Files:      res.Files,
			Findings:   len(res.Findings),
			Failed:     res.Failed(),
			BySeverity: map[string]int{},
		},
	}
	if doc.Findings == nil {
		doc.Findings = []review.Finding{}
	}
	if doc.Skipped == nil {
		doc.Skipped = []review.Skipped{}
	}
	for s := review.Info; s <= review.Critical; s++ {
		doc.Summary.BySeverity[s.String()] = 0
	}
	for i := range doc.Findings {
		f := &doc.Findings[i]
		// The copy is ours to change: no null reviewers, and a severity
		// that marshals.
		if f.Reviewers == nil {
			f.Reviewers = []string{}
		}
		f.Severity = validSeverity(f.Severity)
		doc.Summary.BySeverity[f.Severity.String()]++
		if i == 0 || f.File != doc.Findings[i-1].File {
			doc.Summary.FilesWithFindings++
		}
	}
	return doc
}

func writeJSON(buf *bytes.Buffer, res *review.Result, _ *Options) error {
	return encodeJSON(buf, NewDocument(res))
}

// encodeJSON writes indented JSON without HTML escaping: the output goes to
// files and terminals, where "\u003c" only hurts readability.
func encodeJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
