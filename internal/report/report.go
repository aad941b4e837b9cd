// Package report renders the result of a review in the formats the CLI
// offers (R7): text for people, a stable JSON document, SARIF 2.1.0 for
// GitHub code scanning and rdjson for reviewdog.
//
// Every format lists every finding, every reviewer's outcome and every part
// of the diff that was not reviewed (R5), so that nothing is hidden from the
// reader whatever the format. Output is deterministic: the same Result gives
// the same bytes, whatever order the findings arrived in.
package report

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/diffgate/diffgate/internal/review"
)

// ToolName is the name every machine-readable format gives the producer.
const ToolName = "diffgate"

// DefaultInformationURI is where a SARIF or rdjson consumer can learn about
// the tool when Options.InformationURI is empty.
const DefaultInformationURI = "https://github.com/diffgate/diffgate"

// ErrUnknownFormat is returned by Write for a format it does not know.
var ErrUnknownFormat = errors.New("unknown report format")

// RuleInfo describes a builtin rule. The caller passes the catalogue so
// that SARIF rule metadata is complete without this package depending on
// the rule engine.
type RuleInfo struct {
	ID, Title, Message, Fix string
	Severity                review.Severity
	Category                string
}

// Options tune the output.
type Options struct {
	// Color turns on ANSI colours in the text format. The caller decides
	// (terminal, NO_COLOR); the report never looks at the environment.
	Color bool
	// ToolVersion is the diffgate version reported in SARIF.
	ToolVersion string
	// Rules is the catalogue of builtin rules, used for SARIF rule metadata.
	// Rules that findings use but that are missing here still get a rule
	// entry, with the metadata derived from the findings.
	Rules []RuleInfo
	// InformationURI overrides DefaultInformationURI.
	InformationURI string
}

func (o *Options) informationURI() string {
	if o.InformationURI != "" {
		return o.InformationURI
	}
	return DefaultInformationURI
}

// Formats lists the formats Write accepts, in the order a help text shows them.
func Formats() []string {
	return []string{"text", "json", "sarif", "rdjson"}
}

// Write renders res to w in the named format.
func Write(w io.Writer, format string, res *review.Result, opts Options) error {
	if res == nil {
		return errors.New("report: nil result")
	}
	var (
		buf bytes.Buffer
		err error
	)
	// Rendering into a buffer first means a failed render writes nothing
	// and a short write is reported once.
	switch format {
	case "text":
		err = writeText(&buf, res, &opts)
	case "json":
		err = writeJSON(&buf, res, &opts)
	case "sarif":
		err = writeSARIF(&buf, res, &opts)
	case "rdjson":
		err = writeRDJSON(&buf, res, &opts)
	default:
		return fmt.Errorf("report: %w %q (want %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
	}
	if err != nil {
		return fmt.Errorf("report: render %s: %w", format, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: write %s: %w", format, err)
	}
	return nil
}

// sortedFindings returns a copy of the findings in report order: by file,
// then line (file-level findings first), then severity (highest first).
// The remaining keys only make the order total, so that output does not
// depend on the order in which concurrent reviewers answered.
func sortedFindings(fs []review.Finding) []review.Finding {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, compareFindings)
	return out
}

func compareFindings(a, b review.Finding) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.StartLine, b.StartLine),
		cmp.Compare(a.EndLine, b.EndLine),
		cmp.Compare(b.Severity, a.Severity),
		cmp.Compare(a.Category, b.Category),
		cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Message, b.Message),
		cmp.Compare(a.Suggestion, b.Suggestion),
		slices.Compare(a.Reviewers, b.Reviewers),
		cmp.Compare(a.Confidence, b.Confidence),
	)
}

func sortedSkipped(ss []review.Skipped) []review.Skipped {
	out := slices.Clone(ss)
	slices.SortStableFunc(out, func(a, b review.Skipped) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.StartLine, b.StartLine),
			cmp.Compare(a.EndLine, b.EndLine),
			cmp.Compare(a.Reviewer, b.Reviewer),
			cmp.Compare(a.Reason, b.Reason),
		)
	})
	return out
}

// ruleID names the rule a finding belongs to: the builtin rule ID, or
// "llm/<category>" for LLM findings, which have no rule of their own.
func ruleID(f *review.Finding) string {
	if f.Rule != "" {
		return f.Rule
	}
	return "llm/" + category(f)
}

func category(f *review.Finding) string {
	if f.Category == "" {
		return "other"
	}
	return f.Category
}

// endLine is the last line of a line-level finding, never before its start.
func endLine(f *review.Finding) int {
	return max(f.EndLine, f.StartLine)
}

// validSeverity clamps out-of-range values so that one bad finding cannot
// make a whole report fail to render.
func validSeverity(s review.Severity) review.Severity {
	return min(max(s, review.Info), review.Critical)
}

// replacementText is a suggestion as a replacement for whole lines: both
// SARIF regions and reviewdog line ranges without columns stop before the
// final line break, so the replacement must not add one.
func replacementText(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}
