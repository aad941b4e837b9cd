package credits

import (
	"maps"
	"reflect"
	"strings"
	"testing"
)

// withDefaults is DefaultPrices changed by edit, so each case states only
// what its input changes.
func withDefaults(edit func(p *Prices)) Prices {
	p := DefaultPrices()
	p.Reviewers = maps.Clone(p.Reviewers)
	edit(&p)
	return p
}

// L2: prices are configurable per reviewer and model.
func TestParsePrices(t *testing.T) {
	tests := []struct {
		in   string
		want Prices
	}{
		{"", DefaultPrices()},
		{"   ", DefaultPrices()},
		{"builtin=2", withDefaults(func(p *Prices) { p.Reviewers["builtin"] = Price{Flat: 2} })},
		{"builtin=0", withDefaults(func(p *Prices) { p.Reviewers["builtin"] = Price{} })},
		{
			"builtin=1,anthropic:in=3/1k,anthropic:out=15/1k,openai=flat:20",
			withDefaults(func(p *Prices) {
				p.Reviewers["anthropic"] = Price{InputPerMillion: 3000, OutputPerMillion: 15000}
				p.Reviewers["openai"] = Price{Flat: 20}
			}),
		},
		{" openai:flat = 7 , gemini:in=300/1M, gemini:out = 2500/1m ", withDefaults(func(p *Prices) {
			p.Reviewers["openai"] = Price{Flat: 7}
			p.Reviewers["gemini"] = Price{InputPerMillion: 300, OutputPerMillion: 2500}
		})},
		{"anthropic/claude-opus-4-1:in=15/1k,anthropic/claude-opus-4-1:out=75/1k,anthropic/claude-opus-4-1:maxout=32000", withDefaults(func(p *Prices) {
			p.Reviewers["anthropic/claude-opus-4-1"] = Price{InputPerMillion: 15000, OutputPerMillion: 75000, MaxOutputTokens: 32000}
		})},
		// Model names may hold "/" and ":"; only a known field after the
		// last ":" is a field.
		{"openai-compatible/qwen2.5-coder:7b=0,openai-compatible/meta/llama:3:in=1/1m,openai-compatible/meta/llama:3:out=2/1m", withDefaults(func(p *Prices) {
			p.Reviewers["openai-compatible/qwen2.5-coder:7b"] = Price{}
			p.Reviewers["openai-compatible/meta/llama:3"] = Price{InputPerMillion: 1, OutputPerMillion: 2}
		})},
		{"*:in=5/1k,*:out=25/1k", withDefaults(func(p *Prices) {
			p.Default = Price{InputPerMillion: 5000, OutputPerMillion: 25000}
		})},
		{"*=flat:9", withDefaults(func(p *Prices) { p.Default = Price{Flat: 9} })},
		{"maxout=1000,prompt=200,chunk=5000", withDefaults(func(p *Prices) {
			p.MaxOutputTokens, p.PromptTokens, p.ChunkTokens = 1000, 200, 5000
		})},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePrices(tt.in)
			if err != nil {
				t.Fatalf("ParsePrices(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePrices(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// The parser's errors name the entry and what is wrong with it.
func TestParsePricesErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // in the error
	}{
		{"builtin", `entry 1 ("builtin"): want target=price`},
		{"builtin=1,,openai=2", "entry 2 is empty"},
		{"builtin=1,", "entry 2 is empty"},
		{"builtin=-1", `"-1" is not a whole, non-negative number of credits`},
		{"builtin=1.5", `"1.5" is not a whole`},
		{"builtin=lots", `"lots" is not a whole`},
		{"builtin=99999999999999999999", "is not a whole"},
		{"openai=flat:", `"" is not a whole`},
		{"anthropic:in=3", `"3" has no unit: want N/1k or N/1m`},
		{"anthropic:in=3/1g,anthropic:out=1/1k", `has unit "1g": want 1k or 1m`},
		{"anthropic:in=x/1k,anthropic:out=1/1k", `"x" is not a whole`},
		{"anthropic:in=9223372036854775807/1k,anthropic:out=1/1k", "is too large"},
		{"anthropic:in=3/1k", "anthropic needs both in and out prices"},
		{"anthropic:out=3/1k", "anthropic needs both in and out prices"},
		{"anthropic:in=3/1k,anthropic:out=15/1k,anthropic=4", "anthropic is both flat and per token"},
		{"anthropic:in=3/1k,anthropic:in=4/1k,anthropic:out=15/1k", "entry 2 (\"anthropic:in=4/1k\"): in of anthropic is given twice"},
		{"openai=1,openai:flat=2", "flat of openai is given twice"},
		{"openai=1,openai:maxout=100", "maxout of openai applies only to per-token prices"},
		{"openai:maxout=0", `"0" is not a positive whole number of tokens`},
		{"maxout=0", `"0" is not a positive whole number of tokens`},
		{"prompt=-3", "not a positive whole number"},
		{"chunk=99999999999", "not a positive whole number"},
		{"maxout=10,maxout=20", "maxout is given twice"},
		{"=1", "no reviewer name"},
		{"/gpt-4=1", "no reviewer name"},
		{"openai/=1", `no model after "openai/"`},
		{"*/model=1", "the default (*) has no models"},
		{"Open AI=1", `reviewer name "Open AI" may hold only`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePrices(tt.in)
			if err == nil {
				t.Fatalf("ParsePrices(%q) = %+v, want an error with %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "prices: ") {
				t.Errorf("ParsePrices(%q) error = %q, want it to start with \"prices: \" and hold %q", tt.in, err, tt.want)
			}
		})
	}
}

// String writes what ParsePrices reads back.
func TestPricesStringRoundTrip(t *testing.T) {
	for _, in := range []string{
		"",
		"builtin=3,openai=flat:20,anthropic:in=3/1k,anthropic:out=15/1k",
		"anthropic/claude-opus-4-1:in=15/1k,anthropic/claude-opus-4-1:out=75/1k,anthropic/claude-opus-4-1:maxout=32000",
		"*=flat:9,maxout=1000,prompt=200,chunk=5000,gemini:in=1/1m,gemini:out=7/1m",
	} {
		t.Run(in, func(t *testing.T) {
			p, err := ParsePrices(in)
			if err != nil {
				t.Fatalf("ParsePrices(%q) error: %v", in, err)
			}
			s := p.String()
			back, err := ParsePrices(s)
			if err != nil {
				t.Fatalf("ParsePrices(%q) (from String) error: %v", s, err)
			}
			if !reflect.DeepEqual(back, p) {
				t.Errorf("ParsePrices(%q) = %+v, want %+v", s, back, p)
			}
		})
	}
}
