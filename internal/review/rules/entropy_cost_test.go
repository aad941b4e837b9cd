package rules

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// randomTokenLine is one line of JSON whose values look random enough to
// need a secret word on the line (24 characters: below the bare-token
// length), from an alphabet that cannot spell one, so every token asks
// whether the line names a secret and the answer is always no.
func randomTokenLine(size int) string {
	const alphabet = "DEFGIJLMNOQRUVWXZdefgijlmnoqruvwxz0123456789"
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.Grow(size + 64)
	b.WriteString("{")
	tok := make([]byte, 24)
	for i := 0; b.Len() < size; i++ {
		for j := range tok {
			tok[j] = alphabet[rng.IntN(len(alphabet))]
		}
		b.WriteString(`"v":"`)
		b.Write(tok)
		b.WriteString(`",`)
	}
	b.WriteString(`"end":0}`)
	return b.String()
}

// TestHighEntropyScanIsLinear: the scan of one long line costs work in
// proportion to the line, so a minified bundle cannot stall a review (R3).
// Work is the bytes the scan examines, counted by the scan itself, never
// wall-clock time.
func TestHighEntropyScanIsLinear(t *testing.T) {
	const perByte = 4 // generous: the scan reads each byte about twice
	for name, build := range map[string]func(int) string{
		"identifiers":   minifiedLine,
		"random tokens": randomTokenLine,
	} {
		t.Run(name, func(t *testing.T) {
			costs := map[int]int{}
			for _, size := range []int{100 << 10, 400 << 10, 1 << 20} {
				line := build(size)
				cost := 0
				scanHighEntropy(line, nil, &cost)
				if cost > perByte*len(line) {
					t.Errorf("scanHighEntropy(%d-byte line) examined %d bytes, want at most %d", len(line), cost, perByte*len(line))
				}
				costs[size] = cost
			}
			// Four times the line must cost about four times the work, not sixteen.
			if small, big := costs[100<<10], costs[400<<10]; big > 5*small {
				t.Errorf("scan cost grew from %d (100 KiB) to %d (400 KiB), want at most 5x", small, big)
			}
		})
	}
}

// TestRandomTokenLineNeedsName guards the test above: its tokens are ones
// the scan reports once the line names a secret, so every token did ask.
func TestRandomTokenLineNeedsName(t *testing.T) {
	line := randomTokenLine(4 << 10)
	if _, _, ok := findHighEntropy(line, nil); ok {
		t.Fatalf("findHighEntropy(random tokens, no secret word) = found, want none")
	}
	if _, _, ok := findHighEntropy(`{"api_key":1,`+line[1:], nil); !ok {
		t.Errorf("findHighEntropy(random tokens after api_key) = none, want a finding")
	}
}

// TestSecretWordBounds: the per-line bounds answer what scanning the text
// before and after each token would.
func TestSecretWordBounds(t *testing.T) {
	lines := []string{
		`x := "abc"`, `apiKey: "q8Zx3Lp0Vw7Rt2Yk9Bn4Mc6Df1Gh5Js"`, `"q8Zx3Lp0Vw7Rt2Yk9Bn4Mc6Df1Gh5Js" // TOKEN`,
		`KEYtokenSecret`, `pw = "x"; pwd`, `ke`, ``, `sessionsalt=1 private`,
	}
	for _, line := range lines {
		firstEnd, lastStart := secretWordBounds(line)
		for j := 0; j <= len(line); j++ {
			for k := j; k <= len(line); k++ {
				want := containsSecretWord(line[:j]) || containsSecretWord(line[k:])
				if got := firstEnd <= j || lastStart >= k; got != want {
					t.Errorf("secretWordBounds(%q) = %d, %d: named around [%d,%d) = %v, want %v", line, firstEnd, lastStart, j, k, got, want)
				}
			}
		}
	}
}

// containsSecretWord is the obvious per-text check the bounds replace.
func containsSecretWord(s string) bool {
	for _, w := range secretWords {
		if strings.Contains(strings.ToLower(s), w) {
			return true
		}
	}
	return false
}
