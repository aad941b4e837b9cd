package credits

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Defaults of Prices. The output allowance covers the largest default
// answer cap of any provider (Gemini's 16384, thinking included); the
// prompt allowance covers the system prompt, the findings schema and the
// framing around the diff; a chunk is the cloud providers' default input
// budget.
const (
	DefaultMaxOutputTokens = 16384
	DefaultPromptTokens    = 4096
	DefaultChunkTokens     = 100000
)

// Price is what one reviewer (or one model of it) costs. It is either flat
// (a fixed price per review, whatever the tokens) or per token (Input and
// Output per million tokens, both set); a zero Price is free.
type Price struct {
	// Flat is charged per review when the price is not per token.
	Flat Amount
	// InputPerMillion and OutputPerMillion are credits per 1,000,000
	// tokens. Per million rather than per thousand so that prices below
	// one credit per thousand tokens can be written in whole numbers.
	InputPerMillion  Amount
	OutputPerMillion Amount
	// MaxOutputTokens overrides Prices.MaxOutputTokens for this price.
	MaxOutputTokens int
}

// PerToken reports whether the price depends on tokens used.
func (p Price) PerToken() bool { return p.InputPerMillion > 0 || p.OutputPerMillion > 0 }

// Prices is the price list of a server (L2).
type Prices struct {
	// Reviewers maps a reviewer name ("anthropic") or a reviewer and model
	// ("anthropic/claude-opus-4-1") to its price. A model's own entry wins
	// over its reviewer's.
	Reviewers map[string]Price
	// Default prices reviewers without an entry, so a newly configured
	// LLM reviewer is never free by accident.
	Default Price
	// MaxOutputTokens is the answer allowance per chunk a quote reserves
	// for a per-token reviewer; 0 means DefaultMaxOutputTokens.
	MaxOutputTokens int
	// PromptTokens is the prompt around the diff, per chunk; 0 means
	// DefaultPromptTokens.
	PromptTokens int
	// ChunkTokens is the diff tokens one request carries; 0 means
	// DefaultChunkTokens.
	ChunkTokens int
}

// DefaultPrices is the price list without configuration: the builtin
// reviewer costs 1 credit a review, every other reviewer 3 credits per
// 1,000 input and 15 per 1,000 output tokens.
func DefaultPrices() Prices {
	return Prices{
		Reviewers: map[string]Price{"builtin": {Flat: 1}},
		Default:   Price{InputPerMillion: 3000, OutputPerMillion: 15000},
	}
}

// ParsePrices reads a price list in the compact form used by flags and
// environment variables, applied over DefaultPrices. An empty string is
// DefaultPrices. Entries are separated by commas; spaces around parts are
// ignored:
//
//	builtin=1                     flat: 1 credit per review
//	openai=flat:20                flat, spelled out (also openai:flat=20)
//	anthropic:in=3/1k             per-token: 3 credits per 1,000 input tokens
//	anthropic:out=15/1k           … and 15 per 1,000 output tokens
//	gemini:in=300/1m              per 1,000,000 tokens, for prices below 1/1k
//	gemini:maxout=32768           answer allowance for quotes of this reviewer
//	anthropic/claude-opus-4-1:in=15/1k   a model of a reviewer
//	*:in=5/1k,*:out=25/1k         reviewers without an entry (the default)
//	maxout=16384                  answer allowance per chunk, all reviewers
//	prompt=4096                   prompt tokens around the diff, per chunk
//	chunk=100000                  diff tokens per request
//
// A target is "*", a reviewer name, or a name, "/" and a model; model
// names may hold "/" and ":" themselves. Each target given replaces its
// default entry whole. A per-token target needs both in and out (an unset
// side would be free tokens) and cannot also be flat. Amounts are whole,
// non-negative credits.
func ParsePrices(s string) (Prices, error) {
	p := DefaultPrices()
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	type fields struct {
		price         Price
		flat, in, out bool
		maxout        bool
	}
	targets := map[string]*fields{}
	var order []string
	globals := map[string]bool{}
	for i, raw := range strings.Split(s, ",") {
		entry := strings.TrimSpace(raw)
		fail := func(format string, a ...any) error {
			return fmt.Errorf("prices: entry %d (%q): %s", i+1, entry, fmt.Sprintf(format, a...))
		}
		if entry == "" {
			return Prices{}, fmt.Errorf("prices: entry %d is empty", i+1)
		}
		key, val, ok := strings.Cut(entry, "=")
		if !ok {
			return Prices{}, fail("want target=price or target:field=value")
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if dst := globalField(&p, key); dst != nil {
			if globals[key] {
				return Prices{}, fail("%s is given twice", key)
			}
			globals[key] = true
			n, err := parseCount(val)
			if err != nil {
				return Prices{}, fail("%v", err)
			}
			*dst = n
			continue
		}
		target, field := key, ""
		if j := strings.LastIndexByte(key, ':'); j >= 0 && isField(strings.TrimSpace(key[j+1:])) {
			target, field = strings.TrimSpace(key[:j]), strings.TrimSpace(key[j+1:])
		}
		if err := checkTarget(target); err != nil {
			return Prices{}, fail("%v", err)
		}
		if field == "" {
			// target=N or target=flat:N
			field = "flat"
			if rest, ok := strings.CutPrefix(val, "flat:"); ok {
				val = strings.TrimSpace(rest)
			}
		}
		f := targets[target]
		if f == nil {
			f = &fields{}
			targets[target] = f
			order = append(order, target)
		}
		var seen *bool
		var err error
		switch field {
		case "flat":
			seen = &f.flat
			f.price.Flat, err = parseAmount(val)
		case "in":
			seen = &f.in
			f.price.InputPerMillion, err = parseRate(val)
		case "out":
			seen = &f.out
			f.price.OutputPerMillion, err = parseRate(val)
		case "maxout":
			seen = &f.maxout
			f.price.MaxOutputTokens, err = parseCount(val)
		}
		if *seen {
			return Prices{}, fail("%s of %s is given twice", field, target)
		}
		*seen = true
		if err != nil {
			return Prices{}, fail("%v", err)
		}
	}
	for _, target := range order {
		f := targets[target]
		switch {
		case f.flat && (f.in || f.out):
			return Prices{}, fmt.Errorf("prices: %s is both flat and per token; give one", target)
		case f.in != f.out:
			return Prices{}, fmt.Errorf("prices: %s needs both in and out prices (an unset side would be free)", target)
		case f.maxout && !f.in:
			return Prices{}, fmt.Errorf("prices: maxout of %s applies only to per-token prices", target)
		}
		if target == "*" {
			p.Default = f.price
		} else {
			p.Reviewers[target] = f.price
		}
	}
	return p, nil
}

// String writes p in the form ParsePrices reads, targets sorted, so a
// configuration can be logged and read back.
func (p Prices) String() string {
	var parts []string
	write := func(target string, pr Price) {
		if !pr.PerToken() {
			parts = append(parts, fmt.Sprintf("%s=%d", target, pr.Flat))
			return
		}
		parts = append(parts, fmt.Sprintf("%s:in=%d/1m", target, pr.InputPerMillion), fmt.Sprintf("%s:out=%d/1m", target, pr.OutputPerMillion))
		if pr.MaxOutputTokens > 0 {
			parts = append(parts, fmt.Sprintf("%s:maxout=%d", target, pr.MaxOutputTokens))
		}
	}
	write("*", p.Default)
	names := make([]string, 0, len(p.Reviewers))
	for n := range p.Reviewers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		write(n, p.Reviewers[n])
	}
	for _, g := range []struct {
		name string
		n    int
	}{{"maxout", p.MaxOutputTokens}, {"prompt", p.PromptTokens}, {"chunk", p.ChunkTokens}} {
		if g.n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", g.name, g.n))
		}
	}
	return strings.Join(parts, ",")
}

func globalField(p *Prices, key string) *int {
	switch key {
	case "maxout":
		return &p.MaxOutputTokens
	case "prompt":
		return &p.PromptTokens
	case "chunk":
		return &p.ChunkTokens
	}
	return nil
}

func isField(s string) bool {
	switch s {
	case "flat", "in", "out", "maxout":
		return true
	}
	return false
}

// checkTarget accepts "*", a reviewer name, or name/model. Reviewer names
// are the lower-case words the server offers (builtin, openai-compatible).
func checkTarget(t string) error {
	if t == "*" {
		return nil
	}
	name, model, hasModel := strings.Cut(t, "/")
	if name == "" {
		return errors.New("no reviewer name")
	}
	if name == "*" {
		return errors.New("the default (*) has no models")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("reviewer name %q may hold only a-z, 0-9, '-', '_' and '.'", name)
		}
	}
	if hasModel && strings.TrimSpace(model) == "" {
		return fmt.Errorf("no model after %q", name+"/")
	}
	return nil
}

func parseAmount(s string) (Amount, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a whole, non-negative number of credits", s)
	}
	return Amount(n), nil
}

// parseRate reads N/1k or N/1m into credits per million tokens.
func parseRate(s string) (Amount, error) {
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("%q has no unit: want N/1k or N/1m (credits per 1,000 or 1,000,000 tokens)", s)
	}
	a, err := parseAmount(strings.TrimSpace(num))
	if err != nil {
		return 0, err
	}
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "1m":
		return a, nil
	case "1k":
		if a > MaxAmount/1000 {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return a * 1000, nil
	}
	return 0, fmt.Errorf("%q has unit %q: want 1k or 1m", s, unit)
}

func parseCount(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%q is not a positive whole number of tokens", s)
	}
	return int(n), nil
}
