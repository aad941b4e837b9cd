package rules

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite RULES.md from Catalogue()")

// rulesTable renders Catalogue() as the markdown table kept in RULES.md.
func rulesTable() []byte {
	var b bytes.Buffer
	b.WriteString("# Builtin reviewer rules\n\n")
	b.WriteString("Generated from `Catalogue()` by `go test ./internal/review/rules -run TestRulesDoc -update`; do not edit.\n\n")
	b.WriteString("Silence a rule on one line with a comment naming it: `diffgate:ignore DG-SQL-CONCAT` ")
	b.WriteString("(several IDs may be separated by commas or spaces; a bare `diffgate:ignore` silences nothing).\n\n")
	b.WriteString("| ID | Severity | Category | Languages | Finds | Fix |\n")
	b.WriteString("|----|----------|----------|-----------|-------|-----|\n")
	for _, r := range Catalogue() {
		langs := "all"
		if l := r.Languages(); l != nil {
			langs = strings.Join(l, ", ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n",
			r.ID, r.Severity, r.Category, langs, mdCell(r.Title), mdCell(strings.ToUpper(r.Fix[:1])+r.Fix[1:]))
	}
	return b.Bytes()
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// TestRulesDoc keeps RULES.md in step with the catalogue (R3).
func TestRulesDoc(t *testing.T) {
	want := rulesTable()
	if *update {
		if err := os.WriteFile("RULES.md", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("RULES.md")
	if err != nil {
		t.Fatalf("read RULES.md: %v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("RULES.md is stale; run go test ./internal/review/rules -run TestRulesDoc -update")
	}
}
