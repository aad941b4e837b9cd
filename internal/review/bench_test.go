package review_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/difftest"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/review/rules"
)

// BenchmarkParseAndBuiltin measures the main offline job end to end: parse
// real diff -ruN output of the Go source tree and review it with the
// builtin reviewer through the pipeline. The input is the large diff
// repeated 1, 2 and 4 times, so B/op across the sizes shows whether memory
// grows faster than the diff. Run it on one core with -cpu 1; the goal is
// at least 30 MB/s of diff.
func BenchmarkParseAndBuiltin(b *testing.B) {
	one := difftest.LargeDiff(b)
	reviewers := []review.Reviewer{rules.New()}
	for _, times := range []int{1, 2, 4} {
		data := bytes.Repeat(one, times)
		b.Run(fmt.Sprintf("%dMiB", len(data)>>20), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				d, err := diff.Parse(data)
				if err != nil {
					b.Fatal(err)
				}
				res := review.Run(context.Background(), d, reviewers, review.Options{})
				if res.Failed() {
					b.Fatalf("builtin failed: %+v", res.Reviewers)
				}
			}
		})
	}
}
