package review

import (
	"cmp"
	"slices"
	"strings"

	"github.com/diffgate/diffgate/internal/diff"
)

// lineIndex knows, per file, the new-file line ranges the diff shows.
type lineIndex map[string][][2]int

func newLineIndex(d *diff.Diff) lineIndex {
	idx := make(lineIndex, len(d.Files))
	for _, f := range d.Files {
		p := f.Path()
		rs := idx[p]
		if f.NewPath != "" {
			for _, h := range f.Hunks {
				if h.NewLines > 0 {
					rs = append(rs, [2]int{h.NewStart, h.NewStart + h.NewLines - 1})
				}
			}
		}
		idx[p] = rs // present even without ranges: file-level findings stay
	}
	return idx
}

// place checks findings against the diff (R2): a finding on a file the diff
// does not touch is dropped; one whose lines are not all inside a single
// hunk of the new file is moved to file level. It also normalises what a
// reviewer may have left loose, so every finding leaves here well formed.
func (idx lineIndex) place(fs []Finding, reviewer string) (kept []Finding, dropped int) {
	kept = fs[:0:0]
	for _, f := range fs {
		ranges, ok := idx[f.File]
		if !ok {
			dropped++
			continue
		}
		if f.EndLine < f.StartLine {
			f.EndLine = f.StartLine
		}
		if f.StartLine > 0 && !inOneRange(ranges, f.StartLine, f.EndLine) {
			f.StartLine, f.EndLine = 0, 0
		}
		if f.StartLine <= 0 {
			f.StartLine, f.EndLine = 0, 0
		}
		if f.Severity < Info || f.Severity > Critical {
			f.Severity = Info
		}
		if !ValidCategory(f.Category) {
			f.Category = "other"
		}
		f.Confidence = min(max(f.Confidence, 0), 1)
		if len(f.Reviewers) == 0 {
			f.Reviewers = []string{reviewer}
		}
		kept = append(kept, f)
	}
	return kept, dropped
}

func inOneRange(ranges [][2]int, start, end int) bool {
	for _, r := range ranges {
		if start >= r[0] && end <= r[1] {
			return true
		}
	}
	return false
}

// Merge reports once what several reviewers found (R4): findings of
// different reviewers on the same file and category whose lines overlap
// (or that are both file-level) become one finding naming every reviewer,
// with the highest severity, the union of the lines, and a confidence
// raised by the agreement: 1 - (1-a)(1-b). Findings of one reviewer are
// never merged with each other. The result is sorted.
//
// It sweeps the findings in line order, keeping per category only those
// that can still overlap what comes next, so it stays linear in practice
// even for a file with a finding on every line.
func Merge(fs []Finding) []Finding {
	sorted := slices.Clone(fs)
	slices.SortStableFunc(sorted, compareFindings)
	out := make([]Finding, 0, len(sorted))
	type span = []int // indexes into out that may still overlap
	active := map[string]span{}
	file := ""
	for _, f := range sorted {
		if f.File != file {
			file = f.File
			clear(active)
		}
		act := active[f.Category]
		n := 0
		for _, i := range act {
			if out[i].EndLine >= f.StartLine {
				act[n] = i
				n++
			}
		}
		act = act[:n]
		merged := false
		for _, i := range act {
			if g := &out[i]; overlaps(g, &f) && !shareReviewer(g.Reviewers, f.Reviewers) {
				mergeInto(g, f)
				merged = true
				break
			}
		}
		if !merged {
			f.Reviewers = slices.Clone(f.Reviewers)
			out = append(out, f)
			act = append(act, len(out)-1)
		}
		active[f.Category] = act
	}
	slices.SortStableFunc(out, compareFindings)
	return out
}

func overlaps(a, b *Finding) bool {
	if a.FileLevel() || b.FileLevel() {
		return a.FileLevel() && b.FileLevel()
	}
	return a.StartLine <= b.EndLine && b.StartLine <= a.EndLine
}

func shareReviewer(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func mergeInto(g *Finding, f Finding) {
	// The better-supported wording wins.
	if f.Confidence > g.Confidence || (f.Confidence == g.Confidence && f.Severity > g.Severity) {
		g.Message = f.Message
		if f.Suggestion != "" {
			g.Suggestion = f.Suggestion
		}
	}
	if g.Suggestion == "" {
		g.Suggestion = f.Suggestion
	}
	if g.Rule == "" {
		g.Rule = f.Rule
	}
	g.Severity = max(g.Severity, f.Severity)
	g.Confidence = 1 - (1-g.Confidence)*(1-f.Confidence)
	if !g.FileLevel() {
		g.StartLine = min(g.StartLine, f.StartLine)
		g.EndLine = max(g.EndLine, f.EndLine)
	}
	g.Reviewers = append(g.Reviewers, f.Reviewers...)
	slices.Sort(g.Reviewers)
	g.Reviewers = slices.Compact(g.Reviewers)
}

func compareFindings(a, b Finding) int {
	return cmp.Or(
		strings.Compare(a.File, b.File),
		cmp.Compare(a.StartLine, b.StartLine),
		cmp.Compare(b.Severity, a.Severity),
		cmp.Compare(a.EndLine, b.EndLine),
		strings.Compare(a.Category, b.Category),
		strings.Compare(a.Rule, b.Rule),
		strings.Compare(a.Message, b.Message),
		slices.Compare(a.Reviewers, b.Reviewers),
	)
}
