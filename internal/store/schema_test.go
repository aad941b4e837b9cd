package store

import (
	"regexp"
	"strings"
	"testing"
)

// D2: the shipped migration files declare no column that could hold code.
// This reads the embedded files themselves, so it covers every dialect
// whether or not its database is available.
func TestMigrationsDeclareNoCodeColumns(t *testing.T) {
	for _, dialect := range []string{DialectSQLite, DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			ms, err := loadMigrations(dialect)
			if err != nil {
				t.Fatalf("loadMigrations(%q) = %v", dialect, err)
			}
			if len(ms) == 0 || ms[0].version != 1 {
				t.Fatalf("loadMigrations(%q) = %d migrations, want 0001 first", dialect, len(ms))
			}
			var cols []column
			for _, m := range ms {
				cols = append(cols, declaredColumns(m.sql)...)
			}
			if len(cols) < 10 {
				t.Fatalf("parsed only %d columns from %s migrations; the parser is broken", len(cols), dialect)
			}
			checkColumns(t, cols)
		})
	}
}

var (
	createTableRE = regexp.MustCompile(`(?is)CREATE TABLE\s+(?:IF NOT EXISTS\s+)?(\w+)\s*\((.*?)\n\);`)
	addColumnRE   = regexp.MustCompile(`(?i)ALTER TABLE\s+(\w+)\s+ADD COLUMN\s+(?:IF NOT EXISTS\s+)?(\w+)\s+(\w+)`)
	constraintRE  = regexp.MustCompile(`(?i)^(PRIMARY|UNIQUE|FOREIGN|CHECK|CONSTRAINT|EXCLUDE)\b`)
)

// declaredColumns extracts table, column and type from CREATE TABLE and
// ALTER TABLE … ADD COLUMN statements written one column per line, the
// style the migrations keep.
func declaredColumns(sql string) []column {
	var out []column
	for _, m := range createTableRE.FindAllStringSubmatch(sql, -1) {
		for line := range strings.SplitSeq(m[2], "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "--") || constraintRE.MatchString(line) {
				continue
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			out = append(out, column{table: m[1], name: f[0], typ: strings.TrimSuffix(f[1], ",")})
		}
	}
	for _, m := range addColumnRE.FindAllStringSubmatch(sql, -1) {
		out = append(out, column{table: m[1], name: m[2], typ: m[3]})
	}
	return out
}

// D2: the scan is able to fail.
func TestDeclaredColumnsCatchesCode(t *testing.T) {
	tests := []struct {
		sql  string
		want []column
	}{
		{"CREATE TABLE reviews (\n    id INTEGER PRIMARY KEY,\n    diff_text TEXT NOT NULL,\n    PRIMARY KEY (id)\n);",
			[]column{{"reviews", "id", "INTEGER"}, {"reviews", "diff_text", "TEXT"}}},
		{"ALTER TABLE request_logs ADD COLUMN patch BYTEA;", []column{{"request_logs", "patch", "BYTEA"}}},
	}
	for _, tt := range tests {
		got := declaredColumns(tt.sql)
		if len(got) != len(tt.want) {
			t.Fatalf("declaredColumns(%q) = %v, want %v", tt.sql, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("declaredColumns(%q)[%d] = %v, want %v", tt.sql, i, got[i], tt.want[i])
			}
		}
		// The rule itself must reject the code-bearing column.
		if p := columnProblems(got); len(p) == 0 {
			t.Errorf("columnProblems(%v) = none, want the code column rejected", got)
		}
	}
}
