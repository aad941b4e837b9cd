package report

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/diffgate/diffgate/internal/review"
)

// ANSI SGR sequences, one per severity, from loudest to quietest.
var severityColors = [...]string{
	review.Info:     "\x1b[2m",    // dim
	review.Low:      "\x1b[36m",   // cyan
	review.Medium:   "\x1b[33m",   // yellow
	review.High:     "\x1b[31m",   // red
	review.Critical: "\x1b[1;31m", // bold red
}

const (
	colorReset  = "\x1b[0m"
	colorFailed = "\x1b[31m"
)

func writeText(buf *bytes.Buffer, res *review.Result, opts *Options) error {
	t := textWriter{buf: buf, color: opts.Color}
	findings := sortedFindings(res.Findings)

	if len(findings) == 0 {
		buf.WriteString("No findings.\n")
	} else {
		t.findings(findings)
	}
	t.skipped(sortedSkipped(res.Skipped))
	t.reviewerErrors(res.Reviewers)
	if sum := t.summary(findings, res); sum != "" {
		buf.WriteString("\n")
		buf.WriteString(sum)
		buf.WriteString("\n")
	}
	return nil
}

type textWriter struct {
	buf   *bytes.Buffer
	color bool
}

func (t *textWriter) paint(code, s string) string {
	if !t.color {
		return s
	}
	return code + s + colorReset
}

func (t *textWriter) findings(fs []review.Finding) {
	// Column widths are computed over the whole report so that columns line
	// up across files.
	var locW, sevW, catW int
	for i := range fs {
		locW = max(locW, len(location(&fs[i])))
		sevW = max(sevW, len(severityLabel(fs[i].Severity)))
		catW = max(catW, utf8.RuneCountInString(clean(category(&fs[i]))))
	}
	file := ""
	for i := range fs {
		f := &fs[i]
		if i == 0 || f.File != file {
			if i > 0 {
				t.buf.WriteString("\n")
			}
			file = f.File
			t.buf.WriteString(clean(file))
			t.buf.WriteString("\n")
		}
		label := severityLabel(f.Severity)
		fmt.Fprintf(t.buf, "  %-*s  %s%s  %-*s  ",
			locW, location(f),
			t.paint(severityColors[validSeverity(f.Severity)], label), strings.Repeat(" ", sevW-len(label)),
			catW, clean(category(f)))
		msg := strings.Split(cleanMultiline(f.Message), "\n")
		t.buf.WriteString(msg[0])
		if tag := findingTag(f); tag != "" {
			fmt.Fprintf(t.buf, "  [%s]", tag)
		}
		t.buf.WriteString("\n")
		for _, line := range msg[1:] {
			t.buf.WriteString(strings.TrimRight("      "+line, " "))
			t.buf.WriteString("\n")
		}
		if f.Suggestion != "" {
			t.buf.WriteString("      suggestion:\n")
			for _, line := range strings.Split(replacementText(cleanMultiline(f.Suggestion)), "\n") {
				t.buf.WriteString(strings.TrimRight("        "+line, " "))
				t.buf.WriteString("\n")
			}
		}
	}
}

// skipped lists every part of the diff that was not reviewed (R5).
func (t *textWriter) skipped(ss []review.Skipped) {
	if len(ss) == 0 {
		return
	}
	t.buf.WriteString("\nNot reviewed:\n")
	for _, s := range ss {
		where := clean(s.File)
		if s.StartLine > 0 {
			where += ":" + lineRange(s.StartLine, s.EndLine)
		} else {
			where += " (whole file)"
		}
		who := "all reviewers"
		if s.Reviewer != "" {
			who = clean(s.Reviewer)
		}
		fmt.Fprintf(t.buf, "  %s [%s]: %s\n", where, who, clean(s.Reason))
	}
}

func (t *textWriter) reviewerErrors(rs []review.ReviewerResult) {
	header := false
	for _, r := range rs {
		if r.OK {
			continue
		}
		if !header {
			t.buf.WriteString("\nReviewer errors:\n")
			header = true
		}
		msg := clean(r.Error)
		if msg == "" {
			msg = "failed"
		}
		fmt.Fprintf(t.buf, "  %s: %s\n", clean(r.Name), msg)
	}
}

// summary is one line: "3 findings (1 high, 2 low) in 2 of 5 files;
// reviewers: builtin ok, anthropic failed". Without findings, "No
// findings." has been said already and only the reviewers are left.
func (t *textWriter) summary(fs []review.Finding, res *review.Result) string {
	var parts []string
	if len(fs) > 0 {
		var counts [review.Critical + 1]int
		files := 0
		for i := range fs {
			counts[validSeverity(fs[i].Severity)]++
			if i == 0 || fs[i].File != fs[i-1].File {
				files++
			}
		}
		var bySev []string
		for s := review.Critical; s >= review.Info; s-- {
			if counts[s] > 0 {
				bySev = append(bySev, fmt.Sprintf("%d %s", counts[s], s))
			}
		}
		in := plural(files, "file")
		if res.Files >= files {
			in = fmt.Sprintf("%d of %s", files, plural(res.Files, "file"))
		}
		parts = append(parts, fmt.Sprintf("%s (%s) in %s", plural(len(fs), "finding"), strings.Join(bySev, ", "), in))
	}
	if len(res.Reviewers) > 0 {
		var rs []string
		for _, r := range res.Reviewers {
			s := clean(r.Name) + " "
			if r.OK {
				s += "ok"
			} else {
				s += t.paint(colorFailed, "failed")
			}
			if u := usage(&r); u != "" {
				s += " (" + u + ")"
			}
			rs = append(rs, s)
		}
		parts = append(parts, "reviewers: "+strings.Join(rs, ", "))
	}
	return strings.Join(parts, "; ")
}

// usage reports the tokens an LLM reviewer used; the builtin reviewer uses
// none and gets no note.
func usage(r *review.ReviewerResult) string {
	if r.Model == "" && r.Usage.InputTokens == 0 && r.Usage.OutputTokens == 0 {
		return ""
	}
	s := fmt.Sprintf("%d in / %d out tokens", r.Usage.InputTokens, r.Usage.OutputTokens)
	if r.Model != "" {
		s = clean(r.Model) + ", " + s
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func severityLabel(s review.Severity) string {
	return strings.ToUpper(validSeverity(s).String())
}

func location(f *review.Finding) string {
	if f.FileLevel() {
		return "file"
	}
	return lineRange(f.StartLine, f.EndLine)
}

func lineRange(start, end int) string {
	if end <= start {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d-%d", start, end)
}

// findingTag names what raised a finding: the builtin rule, or the
// reviewers for LLM findings; when several reviewers agree (R4) they are
// all named.
func findingTag(f *review.Finding) string {
	revs := make([]string, len(f.Reviewers))
	for i, r := range f.Reviewers {
		revs[i] = clean(r)
	}
	who := strings.Join(revs, ", ")
	switch {
	case f.Rule == "":
		return who
	case len(f.Reviewers) > 1:
		return clean(f.Rule) + "; " + who
	default:
		return clean(f.Rule)
	}
}

// clean makes a one-line string safe for a terminal. Messages come from
// LLMs that read untrusted diffs, so they could carry escape sequences that
// rewrite the screen or hide a finding; every control character becomes a
// visible replacement.
func clean(s string) string {
	return sanitize(s, false)
}

// cleanMultiline is clean for text that keeps its lines and indentation
// (messages, suggested code), normalising CRLF.
func cleanMultiline(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = sanitize(l, true)
	}
	return strings.Join(lines, "\n")
}

func sanitize(s string, keepTabs bool) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' && keepTabs:
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r) || isBidiControl(r):
			return '\uFFFD'
		}
		return r
	}, s)
}

// isBidiControl reports the invisible direction marks and overrides that
// can make a terminal show text in another order than it is stored.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061C', r == '\u200E', r == '\u200F':
		return true
	case r >= '\u202A' && r <= '\u202E':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}
