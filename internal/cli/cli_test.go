package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/review/llm/llmtest"
)

type runResult struct {
	code           int
	stdout, stderr string
}

// run runs the CLI as main would, with env as the whole environment.
func run(t *testing.T, stdin string, env map[string]string, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := Run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errb)
	r := runResult{code, out.String(), errb.String()}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("stderr holds a stack trace:\n%s", r.stderr)
	}
	return r
}

func sample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/sample.diff")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type jsonDoc struct {
	Findings []struct {
		File      string   `json:"file"`
		StartLine int      `json:"start_line"`
		Severity  string   `json:"severity"`
		Rule      string   `json:"rule"`
		Reviewers []string `json:"reviewers"`
	} `json:"findings"`
	Reviewers []struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"reviewers"`
	Skipped []struct {
		File   string `json:"file"`
		Reason string `json:"reason"`
	} `json:"skipped"`
}

func decode(t *testing.T, s string) jsonDoc {
	t.Helper()
	var d jsonDoc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return d
}

// R7, R3: the README's run command reviews the sample offline and finds
// what the sample plants.
func TestReviewSampleFile(t *testing.T) {
	r := run(t, "", nil, "review", "../../testdata/sample.diff", "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d, want 0; stderr: %s", r.code, r.stderr)
	}
	d := decode(t, r.stdout)
	got := map[string]bool{}
	for _, f := range d.Findings {
		got[f.File+":"+f.Rule] = true
		if f.StartLine == 0 {
			t.Errorf("builtin finding %+v is file-level", f)
		}
	}
	for _, want := range []string{"app/client.go:DG-SECRET-AWS-ACCESS-KEY", "app/client.go:DG-TLS-GO-SKIP-VERIFY", "app/db.py:DG-CMD-PY-SHELL", "web/profile.js:DG-XSS-JS-INNER-HTML", "app/db.py:DG-SQL-FORMAT"} {
		if !got[want] {
			t.Errorf("findings %v lack %s", got, want)
		}
	}
	if len(d.Findings) < 9 {
		t.Errorf("found %d findings in the sample, want at least 9", len(d.Findings))
	}
}

// R7: --fail-on sets the exit code.
func TestFailOn(t *testing.T) {
	for _, tt := range []struct {
		failOn string
		want   int
	}{
		{"none", ExitOK},
		{"critical", ExitFindings},
		{"info", ExitFindings},
	} {
		r := run(t, sample(t), nil, "review", "-", "--fail-on", tt.failOn, "--format", "json")
		if r.code != tt.want {
			t.Errorf("--fail-on %s: exit %d, want %d; stderr %s", tt.failOn, r.code, tt.want, r.stderr)
		}
	}
	clean := "diff --git a/x.go b/x.go\n--- a/x.go\n+++ b/x.go\n@@ -1 +1 @@\n-a\n+b\n"
	if r := run(t, clean, nil, "review", "-", "--fail-on", "info"); r.code != ExitOK {
		t.Errorf("clean diff with --fail-on info: exit %d, want 0; stdout %s", r.code, r.stdout)
	}
	if r := run(t, clean, map[string]string{"DIFFGATE_FAIL_ON": "info"}, "review", "-"); r.code != ExitOK {
		t.Errorf("env DIFFGATE_FAIL_ON: exit %d", r.code)
	}
	if r := run(t, sample(t), map[string]string{"DIFFGATE_FAIL_ON": "high"}, "review", "-"); r.code != ExitFindings {
		t.Errorf("env DIFFGATE_FAIL_ON=high on the sample: exit %d, want 1", r.code)
	}
}

// R1, R7: bad usage and bad input exit 2 with one clear line.
func TestBadInput(t *testing.T) {
	big := "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -0,0 +1,3000 @@\n" + strings.Repeat("+aaaaaaaaaaaaaaaaaaaaaaa\n", 3000)
	tests := []struct {
		name  string
		stdin string
		env   map[string]string
		args  []string
		want  string // regexp on stderr
	}{
		{"malformed", "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n", nil, []string{"review", "-"}, `line \d+`},
		{"bad hunk header", "--- a/x\n+++ b/x\n@@ nonsense @@\n", nil, []string{"review", "-"}, `line 3`},
		{"too large", big, nil, []string{"review", "-", "--max-diff-size", "64KiB"}, `larger than 64 KiB`},
		{"too large env", big, map[string]string{"DIFFGATE_MAX_DIFF_SIZE": "1000"}, []string{"review", "-"}, `larger than 1000 bytes`},
		{"unknown format", "", nil, []string{"review", "-", "--format", "xml"}, `unknown --format "xml"`},
		{"unknown reviewer", "", nil, []string{"review", "-", "--reviewer", "builtin,gpt"}, `unknown reviewer "gpt"`},
		{"bad fail-on", "", nil, []string{"review", "-", "--fail-on", "urgent"}, `--fail-on`},
		{"bad size", "", nil, []string{"review", "-", "--max-diff-size", "lots"}, `--max-diff-size`},
		{"bad timeout", "", nil, []string{"review", "-", "--timeout", "-1s"}, `--timeout`},
		{"bad env bool", "", map[string]string{"DIFFGATE_QUIET": "maybe"}, []string{"review", "-"}, `DIFFGATE_QUIET`},
		{"two files", "", nil, []string{"review", "a.diff", "b.diff"}, `at most one FILE`},
		{"file and staged", "", nil, []string{"review", "a.diff", "--staged"}, `not both`},
		{"option as base", "", nil, []string{"review", "--base", "--output=/tmp/x"}, `not a git ref`},
		{"missing file", "", nil, []string{"review", "does-not-exist.diff"}, `open diff`},
		{"missing key", "", nil, []string{"review", "-", "--reviewer", "anthropic"}, `ANTHROPIC_API_KEY`},
		{"compatible without url", "", nil, []string{"review", "-", "--reviewer", "openai-compatible"}, `(?i)url`},
		{"unknown command", "", nil, []string{"frobnicate"}, `unknown command`},
		{"unknown flag", "", nil, []string{"review", "--frobnicate"}, `^diffgate: flag provided but not defined: -frobnicate \(see diffgate review -h\)\n$`},
		{"bad budget", "", nil, []string{"review", "-", "--max-input-tokens", "many"}, `--max-input-tokens`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.stdin, tt.env, tt.args...)
			if r.code != ExitUsage {
				t.Errorf("%v: exit %d, want 2; stderr %q", tt.args, r.code, r.stderr)
			}
			if !regexp.MustCompile(tt.want).MatchString(r.stderr) {
				t.Errorf("%v: stderr %q does not match %q", tt.args, r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("%v: wrote %q to stdout on error", tt.args, r.stdout)
			}
		})
	}
}

func TestEmptyDiff(t *testing.T) {
	r := run(t, "", nil, "review", "-", "--format", "json", "--fail-on", "info")
	if r.code != ExitOK || !strings.Contains(r.stderr, "no changes") {
		t.Fatalf("empty diff: exit %d stderr %q", r.code, r.stderr)
	}
	if d := decode(t, r.stdout); len(d.Findings) != 0 {
		t.Errorf("empty diff has findings: %+v", d.Findings)
	}
}

// R7: every output format works from the CLI, and text is plain when piped.
func TestFormats(t *testing.T) {
	for _, f := range []string{"text", "json", "sarif", "rdjson"} {
		r := run(t, sample(t), nil, "review", "-", "--format", f)
		if r.code != ExitOK || r.stdout == "" {
			t.Errorf("--format %s: exit %d, %d bytes; stderr %s", f, r.code, len(r.stdout), r.stderr)
		}
		if f != "text" && !json.Valid([]byte(r.stdout)) {
			t.Errorf("--format %s is not valid JSON", f)
		}
		if strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("--format %s: colour codes in piped output", f)
		}
	}
	if r := run(t, sample(t), nil, "review", "-", "--color", "always"); !strings.Contains(r.stdout, "\x1b[") {
		t.Error("--color always: no colour codes")
	}
	if r := run(t, sample(t), nil, "review", "-"); !strings.Contains(r.stdout, "app/client.go") {
		t.Errorf("text output lacks the file name:\n%s", r.stdout)
	}
}

// R7: the working tree, staged changes and a base ref come from real git.
func TestGitSources(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitc("init", "-q", "-b", "main")
	write("a.go", "package a\n")
	gitc("add", ".")
	// No commit yet: the working tree review falls back to what is staged.
	if r := run(t, "", nil, "review", "--repo", dir, "--format", "json"); r.code != ExitOK || len(decode(t, r.stdout).Reviewers) != 1 {
		t.Fatalf("review in a repo without commits: exit %d, stderr %s", r.code, r.stderr)
	}
	gitc("commit", "-q", "-m", "init")
	gitc("checkout", "-q", "-b", "feature")
	write("a.go", "package a\n\nconst key = \"AKIAIOSFODNN7EXAMPLE\"\n")
	gitc("commit", "-q", "-am", "key")
	write("b.go", "package a\n")
	gitc("add", "b.go")
	write("b.go", "package a\n\nvar tok = \"ghp_abcdefghijklmnopqrstuvwxyzABCDEF1234\"\n")

	files := func(args ...string) map[string]bool {
		t.Helper()
		r := run(t, "", nil, append([]string{"review", "--repo", dir, "--format", "json"}, args...)...)
		if r.code != ExitOK {
			t.Fatalf("review %v: exit %d, stderr %s", args, r.code, r.stderr)
		}
		m := map[string]bool{}
		for _, f := range decode(t, r.stdout).Findings {
			m[f.File] = true
		}
		return m
	}
	if got := files(); !got["b.go"] || got["a.go"] {
		t.Errorf("working tree review found %v, want b.go only", got)
	}
	// R5: an untracked file is named as not reviewed, from any directory
	// of the repository, whatever diff.relative says.
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("sub/new.env", "TOKEN=1\n")
	gitc("config", "diff.relative", "true")
	r := run(t, "", nil, "review", "--repo", filepath.Join(dir, "sub"), "--format", "json")
	d := decode(t, r.stdout)
	var untracked bool
	for _, s := range d.Skipped {
		untracked = untracked || (s.File == "sub/new.env" && strings.Contains(s.Reason, "untracked"))
	}
	if !untracked {
		t.Errorf("skipped = %+v, want sub/new.env as untracked", d.Skipped)
	}
	if len(d.Findings) == 0 || d.Findings[0].File != "b.go" {
		t.Errorf("review from a subdirectory with diff.relative found %+v, want b.go with its full path", d.Findings)
	}
	if err := os.Remove(filepath.Join(dir, "sub/new.env")); err != nil {
		t.Fatal(err)
	}
	if got := files("--staged"); len(got) != 0 {
		t.Errorf("staged review found %v, want nothing (the staged b.go is clean)", got)
	}
	if got := files("--base", "main"); !got["a.go"] || !got["b.go"] {
		t.Errorf("--base main found %v, want a.go and b.go", got)
	}
	r = run(t, "", nil, "review", "--repo", dir, "--base", "no-such-ref")
	if r.code != ExitUsage || !strings.HasPrefix(r.stderr, "diffgate: git diff failed") {
		t.Errorf("unknown base: exit %d stderr %q", r.code, r.stderr)
	}
	r = run(t, "", nil, "review", "--repo", t.TempDir())
	if r.code != ExitUsage || !strings.Contains(r.stderr, "not a git repository") {
		t.Errorf("outside a repository: exit %d stderr %q", r.code, r.stderr)
	}
	r = run(t, "", nil, "review", "--repo", dir, "--max-diff-size", "100")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "larger than 100 bytes") {
		t.Errorf("git diff over the limit: exit %d stderr %q", r.code, r.stderr)
	}
}

// Every flag of review is documented in the README, with its variable.
func TestReadmeDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ef := newEnvFlags("review", func(string) string { return "" }, &bytes.Buffer{})
	var rf reviewFlags
	rf.register(ef)
	var sf serveFlags
	sef := newEnvFlags("serve", func(string) string { return "" }, &bytes.Buffer{})
	sf.register(sef)
	all := map[string]string{}
	for name, env := range sef.envOf {
		all[name] = env
	}
	for name, env := range ef.envOf {
		all[name] = env
	}
	for name, env := range all {
		if !bytes.Contains(readme, []byte("`--"+name)) {
			t.Errorf("README does not document --%s", name)
		}
		if !bytes.Contains(readme, []byte("`"+env+"`")) {
			t.Errorf("README does not document %s", env)
		}
	}
	for cmd, flags := range map[string]map[string]string{"review": ef.envOf, "serve": sef.envOf} {
		r := run(t, "", nil, cmd, "-h")
		for name := range flags {
			if !strings.Contains(r.stdout, "--"+name) {
				t.Errorf("%s -h does not show --%s", cmd, name)
			}
		}
	}
}

func TestRulesAndVersion(t *testing.T) {
	r := run(t, "", nil, "rules")
	if r.code != ExitOK || !strings.Contains(r.stdout, "DG-SECRET-AWS-ACCESS-KEY") {
		t.Errorf("rules: exit %d\n%s", r.code, r.stdout)
	}
	if r := run(t, "", nil, "version"); r.code != ExitOK || !strings.HasPrefix(r.stdout, "diffgate ") {
		t.Errorf("version: exit %d %q", r.code, r.stdout)
	}
	if r := run(t, "", nil); r.code != ExitUsage {
		t.Errorf("no arguments: exit %d, want 2", r.code)
	}
}

// R4, R3: a second opinion from an LLM is merged with the builtin
// reviewer's, and progress goes to stderr while it runs.
func TestSecondOpinionMerged(t *testing.T) {
	srv := llmtest.NewAnthropic(t)
	srv.Script(llmtest.OK(llmtest.Finding{
		File: "app/client.go", StartLine: 11, EndLine: 12, Severity: "critical", Category: "security",
		Message: "TLS certificate verification is disabled", Confidence: 0.9,
	}))
	env := map[string]string{"ANTHROPIC_API_KEY": llmtest.APIKey, "DIFFGATE_ANTHROPIC_URL": srv.URL}
	r := run(t, sample(t), env, "review", "-", "--reviewer", "builtin,anthropic", "--format", "json", "--fail-on", "critical")
	if r.code != ExitFindings {
		t.Fatalf("exit %d, want 1; stderr %s", r.code, r.stderr)
	}
	d := decode(t, r.stdout)
	var merged bool
	for _, f := range d.Findings {
		if f.File == "app/client.go" && f.Rule == "DG-TLS-GO-SKIP-VERIFY" {
			merged = strings.Join(f.Reviewers, ",") == "anthropic,builtin" && f.Severity == "critical"
		}
	}
	if !merged {
		t.Errorf("findings %+v: want the TLS finding merged from anthropic and builtin", d.Findings)
	}
	if !strings.Contains(r.stderr, "anthropic: 1/1 chunks reviewed") {
		t.Errorf("stderr %q lacks progress", r.stderr)
	}
	if !strings.Contains(srv.Requests()[0].Prompt(), "11 |") {
		t.Error("prompt lacks new-file line numbers")
	}
}

// R6, R7: a failing reviewer exits 3 but the others' findings are still
// reported; findings at --fail-on win over the failure.
func TestReviewerFailure(t *testing.T) {
	srv := llmtest.NewOpenAI(t)
	env := map[string]string{"OPENAI_API_KEY": "sk-wrong", "DIFFGATE_OPENAI_URL": srv.URL}
	r := run(t, sample(t), env, "review", "-", "--reviewer", "builtin,openai", "--format", "json", "--quiet")
	if r.code != ExitReviewer {
		t.Fatalf("exit %d, want 3; stderr %s", r.code, r.stderr)
	}
	d := decode(t, r.stdout)
	if len(d.Findings) == 0 {
		t.Error("builtin findings were lost when openai failed")
	}
	for _, rv := range d.Reviewers {
		if rv.Name == "openai" && (rv.OK || rv.Error == "" || strings.Contains(rv.Error, "sk-wrong")) {
			t.Errorf("openai result %+v: want a failure without the key", rv)
		}
	}
	if r.stderr != "" {
		t.Errorf("--quiet still wrote %q", r.stderr)
	}
	r = run(t, sample(t), env, "review", "-", "--reviewer", "builtin,openai", "--fail-on", "high", "--quiet")
	if r.code != ExitFindings {
		t.Errorf("findings and a failed reviewer: exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, "openai") {
		t.Errorf("text output does not mention the failed reviewer:\n%s", r.stdout)
	}
}

// R5: a diff larger than the model's budget is sent in chunks, every file
// is reviewed by some chunk, and a hunk too large for any chunk is listed
// as not reviewed instead of vanishing.
func TestLargeDiffIsChunked(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "diff --git a/f%02d.go b/f%02d.go\nnew file mode 100644\n--- /dev/null\n+++ b/f%02d.go\n@@ -0,0 +1,40 @@\n", i, i, i)
		for j := 0; j < 40; j++ {
			fmt.Fprintf(&b, "+\tx%d := compute(%d) // some ordinary code on line %d\n", j, j, j)
		}
	}
	huge := strings.Repeat("y", 12000)
	fmt.Fprintf(&b, "diff --git a/big.txt b/big.txt\nnew file mode 100644\n--- /dev/null\n+++ b/big.txt\n@@ -0,0 +1,1 @@\n+%s\n", huge)

	srv := llmtest.NewGemini(t)
	env := map[string]string{"GEMINI_API_KEY": llmtest.APIKey, "DIFFGATE_GEMINI_URL": srv.URL}
	r := run(t, b.String(), env, "review", "-", "--reviewer", "gemini", "--max-input-tokens", "3000", "--format", "json", "--quiet")
	if r.code != ExitOK {
		t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
	}
	if srv.Count() < 5 {
		t.Errorf("%d requests, want the diff split into several chunks", srv.Count())
	}
	var prompts strings.Builder
	for _, req := range srv.Requests() {
		prompts.WriteString(req.Prompt())
		if strings.Contains(req.Prompt(), huge) {
			t.Error("a prompt holds the line that exceeds the budget")
		}
	}
	for i := 0; i < 20; i++ {
		if !strings.Contains(prompts.String(), fmt.Sprintf("f%02d.go", i)) {
			t.Errorf("f%02d.go was sent in no chunk", i)
		}
	}
	d := decode(t, r.stdout)
	if len(d.Skipped) != 1 || d.Skipped[0].File != "big.txt" || !strings.Contains(d.Skipped[0].Reason, "budget") {
		t.Errorf("skipped = %+v, want big.txt over the budget", d.Skipped)
	}
	if r := run(t, "", env, "review", "-", "--reviewer", "gemini", "--max-input-tokens", "10"); r.code != ExitUsage {
		t.Errorf("a budget too small for the prompt: exit %d, want 2 (stderr %s)", r.code, r.stderr)
	}
}

// Conflicting credits flags are refused before any password is read or
// any server is contacted (the server here does not exist).
func TestCreditsFlagConflicts(t *testing.T) {
	for _, args := range [][]string{
		{"credits", "--email", "a@example.com", "--refund", "rev_1", "--grant", "5"},
		{"credits", "--email", "a@example.com", "--refund", "rev_1", "--user", "b@example.com"},
		{"credits", "--email", "a@example.com", "--grant", "5", "--to", "b@example.com", "--user", "b@example.com"},
	} {
		r := run(t, "a password that must not be read\n", map[string]string{"DIFFGATE_SERVER": "http://127.0.0.1:1"}, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "cannot be used with") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and the conflict named", args, r.code, r.stderr)
		}
	}
}
