package rules

import (
	"path/filepath"
	"regexp"
	"testing"
)

// anchoredCorpus is every line of the rule fixtures plus edge cases of
// left context, case and repetition.
func anchoredCorpus(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "DG-*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		"eval(x)", "x.eval(y)", "$eval(y)", "window.eval(y)", "$window.eval(y)", "mywindow.eval(y)",
		"self.eval(s); eval(t)", "new Function('a')", "renew Function(a)", "a = new  Function (b)", "evaluate(x)",
		"exec(`ls ${d}`)", "cp.exec('ls ' + d)", "xcp.exec('ls ' + d)", "child_process.exec(cmd + d)", "re.exec(s + t)",
		"execSync(a + b)", "$exec(a + b)", "console.log(x)", "myconsole.log(x)", "Console.log(x)", "console.table(x)",
		"md5(pw)", "MD5.new()", "xmd5(pw)", "hashlib.sha1(password)", `"sha1", password`,
		`password = "hunter2hunter2"`, `db_password_secret = "s3cr3tValue!"`, `PASSWORD: 'abc'`, `apiKey := "zzzzzzzz"`,
		`auth_token="x" password="realpassword1"`, `secret = "example" ; secret_key = "q8Zx3Lp0Vw7Rt2Yk"`,
		`password="a=password="b"`, `passwd:'` + "`" + `x` + "`",
	}
	for _, f := range files {
		lines = append(lines, readLines(t, f)...)
	}
	return lines
}

// The anchored matchers find exactly what their unanchored reference
// expressions find (R3: rewriting for speed must not change findings).
func TestAnchoredMatchesReference(t *testing.T) {
	cases := []struct {
		name string
		a    *anchored
		ref  *regexp.Regexp
	}{
		{"js eval", jsEval, jsEvalRef},
		{"js exec", jsExec, jsExecRef},
		{"js console", jsConsole, jsConsoleRef},
		{"hash call", hashCallAt, hashCall},
	}
	lines := anchoredCorpus(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			matched := 0
			for _, line := range lines {
				_, _, got := tc.a.at(line)
				if want := tc.ref.MatchString(line); got != want {
					t.Errorf("%s.at(%q) = %v, want %v", tc.name, line, got, want)
				}
				if got {
					matched++
				}
			}
			if matched == 0 {
				t.Errorf("%s matched no line of the corpus; the comparison proves nothing", tc.name)
			}
		})
	}
	t.Run("credential", func(t *testing.T) {
		matched := 0
		for _, line := range lines {
			want := []int(nil)
			for _, m := range credQuoted.FindAllStringSubmatchIndex(line, -1) {
				if credentialValue(line[m[2]:m[3]]) {
					want = m[2:4]
					break
				}
			}
			got := credAssign.find(line, func(m []int) bool { return credentialValue(line[m[2]:m[3]]) })
			if got != nil {
				got = got[2:4]
				matched++
			}
			if len(got) != len(want) || len(got) == 2 && (got[0] != want[0] || got[1] != want[1]) {
				t.Errorf("credAssign.find(%q) value = %v, want %v", line, got, want)
			}
		}
		if matched == 0 {
			t.Errorf("credAssign matched no line of the corpus; the comparison proves nothing")
		}
	})
}
