package rules

import (
	"context"
	"fmt"
	"math/bits"
	"strings"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
)

// Name is the reviewer's name.
const Name = "builtin"

// ctxEvery is how many added lines pass between checks of ctx; checking
// every line would cost more than some rules.
const ctxEvery = 1024

// ignoreMarker starts an inline suppression: "diffgate:ignore DG-X, DG-Y".
const ignoreMarker = "diffgate:ignore"

// index is built once from catalogue and never modified.
var index = buildIndex(catalogue)

// Reviewer is the builtin reviewer. It is safe for concurrent use.
type Reviewer struct {
	rules   []Rule
	index   *keywordIndex
	entropy int // index of the high-entropy rule in rules
	// messages[i] is the finding text of rules[i], built once: a file
	// dense with findings would otherwise build it per finding.
	messages []string
}

var _ review.Reviewer = (*Reviewer)(nil)

// New returns the builtin reviewer with every rule of Catalogue.
func New() *Reviewer {
	r := &Reviewer{rules: catalogue, index: index, entropy: -1, messages: make([]string, len(catalogue))}
	for i := range catalogue {
		if catalogue[i].entropy {
			r.entropy = i
		}
		r.messages[i] = catalogue[i].Message + " Fix: " + catalogue[i].Fix
	}
	return r
}

// Name returns "builtin".
func (r *Reviewer) Name() string { return Name }

// Review checks the added lines of d. Deleted and context lines are never
// reported: they are not the change under review. Binary files are skipped.
// Findings come in diff order: by file, then line, then rule ID.
func (r *Reviewer) Review(ctx context.Context, d *diff.Diff) (*review.Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("builtin review: %w", err)
	}
	rep := &review.Report{}
	if d == nil {
		return rep, nil
	}
	out := findingList{}
	seen := 0
	for _, f := range d.Files {
		if f == nil || f.Binary {
			continue
		}
		fc := fileCtx{path: f.Path()}
		fc.lang = detectLang(fc.path)
		fc.rules = r.index.byLang[langBit(fc.lang)]
		fc.entropy = r.entropy >= 0 && fc.rules.has(r.entropy) && !isLockfile(fc.path)
		for _, h := range f.Hunks {
			if h == nil {
				continue
			}
			for i := range h.Lines {
				ln := &h.Lines[i]
				if ln.Kind != diff.Add {
					continue
				}
				seen++
				if seen%ctxEvery == 0 {
					if err := ctx.Err(); err != nil {
						return nil, fmt.Errorf("builtin review: %w", err)
					}
				}
				r.reviewLine(&out, &fc, ln)
			}
		}
	}
	rep.Findings = out.all()
	return rep, nil
}

// findingList collects findings with as little copying and allocation per
// finding as it can, as one file may hold hundreds of thousands of them:
// in blocks that are copied once, into a slice of the exact size.
type findingList struct {
	full [][]review.Finding
	list []review.Finding
	// names backs the Reviewers slices of many findings; each gets a
	// one-element slice with capacity one, so an append by a later merge
	// copies instead of writing into a neighbour.
	names []string
}

func (l *findingList) add(f review.Finding) {
	if len(l.names) == 0 {
		l.names = make([]string, 256)
		for i := range l.names {
			l.names[i] = Name
		}
	}
	f.Reviewers, l.names = l.names[:1:1], l.names[1:]
	if len(l.list) == cap(l.list) && len(l.list) > 0 {
		l.full = append(l.full, l.list)
		l.list = make([]review.Finding, 0, min(2*len(l.list), 4096))
	}
	l.list = append(l.list, f)
}

func (l *findingList) all() []review.Finding {
	if len(l.full) == 0 {
		return l.list
	}
	n := len(l.list)
	for _, b := range l.full {
		n += len(b)
	}
	out := make([]review.Finding, 0, n)
	for _, b := range l.full {
		out = append(out, b...)
	}
	return append(out, l.list...)
}

type fileCtx struct {
	path    string
	lang    lang
	rules   ruleSet
	entropy bool
}

type hit struct {
	rule       int
	start, end int
}

func (r *Reviewer) reviewLine(out *findingList, fc *fileCtx, ln *diff.Line) {
	line := ln.Content
	hits := r.index.scan(line)
	hits.intersect(fc.rules)
	if hits.empty() && !fc.entropy {
		return
	}
	var buf [8]hit
	found := buf[:0]
	comment, commentKnown := false, false
	for w := range hits {
		for b := hits[w]; b != 0; b &= b - 1 {
			i := w*64 + bits.TrailingZeros64(b)
			rule := &r.rules[i]
			if !rule.Secret() {
				if !commentKnown {
					comment, commentKnown = isComment(line, fc.lang), true
				}
				if comment {
					continue
				}
			}
			if s, e, ok := rule.find(line, fc.lang); ok {
				found = append(found, hit{rule: i, start: s, end: e})
			}
		}
	}
	if fc.entropy && len(line) >= minEntropyLen && !(commentKnown && comment || !commentKnown && isComment(line, fc.lang)) {
		var spans [8]span
		sp := spans[:0]
		for _, h := range found {
			if r.rules[h.rule].Secret() {
				sp = append(sp, span{h.start, h.end})
			}
		}
		if s, e, ok := findHighEntropy(line, sp); ok {
			found = append(found, hit{rule: r.entropy, start: s, end: e})
			// Keep rule order: the entropy rule sorts among the others.
			for j := len(found) - 1; j > 0 && found[j].rule < found[j-1].rule; j-- {
				found[j], found[j-1] = found[j-1], found[j]
			}
		}
	}
	if len(found) == 0 {
		return
	}
	// A suggestion copies the line, so none is offered when the line holds
	// a secret (even a suppressed one).
	secretOnLine := false
	for _, h := range found {
		if r.rules[h.rule].Secret() {
			secretOnLine = true
		}
	}
	hasIgnore := strings.Contains(line, ignoreMarker)
	for _, h := range found {
		rule := &r.rules[h.rule]
		if hasIgnore && suppressed(line, rule.ID) {
			continue
		}
		f := review.Finding{
			File:       fc.path,
			StartLine:  ln.NewLine,
			EndLine:    ln.NewLine,
			Severity:   rule.Severity,
			Category:   rule.Category,
			Rule:       rule.ID,
			Message:    r.messages[h.rule],
			Confidence: rule.Confidence,
		}
		if rule.suggest != nil && !secretOnLine {
			if s := rule.suggest(line); s != line {
				f.Suggestion = s
			}
		}
		out.add(f)
	}
}

// suppressed reports whether line carries "diffgate:ignore" naming id. IDs
// are separated by commas or spaces; the list ends at the first word that
// is not a rule ID, so a reason may follow. A bare marker names nothing and
// suppresses nothing: silencing every rule should be a visible decision.
func suppressed(line, id string) bool {
	rest := line
	for {
		i := strings.Index(rest, ignoreMarker)
		if i < 0 {
			return false
		}
		rest = rest[i+len(ignoreMarker):]
		for {
			j := 0
			for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t' || rest[j] == ',') {
				j++
			}
			k := j
			for k < len(rest) && (rest[k] == '-' || rest[k] >= 'A' && rest[k] <= 'Z' ||
				rest[k] >= 'a' && rest[k] <= 'z' || rest[k] >= '0' && rest[k] <= '9') {
				k++
			}
			tok := strings.TrimRight(rest[j:k], "-")
			if len(tok) < 3 || !strings.EqualFold(tok[:3], "DG-") {
				break
			}
			if strings.EqualFold(tok, id) {
				return true
			}
			rest = rest[k:]
		}
	}
}
