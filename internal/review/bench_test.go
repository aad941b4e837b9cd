package review_test

import (
	"context"
	"testing"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/difftest"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/review/rules"
)

// BenchmarkParseAndBuiltin measures the main offline job end to end: parse a
// few MiB of real diff -ruN output of the Go source tree and review it with
// the builtin reviewer through the pipeline. Run it on one core with
// -cpu 1; the goal is at least 30 MB/s of diff.
func BenchmarkParseAndBuiltin(b *testing.B) {
	data := difftest.LargeDiff(b)
	reviewers := []review.Reviewer{rules.New()}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
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
}
