package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/diffgate/diffgate/internal/diff"
)

// gitDiff runs git diff in repo with extra arguments and parses its output
// as it streams, stopping git as soon as the output passes the size limit.
// The flags make the output independent of the user's git configuration
// (colour, external diff drivers, prefixes) so the parser always sees the
// standard format.
func gitDiff(ctx context.Context, repo string, extra []string, limit int64) ([]byte, *diff.Diff, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, nil, errors.New("git is not installed; give a diff FILE or - for stdin")
	}
	if git(ctx, repo, "rev-parse", "--git-dir").Run() != nil {
		return nil, nil, errors.New("not a git repository; run inside one, use --repo, or give a diff FILE or - for stdin")
	}
	worktree := extra == nil
	if worktree {
		extra = []string{"HEAD"}
		if !hasHead(ctx, repo) {
			extra = []string{"--cached"} // a repository without commits: what is staged is the change
		}
	}
	// --no-relative: paths from the top of the repository, whatever
	// diff.relative says, so every change is seen and locations are stable.
	args := []string{"-c", "core.quotePath=true", "diff", "--no-color", "--no-ext-diff", "--no-textconv",
		"--no-relative", "--find-renames", "--src-prefix=a/", "--dst-prefix=b/"}
	args = append(args, extra...)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := git(ctx, repo, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("git diff: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("git diff: %w", err)
	}
	var raw bytes.Buffer
	d, perr := diff.Read(io.TeeReader(out, &raw), limit)
	if perr != nil {
		cancel()
		_, _ = io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if perr != nil {
		// Our own cancel may have ended git; what the parser saw is the
		// error worth reporting.
		var tl *diff.TooLargeError
		if errors.As(perr, &tl) {
			return nil, nil, perr
		}
		return nil, nil, fmt.Errorf("git diff output: %w", perr)
	}
	if werr != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = werr.Error()
		}
		return nil, nil, fmt.Errorf("git diff failed: %s", strings.TrimPrefix(msg, "fatal: "))
	}
	if worktree {
		untracked, err := untrackedFiles(ctx, repo)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range untracked {
			d.Omitted = append(d.Omitted, diff.Omitted{Path: p, Reason: "untracked: not in git diff (git add -N it to review it)"})
		}
	}
	return raw.Bytes(), d, nil
}

// untrackedFiles lists the files git does not track and does not ignore;
// the working tree review names them so a new file cannot slip through
// unnoticed (R5).
func untrackedFiles(ctx context.Context, repo string) ([]string, error) {
	out, err := git(ctx, repo, "ls-files", "--others", "--exclude-standard", "--full-name", "-z", ":/").Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w", err)
	}
	var files []string
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" {
			files = append(files, p)
		}
	}
	return files, nil
}

func hasHead(ctx context.Context, repo string) bool {
	return git(ctx, repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").Run() == nil
}

func git(ctx context.Context, repo string, args ...string) *exec.Cmd {
	if repo != "" {
		args = append([]string{"-C", repo}, args...)
	}
	return exec.CommandContext(ctx, "git", args...)
}

// limitedWriter keeps the first n bytes and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}
