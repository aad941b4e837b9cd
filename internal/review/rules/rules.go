// Package rules is the builtin reviewer: an offline, deterministic rule
// engine that finds leaked secrets and risky code on the added lines of a
// diff (R3).
//
// Every rule pairs cheap literal keywords with a precise matcher. A line is
// scanned once for all keywords; only the rules whose keywords occur run
// their regular expression, which keeps the reviewer fast on large diffs.
// Rules prefer precision over recall: a noisy reviewer gets ignored.
package rules

import (
	"regexp"
	"sort"
	"strings"

	"github.com/diffgate/diffgate/internal/review"
)

// Rule is one check of the builtin reviewer.
type Rule struct {
	// ID is stable and cited in suppressions ("diffgate:ignore DG-SQL-CONCAT").
	ID       string
	Severity review.Severity
	Category string
	Title    string
	// Message says what is wrong; it never contains matched text.
	Message string
	// Fix says how to put it right.
	Fix        string
	Confidence float64

	langs lang
	// keywords must occur (ASCII case-insensitively) for the rule to run;
	// exact keywords must occur as written.
	keywords []string
	exact    []string
	// need must all occur as written before the matcher runs: a second,
	// equally cheap filter for keywords that are common on their own.
	need []string
	// lineOK vets the line once before the matcher runs. Checks about the
	// whole line belong here, not in accept: accept runs per match, and a
	// line-wide check per match is quadratic on long minified lines.
	lineOK func(line string) bool
	re     *regexp.Regexp
	// group is the submatch that holds the offending value (0: whole match).
	group int
	// accept vets one match of re; nil accepts every match.
	accept func(line string, m []int) bool
	// fn replaces re for rules that need more than one expression.
	fn func(line string, lg lang) (start, end int, ok bool)
	// suggest returns a literal replacement line, or "" when there is none.
	suggest func(line string) string
	// entropy marks the high-entropy rule, which is driven by a token scan
	// rather than keywords.
	entropy bool
}

// Secret reports whether the rule finds leaked credentials.
func (r *Rule) Secret() bool { return r.Category == "secret" }

// Languages names the languages the rule checks; nil means every file.
func (r *Rule) Languages() []string {
	if r.langs == langAll {
		return nil
	}
	var out []string
	for _, l := range langNames {
		if r.langs&l.l != 0 {
			out = append(out, l.name)
		}
	}
	return out
}

// find returns the span of the offending text on line.
func (r *Rule) find(line string, lg lang) (int, int, bool) {
	for _, n := range r.need {
		if !strings.Contains(line, n) {
			return 0, 0, false
		}
	}
	if r.lineOK != nil && !r.lineOK(line) {
		return 0, 0, false
	}
	if r.fn != nil {
		return r.fn(line, lg)
	}
	if r.accept == nil {
		m := r.re.FindStringSubmatchIndex(line)
		if m == nil {
			return 0, 0, false
		}
		return groupSpan(m, r.group)
	}
	for _, m := range r.re.FindAllStringSubmatchIndex(line, -1) {
		if r.accept(line, m) {
			return groupSpan(m, r.group)
		}
	}
	return 0, 0, false
}

func groupSpan(m []int, g int) (int, int, bool) {
	if 2*g+1 < len(m) && m[2*g] >= 0 {
		return m[2*g], m[2*g+1], true
	}
	return m[0], m[1], true
}

// catalogue is built once; it is never modified afterwards.
var catalogue = buildCatalogue()

func buildCatalogue() []Rule {
	all := append(secretRules(), codeRules()...)
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

// Catalogue returns every rule, sorted by ID. The slice is a copy.
func Catalogue() []Rule {
	out := make([]Rule, len(catalogue))
	copy(out, catalogue)
	return out
}
