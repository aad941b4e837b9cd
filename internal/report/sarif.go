package report

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/diffgate/diffgate/internal/review"
)

// SARIFSchemaURI is the $schema written into SARIF logs.
const SARIFSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

// srcRoot is the uriBaseId of every location: paths in a diff are relative
// to the repository root, which is what GitHub code scanning expects.
const srcRoot = "%SRCROOT%"

// The SARIF 2.1.0 subset that GitHub code scanning reads.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool         `json:"tool"`
		Invocations []sarifInvocation `json:"invocations"`
		Results     []sarifResult     `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri,omitempty"`
		Version        string      `json:"version,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		ShortDescription     sarifText      `json:"shortDescription"`
		FullDescription      sarifText      `json:"fullDescription"`
		Help                 sarifText      `json:"help"`
		DefaultConfiguration sarifRuleLevel `json:"defaultConfiguration"`
		Properties           sarifRuleProps `json:"properties"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifRuleLevel struct {
		Level string `json:"level"`
	}
	sarifRuleProps struct {
		Tags []string `json:"tags"`
		// SecuritySeverity is a CVSS-like score as a string, as GitHub
		// wants it; empty for info, which is no security risk.
		SecuritySeverity string `json:"security-severity,omitempty"`
		Precision        string `json:"precision"`
	}
	sarifResult struct {
		RuleID     string           `json:"ruleId"`
		RuleIndex  int              `json:"ruleIndex"`
		Level      string           `json:"level"`
		Message    sarifText        `json:"message"`
		Locations  []sarifLocation  `json:"locations"`
		Fixes      []sarifFix       `json:"fixes,omitempty"`
		Properties sarifResultProps `json:"properties"`
	}
	sarifResultProps struct {
		Confidence float64  `json:"confidence"`
		Reviewers  []string `json:"reviewers"`
		Category   string   `json:"category"`
		Severity   string   `json:"severity"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		// Region is absent for a finding about the whole file.
		Region *sarifRegion `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
		EndLine   int `json:"endLine,omitempty"`
	}
	sarifFix struct {
		Description     sarifText           `json:"description"`
		ArtifactChanges []sarifArtifactEdit `json:"artifactChanges"`
	}
	sarifArtifactEdit struct {
		ArtifactLocation sarifArtifact      `json:"artifactLocation"`
		Replacements     []sarifReplacement `json:"replacements"`
	}
	sarifReplacement struct {
		DeletedRegion   sarifRegion `json:"deletedRegion"`
		InsertedContent sarifText   `json:"insertedContent"`
	}
	sarifInvocation struct {
		ExecutionSuccessful bool                `json:"executionSuccessful"`
		Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations,omitempty"`
	}
)

// sarifLevel maps severities onto SARIF levels: GitHub fails a check on
// "error", so only critical and high findings get it.
func sarifLevel(s review.Severity) string {
	switch validSeverity(s) {
	case review.Critical, review.High:
		return "error"
	case review.Medium:
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity places each severity inside GitHub's bands (critical
// over 9.0, high 7.0–8.9, medium 4.0–6.9, low 0.1–3.9).
func securitySeverity(s review.Severity) string {
	switch validSeverity(s) {
	case review.Critical:
		return "9.5"
	case review.High:
		return "8.0"
	case review.Medium:
		return "5.5"
	case review.Low:
		return "3.0"
	default:
		return ""
	}
}

func writeSARIF(buf *bytes.Buffer, res *review.Result, opts *Options) error {
	findings := sortedFindings(res.Findings)
	catalogue := make(map[string]*RuleInfo, len(opts.Rules))
	for i := range opts.Rules {
		catalogue[opts.Rules[i].ID] = &opts.Rules[i]
	}

	rules, index := sarifRules(findings, catalogue)
	results := make([]sarifResult, 0, len(findings))
	for i := range findings {
		f := &findings[i]
		id := ruleID(f)
		r := sarifResult{
			RuleID:    id,
			RuleIndex: index[id],
			Level:     sarifLevel(f.Severity),
			Message:   sarifText{Text: sarifMessage(f)},
			Locations: []sarifLocation{sarifLocationOf(f.File, f.StartLine, endLine(f))},
			Properties: sarifResultProps{
				Confidence: f.Confidence,
				Reviewers:  append([]string{}, f.Reviewers...),
				Category:   category(f),
				Severity:   validSeverity(f.Severity).String(),
			},
		}
		if f.Suggestion != "" && !f.FileLevel() {
			r.Fixes = []sarifFix{{
				Description: sarifText{Text: "Suggested replacement"},
				ArtifactChanges: []sarifArtifactEdit{{
					ArtifactLocation: sarifArtifact{URI: fileURI(f.File), URIBaseID: srcRoot},
					Replacements: []sarifReplacement{{
						DeletedRegion:   sarifRegion{StartLine: f.StartLine, EndLine: endLine(f)},
						InsertedContent: sarifText{Text: replacementText(f.Suggestion)},
					}},
				}},
			}}
		}
		results = append(results, r)
	}

	log := sarifLog{
		Schema:  SARIFSchemaURI,
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name:           ToolName,
				InformationURI: opts.informationURI(),
				Version:        opts.ToolVersion,
				Rules:          rules,
			}},
			Invocations: []sarifInvocation{sarifInvocationOf(res)},
			Results:     results,
		}},
	}
	return encodeJSON(buf, log)
}

// sarifRules describes each rule the findings use, sorted by ID, and
// returns each rule's index in that list.
func sarifRules(findings []review.Finding, catalogue map[string]*RuleInfo) ([]sarifRule, map[string]int) {
	type seen struct {
		severity review.Severity
		category string
		builtin  bool
	}
	used := map[string]*seen{}
	var ids []string
	for i := range findings {
		f := &findings[i]
		id := ruleID(f)
		s, ok := used[id]
		if !ok {
			s = &seen{severity: review.Info, category: category(f), builtin: f.Rule != ""}
			used[id] = s
			ids = append(ids, id)
		}
		s.severity = max(s.severity, validSeverity(f.Severity))
	}
	slices.Sort(ids)

	rules := make([]sarifRule, 0, len(ids))
	index := make(map[string]int, len(ids))
	for _, id := range ids {
		s := used[id]
		sev, cat := s.severity, s.category
		var short, full, help string
		if info, ok := catalogue[id]; ok {
			sev = validSeverity(info.Severity)
			if info.Category != "" {
				cat = info.Category
			}
			short, full, help = info.Title, info.Message, info.Fix
		}
		if short == "" {
			if s.builtin {
				short = "diffgate rule " + id
			} else {
				short = fmt.Sprintf("%s issue raised by an LLM reviewer", upperFirst(cat))
			}
		}
		if full == "" {
			if s.builtin {
				full = short + "."
			} else {
				full = fmt.Sprintf("An LLM reviewer found a %s issue in the changed lines. LLM findings are opinions: check them before acting.", cat)
			}
		}
		if help == "" {
			help = full
		}
		precision := "medium"
		if s.builtin {
			// Builtin rules are deterministic pattern matches, checked by tests.
			precision = "high"
		}
		tags := []string{"security"}
		if cat != "security" {
			// Tags must be unique (SARIF propertyBag.tags).
			tags = append(tags, cat)
		}
		index[id] = len(rules)
		rules = append(rules, sarifRule{
			ID:                   id,
			ShortDescription:     sarifText{Text: short},
			FullDescription:      sarifText{Text: full},
			Help:                 sarifText{Text: help},
			DefaultConfiguration: sarifRuleLevel{Level: sarifLevel(sev)},
			Properties: sarifRuleProps{
				Tags:             tags,
				SecuritySeverity: securitySeverity(sev),
				Precision:        precision,
			},
		})
	}
	return rules, index
}

// sarifMessage names the reviewers behind a finding, since agreement
// between reviewers is the point of a second opinion (R4).
func sarifMessage(f *review.Finding) string {
	msg := f.Message
	if msg == "" {
		msg = "(no message)"
	}
	if len(f.Reviewers) == 0 {
		return msg
	}
	return fmt.Sprintf("%s (reviewers: %s)", msg, strings.Join(f.Reviewers, ", "))
}

// sarifInvocationOf reports reviewer failures and skipped parts of the diff
// (R5) as tool notifications, which GitHub shows on the tool status page.
func sarifInvocationOf(res *review.Result) sarifInvocation {
	inv := sarifInvocation{ExecutionSuccessful: !res.Failed()}
	for _, r := range res.Reviewers {
		if r.OK {
			continue
		}
		msg := r.Error
		if msg == "" {
			msg = "failed"
		}
		inv.Notifications = append(inv.Notifications, sarifNotification{
			Level:   "error",
			Message: sarifText{Text: fmt.Sprintf("reviewer %s: %s", r.Name, msg)},
		})
	}
	for _, s := range sortedSkipped(res.Skipped) {
		who := "any reviewer"
		if s.Reviewer != "" {
			who = "reviewer " + s.Reviewer
		}
		inv.Notifications = append(inv.Notifications, sarifNotification{
			Level:     "warning",
			Message:   sarifText{Text: fmt.Sprintf("not reviewed by %s: %s", who, s.Reason)},
			Locations: []sarifLocation{sarifLocationOf(s.File, s.StartLine, max(s.EndLine, s.StartLine))},
		})
	}
	return inv
}

func sarifLocationOf(file string, start, end int) sarifLocation {
	loc := sarifLocation{PhysicalLocation: sarifPhysical{
		ArtifactLocation: sarifArtifact{URI: fileURI(file), URIBaseID: srcRoot},
	}}
	if start > 0 {
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: start, EndLine: end}
	}
	return loc
}

// fileURI turns a repository path into a relative URI reference. Every byte
// outside RFC 3986's unreserved set is percent-encoded: spaces and
// non-ASCII names must be, and a ':' in the first segment would otherwise
// be read as a URI scheme.
func fileURI(path string) string {
	path = strings.TrimPrefix(path, "./")
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '/' || isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
