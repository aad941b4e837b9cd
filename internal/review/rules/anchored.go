package rules

import "regexp"

// Anchored matching. Go's regexp scans a whole line at a few tens of MB/s
// when the expression has no literal prefix, so on a long minified line
// every rule whose keyword occurs would cost a full, slow scan. The hot
// rules instead find their anchor literals in one byte pass and run an
// expression anchored with ^ at each occurrence, which stops as soon as
// the match fails there. The left context the unanchored expression would
// have checked (a word boundary, "not after a dot") is checked by before.

// anchored describes one anchored matcher; build it with newAnchored.
type anchored struct {
	// lits start every match; fold compares them ASCII case-insensitively.
	lits []string
	fold bool
	// re starts with ^ and is run on the line from an occurrence.
	re *regexp.Regexp
	// before vets the text ahead of an occurrence at p; nil accepts all.
	before func(line string, p int) bool
	// first marks the bytes an occurrence can start with.
	first [256]bool
}

func newAnchored(lits []string, fold bool, re string, before func(line string, p int) bool) *anchored {
	a := &anchored{lits: lits, fold: fold, re: regexp.MustCompile(re), before: before}
	for _, l := range lits {
		a.first[l[0]] = true
		if fold {
			a.first[lowerTable[l[0]]] = true
			a.first[upperTable[l[0]]] = true
		}
	}
	return a
}

// find returns the submatch indexes (into line) of the leftmost match whose
// accept (nil: any) holds, trying occurrences left to right and, like
// FindAll, none inside an earlier match.
func (a *anchored) find(line string, accept func(m []int) bool) []int {
	for p := 0; p < len(line); p++ {
		if !a.first[line[p]] || a.litAt(line, p) == 0 || a.before != nil && !a.before(line, p) {
			continue
		}
		m := a.re.FindStringSubmatchIndex(line[p:])
		if m == nil {
			continue
		}
		for i := range m {
			if m[i] >= 0 {
				m[i] += p
			}
		}
		if accept == nil || accept(m) {
			return m
		}
		if m[1] > p {
			p = m[1] - 1
		}
	}
	return nil
}

// at returns the span of the anchor literal of the leftmost match. It
// allocates nothing, which matters on files dense with findings; rules
// that report no secret need no more than where the match starts.
func (a *anchored) at(line string) (int, int, bool) {
	for p := 0; p < len(line); p++ {
		if !a.first[line[p]] {
			continue
		}
		n := a.litAt(line, p)
		if n > 0 && (a.before == nil || a.before(line, p)) && a.re.MatchString(line[p:]) {
			return p, p + n, true
		}
	}
	return 0, 0, false
}

// litAt returns the length of the literal at p, or 0.
func (a *anchored) litAt(line string, p int) int {
	for _, l := range a.lits {
		if len(l) > len(line)-p {
			continue
		}
		if a.fold && equalFoldASCII(line[p:p+len(l)], l) || !a.fold && line[p:p+len(l)] == l {
			return len(l)
		}
	}
	return 0
}

var upperTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'a' && i <= 'z' {
			t[i] = byte(i) - 'a' + 'A'
		}
	}
	return t
}()

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// wordStart is the \b ahead of a literal that starts with a word byte.
func wordStart(line string, p int) bool { return p == 0 || !isWordByte(line[p-1]) }

// notAfterIdent is (?:^|[^\w$.]) ahead of p: not inside an identifier or
// a property access.
func notAfterIdent(line string, p int) bool {
	if p == 0 {
		return true
	}
	c := line[p-1]
	return !isWordByte(c) && c != '$' && c != '.'
}

// afterObject reports whether one of objs, starting at a word boundary and
// followed by a dot, ends at p: window.eval, cp.exec.
func afterObject(line string, p int, objs ...string) bool {
	if p == 0 || line[p-1] != '.' {
		return false
	}
	for _, o := range objs {
		s := p - 1 - len(o)
		if s >= 0 && line[s:p-1] == o && wordStart(line, s) {
			return true
		}
	}
	return false
}
