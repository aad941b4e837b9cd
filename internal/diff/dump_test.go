package diff

import (
	"fmt"
	"strings"
)

// dumpFile is a readable, stable form of a File for golden files and
// failure messages.
type dumpFile struct {
	Old        string     `json:"old"`
	New        string     `json:"new"`
	Status     string     `json:"status"`
	Similarity int        `json:"similarity"`
	OldMode    string     `json:"old_mode,omitempty"`
	NewMode    string     `json:"new_mode,omitempty"`
	Binary     bool       `json:"binary,omitempty"`
	Hunks      []dumpHunk `json:"hunks,omitempty"`
}

type dumpHunk struct {
	Header  string `json:"header"`
	Section string `json:"section,omitempty"`
	// Lines are "KIND OLD NEW [flags] |CONTENT" with KIND one of ' ', '+', '-'.
	Lines []string `json:"lines"`
}

func dump(d *Diff) []dumpFile {
	out := make([]dumpFile, 0, len(d.Files))
	for _, f := range d.Files {
		df := dumpFile{
			Old: f.OldPath, New: f.NewPath, Status: f.Status.String(), Similarity: f.Similarity,
			OldMode: f.OldMode, NewMode: f.NewMode, Binary: f.Binary,
		}
		for _, h := range f.Hunks {
			dh := dumpHunk{
				Header:  fmt.Sprintf("-%d,%d +%d,%d", h.OldStart, h.OldLines, h.NewStart, h.NewLines),
				Section: h.Section,
				Lines:   make([]string, 0, len(h.Lines)),
			}
			for _, l := range h.Lines {
				dh.Lines = append(dh.Lines, dumpLine(l))
			}
			df.Hunks = append(df.Hunks, dh)
		}
		out = append(out, df)
	}
	return out
}

func dumpLine(l Line) string {
	var b strings.Builder
	b.WriteByte(" +-"[l.Kind])
	fmt.Fprintf(&b, " %d %d", l.OldLine, l.NewLine)
	if l.NoNewline {
		b.WriteString(" [nonl]")
	}
	if l.CRLF {
		b.WriteString(" [crlf]")
	}
	b.WriteString(" |")
	b.WriteString(l.Content)
	return b.String()
}
