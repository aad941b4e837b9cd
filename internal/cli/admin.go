package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/diffgate/diffgate/internal/client"
	"github.com/diffgate/diffgate/internal/keyring"
	"github.com/diffgate/diffgate/internal/server"
	"github.com/diffgate/diffgate/internal/store"
)

// parseCommand parses a subcommand's flags in one line of error, with -h
// printing its usage on stdout.
func parseCommand(ef *envFlags, usageText string, args []string, env *Env) (pos []string, code int, ok bool) {
	ef.fs.Usage = func() {
		w := ef.fs.Output()
		fmt.Fprint(w, usageText)
		ef.printDefaults(w)
	}
	ef.fs.SetOutput(io.Discard)
	pos, err := parseInterspersed(ef.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		ef.fs.SetOutput(env.Stdout)
		ef.fs.Usage()
		return nil, ExitOK, false
	}
	if err != nil {
		return nil, fail(env.Stderr, usagef("%v (see diffgate %s -h)", err, ef.fs.Name()), ExitUsage), false
	}
	if len(ef.errs) > 0 {
		return nil, fail(env.Stderr, ef.errs[0], ExitUsage), false
	}
	return pos, 0, true
}

// readPassword takes the password from DIFFGATE_PASSWORD or the first line
// of standard input, never from a flag (flags show in the process list).
func readPassword(env *Env) (string, error) {
	if pw := env.Getenv("DIFFGATE_PASSWORD"); pw != "" {
		return pw, nil
	}
	line, err := bufio.NewReader(io.LimitReader(env.Stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("give the password in DIFFGATE_PASSWORD or on standard input")
	}
	return line, nil
}

func runSetup(ctx context.Context, args []string, env *Env) int {
	var server, token, email string
	ef := newEnvFlags("setup", env.Getenv, io.Discard)
	ef.str(&server, "server", "DIFFGATE_SERVER", "http://127.0.0.1:8080", "diffgate server `URL`")
	ef.str(&token, "token", "DIFFGATE_SETUP_TOKEN", "", "the one-time setup `token` the server printed at first start")
	ef.str(&email, "email", "DIFFGATE_EMAIL", "", "`email` of the owner account")
	if _, code, ok := parseCommand(ef, "Usage: diffgate setup --token TOKEN --email EMAIL [--server URL]\n\nCreates the owner account; the password comes from DIFFGATE_PASSWORD or standard input.\n\nFlags:\n", args, env); !ok {
		return code
	}
	if token == "" || email == "" {
		return fail(env.Stderr, usagef("setup needs --token and --email"), ExitUsage)
	}
	pw, err := readPassword(env)
	if err != nil {
		return fail(env.Stderr, err, ExitUsage)
	}
	c, err := client.New(server, "", nil)
	if err != nil {
		return fail(env.Stderr, usagef("--server: %v", err), ExitUsage)
	}
	u, err := c.Setup(ctx, token, email, pw)
	if err != nil {
		return fail(env.Stderr, err, ExitUsage)
	}
	fmt.Fprintf(env.Stdout, "owner account %s created (id %d)\n", u.Email, u.ID)
	return ExitOK
}

// keysClient authenticates for key management: DIFFGATE_API_KEY with the
// keys:manage scope, or --email with a password (a fresh session).
func keysClient(ctx context.Context, server, email string, env *Env) (*client.Client, error) {
	c, err := client.New(server, "", nil)
	if err != nil {
		return nil, usagef("--server: %v", err)
	}
	if email == "" {
		key := env.Getenv("DIFFGATE_API_KEY")
		if key == "" {
			return nil, usagef("give --email (password in DIFFGATE_PASSWORD or on stdin) or an API key with keys:manage in DIFFGATE_API_KEY")
		}
		return c.WithToken(key), nil
	}
	pw, err := readPassword(env)
	if err != nil {
		return nil, err
	}
	tok, err := c.Login(ctx, email, pw)
	if err != nil {
		return nil, err
	}
	return c.WithToken(tok.AccessToken), nil
}

func runKeys(ctx context.Context, args []string, env *Env) int {
	const usageText = `Usage:
  diffgate keys create --name NAME [--scopes LIST] [--sandbox] [--expires-in DURATION]
  diffgate keys list
  diffgate keys revoke ID

Manages API keys on a diffgate server. Authenticates with --email (password in
DIFFGATE_PASSWORD or on standard input) or DIFFGATE_API_KEY (scope keys:manage).
A created key is printed once; store it safely.

Flags:
`
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usageText)
		return ExitUsage
	}
	sub, rest := args[0], args[1:]
	var server, email, name, scopes, expires string
	var sandbox bool
	ef := newEnvFlags("keys", env.Getenv, io.Discard)
	ef.str(&server, "server", "DIFFGATE_SERVER", "http://127.0.0.1:8080", "diffgate server `URL`")
	ef.str(&email, "email", "DIFFGATE_EMAIL", "", "log in as `email` (password from DIFFGATE_PASSWORD or stdin)")
	ef.str(&name, "name", "", "", "`name` of the new key (create)")
	ef.str(&scopes, "scopes", "", "", "comma-separated `scopes` of the new key: reviews:write, reviews:read, keys:manage, usage:read (create; default reviews:write,reviews:read)")
	ef.boolean(&sandbox, "sandbox", "", false, "create a dg_test_ sandbox key: builtin reviewer only, no credits (create)")
	ef.str(&expires, "expires-in", "", "", "the new key expires after `duration`, e.g. 720h (create; default never)")
	pos, code, ok := parseCommand(ef, usageText, rest, env)
	if !ok {
		return code
	}
	c, err := keysClient(ctx, server, email, env)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return fail(env.Stderr, err, ExitUsage)
		}
		return fail(env.Stderr, err, ExitReviewer)
	}
	switch sub {
	case "create":
		if name == "" || len(pos) > 0 {
			return fail(env.Stderr, usagef("keys create needs --name and no arguments"), ExitUsage)
		}
		k, err := c.CreateKey(ctx, client.NewKey{Name: name, Scopes: splitList(scopes), Sandbox: sandbox, ExpiresIn: expires})
		if err != nil {
			return fail(env.Stderr, err, ExitUsage)
		}
		fmt.Fprintf(env.Stdout, "%s\n", k.Key)
		fmt.Fprintf(env.Stderr, "diffgate: key %s (%s) created with scopes %s; it is shown only this once\n", k.ID, k.Name, strings.Join(k.Scopes, ","))
	case "list":
		keys, err := c.ListKeys(ctx)
		if err != nil {
			return fail(env.Stderr, err, ExitUsage)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tKIND\tSCOPES\tCREATED\tLAST USED\tSTATE")
		for _, k := range keys {
			kind := "live"
			if k.Sandbox {
				kind = "sandbox"
			}
			state := "active"
			switch {
			case k.RevokedAt != nil:
				state = "revoked"
			case k.ExpiresAt != nil && !time.Now().Before(*k.ExpiresAt):
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, kind, strings.Join(k.Scopes, ","),
				k.CreatedAt.Format(time.DateTime), fmtTime(k.LastUsedAt), state)
		}
		_ = tw.Flush()
	case "revoke":
		if len(pos) != 1 {
			return fail(env.Stderr, usagef("keys revoke takes one key ID"), ExitUsage)
		}
		if err := c.RevokeKey(ctx, pos[0]); err != nil {
			return fail(env.Stderr, err, ExitUsage)
		}
		fmt.Fprintf(env.Stderr, "diffgate: key %s revoked\n", pos[0])
	default:
		return fail(env.Stderr, usagef("unknown keys command %q (want create, list or revoke)", sub), ExitUsage)
	}
	return ExitOK
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.DateTime)
}

func runMigrate(ctx context.Context, args []string, env *Env) int {
	var dataDir, dbURL string
	ef := newEnvFlags("migrate", env.Getenv, io.Discard)
	ef.str(&dataDir, "data-dir", "DIFFGATE_DATA_DIR", "./diffgate-data", "`DIR` holding the SQLite database")
	ef.str(&dbURL, "database-url", "DIFFGATE_DATABASE_URL", "", "PostgreSQL `URL`; empty uses SQLite in --data-dir")
	if _, code, ok := parseCommand(ef, "Usage: diffgate migrate [--data-dir DIR | --database-url URL]\n\nApplies the database migrations (serve also applies them at start).\n\nFlags:\n", args, env); !ok {
		return code
	}
	dsn := dbURL
	if dsn == "" {
		dsn = filepath.Join(dataDir, "diffgate.db")
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return fail(env.Stderr, fmt.Errorf("open database: %w", err), ExitReviewer)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fail(env.Stderr, fmt.Errorf("migrate: %w", err), ExitReviewer)
	}
	fmt.Fprintf(env.Stderr, "diffgate: %s database is up to date\n", db.Dialect())
	return ExitOK
}

// runRotateSealKey adds a new active key to the seal keyring and
// re-encrypts every sealed secret under it (D5). The old key stays in the
// ring, so a secret sealed by a server still running on the old keyring
// keeps opening; retire it later with --retire once nothing needs it.
func runRotateSealKey(ctx context.Context, args []string, env *Env) int {
	var dataDir, dbURL string
	var retire bool
	ef := newEnvFlags("rotate-seal-key", env.Getenv, io.Discard)
	ef.str(&dataDir, "data-dir", "DIFFGATE_DATA_DIR", "./diffgate-data", "`DIR` holding secrets/seal-keys.json (and the SQLite database)")
	ef.str(&dbURL, "database-url", "DIFFGATE_DATABASE_URL", "", "PostgreSQL `URL`; empty uses SQLite in --data-dir")
	ef.boolean(&retire, "retire", "", false, "also remove every key but the new one (only once no server uses the old ring)")
	if _, code, ok := parseCommand(ef, "Usage: diffgate rotate-seal-key [--data-dir DIR] [--database-url URL] [--retire]\n\nMakes a new seal key active and re-encrypts every webhook secret under it.\n\nFlags:\n", args, env); !ok {
		return code
	}
	path := filepath.Join(dataDir, "secrets", "seal-keys.json")
	kr, err := keyring.ReadFile(path)
	if err != nil {
		return fail(env.Stderr, fmt.Errorf("seal keys: %w", err), ExitUsage)
	}
	k, err := keyring.GenerateKey()
	if err != nil {
		return fail(env.Stderr, err, ExitReviewer)
	}
	next, err := kr.Rotate(k)
	if err != nil {
		return fail(env.Stderr, err, ExitReviewer)
	}
	// The ring with the new key is written first: a crash after this
	// leaves secrets sealed under keys the ring still holds.
	if err := next.WriteFile(path); err != nil {
		return fail(env.Stderr, fmt.Errorf("write seal keys: %w", err), ExitReviewer)
	}
	dsn := dbURL
	if dsn == "" {
		dsn = filepath.Join(dataDir, "diffgate.db")
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return fail(env.Stderr, fmt.Errorf("open database: %w", err), ExitReviewer)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fail(env.Stderr, fmt.Errorf("migrate: %w", err), ExitReviewer)
	}
	n, err := server.ResealSecrets(ctx, db, next)
	if err != nil {
		return fail(env.Stderr, fmt.Errorf("re-encrypt: %w", err), ExitReviewer)
	}
	if retire {
		only, err := keyring.New(k)
		if err == nil {
			err = only.WriteFile(path)
		}
		if err != nil {
			return fail(env.Stderr, fmt.Errorf("retire old keys: %w", err), ExitReviewer)
		}
	}
	fmt.Fprintf(env.Stderr, "diffgate: seal key %s is active; %d secrets re-encrypted\n", k.ID(), n)
	return ExitOK
}

func runCredits(ctx context.Context, args []string, env *Env) int {
	var server, email, grantTo, reason, user string
	var grant, refund string
	ef := newEnvFlags("credits", env.Getenv, io.Discard)
	ef.str(&server, "server", "DIFFGATE_SERVER", "http://127.0.0.1:8080", "diffgate server `URL`")
	ef.str(&email, "email", "DIFFGATE_EMAIL", "", "log in as `email` (password from DIFFGATE_PASSWORD or stdin); else DIFFGATE_API_KEY (usage:read)")
	ef.str(&grant, "grant", "", "", "grant `N` credits (owner or admin, with --to; needs --email)")
	ef.str(&user, "user", "", "", "show the account of `email` instead of your own (owner or admin)")
	ef.str(&grantTo, "to", "", "", "`email` of the account to grant credits to")
	ef.str(&reason, "reason", "", "", "why the credits are granted (kept in the ledger)")
	ef.str(&refund, "refund", "", "", "give back what review `ID` was charged, once (owner or admin; needs --email)")
	if _, code, ok := parseCommand(ef, "Usage: diffgate credits [--email E] [--user EMAIL] [--grant N --to EMAIL [--reason TEXT]] [--refund REVIEW_ID]\n\nShows the balance and the latest ledger entries, grants credits, or refunds a review.\n\nFlags:\n", args, env); !ok {
		return code
	}
	// Conflicting flags are refused before any password is read.
	switch {
	case refund != "" && (grant != "" || grantTo != "" || user != ""):
		return fail(env.Stderr, usagef("--refund cannot be used with --grant, --to or --user"), ExitUsage)
	case grant != "" && user != "":
		return fail(env.Stderr, usagef("--grant cannot be used with --user"), ExitUsage)
	}
	c, err := keysClient(ctx, server, email, env)
	if err != nil {
		return fail(env.Stderr, err, ExitUsage)
	}
	if refund != "" {
		rf, err := c.RefundReview(ctx, refund)
		if err != nil {
			return fail(env.Stderr, err, ExitUsage)
		}
		fmt.Fprintf(env.Stdout, "refunded %d credits of %s to user %d, whose balance is now %d\n", rf.Refunded, rf.ReviewID, rf.UserID, rf.Balance)
		return ExitOK
	}
	if grant != "" {
		n, err := strconv.ParseInt(grant, 10, 64)
		if err != nil || n <= 0 || grantTo == "" {
			return fail(env.Stderr, usagef("--grant needs a positive number of credits and --to EMAIL"), ExitUsage)
		}
		bal, err := c.Grant(ctx, grantTo, n, reason)
		if err != nil {
			return fail(env.Stderr, err, ExitUsage)
		}
		fmt.Fprintf(env.Stdout, "%s now has %d credits\n", grantTo, bal)
		return ExitOK
	}
	var cr client.Credits
	if user != "" {
		cr, err = c.UserCredits(ctx, user)
	} else {
		cr, err = c.Credits(ctx)
	}
	if err != nil {
		return fail(env.Stderr, err, ExitUsage)
	}
	fmt.Fprintf(env.Stdout, "balance: %d credits\n", cr.Balance)
	if cr.Held > 0 {
		fmt.Fprintf(env.Stdout, "held for reviews still running: %d credits\n", cr.Held)
	}
	fmt.Fprintln(env.Stdout)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tKIND\tAMOUNT\tBALANCE\tREFERENCE")
	for _, e := range cr.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%+d\t%d\t%s\n", e.At.Format(time.DateTime), e.Kind, e.Amount, e.BalanceAfter, e.Reference)
	}
	_ = tw.Flush()
	return ExitOK
}
