// Package review is the review pipeline: a parsed diff goes to one or more
// reviewers concurrently, large diffs are split to fit each reviewer's
// budget, and the findings come back checked against the diff and merged.
package review

import (
	"fmt"
	"strings"
)

// Severity orders findings from Info (lowest) to Critical.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads one of critical, high, medium, low, info (any case).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want critical, high, medium, low or info)", s)
}

func (s Severity) MarshalText() ([]byte, error) {
	if s < Info || s > Critical {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Categories is the fixed vocabulary of finding categories. Reviewers map
// their own notions onto it so that findings of different reviewers can be
// recognised as the same (R4).
var Categories = []string{
	"secret",          // leaked credentials, keys, tokens
	"security",        // injection, unsafe deserialisation, weak crypto, disabled TLS checks
	"correctness",     // bugs: wrong logic, nil dereference, off-by-one, races
	"reliability",     // error handling, resource leaks, timeouts
	"performance",     // needless work, quadratic loops, allocations on hot paths
	"maintainability", // dead code, debug leftovers, confusing structure
	"style",           // naming, formatting, idiom
	"other",
}

// ValidCategory reports whether c is in Categories.
func ValidCategory(c string) bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

// Finding is one thing a reviewer has to say about the diff (R2).
type Finding struct {
	// File is the path in the new tree (the old path for a deleted file).
	File string `json:"file"`
	// StartLine and EndLine are 1-based lines of the new file, both within
	// the diff. 0 means the finding is about the file as a whole.
	StartLine int      `json:"start_line"`
	EndLine   int      `json:"end_line"`
	Severity  Severity `json:"severity"`
	Category  string   `json:"category"`
	// Rule is the builtin rule ID (e.g. "DG-SECRET-AWS-KEY"); empty for LLM findings.
	Rule string `json:"rule,omitempty"`
	// Reviewers names every reviewer that raised this finding.
	Reviewers  []string `json:"reviewers"`
	Message    string   `json:"message"`
	Suggestion string   `json:"suggestion,omitempty"`
	// Confidence is between 0 and 1.
	Confidence float64 `json:"confidence"`
}

// FileLevel reports whether the finding is about the file as a whole.
func (f *Finding) FileLevel() bool { return f.StartLine == 0 }
