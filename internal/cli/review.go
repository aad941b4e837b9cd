package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/diffgate/diffgate/internal/client"
	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/report"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/review/llm"
	"github.com/diffgate/diffgate/internal/review/rules"
)

// reviewerNames are the reviewers --reviewer accepts, in the order the help
// text lists them.
var reviewerNames = []string{"builtin", "anthropic", "openai", "gemini", "openai-compatible"}

type reviewFlags struct {
	reviewers   string
	staged      bool
	base        string
	repo        string
	format      string
	failOn      string
	maxSize     string
	timeout     string
	concurrency string
	color       string
	quiet       bool
	inputBudget string
	server      string

	anthropicModel, anthropicURL string
	openaiModel, openaiURL       string
	geminiModel, geminiURL       string
	compatModel, compatURL       string
}

func (rf *reviewFlags) register(ef *envFlags) {
	rf.registerProviders(ef)
	ef.str(&rf.server, "server", "DIFFGATE_SERVER", "", "review through the diffgate server at `URL` (key from DIFFGATE_API_KEY) instead of locally")
	ef.boolean(&rf.staged, "staged", "DIFFGATE_STAGED", false, "review staged changes (git diff --cached) instead of the working tree")
	ef.str(&rf.base, "base", "DIFFGATE_BASE", "", "review the changes since the merge base with `REF` (e.g. origin/main), working tree included")
	ef.str(&rf.repo, "repo", "DIFFGATE_REPO", "", "git repository `DIR` to review (default: the current directory)")
	ef.str(&rf.format, "format", "DIFFGATE_FORMAT", "text", "output `format`: "+strings.Join(report.Formats(), ", "))
	ef.str(&rf.failOn, "fail-on", "DIFFGATE_FAIL_ON", "none", "exit 1 when a finding is at or above `SEVERITY` (critical, high, medium, low, info, or none)")
	ef.str(&rf.maxSize, "max-diff-size", "DIFFGATE_MAX_DIFF_SIZE", "2MiB", "refuse diffs larger than `SIZE` (bytes, or with KiB/MiB suffix)")
	ef.str(&rf.timeout, "timeout", "DIFFGATE_TIMEOUT", "5m", "total `duration` allowed for the review, retries included")
	ef.str(&rf.concurrency, "concurrency", "DIFFGATE_CONCURRENCY", strconv.Itoa(review.DefaultConcurrency), "chunks of a large diff sent to one LLM reviewer at once (`N`)")
	ef.str(&rf.color, "color", "DIFFGATE_COLOR", "auto", "colour text output: `auto` (on a terminal, unless NO_COLOR is set), always, never")
	ef.boolean(&rf.quiet, "quiet", "DIFFGATE_QUIET", false, "no progress lines on stderr")
}

// registerProviders registers --reviewer and each provider's model and URL;
// serve shares them.
func (rf *reviewFlags) registerProviders(ef *envFlags) {
	ef.str(&rf.reviewers, "reviewer", "DIFFGATE_REVIEWERS", "builtin", "comma-separated `list` of reviewers: "+strings.Join(reviewerNames, ", "))
	ef.str(&rf.inputBudget, "max-input-tokens", "DIFFGATE_MAX_INPUT_TOKENS", "0", "input budget of each LLM reviewer in `tokens`; larger diffs are split into chunks (0: the provider's default, 100000, or 3000 for openai-compatible)")
	for _, p := range []struct {
		name       string
		model, url *string
		envPrefix  string
	}{
		{"anthropic", &rf.anthropicModel, &rf.anthropicURL, "DIFFGATE_ANTHROPIC"},
		{"openai", &rf.openaiModel, &rf.openaiURL, "DIFFGATE_OPENAI"},
		{"gemini", &rf.geminiModel, &rf.geminiURL, "DIFFGATE_GEMINI"},
		{"openai-compatible", &rf.compatModel, &rf.compatURL, "DIFFGATE_OPENAI_COMPATIBLE"},
	} {
		baseURL, model, _ := llm.Defaults(p.name)
		ef.str(p.model, p.name+"-model", p.envPrefix+"_MODEL", model, p.name+" `model`")
		ef.str(p.url, p.name+"-url", p.envPrefix+"_URL", baseURL, p.name+" API base `URL`")
	}
}

func reviewUsage(ef *envFlags) func() {
	return func() {
		w := ef.fs.Output()
		fmt.Fprint(w, `Usage: diffgate review [flags] [FILE | -]

Reviews a diff and prints findings. Without FILE it reviews the working tree
(git diff HEAD; untracked files are listed as not reviewed); FILE is a diff file (git diff, git format-patch, diff -u), and
"-" reads the diff from standard input.

Provider keys come from ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY and
DIFFGATE_OPENAI_COMPATIBLE_API_KEY (optional).

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it;
2 bad usage or bad input; 3 a reviewer failed (1 wins when both apply).

Flags:
`)
		ef.printDefaults(w)
	}
}

func runReview(ctx context.Context, args []string, env *Env) int {
	var rf reviewFlags
	ef := newEnvFlags("review", env.Getenv, env.Stderr)
	rf.register(ef)
	ef.fs.Usage = reviewUsage(ef)
	ef.fs.SetOutput(io.Discard) // errors are reported below, in one line
	pos, err := parseInterspersed(ef.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		ef.fs.SetOutput(env.Stdout)
		ef.fs.Usage()
		return ExitOK
	}
	if err != nil {
		return fail(env.Stderr, usagef("%v (see diffgate review -h)", err), ExitUsage)
	}
	if len(ef.errs) > 0 {
		return fail(env.Stderr, ef.errs[0], ExitUsage)
	}
	plan, err := rf.plan(pos, env)
	if err != nil {
		return fail(env.Stderr, err, ExitUsage)
	}

	ctx, cancel := context.WithTimeout(ctx, plan.timeout)
	defer cancel()
	raw, d, err := plan.read(ctx, env)
	if err != nil {
		return fail(env.Stderr, err, ExitUsage)
	}
	if len(d.Files) == 0 && !rf.quiet {
		fmt.Fprintln(env.Stderr, "diffgate: no changes to review")
	}

	var res *review.Result
	if plan.server != nil {
		if res, err = reviewRemote(ctx, plan, raw, d, env, rf.quiet); err != nil {
			return fail(env.Stderr, err, ExitReviewer)
		}
	} else {
		prog := newProgress(env.Stderr, plan.reviewers, rf.quiet)
		res = review.Run(ctx, d, plan.reviewers, review.Options{Concurrency: plan.concurrency, Progress: prog.update})
		prog.done()
	}

	if err := report.Write(env.Stdout, rf.format, res, plan.reportOptions); err != nil {
		return fail(env.Stderr, fmt.Errorf("write output: %w", err), ExitUsage)
	}
	return exitCode(res, plan.failOn)
}

// exitCode maps a result to the CLI's exit code (R7): findings at or above
// the threshold win over reviewer failures, so a CI job that tolerates
// provider outages (exit 3) still fails on what was found.
func exitCode(res *review.Result, failOn review.Severity) int {
	if failOn >= 0 {
		for _, f := range res.Findings {
			if f.Severity >= failOn {
				return ExitFindings
			}
		}
	}
	if res.Failed() {
		return ExitReviewer
	}
	return ExitOK
}

// reviewPlan is a validated review invocation.
type reviewPlan struct {
	reviewers []review.Reviewer
	// server, when set, reviews remotely with remoteReviewers.
	server          *client.Client
	remoteReviewers []string
	failOn          review.Severity // -1: never fail on findings
	maxSize         int64
	timeout         time.Duration
	concurrency     int
	source          string // "worktree", "staged", "base", "file", "stdin"
	file            string
	base            string
	repo            string
	reportOptions   report.Options
}

func (rf *reviewFlags) plan(pos []string, env *Env) (*reviewPlan, error) {
	p := &reviewPlan{failOn: -1, repo: rf.repo}
	if !slices.Contains(report.Formats(), rf.format) {
		return nil, usagef("unknown --format %q (want %s)", rf.format, strings.Join(report.Formats(), ", "))
	}
	if rf.failOn != "none" {
		s, err := review.ParseSeverity(rf.failOn)
		if err != nil {
			return nil, usagef("--fail-on: %v", err)
		}
		p.failOn = s
	}
	var err error
	if p.maxSize, err = parseSize(rf.maxSize); err != nil {
		return nil, usagef("--max-diff-size: %v", err)
	}
	if p.timeout, err = time.ParseDuration(rf.timeout); err != nil || p.timeout <= 0 {
		return nil, usagef("--timeout %q: want a positive duration such as 90s or 5m", rf.timeout)
	}
	if p.concurrency, err = strconv.Atoi(rf.concurrency); err != nil || p.concurrency < 1 || p.concurrency > 64 {
		return nil, usagef("--concurrency %q: want a whole number from 1 to 64", rf.concurrency)
	}
	switch {
	case len(pos) > 1:
		return nil, usagef("review takes at most one FILE, got %d", len(pos))
	case len(pos) == 1 && (rf.staged || rf.base != ""):
		return nil, usagef("give either a FILE or --staged/--base, not both")
	case rf.staged && rf.base != "":
		return nil, usagef("give either --staged or --base, not both")
	case len(pos) == 1 && pos[0] == "-":
		p.source = "stdin"
	case len(pos) == 1:
		p.source, p.file = "file", pos[0]
	case rf.staged:
		p.source = "staged"
	case rf.base != "":
		if strings.HasPrefix(rf.base, "-") || strings.ContainsAny(rf.base, " \t\r\n\x00") {
			return nil, usagef("--base %q is not a git ref", rf.base)
		}
		p.source, p.base = "base", rf.base
	default:
		p.source = "worktree"
	}

	if rf.server != "" {
		key := env.Getenv("DIFFGATE_API_KEY")
		if key == "" {
			return nil, usagef("--server needs an API key in DIFFGATE_API_KEY")
		}
		if p.server, err = client.New(rf.server, key, nil); err != nil {
			return nil, usagef("--server: %v", err)
		}
		p.remoteReviewers = splitList(rf.reviewers)
	} else if p.reviewers, err = rf.buildReviewers(env.Getenv); err != nil {
		return nil, err
	}
	p.reportOptions = report.Options{ToolVersion: Version, Color: wantColor(rf.color, env)}
	if rf.color != "auto" && rf.color != "always" && rf.color != "never" {
		return nil, usagef("--color %q: want auto, always or never", rf.color)
	}
	for _, r := range rules.Catalogue() {
		p.reportOptions.Rules = append(p.reportOptions.Rules, report.RuleInfo{
			ID: r.ID, Title: r.Title, Message: r.Message, Fix: r.Fix, Severity: r.Severity, Category: r.Category,
		})
	}
	return p, nil
}

func (rf *reviewFlags) buildReviewers(getenv func(string) string) ([]review.Reviewer, error) {
	inputBudget, err := strconv.Atoi(rf.inputBudget)
	if err != nil || inputBudget < 0 {
		return nil, usagef("--max-input-tokens %q: want a whole number of tokens, or 0 for the provider's default", rf.inputBudget)
	}
	var out []review.Reviewer
	seen := map[string]bool{}
	for _, name := range strings.Split(rf.reviewers, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if seen[name] {
			return nil, usagef("reviewer %q named twice", name)
		}
		seen[name] = true
		var cfg llm.Config
		switch name {
		case "builtin":
			out = append(out, rules.New())
			continue
		case "anthropic":
			cfg = llm.Config{APIKey: getenv("ANTHROPIC_API_KEY"), BaseURL: rf.anthropicURL, Model: rf.anthropicModel}
		case "openai":
			cfg = llm.Config{APIKey: getenv("OPENAI_API_KEY"), BaseURL: rf.openaiURL, Model: rf.openaiModel}
		case "gemini":
			cfg = llm.Config{APIKey: getenv("GEMINI_API_KEY"), BaseURL: rf.geminiURL, Model: rf.geminiModel}
		case "openai-compatible":
			cfg = llm.Config{APIKey: getenv("DIFFGATE_OPENAI_COMPATIBLE_API_KEY"), BaseURL: rf.compatURL, Model: rf.compatModel}
		default:
			return nil, usagef("unknown reviewer %q (want %s)", name, strings.Join(reviewerNames, ", "))
		}
		cfg.Provider, cfg.InputBudget = name, inputBudget
		r, err := llm.New(cfg)
		if err != nil {
			return nil, usagef("%v", err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, usagef("--reviewer names no reviewer (want one or more of %s)", strings.Join(reviewerNames, ", "))
	}
	return out, nil
}

// read gets the diff the plan names, refusing it whole when it is over the
// size limit (R1). It returns the raw bytes too, for a server to review.
func (p *reviewPlan) read(ctx context.Context, env *Env) ([]byte, *diff.Diff, error) {
	var (
		raw []byte
		d   *diff.Diff
		err error
	)
	switch p.source {
	case "stdin":
		raw, d, err = readDiff(env.Stdin, p.maxSize)
	case "file":
		f, ferr := os.Open(p.file)
		if ferr != nil {
			return nil, nil, fmt.Errorf("open diff: %w", ferr)
		}
		defer f.Close()
		raw, d, err = readDiff(f, p.maxSize)
	default:
		raw, d, err = gitDiff(ctx, p.repo, p.gitArgs(), p.maxSize)
	}
	var tl *diff.TooLargeError
	if errors.As(err, &tl) {
		return nil, nil, fmt.Errorf("the diff is larger than %s; review a smaller change or raise --max-diff-size", formatSize(tl.Limit))
	}
	if err != nil && p.file != "" {
		return nil, nil, fmt.Errorf("%s: %w", p.file, err)
	}
	return raw, d, err
}

// readDiff reads at most limit bytes and parses them.
func readDiff(r io.Reader, limit int64) ([]byte, *diff.Diff, error) {
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read diff: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, nil, &diff.TooLargeError{Size: int64(len(raw)), Limit: limit}
	}
	d, err := diff.Parse(raw)
	return raw, d, err
}

func (p *reviewPlan) gitArgs() []string {
	switch p.source {
	case "staged":
		return []string{"--cached"}
	case "base":
		return []string{"--merge-base", p.base}
	}
	return nil // the working tree: chosen in gitDiff, which knows whether HEAD exists
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"MiB", 1 << 20}, {"KiB", 1 << 10}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q: want a positive size such as 2097152, 512KiB or 2MiB", s)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func wantColor(mode string, env *Env) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	return env.Getenv("NO_COLOR") == "" && env.Getenv("TERM") != "dumb" && isTerminal(env.Stdout)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress shows, on stderr, how far each LLM reviewer has come: one line
// rewritten in place on a terminal, a line per update otherwise. The
// builtin reviewer is instant and gets none.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	active bool
	state  map[string][2]int
	order  []string
}

func newProgress(w io.Writer, rs []review.Reviewer, quiet bool) *progress {
	p := &progress{w: w, tty: isTerminal(w), state: map[string][2]int{}}
	if quiet {
		return p
	}
	for _, r := range rs {
		if _, ok := r.(review.Budgeted); ok {
			p.order = append(p.order, r.Name())
		}
	}
	if len(p.order) > 0 {
		p.active = true
		for _, n := range p.order {
			if !p.tty {
				fmt.Fprintf(w, "diffgate: %s: reviewing…\n", n)
			}
		}
	}
	return p
}

func (p *progress) update(name string, done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.active || !slices.Contains(p.order, name) {
		return
	}
	p.state[name] = [2]int{done, total}
	if !p.tty {
		fmt.Fprintf(p.w, "diffgate: %s: %d/%d chunks reviewed\n", name, done, total)
		return
	}
	var parts []string
	for _, n := range p.order {
		if s, ok := p.state[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %d/%d", n, s[0], s[1]))
		} else {
			parts = append(parts, n+" …")
		}
	}
	fmt.Fprintf(p.w, "\r\x1b[Kdiffgate: %s", strings.Join(parts, " · "))
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active && p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	p.active = false
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// reviewRemote sends the diff to a diffgate server and turns its answer
// back into a Result, so every output format and exit code works the same
// as a local review.
func reviewRemote(ctx context.Context, p *reviewPlan, raw []byte, d *diff.Diff, env *Env, quiet bool) (*review.Result, error) {
	if !quiet {
		fmt.Fprintf(env.Stderr, "diffgate: reviewing through the server…\n")
	}
	doc, err := p.server.Review(ctx, raw, p.remoteReviewers)
	if err != nil {
		return nil, fmt.Errorf("review through the server: %w", err)
	}
	res := &review.Result{Findings: doc.Findings, Reviewers: doc.Reviewers, Skipped: doc.Skipped, Files: doc.Summary.Files}
	for _, o := range d.Omitted {
		if !slices.ContainsFunc(res.Skipped, func(s review.Skipped) bool { return s.File == o.Path }) {
			res.Skipped = append(res.Skipped, review.Skipped{File: o.Path, Reason: o.Reason})
		}
	}
	return res, nil
}
