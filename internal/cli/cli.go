// Package cli is diffgate's command line: one file per subcommand. It is the
// only package that wires the others together.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes, documented in the README (R7).
const (
	ExitOK       = 0 // nothing at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on
	ExitUsage    = 2 // bad usage or bad input
	ExitReviewer = 3 // a reviewer failed
)

// Version is set at build time with -ldflags "-X github.com/diffgate/diffgate/internal/cli.Version=…".
var Version = "dev"

// Env is the process environment, passed in so tests control it.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Run runs diffgate with args (without the program name) and returns the
// process exit code. It never panics out and never prints a stack trace.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "review":
		return runReview(ctx, rest, env)
	case "serve":
		return runServe(ctx, rest, env)
	case "setup":
		return runSetup(ctx, rest, env)
	case "keys":
		return runKeys(ctx, rest, env)
	case "migrate":
		return runMigrate(ctx, rest, env)
	case "credits":
		return runCredits(ctx, rest, env)
	case "rotate-seal-key":
		return runRotateSealKey(ctx, rest, env)
	case "rules":
		return runRules(rest, env)
	case "version", "--version":
		fmt.Fprintf(stdout, "diffgate %s\n", Version)
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "diffgate: unknown command %q (see diffgate help)\n", cmd)
		return ExitUsage
	}
}

const usage = `diffgate reviews code diffs and reports findings.

Usage:
  diffgate review [flags] [FILE | -]   review the working tree, staged changes, a base ref, a diff file or stdin
  diffgate serve [flags]               run the API server (SQLite in ./diffgate-data by default)
  diffgate setup --token T --email E   create the owner account with the server's setup token
  diffgate keys create|list|revoke     manage API keys on a server
  diffgate credits [--grant N --to E]  show the balance and ledger, or grant credits
  diffgate migrate                     apply database migrations
  diffgate rotate-seal-key             re-encrypt server-side secrets under a new key
  diffgate rules                       list the builtin reviewer's rules
  diffgate version                     print the version

Run "diffgate review -h" for the review flags.
`

// usageError is bad usage; the CLI prints it and exits with ExitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// parseInterspersed parses flags that may come before or after positional
// arguments, as users expect ("review x.diff --format json").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// envFlags registers flags whose defaults come from environment variables,
// and remembers the variable of each flag for the help text.
type envFlags struct {
	fs     *flag.FlagSet
	getenv func(string) string
	envOf  map[string]string
	errs   []error
}

func newEnvFlags(name string, getenv func(string) string, out io.Writer) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &envFlags{fs: fs, getenv: getenv, envOf: map[string]string{}}
}

func (e *envFlags) str(p *string, name, env, def, help string) {
	if v := e.getenv(env); v != "" {
		def = v
	}
	e.envOf[name] = env
	e.fs.StringVar(p, name, def, help)
}

func (e *envFlags) boolean(p *bool, name, env string, def bool, help string) {
	if v := e.getenv(env); v != "" {
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			def = true
		case "0", "false", "no", "off":
			def = false
		default:
			e.errs = append(e.errs, usagef("%s=%q: want true or false", env, v))
		}
	}
	e.envOf[name] = env
	e.fs.BoolVar(p, name, def, help)
}

// printDefaults writes every flag with its environment variable and default.
func (e *envFlags) printDefaults(w io.Writer) {
	e.fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n        %s", help)
		var extra []string
		if env := e.envOf[f.Name]; env != "" {
			extra = append(extra, "env "+env)
		}
		if f.DefValue != "" && f.DefValue != "false" {
			extra = append(extra, "default "+f.DefValue)
		}
		if len(extra) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(extra, ", "))
		}
		fmt.Fprintln(w)
	})
}

// fail prints err as one line on stderr and returns code.
func fail(stderr io.Writer, err error, code int) int {
	fmt.Fprintf(stderr, "diffgate: %s\n", oneLine(err.Error()))
	return code
}

func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
