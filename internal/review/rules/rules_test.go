package rules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
)

// addedFile builds a file whose lines are all added, numbered from 1, in
// one hunk. Tests build diffs directly so they do not depend on the parser.
func addedFile(path string, lines ...string) *diff.File {
	h := &diff.Hunk{NewStart: 1, NewLines: len(lines)}
	for i, l := range lines {
		h.Lines = append(h.Lines, diff.Line{Kind: diff.Add, Content: l, NewLine: i + 1})
	}
	return &diff.File{NewPath: path, Status: diff.Added, Similarity: -1, Hunks: []*diff.Hunk{h}}
}

func addedDiff(path string, lines ...string) *diff.Diff {
	return &diff.Diff{Files: []*diff.File{addedFile(path, lines...)}}
}

func mustReview(t testing.TB, d *diff.Diff) []review.Finding {
	t.Helper()
	rep, err := New().Review(context.Background(), d)
	if err != nil {
		t.Fatalf("Review: %v", err)
	}
	return rep.Findings
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// casePath is the path a testdata file is reviewed as. Go fragments are
// stored as positive.go.txt so that gofmt and go vet, which do not skip
// testdata when given files, never see them; the .txt is dropped here.
func casePath(name string) string {
	if strings.HasSuffix(name, ".go.txt") {
		return strings.TrimSuffix(name, ".txt")
	}
	return name
}

// TestRuleCases checks every testdata/<RULE-ID>/positive.* and negative.*
// file (R3): each non-blank line of a positive file raises the rule on that
// line, and no line of a negative file does. The file's extension picks the
// language.
func TestRuleCases(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if !dir.IsDir() || !strings.HasPrefix(dir.Name(), "DG-") {
			continue
		}
		id := dir.Name()
		files, err := filepath.Glob(filepath.Join("testdata", id, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			name := filepath.Base(file)
			positive := strings.HasPrefix(name, "positive")
			if !positive && !strings.HasPrefix(name, "negative") {
				continue
			}
			t.Run(id+"/"+name, func(t *testing.T) {
				lines := readLines(t, file)
				got := map[int]bool{}
				for _, f := range mustReview(t, addedDiff(casePath(name), lines...)) {
					if f.Rule == id {
						got[f.StartLine] = true
					}
				}
				for i, l := range lines {
					n := i + 1
					switch {
					case positive && strings.TrimSpace(l) != "" && !got[n]:
						t.Errorf("%s:%d: %q does not raise %s", name, n, l, id)
					case !positive && got[n]:
						t.Errorf("%s:%d: %q raises %s", name, n, l, id)
					}
				}
			})
		}
	}
}

// TestEveryRuleHasCases fails the build for a rule without testdata, and
// for testdata without a rule.
func TestEveryRuleHasCases(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range Catalogue() {
		ids[r.ID] = true
		pos, _ := filepath.Glob(filepath.Join("testdata", r.ID, "positive*"))
		neg, _ := filepath.Glob(filepath.Join("testdata", r.ID, "negative*"))
		if len(pos) == 0 || len(neg) == 0 {
			t.Errorf("rule %s has %d positive and %d negative files in testdata/%s, want at least one of each",
				r.ID, len(pos), len(neg), r.ID)
		}
	}
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() && strings.HasPrefix(d.Name(), "DG-") && !ids[d.Name()] {
			t.Errorf("testdata/%s names no rule of Catalogue()", d.Name())
		}
	}
}

// TestCatalogue checks the rule metadata reports and SARIF rely on (R2, R3).
func TestCatalogue(t *testing.T) {
	rules := Catalogue()
	seen := map[string]bool{}
	secrets, code := 0, 0
	for i, r := range rules {
		if seen[r.ID] {
			t.Errorf("duplicate rule ID %s", r.ID)
		}
		seen[r.ID] = true
		if i > 0 && rules[i-1].ID >= r.ID {
			t.Errorf("Catalogue() not sorted: %s before %s", rules[i-1].ID, r.ID)
		}
		if !strings.HasPrefix(r.ID, "DG-") || strings.ToUpper(r.ID) != r.ID || strings.ContainsAny(r.ID, " ,") {
			t.Errorf("rule ID %q: want DG-UPPER-CASE", r.ID)
		}
		if !review.ValidCategory(r.Category) {
			t.Errorf("%s: category %q not in review.Categories", r.ID, r.Category)
		}
		if r.Severity < review.Info || r.Severity > review.Critical {
			t.Errorf("%s: severity %d out of range", r.ID, r.Severity)
		}
		if r.Title == "" || r.Message == "" || r.Fix == "" {
			t.Errorf("%s: empty title, message or fix", r.ID)
		}
		if r.Confidence <= 0 || r.Confidence > 1 {
			t.Errorf("%s: confidence %v not in (0, 1]", r.ID, r.Confidence)
		}
		if r.re == nil && r.fn == nil && !r.entropy {
			t.Errorf("%s: no matcher", r.ID)
		}
		if len(r.keywords)+len(r.exact) == 0 && !r.entropy {
			t.Errorf("%s: no keywords; every rule needs a cheap pre-filter", r.ID)
		}
		if r.Secret() {
			secrets++
			if r.Severity < review.High && !r.entropy {
				t.Errorf("%s: secret rule with severity %v, want high or critical", r.ID, r.Severity)
			}
		} else {
			code++
		}
	}
	if secrets < 26 {
		t.Errorf("%d secret rules, want at least 25 kinds plus high entropy", secrets)
	}
	if code < 15 {
		t.Errorf("%d risky-code rules, want at least 15", code)
	}
}

func TestCatalogueIsACopy(t *testing.T) {
	a := Catalogue()
	a[0].ID = "changed"
	if b := Catalogue(); b[0].ID == "changed" {
		t.Errorf("Catalogue() shares its slice with the reviewer")
	}
}

func TestDetectLang(t *testing.T) {
	tests := []struct {
		path string
		want lang
	}{
		{"main.go", langGo},
		{"a/b/app.PY", langPython},
		{"web/src/App.tsx", langJS},
		{"lib/x.mjs", langJS},
		{"scripts/deploy.sh", langShell},
		{"home/.bashrc", langShell},
		{"Dockerfile", langDocker},
		{"build/Dockerfile.prod", langDocker},
		{".github/workflows/ci.yml", langYAML},
		{"Makefile", langMake},
		{".env", langConfig},
		{".env.production", langConfig},
		{"README.md", langOther},
		{"noext", langOther},
	}
	for _, tt := range tests {
		if got := detectLang(tt.path); got != tt.want {
			t.Errorf("detectLang(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
