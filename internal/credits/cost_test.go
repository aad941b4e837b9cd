package credits

import (
	"math"
	"testing"

	"github.com/diffgate/diffgate/internal/review"
)

func mustPrices(t *testing.T, s string) Prices {
	t.Helper()
	p, err := ParsePrices(s)
	if err != nil {
		t.Fatalf("ParsePrices(%q) error: %v", s, err)
	}
	return p
}

// ceilMillion is the expected per-token arithmetic, written out plainly.
func ceilMillion(n int64) Amount { return Amount((n + 999_999) / 1_000_000) }

// L2: the quote shown before a review is what is reserved.
func TestQuote(t *testing.T) {
	// Small allowances keep the expected numbers readable: per chunk of
	// 1000 diff tokens, 100 prompt tokens and 1000 answer tokens.
	const small = "maxout=1000,prompt=100,chunk=1000,anthropic:in=3/1k,anthropic:out=15/1k,openai=flat:20"
	tests := []struct {
		name      string
		prices    string
		reviewers []string
		diffBytes int
		want      Amount
	}{
		{"builtin is flat", small, []string{"builtin"}, 5000, 1},
		{"no reviewers", small, nil, 5000, 0},
		{"flat LLM ignores size", small, []string{"openai"}, 1 << 20, 20},
		// 1 byte: 1 estimated token, doubled; one chunk.
		{"one byte", small, []string{"anthropic"}, 1, ceilMillion((2+100)*3000 + 1000*15000)},
		{"empty diff", small, []string{"anthropic"}, 0, ceilMillion(100*3000 + 1000*15000)},
		{"negative size is empty", small, []string{"anthropic"}, -7, ceilMillion(100*3000 + 1000*15000)},
		// 3000 bytes: 1000 tokens, doubled to 2000: two chunks.
		{"two chunks", small, []string{"anthropic"}, 3000, ceilMillion((2000+2*100)*3000 + 2*1000*15000)},
		// 3003 bytes: 1001 tokens, 2002: three chunks.
		{"three chunks", small, []string{"anthropic"}, 3003, ceilMillion((2002+3*100)*3000 + 3*1000*15000)},
		{"unknown reviewer takes the default", small, []string{"gemini"}, 3000, ceilMillion((2000+2*100)*3000 + 2*1000*15000)},
		{
			"reviewers add up", small, []string{"builtin", "openai", "anthropic"}, 1,
			1 + 20 + ceilMillion((2+100)*3000+1000*15000),
		},
		{
			"the dearest model of a reviewer", small + ",anthropic/opus:in=15/1k,anthropic/opus:out=75/1k,anthropic/haiku=1",
			[]string{"anthropic"}, 1, ceilMillion((2+100)*15000 + 1000*75000),
		},
		{
			"models only: the default may still apply", "maxout=1000,prompt=100,chunk=1000,*:in=50/1k,*:out=50/1k,anthropic/haiku:in=1/1k,anthropic/haiku:out=1/1k",
			[]string{"anthropic"}, 1, ceilMillion((2+100)*50000 + 1000*50000),
		},
		{
			"a model of another reviewer does not count", small + ",anthropic-x/opus=999",
			[]string{"anthropic"}, 1, ceilMillion((2+100)*3000 + 1000*15000),
		},
		{
			"per-price answer allowance", small + ",gemini:in=1/1k,gemini:out=10/1k,gemini:maxout=5000",
			[]string{"gemini"}, 1, ceilMillion((2+100)*1000 + 5000*10000),
		},
		{
			"defaults", "", []string{"anthropic"}, 300_000,
			ceilMillion((200_000+2*DefaultPromptTokens)*3000 + 2*DefaultMaxOutputTokens*15000),
		},
		{"free reviewer", "openai-compatible=0", []string{"openai-compatible"}, 1 << 20, 0},
		{
			"huge diff saturates", "x:in=1000000000000/1m,x:out=1/1m", []string{"x"}, math.MaxInt,
			MaxAmount,
		},
		{
			"saturated reviewers do not wrap", "x:in=1000000000000/1m,x:out=1/1m", []string{"x", "x", "builtin"}, math.MaxInt,
			MaxAmount,
		},
		// d = 2*ceil(MaxInt64/3) = 6148914691236517206 diff tokens in as
		// many chunks: in = 2d, out = d; 3d = 18446744073709551618 is past
		// 2^64 and must be priced without wrapping: ceil(3d/1e6).
		{
			"token total past 2^64", "chunk=1,x:in=1/1m,x:out=1/1m,maxout=1,prompt=1", []string{"x"}, math.MaxInt64,
			18446744073710,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPrices(t, tt.prices)
			if got := Quote(p, tt.reviewers, tt.diffBytes); got != tt.want {
				t.Errorf("Quote(%q, %v, %d) = %d, want %d", tt.prices, tt.reviewers, tt.diffBytes, got, tt.want)
			}
		})
	}
}

// L2: the quote grows with the diff and never shrinks.
func TestQuoteMonotonic(t *testing.T) {
	p := DefaultPrices()
	prev := Amount(0)
	for n := 0; n <= 2_000_000; n += 33_333 {
		q := Quote(p, []string{"builtin", "anthropic"}, n)
		if q < prev {
			t.Fatalf("Quote(default, [builtin anthropic], %d) = %d, below %d for a smaller diff", n, q, prev)
		}
		prev = q
	}
}

// L2: the real cost from reported usage, rounded up.
func TestCost(t *testing.T) {
	const prices = "anthropic:in=3/1k,anthropic:out=15/1k,openai=flat:20,anthropic/opus:in=15/1k,anthropic/opus:out=75/1k,cheap:in=1/1m,cheap:out=1/1m,dear:in=1000000000000/1m,dear:out=1/1m"
	ok := func(name, model string, in, out int) review.ReviewerResult {
		return review.ReviewerResult{Name: name, Model: model, OK: true, Usage: review.Usage{InputTokens: in, OutputTokens: out}}
	}
	failed := func(r review.ReviewerResult) review.ReviewerResult {
		r.OK = false
		r.Error = "anthropic: 529 overloaded"
		return r
	}
	tests := []struct {
		name    string
		results []review.ReviewerResult
		want    Amount
	}{
		{"nothing", nil, 0},
		{"builtin", []review.ReviewerResult{ok("builtin", "", 0, 0)}, 1},
		{"flat ignores usage", []review.ReviewerResult{ok("openai", "gpt-4.1", 1_000_000, 1_000_000)}, 20},
		{"exact thousands", []review.ReviewerResult{ok("anthropic", "claude-sonnet-4-5", 1000, 1000)}, 3 + 15},
		{"one token rounds up", []review.ReviewerResult{ok("anthropic", "", 1, 0)}, 1},
		{"one output token rounds up", []review.ReviewerResult{ok("anthropic", "", 0, 1)}, 1},
		{"no tokens, no cost", []review.ReviewerResult{ok("anthropic", "", 0, 0)}, 0},
		{"fraction rounds up", []review.ReviewerResult{ok("anthropic", "", 1001, 0)}, 4},
		// 1.5 + 1.5 credits are 3, rounded once over both sides.
		{"rounded once per reviewer", []review.ReviewerResult{ok("anthropic", "", 500, 100)}, ceilMillion(500*3000 + 100*15000)},
		{"per million", []review.ReviewerResult{ok("cheap", "", 999_999, 1)}, 1},
		{"per million plus one", []review.ReviewerResult{ok("cheap", "", 1_000_000, 1)}, 2},
		{"model entry wins", []review.ReviewerResult{ok("anthropic", "opus", 1000, 1000)}, 15 + 75},
		{"unknown model takes the reviewer's", []review.ReviewerResult{ok("anthropic", "haiku", 1000, 1000)}, 3 + 15},
		{"unknown reviewer takes the default", []review.ReviewerResult{ok("gemini", "gemini-2.5-flash", 1000, 1000)}, 3 + 15},
		// The usage of a failed reviewer is that of its chunks that
		// succeeded (and returned findings): it is charged.
		{"failed reviewer pays for the chunks it reviewed", []review.ReviewerResult{failed(ok("anthropic", "", 5000, 5000))}, 15 + 75},
		{"failed reviewer without usage is free", []review.ReviewerResult{failed(ok("anthropic", "", 0, 0))}, 0},
		{"failed flat reviewer is free", []review.ReviewerResult{failed(ok("openai", "", 10, 10))}, 0},
		{
			"reviewers add up",
			[]review.ReviewerResult{ok("builtin", "", 0, 0), ok("openai", "", 10, 10), ok("anthropic", "", 2000, 0), failed(ok("gemini", "", 1000, 1000))},
			1 + 20 + 6 + 18,
		},
		{"negative usage counts as none", []review.ReviewerResult{ok("anthropic", "", -5000, -1)}, 0},
		// (2^63-1) * (15000+75000) / 1e6 = 830103483316929822.63: past
		// 2^64 before the division, exact after it.
		{"huge usage priced in 128 bits", []review.ReviewerResult{ok("anthropic", "opus", math.MaxInt64, math.MaxInt64)}, 830103483316929823},
		{"huge usage saturates", []review.ReviewerResult{ok("dear", "", math.MaxInt64, 0)}, MaxAmount},
		{
			"saturated reviewers do not wrap",
			[]review.ReviewerResult{ok("dear", "", math.MaxInt64, math.MaxInt64), ok("anthropic", "opus", math.MaxInt64, 0), ok("builtin", "", 0, 0)},
			MaxAmount,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPrices(t, prices)
			if got := Cost(p, tt.results); got != tt.want {
				t.Errorf("Cost(%q, %+v) = %d, want %d", prices, tt.results, got, tt.want)
			}
		})
	}
}

// The 128-bit arithmetic at its edges: exact, rounded up, saturated.
func TestTokenCost(t *testing.T) {
	const maxU = math.MaxUint64
	tests := []struct {
		name    string
		pr      Price
		in, out uint64
		want    Amount
	}{
		{"zero", Price{InputPerMillion: 1, OutputPerMillion: 1}, 0, 0, 0},
		{"exact", Price{InputPerMillion: 2, OutputPerMillion: 3}, 1_000_000, 1_000_000, 5},
		{"round up", Price{InputPerMillion: 1, OutputPerMillion: 1}, 1, 0, 1},
		{"product above 64 bits", Price{InputPerMillion: 1_000_000, OutputPerMillion: 0}, maxU, 0, MaxAmount},
		// (2^64-1)*2 / 1e6, rounded up, computed without overflow.
		{"sum carries into high bits", Price{InputPerMillion: 1, OutputPerMillion: 1}, maxU, maxU, Amount(maxU/1_000_000*2 + ceilRem(maxU%1_000_000*2))},
		{"quotient above int64", Price{InputPerMillion: 999_999, OutputPerMillion: 0}, maxU, 0, MaxAmount},
		{"both sides saturate", Price{InputPerMillion: MaxAmount, OutputPerMillion: MaxAmount}, maxU, maxU, MaxAmount},
		{"negative rates count as none", Price{InputPerMillion: -5, OutputPerMillion: 1}, 1000, 1_000_000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tokenCost(tt.pr, tt.in, tt.out); got != tt.want {
				t.Errorf("tokenCost(%+v, %d, %d) = %d, want %d", tt.pr, tt.in, tt.out, got, tt.want)
			}
		})
	}
}

// ceilRem carries a remainder below 2e6 into whole millions, rounded up.
func ceilRem(r uint64) uint64 { return (r + 999_999) / 1_000_000 }
