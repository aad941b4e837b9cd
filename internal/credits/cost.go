package credits

import (
	"math"
	"math/bits"
	"strings"

	"github.com/diffgate/diffgate/internal/review"
)

// inputFactor scales the diff's estimated tokens to the prompt a reviewer
// really sends: every line is rendered with a marker and its line number,
// and an invalid answer is corrected once by sending the conversation
// again.
const inputFactor = 2

// Quote is the credits to reserve before a review by reviewers of a diff
// of diffBytes bytes: an upper bound for the usual diff, priced at the
// most expensive entry a reviewer may resolve to (its model is not known
// before it runs).
//
// A flat price counts once per reviewer. A per-token price counts the
// diff's tokens (review.EstimateTokens arithmetic, times two for line
// rendering and one corrective retry), plus the prompt and the full answer
// allowance for every chunk the diff is split into. A review that costs
// more than its quote is charged the quote (Settle).
func Quote(p Prices, reviewers []string, diffBytes int) Amount {
	diffTokens := satMul(uint64(ceilDiv(max(diffBytes, 0), 3)), inputFactor)
	chunkTokens := uint64(orDefault(p.ChunkTokens, DefaultChunkTokens))
	chunks := diffTokens / chunkTokens
	if diffTokens%chunkTokens != 0 || chunks == 0 {
		chunks++
	}
	in := satAdd(diffTokens, satMul(chunks, uint64(orDefault(p.PromptTokens, DefaultPromptTokens))))
	var total Amount
	for _, name := range reviewers {
		var most Amount
		for _, pr := range p.candidates(name) {
			a := pr.Flat
			if pr.PerToken() {
				maxOut := orDefault(pr.MaxOutputTokens, orDefault(p.MaxOutputTokens, DefaultMaxOutputTokens))
				a = tokenCost(pr, in, satMul(chunks, uint64(maxOut)))
			}
			most = max(most, a)
		}
		total = addSat(total, most)
	}
	return total
}

// Cost is what reviewers' results really cost, from the usage they
// reported, before Settle caps it at the reservation. Every reviewer is
// priced by its model's entry, else its name's, else the default. A
// per-token cost is rounded up to whole credits over the reviewer's input
// and output together, so any use of a priced model costs at least one
// credit.
//
// Charge on success only, chunk by chunk: a reviewer's usage counts only
// the chunks that succeeded, and those chunks' findings are returned, so a
// per-token reviewer that failed part-way is charged for the part it
// reviewed (otherwise one chunk made to fail would make the rest free). A
// flat-priced reviewer that failed costs nothing; one that failed with no
// usage costs nothing either way.
func Cost(p Prices, results []review.ReviewerResult) Amount {
	var total Amount
	for _, rr := range results {
		pr := p.lookup(rr.Name, rr.Model)
		var a Amount
		switch {
		case pr.PerToken():
			if rr.Usage.InputTokens > 0 || rr.Usage.OutputTokens > 0 {
				a = tokenCost(pr, uint64(max(rr.Usage.InputTokens, 0)), uint64(max(rr.Usage.OutputTokens, 0)))
			}
		case rr.OK:
			a = pr.Flat
		}
		total = addSat(total, a)
	}
	return total
}

func (p Prices) lookup(name, model string) Price {
	if model != "" {
		if pr, ok := p.Reviewers[name+"/"+model]; ok {
			return pr
		}
	}
	if pr, ok := p.Reviewers[name]; ok {
		return pr
	}
	return p.Default
}

// candidates are every price lookup may return for a reviewer of name.
func (p Prices) candidates(name string) []Price {
	var out []Price
	for k, pr := range p.Reviewers {
		if strings.HasPrefix(k, name+"/") {
			out = append(out, pr)
		}
	}
	if pr, ok := p.Reviewers[name]; ok {
		return append(out, pr)
	}
	return append(out, p.Default)
}

// tokenCost is ceil((in*InputPerMillion + out*OutputPerMillion) / 1e6) in
// 128-bit arithmetic, saturating at MaxAmount.
func tokenCost(pr Price, in, out uint64) Amount {
	hi1, lo1 := bits.Mul64(in, uint64(max(pr.InputPerMillion, 0)))
	hi2, lo2 := bits.Mul64(out, uint64(max(pr.OutputPerMillion, 0)))
	lo, carry := bits.Add64(lo1, lo2, 0)
	hi, overflow := bits.Add64(hi1, hi2, carry)
	const million = 1_000_000
	if overflow != 0 || hi >= million {
		return MaxAmount
	}
	q, r := bits.Div64(hi, lo, million)
	if q >= uint64(MaxAmount) {
		return MaxAmount
	}
	if r > 0 {
		q++ // never give tokens away: a fraction of a credit is a credit
	}
	return Amount(q)
}

func ceilDiv(a, b int) int { return a/b + min(a%b, 1) }

func orDefault(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

func satAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}

func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}
