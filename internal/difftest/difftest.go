// Package difftest provides large, real diffs for tests and benchmarks of
// the packages that consume unified diffs.
package difftest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// trees are copied from the Go distribution's sources: they are always at
// hand where tests run, and they are real code. The "modified" ones are
// edited in the new tree; the "added" ones exist only in the new tree.
var (
	modifiedTrees = []string{"net/http", "go/types", "text/template", "go/ast"}
	addedTrees    = []string{"go/parser", "strings", "encoding/json", "crypto/tls", "fmt"}
)

// errNoTool means a tool the corpus needs is missing; callers skip.
var errNoTool = errors.New("difftest: tool missing")

// largeDiff builds the corpus once per process; the result is immutable.
var largeDiff = sync.OnceValues(buildLargeDiff)

// LargeDiff returns a real `diff -ruN` of a few MiB: Go source trees with
// lines deleted, inserted and changed in many files, a few deleted files,
// and whole trees added. The bytes are shared; callers must not modify them.
func LargeDiff(tb testing.TB) []byte {
	tb.Helper()
	data, err := largeDiff()
	if errors.Is(err, errNoTool) {
		tb.Skipf("large diff corpus unavailable: %v", err)
	}
	if err != nil {
		tb.Fatalf("build large diff: %v", err)
	}
	return data
}

func buildLargeDiff() ([]byte, error) {
	if _, err := exec.LookPath("diff"); err != nil {
		return nil, fmt.Errorf("%w: diff: %v", errNoTool, err)
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("%w: go env GOROOT: %v", errNoTool, err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "src")

	tmp, err := os.MkdirTemp("", "difftest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	oldDir, newDir := filepath.Join(tmp, "old"), filepath.Join(tmp, "new")

	for _, tree := range modifiedTrees {
		if err := copyTree(filepath.Join(src, tree), filepath.Join(oldDir, tree), nil); err != nil {
			return nil, err
		}
		n := 0
		edit := func(rel string, data []byte) ([]byte, bool) {
			n++
			return editFile(data, n)
		}
		if err := copyTree(filepath.Join(src, tree), filepath.Join(newDir, tree), edit); err != nil {
			return nil, err
		}
	}
	for _, tree := range addedTrees {
		if err := copyTree(filepath.Join(src, tree), filepath.Join(newDir, tree), nil); err != nil {
			return nil, err
		}
	}

	cmd := exec.Command("diff", "-ruN", "old", "new")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err = cmd.Run()
	var exit *exec.ExitError
	// diff exits 1 when the trees differ, which they always do here.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return nil, fmt.Errorf("diff -ruN: %w", err)
	}
	if stdout.Len() == 0 {
		return nil, errors.New("diff -ruN: empty output")
	}
	return stdout.Bytes(), nil
}

// copyTree copies the regular files below from into to. edit, when set,
// may rewrite a file's bytes or drop the file (false).
func copyTree(from, to string, edit func(rel string, data []byte) ([]byte, bool)) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			// testdata holds binary and oddly encoded files; real source is
			// what the corpus should look like.
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if edit != nil {
			var keep bool
			if data, keep = edit(rel, data); !keep {
				return nil
			}
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
}

// editFile changes a file deterministically by its ordinal n: most files
// get a few scattered deletions, insertions and changed lines, some stay
// untouched, and a few are deleted.
func editFile(data []byte, n int) ([]byte, bool) {
	switch {
	case n%23 == 0:
		return nil, false
	case n%3 == 0:
		return data, true
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	out := make([][]byte, 0, len(lines)+16)
	for i, l := range lines {
		switch {
		case i%97 == 13:
			// deleted
		case i%89 == 40:
			out = append(out, fmt.Appendf(nil, "\t// difftest: inserted note %d\n", i), l)
		case i%151 == 77 && len(l) > 1:
			out = append(out, append(bytes.TrimRight(l, "\n"), " // changed\n"...))
		default:
			out = append(out, l)
		}
	}
	return bytes.Join(out, nil), true
}
