package review

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/diff"
)

// addedFile is a new file whose lines are all added, starting at line 1.
func addedFile(path string, lines ...string) *diff.File {
	h := &diff.Hunk{NewStart: 1, NewLines: len(lines)}
	for i, l := range lines {
		h.Lines = append(h.Lines, diff.Line{Kind: diff.Add, Content: l, NewLine: i + 1})
	}
	return &diff.File{NewPath: path, Status: diff.Added, Similarity: -1, Hunks: []*diff.Hunk{h}}
}

// hunkAt is a hunk of context lines then added lines, starting at newStart.
func hunkAt(newStart int, context, added int) *diff.Hunk {
	h := &diff.Hunk{OldStart: newStart, OldLines: context, NewStart: newStart, NewLines: context + added}
	n := newStart
	for i := 0; i < context; i++ {
		h.Lines = append(h.Lines, diff.Line{Kind: diff.Context, Content: fmt.Sprintf("ctx %d", n), OldLine: n, NewLine: n})
		n++
	}
	for i := 0; i < added; i++ {
		h.Lines = append(h.Lines, diff.Line{Kind: diff.Add, Content: fmt.Sprintf("add %d", n), NewLine: n})
		n++
	}
	return h
}

// fakeReviewer answers with fixed findings, or fails, or panics, or waits.
type fakeReviewer struct {
	name     string
	budget   int
	findings func(d *diff.Diff) []Finding
	err      error
	panics   bool
	block    bool
	calls    atomic.Int32
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func (f *fakeReviewer) Name() string { return f.name }

func (f *fakeReviewer) Review(ctx context.Context, d *diff.Diff) (*Report, error) {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if f.panics {
		panic("reviewer bug")
	}
	if f.block {
		<-ctx.Done()
		return nil, fmt.Errorf("%s: %w", f.name, ctx.Err())
	}
	time.Sleep(time.Millisecond) // lets chunks overlap so concurrency is observable
	if f.err != nil {
		return nil, f.err
	}
	rep := &Report{Usage: Usage{InputTokens: 10, OutputTokens: 2}, Model: f.name + "-model"}
	if f.findings != nil {
		rep.Findings = f.findings(d)
	}
	return rep, nil
}

type budgeted struct{ *fakeReviewer }

func (b budgeted) InputBudget() int { return b.budget }

func TestSeverityParse(t *testing.T) {
	for _, s := range []string{"critical", "HIGH", "Medium", "low", "info"} {
		v, err := ParseSeverity(s)
		if err != nil || !strings.EqualFold(v.String(), s) {
			t.Errorf("ParseSeverity(%q) = %v, %v", s, v, err)
		}
	}
	if _, err := ParseSeverity("urgent"); err == nil {
		t.Errorf("ParseSeverity(%q) succeeded, want error", "urgent")
	}
	if !(Critical > High && High > Medium && Medium > Low && Low > Info) {
		t.Error("severities are not ordered")
	}
}

// R2: findings are placed only at lines the diff shows.
func TestPlace(t *testing.T) {
	d := &diff.Diff{Files: []*diff.File{
		{OldPath: "a.go", NewPath: "a.go", Hunks: []*diff.Hunk{hunkAt(10, 2, 3), hunkAt(40, 1, 1)}},
		{OldPath: "gone.go", Status: diff.Deleted, Hunks: []*diff.Hunk{{OldStart: 1, OldLines: 1, Lines: []diff.Line{{Kind: diff.Delete, Content: "x", OldLine: 1}}}}},
	}}
	idx := newLineIndex(d)
	tests := []struct {
		name       string
		in         Finding
		start, end int
		dropped    bool
	}{
		{"inside", Finding{File: "a.go", StartLine: 12, EndLine: 14}, 12, 14, false},
		{"end defaults to start", Finding{File: "a.go", StartLine: 11}, 11, 11, false},
		{"before hunk", Finding{File: "a.go", StartLine: 9, EndLine: 9}, 0, 0, false},
		{"after hunk", Finding{File: "a.go", StartLine: 15, EndLine: 15}, 0, 0, false},
		{"spans two hunks", Finding{File: "a.go", StartLine: 14, EndLine: 40}, 0, 0, false},
		{"second hunk", Finding{File: "a.go", StartLine: 41, EndLine: 41}, 41, 41, false},
		{"negative", Finding{File: "a.go", StartLine: -3, EndLine: 2}, 0, 0, false},
		{"file level", Finding{File: "a.go"}, 0, 0, false},
		{"deleted file line", Finding{File: "gone.go", StartLine: 1, EndLine: 1}, 0, 0, false},
		{"unknown file", Finding{File: "other.go", StartLine: 11, EndLine: 11}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, dropped := idx.place([]Finding{tt.in}, "r")
			if tt.dropped {
				if len(kept) != 0 || dropped != 1 {
					t.Fatalf("place(%+v) kept %v dropped %d, want dropped", tt.in, kept, dropped)
				}
				return
			}
			if len(kept) != 1 {
				t.Fatalf("place(%+v) kept %d findings, want 1", tt.in, len(kept))
			}
			if g := kept[0]; g.StartLine != tt.start || g.EndLine != tt.end {
				t.Errorf("place(%+v) = lines %d-%d, want %d-%d", tt.in, g.StartLine, g.EndLine, tt.start, tt.end)
			}
			if !slices.Equal(kept[0].Reviewers, []string{"r"}) {
				t.Errorf("place set reviewers %v, want [r]", kept[0].Reviewers)
			}
		})
	}
}

func TestPlaceNormalises(t *testing.T) {
	d := &diff.Diff{Files: []*diff.File{addedFile("a.go", "x")}}
	kept, _ := newLineIndex(d).place([]Finding{{File: "a.go", StartLine: 1, Severity: 42, Category: "vibes", Confidence: 7}}, "r")
	g := kept[0]
	if g.Severity != Info || g.Category != "other" || g.Confidence != 1 {
		t.Errorf("place normalised to %+v, want info/other/1", g)
	}
}

// R4: agreement is reported once and raises confidence.
func TestMerge(t *testing.T) {
	a := Finding{File: "a.go", StartLine: 10, EndLine: 12, Severity: Medium, Category: "security", Reviewers: []string{"anthropic"}, Message: "sql injection", Confidence: 0.6}
	b := Finding{File: "a.go", StartLine: 12, EndLine: 13, Severity: High, Category: "security", Reviewers: []string{"builtin"}, Rule: "DG-SQL-CONCAT", Message: "SQL built from strings", Confidence: 0.8}
	got := Merge([]Finding{a, b})
	if len(got) != 1 {
		t.Fatalf("Merge = %d findings, want 1: %+v", len(got), got)
	}
	m := got[0]
	if !slices.Equal(m.Reviewers, []string{"anthropic", "builtin"}) {
		t.Errorf("merged reviewers = %v, want [anthropic builtin]", m.Reviewers)
	}
	if m.Severity != High || m.StartLine != 10 || m.EndLine != 13 || m.Rule != "DG-SQL-CONCAT" || m.Message != b.Message {
		t.Errorf("merged = %+v", m)
	}
	if want := 1 - 0.4*0.2; m.Confidence < want-1e-9 || m.Confidence > want+1e-9 || m.Confidence <= b.Confidence {
		t.Errorf("merged confidence = %v, want %v (above both)", m.Confidence, want)
	}

	notMerged := []struct {
		name string
		c    Finding
	}{
		{"other category", Finding{File: "a.go", StartLine: 10, EndLine: 10, Category: "style", Reviewers: []string{"openai"}}},
		{"disjoint lines", Finding{File: "a.go", StartLine: 14, EndLine: 20, Category: "security", Reviewers: []string{"openai"}}},
		{"other file", Finding{File: "b.go", StartLine: 10, EndLine: 10, Category: "security", Reviewers: []string{"openai"}}},
		{"same reviewer", Finding{File: "a.go", StartLine: 10, EndLine: 10, Category: "security", Reviewers: []string{"anthropic"}}},
		{"file level vs line", Finding{File: "a.go", Category: "security", Reviewers: []string{"openai"}}},
	}
	for _, tt := range notMerged {
		t.Run(tt.name, func(t *testing.T) {
			if got := Merge([]Finding{a, tt.c}); len(got) != 2 {
				t.Errorf("Merge(%+v, %+v) = %d findings, want 2", a, tt.c, len(got))
			}
		})
	}
	fl := Merge([]Finding{
		{File: "a.go", Category: "secret", Reviewers: []string{"x"}, Confidence: 0.5},
		{File: "a.go", Category: "secret", Reviewers: []string{"y"}, Confidence: 0.5},
	})
	if len(fl) != 1 || fl[0].Confidence != 0.75 {
		t.Errorf("file-level agreement = %+v, want one finding with confidence 0.75", fl)
	}
	// Merge must not change its input.
	if len(a.Reviewers) != 1 || a.Reviewers[0] != "anthropic" {
		t.Errorf("Merge changed its input: %v", a.Reviewers)
	}
}

func TestMergeSorts(t *testing.T) {
	in := []Finding{
		{File: "b.go", StartLine: 1, Reviewers: []string{"x"}, Category: "style"},
		{File: "a.go", StartLine: 5, Severity: Low, Reviewers: []string{"x"}, Category: "style"},
		{File: "a.go", StartLine: 5, Severity: Critical, Reviewers: []string{"x"}, Category: "secret"},
		{File: "a.go", StartLine: 2, Reviewers: []string{"x"}, Category: "style"},
	}
	got := Merge(in)
	var order []string
	for _, f := range got {
		order = append(order, fmt.Sprintf("%s:%d:%s", f.File, f.StartLine, f.Severity))
	}
	want := []string{"a.go:2:info", "a.go:5:critical", "a.go:5:low", "b.go:1:info"}
	if !slices.Equal(order, want) {
		t.Errorf("Merge order = %v, want %v", order, want)
	}
}

// R5: chunks fit the budget, keep every line exactly once, and whatever
// cannot fit is listed.
func TestSplit(t *testing.T) {
	long := strings.Repeat("x", 3000)
	d := &diff.Diff{Files: []*diff.File{
		{OldPath: "a.go", NewPath: "a.go", Hunks: []*diff.Hunk{hunkAt(1, 3, 40), hunkAt(100, 2, 5)}},
		addedFile("b.go", "one", "two", long, "three"),
		{OldPath: "img.png", NewPath: "img.png", Binary: true},
		{OldPath: "old.txt", NewPath: "new.txt", Status: diff.Renamed, Similarity: 100},
	}}
	const budget = 200
	chunks, skipped := Split(d, budget)
	if len(chunks) < 2 {
		t.Fatalf("Split made %d chunks, want several", len(chunks))
	}
	seen := map[string]int{}
	for i, c := range chunks {
		cost := 0
		for _, f := range c.Files {
			if f.Binary {
				t.Errorf("chunk %d holds binary file %s", i, f.Path())
			}
			cost += fileCost(f)
			for _, h := range f.Hunks {
				cost += hunkOverhead
				n := h.NewStart
				for _, l := range h.Lines {
					cost += lineCost(&l)
					seen[fmt.Sprintf("%s:%d:%d:%s", f.Path(), l.Kind, l.NewLine, l.Content)]++
					if l.Kind != diff.Delete {
						if l.NewLine != n {
							t.Errorf("chunk %d %s: line %q has NewLine %d, hunk says %d", i, f.Path(), l.Content, l.NewLine, n)
						}
						n++
					}
				}
				if n-h.NewStart != h.NewLines {
					t.Errorf("chunk %d %s: hunk NewLines %d, counted %d", i, f.Path(), h.NewLines, n-h.NewStart)
				}
			}
		}
		if cost > budget {
			t.Errorf("chunk %d costs %d, over budget %d", i, cost, budget)
		}
	}
	total := 0
	for _, f := range d.Files {
		for _, h := range f.Hunks {
			for _, l := range h.Lines {
				if l.Content == long {
					continue
				}
				total++
				if k := fmt.Sprintf("%s:%d:%d:%s", f.Path(), l.Kind, l.NewLine, l.Content); seen[k] != 1 {
					t.Errorf("line %s appears %d times in chunks, want 1", k, seen[k])
				}
			}
		}
	}
	if len(seen) != total {
		t.Errorf("chunks hold %d distinct lines, want %d", len(seen), total)
	}
	if len(skipped) != 1 || skipped[0].File != "b.go" || skipped[0].StartLine != 3 {
		t.Errorf("skipped = %+v, want the long line b.go:3", skipped)
	}
	renamed := false
	for _, c := range chunks {
		for _, f := range c.Files {
			renamed = renamed || f.NewPath == "new.txt"
		}
	}
	if !renamed {
		t.Error("pure rename is missing from the chunks")
	}
}

func TestSplitNoBudget(t *testing.T) {
	d := &diff.Diff{Files: []*diff.File{addedFile("a", "x")}}
	chunks, skipped := Split(d, 0)
	if len(chunks) != 1 || chunks[0] != d || skipped != nil {
		t.Errorf("Split(d, 0) = %v, %v; want d unchanged", chunks, skipped)
	}
}

// R4, R6: reviewers run concurrently; one failing, panicking or timing out
// does not fail the others.
func TestRunIsolatesFailures(t *testing.T) {
	d := &diff.Diff{Files: []*diff.File{addedFile("a.go", "x", "y"), {NewPath: "logo.png", OldPath: "logo.png", Binary: true}}}
	good := &fakeReviewer{name: "good", findings: func(*diff.Diff) []Finding {
		return []Finding{
			{File: "a.go", StartLine: 2, EndLine: 2, Severity: High, Category: "security", Message: "m", Confidence: 0.5},
			{File: "nope.go", StartLine: 1, Message: "elsewhere"},
		}
	}}
	bad := &fakeReviewer{name: "bad", err: errors.New("bad: 500 internal\nsecond line")}
	panicky := &fakeReviewer{name: "panicky", panics: true}
	slow := &fakeReviewer{name: "slow", block: true}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res := Run(ctx, d, []Reviewer{good, bad, panicky, slow}, Options{})

	want := map[string]string{"good": "", "bad": "bad: 500 internal", "panicky": "panicky: internal error", "slow": "slow: timed out"}
	for _, rr := range res.Reviewers {
		w, ok := want[rr.Name]
		if !ok {
			t.Errorf("unexpected reviewer %q", rr.Name)
			continue
		}
		if rr.OK != (w == "") || rr.Error != w {
			t.Errorf("reviewer %s: ok=%v error=%q, want error %q", rr.Name, rr.OK, rr.Error, w)
		}
	}
	if len(res.Findings) != 1 || res.Findings[0].File != "a.go" {
		t.Fatalf("findings = %+v, want the one on a.go", res.Findings)
	}
	if res.Reviewers[0].Dropped != 1 || res.Reviewers[0].Findings != 1 {
		t.Errorf("good reviewer: findings %d dropped %d, want 1 and 1", res.Reviewers[0].Findings, res.Reviewers[0].Dropped)
	}
	if !res.Failed() {
		t.Error("Failed() = false with failing reviewers")
	}
	var binary, badSkipped bool
	for _, s := range res.Skipped {
		binary = binary || (s.File == "logo.png" && s.Reviewer == "")
		badSkipped = badSkipped || (s.File == "a.go" && s.Reviewer == "bad")
	}
	if !binary || !badSkipped {
		t.Errorf("skipped = %+v, want the binary file and the failed reviewer's lines", res.Skipped)
	}
}

// R5: a budgeted reviewer gets chunks, with bounded concurrency, and its
// usage is summed over them.
func TestRunChunksWithBoundedConcurrency(t *testing.T) {
	var files []*diff.File
	for i := 0; i < 12; i++ {
		files = append(files, addedFile(fmt.Sprintf("f%02d.go", i), strings.Repeat("y", 200)))
	}
	d := &diff.Diff{Files: files}
	fr := &fakeReviewer{name: "llm", budget: 150, findings: func(c *diff.Diff) []Finding {
		f := c.Files[0]
		return []Finding{{File: f.Path(), StartLine: 1, EndLine: 1, Category: "style", Message: "m"}}
	}}
	var mu sync.Mutex
	var progress []int
	res := Run(context.Background(), d, []Reviewer{budgeted{fr}}, Options{Concurrency: 3, Progress: func(name string, done, total int) {
		mu.Lock()
		progress = append(progress, done)
		mu.Unlock()
		if name != "llm" || total != 12 {
			t.Errorf("Progress(%q, %d, %d), want llm of 12", name, done, total)
		}
	}})
	rr := res.Reviewers[0]
	if rr.Chunks != 12 || fr.calls.Load() != 12 {
		t.Errorf("chunks = %d, calls = %d, want 12 each", rr.Chunks, fr.calls.Load())
	}
	if m := fr.maxSeen.Load(); m > 3 || m < 2 {
		t.Errorf("max chunks in flight = %d, want 2..3 (bound 3)", m)
	}
	if rr.Usage.InputTokens != 120 || rr.Usage.OutputTokens != 24 || rr.Model != "llm-model" {
		t.Errorf("usage = %+v model %q, want 120/24 llm-model", rr.Usage, rr.Model)
	}
	if len(res.Findings) != 12 || len(progress) != 12 {
		t.Errorf("findings %d progress calls %d, want 12 each", len(res.Findings), len(progress))
	}
}

// R5: when some chunks fail the reviewer is failed, keeps what it found,
// and lists exactly the parts it could not review.
func TestRunPartialChunkFailure(t *testing.T) {
	d := &diff.Diff{Files: []*diff.File{addedFile("a.go", strings.Repeat("a", 200)), addedFile("b.go", strings.Repeat("b", 200))}}
	fr := &fakeReviewer{name: "llm", budget: 150}
	fr.findings = func(c *diff.Diff) []Finding {
		return []Finding{{File: c.Files[0].Path(), StartLine: 1, EndLine: 1, Category: "style", Message: "m"}}
	}
	rv := &failOn{Reviewer: budgeted{fr}, file: "b.go"}
	res := Run(context.Background(), d, []Reviewer{rv}, Options{})
	rr := res.Reviewers[0]
	if rr.OK || !strings.HasPrefix(rr.Error, "1 of 2 chunks failed") {
		t.Errorf("reviewer = %+v, want failed with 1 of 2 chunks", rr)
	}
	if len(res.Findings) != 1 || res.Findings[0].File != "a.go" {
		t.Errorf("findings = %+v, want a.go's", res.Findings)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].File != "b.go" || res.Skipped[0].StartLine != 1 || res.Skipped[0].EndLine != 1 {
		t.Errorf("skipped = %+v, want b.go:1-1", res.Skipped)
	}
}

type failOn struct {
	Reviewer
	file string
}

func (f *failOn) InputBudget() int { return f.Reviewer.(Budgeted).InputBudget() }

func (f *failOn) Review(ctx context.Context, d *diff.Diff) (*Report, error) {
	if d.Files[0].Path() == f.file {
		return nil, errors.New("llm: 503 unavailable")
	}
	return f.Reviewer.Review(ctx, d)
}

// R4: three reviewers agreeing on one place make one finding.
func TestMergeThreeReviewers(t *testing.T) {
	var in []Finding
	for i, r := range []string{"openai", "builtin", "anthropic"} {
		in = append(in, Finding{File: "a.go", StartLine: 5 + i, EndLine: 8, Category: "security", Reviewers: []string{r}, Confidence: 0.5})
	}
	got := Merge(in)
	if len(got) != 1 || len(got[0].Reviewers) != 3 || got[0].StartLine != 5 || got[0].EndLine != 8 {
		t.Fatalf("Merge = %+v, want one finding at 5-8 by three reviewers", got)
	}
	if got[0].Confidence != 1-0.125 {
		t.Errorf("confidence = %v, want 0.875", got[0].Confidence)
	}
}

// R5: files the diff names without their change are listed as skipped.
func TestRunListsOmitted(t *testing.T) {
	d := &diff.Diff{Files: []*diff.File{addedFile("a.go", "x")}, Omitted: []diff.Omitted{{Path: "new/secret.env", Reason: "only in one tree"}}}
	res := Run(context.Background(), d, []Reviewer{&fakeReviewer{name: "r"}}, Options{})
	if len(res.Skipped) != 1 || res.Skipped[0].File != "new/secret.env" || res.Skipped[0].Reason != "only in one tree" {
		t.Errorf("skipped = %+v, want the omitted file", res.Skipped)
	}
}

// BenchmarkMergeDense merges two reviewers' findings on every line of a
// large file: the sweep must stay linear.
func BenchmarkMergeDense(b *testing.B) {
	var fs []Finding
	for i := 1; i <= 80000; i++ {
		fs = append(fs,
			Finding{File: "big.js", StartLine: i, EndLine: i, Category: "security", Reviewers: []string{"builtin"}, Confidence: 0.5},
			Finding{File: "big.js", StartLine: i, EndLine: i, Category: "maintainability", Reviewers: []string{"builtin"}, Confidence: 0.5},
			Finding{File: "big.js", StartLine: i, EndLine: i + 1, Category: "security", Reviewers: []string{"llm"}, Confidence: 0.5})
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := Merge(fs); len(got) != 160000 {
			b.Fatalf("Merge = %d findings, want 160000", len(got))
		}
	}
}
