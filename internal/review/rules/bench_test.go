package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/diff"
)

var (
	goLines = []string{
		"func (s *Server) handleReview(w http.ResponseWriter, r *http.Request) {",
		"\tctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)",
		"\tdefer cancel()",
		"\tif err := json.NewDecoder(r.Body).Decode(&req); err != nil {",
		"\t\treturn fmt.Errorf(\"decode request: %w\", err)",
		"\t}",
		"\tfor i, f := range d.Files {",
		"\t\tfindings = append(findings, review.Finding{File: f.Path(), StartLine: i + 1})",
		"\trows, err := s.db.QueryContext(ctx, \"SELECT id, name FROM users WHERE id = $1\", id)",
		"\t// Merge keeps the highest severity when two reviewers agree.",
		"\tlogger.Info(\"review done\", \"files\", len(d.Files), \"duration\", time.Since(start))",
		"\treturn &Result{Findings: out, Reviewers: names}, nil",
		"}",
		"",
		"import \"github.com/diffgate/diffgate/internal/review\"",
		"\tconst defaultTimeout = 5 * time.Minute",
		"\tcase <-ctx.Done():",
		"\t\tmu.Lock()",
		"\tt.Run(\"TestReviewDeterministicOrder\", func(t *testing.T) {",
		"\tupdateSelection := strings.TrimSpace(line)",
	}
	pyLines = []string{
		"def review(self, diff: Diff) -> list[Finding]:",
		"    \"\"\"Review the added lines and return findings.\"\"\"",
		"    for path, hunk in diff.items():",
		"        if not hunk.added:",
		"            continue",
		"        results.append(Finding(path=path, line=n, message=msg))",
		"    cursor.execute(\"SELECT name FROM users WHERE id = %s\", (user_id,))",
		"    logger.debug(\"processed %d files\", len(files))",
		"    return sorted(results, key=lambda f: (f.path, f.line))",
		"class Config(BaseModel):",
		"    timeout: int = 30",
		"    data = json.loads(response.text)",
		"    with open(path, encoding=\"utf-8\") as fh:",
		"import os, sys",
	}
	jsLines = []string{
		"export async function fetchFindings(id: string): Promise<Finding[]> {",
		"  const res = await fetch(`/api/reviews/${id}`, { headers: { Accept: \"application/json\" } });",
		"  if (!res.ok) throw new Error(`review ${id}: ${res.status}`);",
		"  return (await res.json()).findings.map((f) => ({ ...f, severity: f.severity ?? \"info\" }));",
		"}",
		"const columns = [\"file\", \"line\", \"severity\", \"message\"];",
		"  el.textContent = finding.message;",
		"  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);",
		"import { useEffect, useState } from \"react\";",
		"  return <FindingRow key={f.id} finding={f} onSelect={() => setSelected(f.id)} />;",
	}
	// hotLines are what the reviewer exists for, mixed in rarely.
	hotLines = []string{
		`aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"`,
		`password := "hunter2hunter2"`,
		`	InsecureSkipVerify: true,`,
		`q := "SELECT * FROM users WHERE id = " + id`,
		`key := "q8Zx3Lp0Vw7Rt2Yk9Bn4Mc6Df1Gh5Js"`,
		`token := "ghp_EXAMPLE0123456789abcdefghijklmnopqr"`,
		`el.innerHTML = userComment;`,
		`data = yaml.load(f)`,
	}
)

// syntheticDiff builds a realistic diff of about size bytes of added line
// content, with a secret or risky line about every 400 lines. It returns
// the diff and the content bytes.
func syntheticDiff(size int) (*diff.Diff, int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &diff.Diff{}
	var total int64
	for n := 0; total < int64(size); n++ {
		var path string
		var pool []string
		switch n % 3 {
		case 0:
			path, pool = fmt.Sprintf("internal/pkg%d/file%d.go", n%17, n), goLines
		case 1:
			path, pool = fmt.Sprintf("app/mod%d/file%d.py", n%13, n), pyLines
		default:
			path, pool = fmt.Sprintf("web/src/comp%d/File%d.tsx", n%11, n), jsLines
		}
		h := &diff.Hunk{OldStart: 1, NewStart: 1}
		for i := 0; i < 300; i++ {
			l := pool[rng.IntN(len(pool))]
			if rng.IntN(400) == 0 {
				l = hotLines[rng.IntN(len(hotLines))]
			}
			kind := diff.Add
			if rng.IntN(4) == 0 {
				kind = diff.Context
			}
			h.Lines = append(h.Lines, diff.Line{Kind: kind, Content: l, NewLine: i + 1})
			total += int64(len(l))
		}
		d.Files = append(d.Files, &diff.File{NewPath: path, OldPath: path, Hunks: []*diff.Hunk{h}})
	}
	return d, total
}

func BenchmarkReview(b *testing.B) {
	d, n := syntheticDiff(4 << 20)
	r := New()
	ctx := context.Background()
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Review(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

// minifiedLine is one line of minified JavaScript and JSON of at least
// size bytes, as bundles carry: keys and values long enough to be entropy
// candidates, secret words, and code that rule keywords match but rules
// reject (the line mentions sanitize), so every rule reads the whole line.
func minifiedLine(size int) string {
	var b strings.Builder
	b.Grow(size + 64)
	b.WriteString("var sanitize=0,d={")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `"someLongIdentifierName%d":"anotherValueString%d",`, i%97, i%89)
		if i%50 == 0 {
			b.WriteString(`"tokenKeyAuthSessionCookie":"bearerPrivateSignatureSalt",`)
			b.WriteString(`render:function(e){return{dangerouslySetInnerHTML:{__html:e.html}}},`)
			b.WriteString(`q:"select id from users where",md5:"password",x:a.exec(b),`)
		}
	}
	b.WriteString(`"end":0}`)
	return b.String()
}

// BenchmarkReviewMinifiedLine reviews a single 1 MiB minified line added to
// a JavaScript bundle, the worst case for per-token work.
func BenchmarkReviewMinifiedLine(b *testing.B) {
	line := minifiedLine(1 << 20)
	d := addedDiff("web/dist/bundle.js", line)
	r := New()
	ctx := context.Background()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Review(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReviewDenseFindings reviews a file where every added line has
// two findings, the worst case for per-finding work.
func BenchmarkReviewDenseFindings(b *testing.B) {
	const line = "console.log(x); eval(y)"
	lines := make([]string, 80000)
	for i := range lines {
		lines[i] = line
	}
	d := addedDiff("web/src/dense.js", lines...)
	r := New()
	ctx := context.Background()
	b.SetBytes(int64(len(lines) * len(line)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := r.Review(ctx, d)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Findings) != 2*len(lines) {
			b.Fatalf("Review() = %d findings, want %d", len(rep.Findings), 2*len(lines))
		}
	}
}
