// Package redact removes secrets and email addresses from text before it
// is logged (D3). It errs towards removing too much: a log line that lost a
// harmless word is a smaller problem than one that kept a token.
package redact

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
)

const (
	// Redacted replaces a secret.
	Redacted = "[REDACTED]"
	// Email replaces an email address.
	Email = "[EMAIL]"
)

// rule is one kind of secret. A rule's regexp runs only when the text
// holds one of its triggers (matched case-insensitively when fold is
// set, in which case triggers are lower case), which keeps ordinary log
// lines off the regexp engine entirely.
type rule struct {
	triggers []string
	fold     bool
	re       *regexp.Regexp
	// repl is the replacement template (regexp.Expand syntax).
	repl string
	// fn, when set, replaces repl: it gets the text and the submatch
	// indexes of one match and returns what goes in its place.
	fn func(s string, m []int) string
}

// tokenChars is what may follow a token prefix; it stops at quotes,
// spaces and punctuation that end a token in prose, headers and JSON.
const tokenChars = `[A-Za-z0-9_\-+/=.~]`

// rules are the secrets a regexp finds fast enough; String runs them in
// order after URL passwords and before name=value pairs and emails, so each
// step removes what a later one might only partly catch.
var rules = []rule{
	{
		triggers: []string{"PRIVATE KEY"},
		re:       regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|$)`),
		repl:     Redacted,
	},
	{
		triggers: []string{"eyJ"},
		re:       regexp.MustCompile(`eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*){1,3}`),
		repl:     Redacted,
	},
	{
		triggers: []string{"bearer"},
		fold:     true,
		re:       regexp.MustCompile(`(?i)\b(bearer\s+)` + tokenChars + `{8,}`),
		repl:     "${1}" + Redacted,
	},
	{
		// Basic credentials are base64 of user:password; decoding them
		// tells a credential from the word "basic" in a sentence.
		triggers: []string{"basic"},
		fold:     true,
		re:       regexp.MustCompile(`(?i)\b(basic\s+)([A-Za-z0-9+/]{4,}={0,2})`),
		fn: func(s string, m []int) string {
			b, err := base64.StdEncoding.DecodeString(s[m[4]:m[5]])
			if err != nil || !bytes.ContainsRune(b, ':') {
				return s[m[0]:m[1]]
			}
			return s[m[2]:m[3]] + Redacted
		},
	},
	{
		// Our own keys and refresh tokens, also when truncated or mistyped.
		triggers: []string{"dg_live_", "dg_test_", "dgr_"},
		re:       regexp.MustCompile(`(?:dg_(?:live|test)_|dgr_)[A-Za-z0-9_\-]*`),
		repl:     Redacted,
	},
	{
		// Provider keys: OpenAI and Anthropic (sk-…), Google (AIza…),
		// GitHub, AWS access key ids, Stripe, Slack, GitLab.
		triggers: []string{"sk-", "AIza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "AKIA", "ASIA",
			"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_", "xox", "glpat-"},
		re: regexp.MustCompile(`\b(?:sk-[A-Za-z0-9_\-]{16,}|AIza[A-Za-z0-9_\-]{30,}|gh[opusr]_[A-Za-z0-9]{20,}|` +
			`github_pat_[A-Za-z0-9_]{20,}|(?:AKIA|ASIA)[A-Z0-9]{16}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|` +
			`whsec_[A-Za-z0-9+/=]{10,}|xox[abposre]-[A-Za-z0-9\-]{10,}|glpat-[A-Za-z0-9_\-]{20,})`),
		repl: Redacted,
	},
}

// String returns s with every secret replaced by [REDACTED] and every
// email address by [EMAIL]. Text without any trigger is returned as is,
// without allocating.
func String(s string) string {
	s = redactURLPasswords(s)
	if fired := triggered(s); fired != 0 {
		for i := range rules {
			if fired&(1<<i) != 0 {
				s = rules[i].replace(s)
			}
		}
	}
	return redactEmails(redactPairs(s))
}

// trigger is one rule's trigger, filed under its first byte.
type trigger struct {
	rule int
	lit  string
	fold bool
}

// triggerIndex files every trigger under the bytes it can start with (both
// cases when it folds), so one pass over the text finds every rule that
// needs to run.
var triggerIndex = func() (idx [256][]trigger) {
	if len(rules) > 64 {
		panic("redact: more rules than the trigger mask holds")
	}
	for i, r := range rules {
		for _, t := range r.triggers {
			if len(t) < 2 {
				panic("redact: triggers need two bytes")
			}
			c := t[0]
			idx[c] = append(idx[c], trigger{rule: i, lit: t, fold: r.fold})
			if r.fold && c >= 'a' && c <= 'z' {
				idx[c-'a'+'A'] = append(idx[c-'a'+'A'], trigger{rule: i, lit: t, fold: true})
			}
		}
	}
	return idx
}()

// triggered returns a bit set of the rules whose triggers occur in s.
func triggered(s string) uint64 {
	var fired uint64
	for i := 0; i < len(s); i++ {
		for _, t := range triggerIndex[s[i]] {
			if fired&(1<<t.rule) != 0 || len(s)-i < len(t.lit) {
				continue
			}
			// Most candidates fail on the second byte; checking it first
			// skips the call to compare the rest.
			if c := s[i+1]; c != t.lit[1] && (!t.fold || c|0x20 != t.lit[1]) {
				continue
			}
			if t.fold && equalFoldASCII(s[i:i+len(t.lit)], t.lit) || !t.fold && s[i:i+len(t.lit)] == t.lit {
				fired |= 1 << t.rule
			}
		}
	}
	return fired
}

func (r *rule) replace(s string) string {
	if r.fn == nil {
		return r.re.ReplaceAllString(s, r.repl)
	}
	ms := r.re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m[0]])
		b.WriteString(r.fn(s, m))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

func equalFoldASCII(s, lower string) bool {
	for j := 0; j < len(lower); j++ {
		c := s[j]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[j] {
			return false
		}
	}
	return true
}
