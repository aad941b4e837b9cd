package rules

// The keyword index finds, in one pass over a line, every rule whose
// keywords occur in it. Running each rule's strings.Contains separately
// would scan a line once per keyword; the index looks at each byte pair
// once and compares only keywords that start with that pair.

var lowerTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

type keyword struct {
	text string
	b1   byte // folded second byte, compared before the whole text
	fold bool
	rule int
}

// ruleSet is a bit set of rule indexes into catalogue.
type ruleSet [4]uint64

func (s *ruleSet) add(i int)           { s[i>>6] |= 1 << (i & 63) }
func (s *ruleSet) has(i int) bool      { return s[i>>6]&(1<<(i&63)) != 0 }
func (s *ruleSet) empty() bool         { return s[0]|s[1]|s[2]|s[3] == 0 }
func (s *ruleSet) intersect(o ruleSet) { s[0] &= o[0]; s[1] &= o[1]; s[2] &= o[2]; s[3] &= o[3] }

type keywordIndex struct {
	// pairs[a] has bit b set when some keyword starts with the folded
	// bytes a, b.
	pairs   [256][4]uint64
	byFirst [256][]keyword
	// byLang[l] is the set of rules that apply to language bit l.
	byLang [16]ruleSet
}

func buildIndex(rules []Rule) *keywordIndex {
	ix := &keywordIndex{}
	add := func(text string, fold bool, rule int) {
		if len(text) < 2 {
			panic("rules: keyword shorter than two bytes: " + text)
		}
		a, b := lowerTable[text[0]], lowerTable[text[1]]
		ix.pairs[a][b>>6] |= 1 << (b & 63)
		ix.byFirst[a] = append(ix.byFirst[a], keyword{text: text, b1: b, fold: fold, rule: rule})
	}
	for i := range rules {
		r := &rules[i]
		if i >= len(ruleSet{})*64 {
			panic("rules: too many rules for ruleSet")
		}
		for _, k := range r.keywords {
			add(k, true, i)
		}
		for _, k := range r.exact {
			add(k, false, i)
		}
		for bit := 0; bit < 16; bit++ {
			if r.langs&(1<<bit) != 0 {
				ix.byLang[bit].add(i)
			}
		}
	}
	return ix
}

// scan returns the rules with a keyword in line.
func (ix *keywordIndex) scan(line string) ruleSet {
	var hits ruleSet
	n := len(line)
	if n < 2 {
		return hits
	}
	b := lowerTable[line[0]]
	for i := 0; i+1 < n; i++ {
		a := b
		b = lowerTable[line[i+1]]
		if ix.pairs[a][b>>6]&(1<<(b&63)) == 0 {
			continue
		}
		for _, k := range ix.byFirst[a] {
			if k.b1 != b || len(k.text) > n-i || hits.has(k.rule) {
				continue
			}
			s := line[i : i+len(k.text)]
			if k.fold {
				if equalFoldASCII(s, k.text) {
					hits.add(k.rule)
				}
			} else if s == k.text {
				hits.add(k.rule)
			}
		}
	}
	return hits
}

// langBit is the index of a single-language lang value.
func langBit(l lang) int {
	for bit := 0; bit < 16; bit++ {
		if l == 1<<bit {
			return bit
		}
	}
	return 0
}
