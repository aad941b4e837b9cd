package review

import (
	"fmt"

	"github.com/diffgate/diffgate/internal/diff"
)

// Per-item overheads of the rendered prompt, in estimated tokens: a file
// header names the path and status, a hunk header its ranges, and every line
// carries a marker and its line number ("+ 1234 | ").
const (
	fileOverhead = 16
	hunkOverhead = 12
	lineOverhead = 4
)

func lineCost(l *diff.Line) int { return EstimateTokens(l.Content) + lineOverhead }

func fileCost(f *diff.File) int {
	return fileOverhead + EstimateTokens(f.OldPath) + EstimateTokens(f.NewPath)
}

// Split cuts d into chunks whose estimated size fits budget tokens (R5).
// Files are packed whole where they fit, else hunk by hunk, and a hunk that
// alone is too large is cut into runs of lines. Binary files and lines that
// cannot fit any chunk are returned as skipped, so nothing vanishes
// silently. budget <= 0 means no limit.
func Split(d *diff.Diff, budget int) (chunks []*diff.Diff, skipped []Skipped) {
	if budget <= 0 {
		return []*diff.Diff{d}, nil
	}
	cur := &diff.Diff{}
	used := 0
	flush := func() {
		if len(cur.Files) > 0 {
			chunks = append(chunks, cur)
		}
		cur, used = &diff.Diff{}, 0
	}
	// place adds hunk h of f to the current chunk, opening a new chunk
	// when it does not fit. It reports false when h cannot fit even an
	// empty chunk.
	place := func(f *diff.File, h *diff.Hunk, cost int) bool {
		hc := fileCost(f)
		if n := len(cur.Files); n > 0 && sameFile(cur.Files[n-1], f) {
			hc = 0 // the file header is already in this chunk
		}
		if used+hc+cost > budget {
			if fileCost(f)+cost > budget {
				return false
			}
			flush()
			hc = fileCost(f)
		}
		if hc > 0 {
			nf := *f
			nf.Hunks = nil
			cur.Files = append(cur.Files, &nf)
		}
		last := cur.Files[len(cur.Files)-1]
		if h != nil {
			last.Hunks = append(last.Hunks, h)
		}
		used += hc + cost
		return true
	}
	for _, f := range d.Files {
		if f.Binary {
			continue // reported once for every reviewer by the pipeline
		}
		if len(f.Hunks) == 0 {
			if !place(f, nil, 0) {
				skipped = append(skipped, Skipped{File: f.Path(), Reason: "file header alone exceeds the reviewer's input budget"})
			}
			continue
		}
		for _, h := range f.Hunks {
			cost := hunkOverhead
			for i := range h.Lines {
				cost += lineCost(&h.Lines[i])
			}
			if place(f, h, cost) {
				continue
			}
			skipped = append(skipped, splitHunk(f, h, budget, place)...)
		}
	}
	flush()
	return chunks, skipped
}

// splitHunk cuts a hunk too large for one chunk into runs of whole lines,
// each placed as a hunk of its own with its true line numbers.
func splitHunk(f *diff.File, h *diff.Hunk, budget int, place func(*diff.File, *diff.Hunk, int) bool) (skipped []Skipped) {
	room := budget - fileCost(f) - hunkOverhead
	start := 0
	for start < len(h.Lines) {
		cost, end := 0, start
		for end < len(h.Lines) && cost+lineCost(&h.Lines[end]) <= room {
			cost += lineCost(&h.Lines[end])
			end++
		}
		if end == start {
			l := &h.Lines[start]
			skipped = append(skipped, Skipped{
				File: f.Path(), StartLine: l.NewLine, EndLine: l.NewLine,
				Reason: fmt.Sprintf("line of %d bytes exceeds the reviewer's input budget", len(l.Content)),
			})
			start++
			continue
		}
		piece := subHunk(h, start, end)
		if !place(f, piece, cost+hunkOverhead) {
			// Cannot happen: room was computed for an empty chunk.
			skipped = append(skipped, Skipped{File: f.Path(), StartLine: piece.NewStart, EndLine: piece.NewStart + piece.NewLines - 1, Reason: "does not fit the reviewer's input budget"})
		}
		start = end
	}
	return skipped
}

// subHunk is lines [i, j) of h as a hunk with consistent ranges.
func subHunk(h *diff.Hunk, i, j int) *diff.Hunk {
	p := &diff.Hunk{Section: h.Section, Lines: h.Lines[i:j:j]}
	oldNext, newNext := h.OldStart, h.NewStart
	for k := 0; k < i; k++ {
		switch h.Lines[k].Kind {
		case diff.Add:
			newNext++
		case diff.Delete:
			oldNext++
		default:
			oldNext++
			newNext++
		}
	}
	p.OldStart, p.NewStart = oldNext, newNext
	for _, l := range p.Lines {
		switch l.Kind {
		case diff.Add:
			p.NewLines++
		case diff.Delete:
			p.OldLines++
		default:
			p.OldLines++
			p.NewLines++
		}
	}
	return p
}

func sameFile(a, b *diff.File) bool { return a.OldPath == b.OldPath && a.NewPath == b.NewPath }

// linesOf lists the new-file line range each hunk of a chunk covers, for
// reporting a chunk that failed as skipped.
func linesOf(d *diff.Diff, reviewer, reason string) []Skipped {
	var out []Skipped
	for _, f := range d.Files {
		if len(f.Hunks) == 0 {
			out = append(out, Skipped{File: f.Path(), Reviewer: reviewer, Reason: reason})
			continue
		}
		for _, h := range f.Hunks {
			s := Skipped{File: f.Path(), Reviewer: reviewer, Reason: reason}
			if h.NewLines > 0 {
				s.StartLine, s.EndLine = h.NewStart, h.NewStart+h.NewLines-1
			}
			out = append(out, s)
		}
	}
	return out
}
