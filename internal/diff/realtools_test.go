package diff

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests parse diffs produced by the real git and diff binaries, so
// that the parser follows the tools rather than our idea of them (R1).

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s binary not found, skipping real-tool test: %v", name, err)
	}
}

// run runs a tool in dir; exit status 1 is accepted because diff uses it
// to say the inputs differ.
func run(t *testing.T, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(name == "diff" && errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func numbered(prefix string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(prefix)
		b.WriteString(" line ")
		b.WriteByte(byte('a' + i%26))
		b.WriteString(strings.Repeat("x", i))
		b.WriteByte('\n')
	}
	return b.String()
}

func mustParse(t *testing.T, what string, data []byte) *Diff {
	t.Helper()
	d, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(%s) error: %v", what, err)
	}
	checkInvariants(t, d)
	return d
}

func fileByPath(t *testing.T, d *Diff, path string) *File {
	t.Helper()
	for _, f := range d.Files {
		if f.Path() == path {
			return f
		}
	}
	var got []string
	for _, f := range d.Files {
		got = append(got, f.OldPath+" -> "+f.NewPath)
	}
	t.Fatalf("no file %q in parsed diff; files: %q", path, got)
	return nil
}

func lineOf(t *testing.T, f *File, kind Kind, content string) Line {
	t.Helper()
	for _, h := range f.Hunks {
		for _, l := range h.Lines {
			if l.Kind == kind && l.Content == content {
				return l
			}
		}
	}
	t.Fatalf("%s: no %c line %q", f.Path(), " +-"[kind], content)
	return Line{}
}

func TestRealGit(t *testing.T) {
	needTool(t, "git")
	home := t.TempDir()
	dir := t.TempDir()
	env := []string{"GIT_CONFIG_NOSYSTEM=1", "HOME=" + home, "XDG_CONFIG_HOME=" + home,
		"LC_ALL=C", "GIT_AUTHOR_DATE=2025-03-04T10:00:00Z", "GIT_COMMITTER_DATE=2025-03-04T10:00:00Z"}
	git := func(args ...string) []byte {
		t.Helper()
		return run(t, dir, env, "git", args...)
	}
	git("init", "-q", ".")
	git("config", "user.name", "Diff Test")
	git("config", "user.email", "difftest@example.com")
	git("config", "core.autocrlf", "false")
	git("config", "core.quotePath", "true")
	git("config", "commit.gpgsign", "false")

	p := func(name string) string { return filepath.Join(dir, name) }
	writeFile(t, p("a.txt"), "one\ntwo\nthree\nfour\nfive\n", 0o644)
	writeFile(t, p("old.txt"), numbered("renamed", 20), 0o644)
	writeFile(t, p("base.txt"), numbered("base", 20), 0o644)
	writeFile(t, p("run me.sh"), "#!/bin/sh\necho hi\n", 0o644)
	writeFile(t, p("logo.bin"), "PNG\x00\x01\x02\x03 image\n", 0o644)
	writeFile(t, p("nonl.txt"), "alpha\nbeta", 0o644)
	writeFile(t, p("crlf.txt"), "one\r\ntwo\r\nthree\r\n", 0o644)
	writeFile(t, p("foo bar.txt"), "x\ny\n", 0o644)
	writeFile(t, p("gone.txt"), "bye\n", 0o644)
	git("add", "-A")
	git("commit", "-q", "-m", "initial")

	// Unstaged edits, seen by plain `git diff`.
	writeFile(t, p("a.txt"), "one\ntwo\nhello\nthree\nfour\nfive\n", 0o644)
	writeFile(t, p("run me.sh"), "#!/bin/sh\necho hi\n", 0o755)
	writeFile(t, p("nonl.txt"), "alpha\ngamma", 0o644)
	writeFile(t, p("crlf.txt"), "one\r\nTWO\r\nthree\r\n", 0o644)
	writeFile(t, p("foo bar.txt"), "x\nz\n", 0o644)
	writeFile(t, p("logo.bin"), "PNG\x00\x01\x02\x04 image!\n", 0o644)

	t.Run("git diff", func(t *testing.T) {
		d := mustParse(t, "git diff", git("diff"))
		if len(d.Files) != 6 {
			t.Errorf("git diff: %d files, want 6", len(d.Files))
		}
		a := fileByPath(t, d, "a.txt")
		if l := lineOf(t, a, Add, "hello"); l.NewLine != 3 || l.OldLine != 0 {
			t.Errorf("added %q at old %d new %d, want new line 3", "hello", l.OldLine, l.NewLine)
		}
		if l := lineOf(t, a, Context, "three"); l.OldLine != 3 || l.NewLine != 4 {
			t.Errorf("context %q at old %d new %d, want 3/4", "three", l.OldLine, l.NewLine)
		}
		sh := fileByPath(t, d, "run me.sh")
		if sh.OldPath != "run me.sh" || sh.OldMode != "100644" || sh.NewMode != "100755" || len(sh.Hunks) != 0 {
			t.Errorf("mode change = %+v, want run me.sh 100644 -> 100755 without hunks", sh)
		}
		nonl := fileByPath(t, d, "nonl.txt")
		if l := lineOf(t, nonl, Delete, "beta"); !l.NoNewline || l.OldLine != 2 {
			t.Errorf("deleted %q = %+v, want NoNewline at old line 2", "beta", l)
		}
		if l := lineOf(t, nonl, Add, "gamma"); !l.NoNewline || l.NewLine != 2 {
			t.Errorf("added %q = %+v, want NoNewline at new line 2", "gamma", l)
		}
		crlf := fileByPath(t, d, "crlf.txt")
		if l := lineOf(t, crlf, Add, "TWO"); !l.CRLF || l.NewLine != 2 {
			t.Errorf("added %q = %+v, want CRLF at new line 2", "TWO", l)
		}
		if l := lineOf(t, crlf, Context, "one"); !l.CRLF {
			t.Errorf("context %q = %+v, want CRLF", "one", l)
		}
		sp := fileByPath(t, d, "foo bar.txt")
		if sp.OldPath != "foo bar.txt" || sp.Status != Modified {
			t.Errorf("path with space = %+v, want foo bar.txt modified", sp)
		}
		if l := lineOf(t, sp, Add, "z"); l.NewLine != 2 {
			t.Errorf("added %q at new line %d, want 2", "z", l.NewLine)
		}
		if bin := fileByPath(t, d, "logo.bin"); !bin.Binary || len(bin.Hunks) != 0 {
			t.Errorf("binary file = %+v, want Binary without hunks", bin)
		}
	})

	// Staged renames, copies, additions and deletions.
	if err := os.Rename(p("old.txt"), p("renamed.txt")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p("renamed.txt"), strings.Replace(numbered("renamed", 20), "renamed line f", "renamed line F", 1), 0o644)
	writeFile(t, p("copy.txt"), strings.Replace(numbered("base", 20), "base line h", "copied line h", 1), 0o644)
	writeFile(t, p("tést.txt"), "nouveau\n", 0o644)
	writeFile(t, p("new.txt"), "first\nsecond\n", 0o644)
	if err := os.Remove(p("gone.txt")); err != nil {
		t.Fatal(err)
	}
	git("add", "-A")

	checkStaged := func(t *testing.T, d *Diff, raw []byte) {
		t.Helper()
		r := fileByPath(t, d, "renamed.txt")
		if r.Status != Renamed || r.OldPath != "old.txt" || r.Similarity < 50 || r.Similarity >= 100 {
			t.Errorf("rename = %+v, want old.txt renamed with similarity in [50,100)", r)
		}
		if l := lineOf(t, r, Add, "renamed line Fxxxxx"); l.NewLine != 5 {
			t.Errorf("renamed file: added line at new %d, want 5", l.NewLine)
		}
		c := fileByPath(t, d, "copy.txt")
		if c.Status != Copied || c.OldPath != "base.txt" || c.Similarity < 50 {
			t.Errorf("copy = %+v, want copied from base.txt", c)
		}
		if l := lineOf(t, c, Delete, "base line hxxxxxxx"); l.OldLine != 7 {
			t.Errorf("copied file: deleted line at old %d, want 7", l.OldLine)
		}
		if !bytes.Contains(raw, []byte(`"b/t\303\251st.txt"`)) {
			t.Errorf("git output has no quoted non-ASCII path; core.quotePath not applied")
		}
		q := fileByPath(t, d, "tést.txt")
		if q.Status != Added || q.OldPath != "" || q.NewMode != "100644" {
			t.Errorf("non-ASCII new file = %+v, want added with mode 100644", q)
		}
		if l := lineOf(t, q, Add, "nouveau"); l.NewLine != 1 {
			t.Errorf("new file line at %d, want 1", l.NewLine)
		}
		n := fileByPath(t, d, "new.txt")
		if n.Status != Added || len(n.Hunks) != 1 || n.Hunks[0].NewLines != 2 {
			t.Errorf("new file = %+v, want added with one hunk of 2 lines", n)
		}
		g := fileByPath(t, d, "gone.txt")
		if g.Status != Deleted || g.NewPath != "" || g.OldMode != "100644" {
			t.Errorf("deleted file = %+v, want deleted with old mode 100644", g)
		}
		if l := lineOf(t, g, Delete, "bye"); l.OldLine != 1 {
			t.Errorf("deleted line at old %d, want 1", l.OldLine)
		}
		if b := fileByPath(t, d, "logo.bin"); !b.Binary {
			t.Errorf("binary file = %+v, want Binary", b)
		}
		if a := fileByPath(t, d, "a.txt"); lineOf(t, a, Add, "hello").NewLine != 3 {
			t.Errorf("a.txt: hello not at new line 3")
		}
	}

	t.Run("git diff --cached", func(t *testing.T) {
		raw := git("diff", "--cached", "-M", "-C", "--find-copies-harder")
		if !bytes.Contains(raw, []byte("Binary files a/logo.bin and b/logo.bin differ")) {
			t.Fatalf("git diff without --binary did not report a binary file")
		}
		checkStaged(t, mustParse(t, "git diff --cached", raw), raw)
	})
	t.Run("git diff --cached --binary", func(t *testing.T) {
		raw := git("diff", "--cached", "-M", "-C", "--find-copies-harder", "--binary")
		if !bytes.Contains(raw, []byte("GIT binary patch")) {
			t.Fatalf("git diff --binary produced no binary patch")
		}
		checkStaged(t, mustParse(t, "git diff --cached --binary", raw), raw)
	})

	git("commit", "-q", "-m", "edit everything")
	writeFile(t, p("a.txt"), "one\ntwo\nhello\nthree\nfour\nfive\nsix\n", 0o644)
	git("commit", "-q", "-a", "-m", "six")

	t.Run("git format-patch", func(t *testing.T) {
		raw := git("format-patch", "--stdout", "-M", "-C", "--find-copies-harder", "--binary", "HEAD~2..HEAD")
		if bytes.Count(raw, []byte("\nSubject: [PATCH")) != 2 || !bytes.Contains(raw, []byte("\n-- \n")) {
			t.Fatalf("format-patch output is not a two-patch mbox with signatures")
		}
		d := mustParse(t, "git format-patch", raw)
		checkStaged(t, &Diff{Files: d.Files[:len(d.Files)-1]}, raw)
		last := d.Files[len(d.Files)-1]
		if last.Path() != "a.txt" {
			t.Fatalf("last patch file = %q, want a.txt", last.Path())
		}
		if l := lineOf(t, last, Add, "six"); l.NewLine != 7 {
			t.Errorf("second patch: %q at new line %d, want 7", "six", l.NewLine)
		}
	})
}

func TestRealDiff(t *testing.T) {
	needTool(t, "diff")
	dir := t.TempDir()
	env := []string{"LC_ALL=C", "TZ=UTC"}
	p := func(name string) string { return filepath.Join(dir, name) }

	t.Run("diff -u", func(t *testing.T) {
		writeFile(t, p("u/old.c"), "int a;\nint b;\nint c;", 0o644)
		writeFile(t, p("u/new.c"), "int a;\nint bb;\nint c;\nint d;\n", 0o644)
		d := mustParse(t, "diff -u", run(t, p("u"), env, "diff", "-u", "old.c", "new.c"))
		if len(d.Files) != 1 {
			t.Fatalf("diff -u: %d files, want 1", len(d.Files))
		}
		f := d.Files[0]
		if f.OldPath != "old.c" || f.NewPath != "new.c" || f.Status != Modified {
			t.Errorf("diff -u file = %+v, want old.c -> new.c modified", f)
		}
		if l := lineOf(t, f, Add, "int bb;"); l.NewLine != 2 {
			t.Errorf("added line at %d, want 2", l.NewLine)
		}
		if l := lineOf(t, f, Delete, "int c;"); !l.NoNewline || l.OldLine != 3 {
			t.Errorf("old last line = %+v, want NoNewline at old line 3", l)
		}
		if l := lineOf(t, f, Add, "int d;"); l.NewLine != 4 || l.NoNewline {
			t.Errorf("new last line = %+v, want new line 4 with a newline", l)
		}
	})

	t.Run("diff -ruN", func(t *testing.T) {
		writeFile(t, p("r/old/src/main.c"), "int main(void)\n{\n\treturn 0;\n}\n", 0o644)
		writeFile(t, p("r/new/src/main.c"), "int main(void)\n{\n\treturn 1;\n}\n", 0o644)
		writeFile(t, p("r/new/src/added file.h"), "#pragma once\nint f(void);\n", 0o644)
		writeFile(t, p("r/old/docs/removed.md"), "# Gone\n", 0o644)
		writeFile(t, p("r/old/img.bin"), "\x00\x01old", 0o644)
		writeFile(t, p("r/new/img.bin"), "\x00\x01new", 0o644)
		d := mustParse(t, "diff -ruN", run(t, p("r"), env, "diff", "-ruN", "old", "new"))
		if len(d.Files) != 4 {
			t.Errorf("diff -ruN: %d files, want 4", len(d.Files))
		}
		m := fileByPath(t, d, "src/main.c")
		if m.Status != Modified || m.OldPath != "src/main.c" {
			t.Errorf("modified file = %+v", m)
		}
		if l := lineOf(t, m, Add, "\treturn 1;"); l.NewLine != 3 {
			t.Errorf("added line at %d, want 3", l.NewLine)
		}
		a := fileByPath(t, d, "src/added file.h")
		if a.Status != Added || a.OldPath != "" {
			t.Errorf("new file = %+v, want added", a)
		}
		if l := lineOf(t, a, Add, "int f(void);"); l.NewLine != 2 {
			t.Errorf("added line at %d, want 2", l.NewLine)
		}
		r := fileByPath(t, d, "docs/removed.md")
		if r.Status != Deleted || r.NewPath != "" {
			t.Errorf("removed file = %+v, want deleted", r)
		}
		if b := fileByPath(t, d, "img.bin"); !b.Binary {
			t.Errorf("binary file = %+v, want Binary", b)
		}
	})
}
