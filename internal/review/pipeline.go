package review

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/diffgate/diffgate/internal/diff"
)

// DefaultConcurrency bounds how many chunks of one reviewer are in flight.
const DefaultConcurrency = 4

// Options tune Run.
type Options struct {
	// Concurrency bounds the chunks of one reviewer sent at once;
	// <= 0 means DefaultConcurrency.
	Concurrency int
	// Progress, when set, is called (from several goroutines) as chunks
	// finish: done of total chunks of the named reviewer.
	Progress func(reviewer string, done, total int)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run reviews d with every reviewer concurrently (R4). One reviewer's
// failure, timeout or panic never fails the others (R6): it is recorded in
// its ReviewerResult and the rest of the Result stands. The caller bounds
// the whole review with ctx's deadline.
func Run(ctx context.Context, d *diff.Diff, reviewers []Reviewer, opts Options) *Result {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	res := &Result{Files: len(d.Files), Reviewers: make([]ReviewerResult, len(reviewers))}
	for _, f := range d.Files {
		if f.Binary {
			res.Skipped = append(res.Skipped, Skipped{File: f.Path(), Reason: "binary file"})
		}
	}
	for _, o := range d.Omitted {
		res.Skipped = append(res.Skipped, Skipped{File: o.Path, Reason: o.Reason})
	}
	idx := newLineIndex(d)
	perReviewer := make([][]Finding, len(reviewers))
	skipped := make([][]Skipped, len(reviewers))
	var wg sync.WaitGroup
	for i, rv := range reviewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr, findings, sk := runOne(ctx, d, rv, opts)
			kept, dropped := idx.place(findings, rv.Name())
			rr.Findings, rr.Dropped = len(kept), dropped
			res.Reviewers[i], perReviewer[i], skipped[i] = rr, kept, sk
		}()
	}
	wg.Wait()
	var all []Finding
	for i := range reviewers {
		all = append(all, perReviewer[i]...)
		res.Skipped = append(res.Skipped, skipped[i]...)
	}
	res.Findings = Merge(all)
	return res
}

// runOne runs one reviewer over every chunk of d.
func runOne(ctx context.Context, d *diff.Diff, rv Reviewer, opts Options) (ReviewerResult, []Finding, []Skipped) {
	start := opts.Now()
	rr := ReviewerResult{Name: rv.Name(), OK: true}
	chunks := []*diff.Diff{d}
	var skipped []Skipped
	if b, ok := rv.(Budgeted); ok {
		var sk []Skipped
		chunks, sk = Split(d, b.InputBudget())
		for _, s := range sk {
			s.Reviewer = rv.Name()
			skipped = append(skipped, s)
		}
	}
	rr.Chunks = len(chunks)

	var (
		mu       sync.Mutex
		findings []Finding
		errs     []error
		done     int
		wg       sync.WaitGroup
		sem      = make(chan struct{}, opts.Concurrency)
	)
	for _, c := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				mu.Lock()
				errs = append(errs, ctx.Err())
				skipped = append(skipped, linesOf(c, rv.Name(), "not reviewed: "+errorLine(ctx.Err()))...)
				mu.Unlock()
				return
			}
			rep, err := safeReview(ctx, rv, c)
			mu.Lock()
			defer mu.Unlock()
			done++
			if err != nil {
				errs = append(errs, err)
				skipped = append(skipped, linesOf(c, rv.Name(), "not reviewed: "+errorLine(err))...)
			} else {
				findings = append(findings, rep.Findings...)
				rr.Usage.Add(rep.Usage)
				if rep.Model != "" {
					rr.Model = rep.Model
				}
				for _, s := range rep.Skipped {
					if s.Reviewer == "" {
						s.Reviewer = rv.Name()
					}
					skipped = append(skipped, s)
				}
			}
			if opts.Progress != nil {
				opts.Progress(rv.Name(), done, len(chunks))
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		rr.OK = false
		rr.Error = errorLine(errs[0])
		if len(chunks) > 1 {
			rr.Error = fmt.Sprintf("%d of %d chunks failed: %s", len(errs), len(chunks), rr.Error)
		}
	}
	rr.DurationMS = opts.Now().Sub(start).Milliseconds()
	return rr, findings, skipped
}

// safeReview turns a reviewer's panic into its own error, so that one
// broken reviewer cannot take the others down.
func safeReview(ctx context.Context, rv Reviewer, d *diff.Diff) (rep *Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			rep, err = nil, fmt.Errorf("%s: internal error", rv.Name())
		}
	}()
	rep, err = rv.Review(ctx, d)
	if err == nil && rep == nil {
		rep = &Report{}
	}
	return rep, err
}

// errorLine makes an error one line that is safe to show.
func errorLine(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, context.DeadlineExceeded.Error(), "timed out")
	s = strings.ReplaceAll(s, context.Canceled.Error(), "cancelled")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}
