package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/review"
)

const (
	fakePassword = `password := "hunter2hunter2"`
	fakeAWSKey   = `aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"`
)

func rulesOf(fs []review.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Rule)
	}
	return ids
}

func TestName(t *testing.T) {
	if got := New().Name(); got != "builtin" {
		t.Errorf("Name() = %q, want %q", got, "builtin")
	}
}

// TestOnlyAddedLines: context and deleted lines are not the change under
// review, so the same content there is never reported (R3).
func TestOnlyAddedLines(t *testing.T) {
	for _, kind := range []diff.Kind{diff.Context, diff.Delete} {
		h := &diff.Hunk{OldStart: 1, OldLines: 2, NewStart: 1, NewLines: 2}
		for i, l := range []string{fakePassword, fakeAWSKey} {
			ln := diff.Line{Kind: kind, Content: l, OldLine: i + 1}
			if kind == diff.Context {
				ln.NewLine = i + 1
			}
			h.Lines = append(h.Lines, ln)
		}
		d := &diff.Diff{Files: []*diff.File{{OldPath: "a.go", NewPath: "a.go", Hunks: []*diff.Hunk{h}}}}
		if got := mustReview(t, d); len(got) != 0 {
			t.Errorf("Review(kind %d lines) = %v, want no findings", kind, rulesOf(got))
		}
	}
	// The same lines added are reported, so the check above can fail.
	if got := mustReview(t, addedDiff("a.go", fakePassword, fakeAWSKey)); len(got) < 2 {
		t.Errorf("Review(added lines) = %v, want findings on both lines", rulesOf(got))
	}
}

func TestFindingFields(t *testing.T) {
	f := addedFile("new/name.go", "package x", fakeAWSKey)
	f.OldPath, f.Status = "old/name.go", diff.Renamed
	f.Hunks[0].Lines[0].NewLine, f.Hunks[0].Lines[1].NewLine = 41, 42
	got := mustReview(t, &diff.Diff{Files: []*diff.File{f}})
	if len(got) != 1 {
		t.Fatalf("Review = %v, want one finding", rulesOf(got))
	}
	want := review.Finding{
		File: "new/name.go", StartLine: 42, EndLine: 42, Severity: review.Critical, Category: "secret",
		Rule: "DG-SECRET-AWS-ACCESS-KEY", Reviewers: []string{"builtin"}, Confidence: 0.9,
	}
	g := got[0]
	if !strings.Contains(g.Message, " Fix: ") {
		t.Errorf("Message = %q, want the fix hint after \"Fix: \"", g.Message)
	}
	g.Message = ""
	if !reflect.DeepEqual(g, want) {
		t.Errorf("Review = %+v, want %+v", g, want)
	}
}

func TestBinarySkipped(t *testing.T) {
	f := addedFile("blob.bin", fakePassword, fakeAWSKey)
	f.Binary = true
	if got := mustReview(t, &diff.Diff{Files: []*diff.File{f}}); len(got) != 0 {
		t.Errorf("Review(binary) = %v, want none", rulesOf(got))
	}
}

func TestNilAndEmpty(t *testing.T) {
	for _, d := range []*diff.Diff{nil, {}, {Files: []*diff.File{nil, {NewPath: "x.go", Hunks: []*diff.Hunk{nil}}}}} {
		if got := mustReview(t, d); len(got) != 0 {
			t.Errorf("Review(%v) = %v, want none", d, rulesOf(got))
		}
	}
}

func TestInlineSuppression(t *testing.T) {
	const cred = "DG-SECRET-HARDCODED-CREDENTIAL"
	tests := []struct {
		name, path, line string
		want             []string
	}{
		{"none", "a.go", fakePassword, []string{cred}},
		{"named", "a.go", fakePassword + " // diffgate:ignore " + cred, nil},
		{"lower case", "a.go", fakePassword + " // diffgate:ignore " + strings.ToLower(cred), nil},
		{"bare marker silences nothing", "a.go", fakePassword + " // diffgate:ignore", []string{cred}},
		{"bare marker with reason", "a.go", fakePassword + " // diffgate:ignore test fixture", []string{cred}},
		{"other rule", "a.go", fakePassword + " // diffgate:ignore DG-SQL-CONCAT", []string{cred}},
		{"comma list", "a.py", `password = "hunter2hunter2"  # diffgate:ignore DG-SQL-CONCAT,` + cred, nil},
		{"space list and reason", "a.py", `password = "hunter2hunter2"  # diffgate:ignore DG-SQL-CONCAT ` + cred + ` fixture`, nil},
		{"block comment", "a.js", `el.innerHTML = html; /* diffgate:ignore DG-XSS-JS-INNER-HTML */`, nil},
		{"html comment", "a.js", `el.innerHTML = html; <!-- diffgate:ignore DG-XSS-JS-INNER-HTML-->`, nil},
		{"only the named rule", "a.go",
			fakeAWSKey + `; password := "hunter2hunter2" // diffgate:ignore DG-SECRET-AWS-ACCESS-KEY`, []string{cred}},
		{"list ends at a non-ID", "a.go", fakePassword + " // diffgate:ignore because " + cred, []string{cred}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rulesOf(mustReview(t, addedDiff(tt.path, tt.line)))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Review(%q) = %v, want %v", tt.line, got, tt.want)
			}
		})
	}
}

// TestEntropyAllowances: lockfiles, checksums, hashes, UUIDs and integrity
// strings are expected high-entropy text, not secrets.
func TestEntropyAllowances(t *testing.T) {
	const random = `key = "q8Zx3Lp0Vw7Rt2Yk9Bn4Mc6Df1Gh5Js"`
	for _, p := range []string{"go.sum", "sub/go.sum", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
		"Cargo.lock", "poetry.lock", "Gemfile.lock", "composer.lock", "SHA256SUMS", "dist/app.sum"} {
		if got := mustReview(t, addedDiff(p, random)); len(got) != 0 {
			t.Errorf("Review(%s) = %v, want none in a lockfile", p, rulesOf(got))
		}
	}
	if got := rulesOf(mustReview(t, addedDiff("config.py", random))); !reflect.DeepEqual(got, []string{"DG-SECRET-HIGH-ENTROPY"}) {
		t.Errorf("Review(config.py) = %v, want DG-SECRET-HIGH-ENTROPY", got)
	}
	// A real token in a lockfile is still reported by its own rule.
	if got := rulesOf(mustReview(t, addedDiff("yarn.lock", fakeAWSKey))); !reflect.DeepEqual(got, []string{"DG-SECRET-AWS-ACCESS-KEY"}) {
		t.Errorf("Review(yarn.lock) = %v, want DG-SECRET-AWS-ACCESS-KEY", got)
	}
}

func TestHighEntropy(t *testing.T) {
	tests := []struct {
		tok  string
		want bool
	}{
		{"q8Zx3Lp0Vw7Rt2Yk9Bn4Mc6Df1Gh5Js", true},
		{"AESDecryptOneRoundUint8x16", false},
		{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", true},
		{"7f3a9c0e1b5d2f4a6c8e0b1d", true},                                          // 24 hex digits: not a hash length
		{"d41d8cd98f00b204e9800998ecf8427e", false},                                 // MD5
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", false},                         // SHA-1
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false}, // SHA-256
		{"123e4567-e89b-12d3-a456-426614174000", false},                             // UUID
		{"sha512-q8Zx3Lp0Vw7Rt2Yk9Bn4Mc6Df1Gh5JsXy7Kp2Qw9Zr4Lm8Nt3Vb6Hc1Jd5Fg0Ae", false},
		{"TestReviewDeterministicOrder2", false},
		{"TestParseRFC3339Nano", false},
		{"AAAAAAAAAAAAAAAAAAAAAAAA", false},
		{"abcdefghijklmnopqrstuvwxyz", false},
		{"aZ3kP9qL2x", false}, // too short
	}
	for _, tt := range tests {
		if got := highEntropy(tt.tok, true); got != tt.want {
			t.Errorf("highEntropy(%q, true) = %v, want %v (entropy %.2f)", tt.tok, got, tt.want, shannon(tt.tok))
		}
	}
	// Without a secret named on the line, only long, very random tokens count.
	bare := []struct {
		tok  string
		want bool
	}{
		{"q8Zx3Lp0Vw7Rt2Yk9Bn4Mc6Df1Gh5JsT", true},
		{"Xy7Kp2Qw9Zr4Lm8Nt3Vb6Hc1", false}, // random, but short
		{"AESInvMixColumnsUint32x4", false},
		{"TestReviewDeterministicOrderAcrossFiles2", false},
		{"Broadcast1To4Int64x2AddPairsGroupedInt32x8", false},
	}
	for _, tt := range bare {
		if got := highEntropy(tt.tok, false); got != tt.want {
			t.Errorf("highEntropy(%q, false) = %v, want %v (entropy %.2f)", tt.tok, got, tt.want, shannon(tt.tok))
		}
	}
}

// TestNoSecretInOutput: a finding never repeats the secret it found, not
// even five characters of it (R3, D3).
func TestNoSecretInOutput(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "DG-*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	r := New()
	checked := 0
	for _, file := range files {
		name := casePath(filepath.Base(file))
		lines := readLines(t, file)
		findings := mustReview(t, addedDiff(name, lines...))
		lg := detectLang(name)
		for _, f := range findings {
			line := lines[f.StartLine-1]
			for i := range r.rules {
				rule := &r.rules[i]
				if !rule.Secret() {
					continue
				}
				var s, e int
				var ok bool
				if rule.entropy {
					s, e, ok = findHighEntropy(line, nil)
				} else {
					s, e, ok = rule.find(line, lg)
				}
				if !ok {
					continue
				}
				secret := line[s:e]
				for j := 0; j+5 <= len(secret); j++ {
					part := secret[j : j+5]
					if strings.Contains(f.Message, part) || strings.Contains(f.Suggestion, part) {
						t.Errorf("%s:%d: %s finding repeats %q of a %s match", name, f.StartLine, f.Rule, part, rule.ID)
					}
				}
				checked++
			}
		}
	}
	if checked < 50 {
		t.Errorf("checked %d secret matches, want the testdata to supply at least 50", checked)
	}
}

func TestSuggestions(t *testing.T) {
	tests := []struct {
		path, line, rule, want string
	}{
		{"a.go", "\tInsecureSkipVerify: true,", "DG-TLS-GO-SKIP-VERIFY", "\tInsecureSkipVerify: false,"},
		{"a.py", "r = requests.get(url, verify=False)", "DG-TLS-PY-VERIFY-DISABLED", "r = requests.get(url, verify=True)"},
		{"a.py", "data = yaml.load(f)", "DG-DESER-PY-YAML", "data = yaml.safe_load(f)"},
		{"a.py", "cfg = yaml.load(f, Loader=yaml.Loader)", "DG-DESER-PY-YAML", ""},
		{"a.js", "  rejectUnauthorized: false,", "DG-TLS-JS-REJECT-UNAUTHORIZED", "  rejectUnauthorized: true,"},
		{"a.py", "app.run(debug=True)", "DG-DEBUG-PY-FLASK", "app.run(debug=False)"},
		{"a.py", "ctx.check_hostname = False", "DG-TLS-PY-VERIFY-DISABLED", ""},
		// The suggestion would copy the secret, so there is none.
		{"a.go", `c := &tls.Config{InsecureSkipVerify: true} // AKIAIOSFODNN7EXAMPLE`, "DG-TLS-GO-SKIP-VERIFY", ""},
	}
	for _, tt := range tests {
		found := false
		for _, f := range mustReview(t, addedDiff(tt.path, tt.line)) {
			if f.Rule != tt.rule {
				continue
			}
			found = true
			if f.Suggestion != tt.want {
				t.Errorf("Review(%q) suggestion = %q, want %q", tt.line, f.Suggestion, tt.want)
			}
		}
		if !found {
			t.Errorf("Review(%q) did not raise %s", tt.line, tt.rule)
		}
	}
}

// TestCommentsSkipCodeRulesOnly: commented-out code is not run, but a
// secret in a comment is still leaked.
func TestCommentsSkipCodeRulesOnly(t *testing.T) {
	got := rulesOf(mustReview(t, addedDiff("a.go", `// tls.Config{InsecureSkipVerify: true}`, "// "+fakeAWSKey)))
	if want := []string{"DG-SECRET-AWS-ACCESS-KEY"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Review(comments) = %v, want %v", got, want)
	}
}

func TestDeterministic(t *testing.T) {
	d, _ := syntheticDiff(1 << 20)
	first := mustReview(t, d)
	if len(first) == 0 {
		t.Fatal("synthetic diff gave no findings")
	}
	for i := 0; i < 3; i++ {
		if again := mustReview(t, d); !reflect.DeepEqual(again, first) {
			t.Fatalf("Review run %d differs from the first run", i+2)
		}
	}
	fileIdx := map[string]int{}
	for i, f := range d.Files {
		fileIdx[f.Path()] = i
	}
	for i := 1; i < len(first); i++ {
		a, b := first[i-1], first[i]
		ka := []int{fileIdx[a.File], a.StartLine}
		kb := []int{fileIdx[b.File], b.StartLine}
		if ka[0] > kb[0] || ka[0] == kb[0] && (ka[1] > kb[1] || ka[1] == kb[1] && a.Rule >= b.Rule) {
			t.Fatalf("findings %d and %d out of order: %s:%d %s before %s:%d %s",
				i-1, i, a.File, a.StartLine, a.Rule, b.File, b.StartLine, b.Rule)
		}
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, _ := syntheticDiff(1 << 16)
	if _, err := New().Review(ctx, d); !errors.Is(err, context.Canceled) {
		t.Errorf("Review(cancelled) error = %v, want context.Canceled", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	d, _ := syntheticDiff(1 << 16)
	r := New()
	want, err := r.Review(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			got, err := r.Review(context.Background(), d)
			if err == nil && !reflect.DeepEqual(got, want) {
				err = errors.New("concurrent Review differs")
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestSelf keeps the package's own sources quiet: rule expressions must not
// look like the secrets they describe.
func TestSelf(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for _, f := range mustReview(t, addedDiff(file, lines...)) {
			if f.Category == "secret" {
				t.Errorf("%s:%d raises %s", file, f.StartLine, f.Rule)
			}
		}
	}
}
