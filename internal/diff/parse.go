package diff

import (
	"fmt"
	"io"
	"strings"
)

// Parse parses a whole diff held in memory. It does not apply a size limit;
// Read does. Blank input gives an empty Diff; other input without a single
// file header is a *ParseError. Everything before the first file header
// (a format-patch mail header, a commit message) is ignored.
func Parse(data []byte) (*Diff, error) {
	// One conversion: every Line.Content is a substring of s, so the parsed
	// diff never aliases the caller's buffer and lines cost no allocation.
	s := string(data)
	p := parser{s: s}
	// One Line per input line is an upper bound, so the arena never grows
	// and hunks can keep sub-slices of it.
	p.arena = make([]Line, 0, strings.Count(s, "\n")+1)
	d, err := p.parse()
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Read reads at most limit bytes from r and parses them; a longer input is a
// *TooLargeError and is not parsed at all. A limit of zero or less means
// DefaultMaxSize.
func Read(r io.Reader, limit int64) (*Diff, error) {
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	// Reading one byte past the limit is how an oversized stream is told
	// apart from one of exactly the limit without reading it all.
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read diff: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Size: int64(len(data)), Limit: limit}
	}
	return Parse(data)
}

// maxNum bounds the numbers of a hunk header so that line arithmetic cannot
// overflow on hostile input.
const maxNum = 1_000_000_000

const slabSize = 32

type parser struct {
	s    string
	pos  int // offset of the next unread line
	line int // 1-based number of the line last read

	arena []Line
	files []File
	hunks []Hunk
}

// next returns the next line without its '\n'.
func (p *parser) next() (string, bool) {
	if p.pos >= len(p.s) {
		return "", false
	}
	rest := p.s[p.pos:]
	i := strings.IndexByte(rest, '\n')
	p.line++
	if i < 0 {
		p.pos = len(p.s)
		return rest, true
	}
	p.pos += i + 1
	return rest[:i], true
}

type mark struct{ pos, line int }

func (p *parser) mark() mark   { return mark{p.pos, p.line} }
func (p *parser) reset(m mark) { p.pos, p.line = m.pos, m.line }
func (p *parser) errf(line int, format string, args ...any) error {
	return &ParseError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// peek returns the line after the next one is read, without consuming it.
func (p *parser) peek() (string, bool) {
	m := p.mark()
	l, ok := p.next()
	p.reset(m)
	return l, ok
}

func (p *parser) newFile() *File {
	if len(p.files) == cap(p.files) {
		p.files = make([]File, 0, slabSize)
	}
	p.files = p.files[:len(p.files)+1]
	f := &p.files[len(p.files)-1]
	f.Similarity = -1
	return f
}

func (p *parser) newHunk() *Hunk {
	if len(p.hunks) == cap(p.hunks) {
		p.hunks = make([]Hunk, 0, slabSize)
	}
	p.hunks = p.hunks[:len(p.hunks)+1]
	return &p.hunks[len(p.hunks)-1]
}

func trimCR(l string) string {
	if len(l) > 0 && l[len(l)-1] == '\r' {
		return l[:len(l)-1]
	}
	return l
}

func (p *parser) parse() (*Diff, error) {
	d := &Diff{}
	firstText := 0
	for {
		l, ok := p.next()
		if !ok {
			break
		}
		t := trimCR(l)
		if firstText == 0 && strings.TrimSpace(t) != "" {
			firstText = p.line
		}
		switch {
		case strings.HasPrefix(t, "diff --git "):
			f, err := p.gitFile(t[len("diff --git "):])
			if err != nil {
				return nil, err
			}
			d.Files = append(d.Files, f)
		case strings.HasPrefix(t, "--- "):
			next, ok := p.peek()
			if !ok || !strings.HasPrefix(next, "+++ ") {
				continue
			}
			p.next()
			f, err := p.plainFile(t, trimCR(next))
			if err != nil {
				return nil, err
			}
			d.Files = append(d.Files, f)
		case strings.HasPrefix(t, "Only in "):
			// diff -r without -N names a file present on one side only and
			// shows nothing of it.
			if dir, name, ok := strings.Cut(t[len("Only in "):], ": "); ok {
				d.Omitted = append(d.Omitted, Omitted{
					Path:   strings.TrimSuffix(dir, "/") + "/" + name,
					Reason: "only in one tree: diff -r shows no content without -N",
				})
			}
		case strings.HasPrefix(t, "* Unmerged path "):
			d.Omitted = append(d.Omitted, Omitted{
				Path:   unquoteMaybe(t[len("* Unmerged path "):]),
				Reason: "unmerged path: resolve the conflict to review it",
			})
		case strings.HasPrefix(t, "@@"):
			// Hunks are consumed right after their file header, so one
			// found here has no file to belong to.
			return nil, p.errf(p.line, "hunk before any file header")
		case isBinaryLine(t):
			// diff -r reports binary files with this line alone.
			f := p.newFile()
			f.Binary = true
			a, b := splitBinary(t)
			if a == devNull {
				f.Status = Added
			} else if b == devNull {
				f.Status = Deleted
			}
			f.OldPath, f.NewPath = stripPlain(a, b)
			finishPaths(f)
			d.Files = append(d.Files, f)
		}
	}
	if len(d.Files) == 0 && len(d.Omitted) == 0 && firstText != 0 {
		return nil, p.errf(firstText, "no file header found")
	}
	return d, nil
}

const devNull = "/dev/null"

// gitFile parses a "diff --git" header (rest is what follows "diff --git "),
// its extended header lines and its hunks.
func (p *parser) gitFile(rest string) (*File, error) {
	f := p.newFile()
	hdrLine := p.line
	a, b := splitGitHeader(rest)
	// git puts two different one-letter prefixes before the paths (a/ b/,
	// or i/ w/ and the like with diff.mnemonicPrefix); with --no-prefix
	// there are none, and a path's own one-letter top directory must stay.
	prefixed := hasGitPrefix(a) && hasGitPrefix(b) && a[0] != b[0]
	strip := func(s string) string {
		if prefixed && hasGitPrefix(s) {
			return s[2:]
		}
		return s
	}
	f.OldPath, f.NewPath = strip(a), strip(b)
	hasHunks := false
loop:
	for {
		m := p.mark()
		l, ok := p.next()
		if !ok {
			break
		}
		t := trimCR(l)
		switch {
		case strings.HasPrefix(t, "old mode "):
			f.OldMode = t[len("old mode "):]
		case strings.HasPrefix(t, "new mode "):
			f.NewMode = t[len("new mode "):]
		case strings.HasPrefix(t, "deleted file mode "):
			f.OldMode = t[len("deleted file mode "):]
			f.Status = Deleted
		case strings.HasPrefix(t, "new file mode "):
			f.NewMode = t[len("new file mode "):]
			f.Status = Added
		case strings.HasPrefix(t, "similarity index "):
			f.Similarity = percent(t[len("similarity index "):])
		case strings.HasPrefix(t, "dissimilarity index "):
			// A broken-up rewrite; the file keeps its status.
		case strings.HasPrefix(t, "rename from "):
			f.OldPath = unquoteMaybe(t[len("rename from "):])
			f.Status = Renamed
		case strings.HasPrefix(t, "rename to "):
			f.NewPath = unquoteMaybe(t[len("rename to "):])
			f.Status = Renamed
		case strings.HasPrefix(t, "copy from "):
			f.OldPath = unquoteMaybe(t[len("copy from "):])
			f.Status = Copied
		case strings.HasPrefix(t, "copy to "):
			f.NewPath = unquoteMaybe(t[len("copy to "):])
			f.Status = Copied
		case strings.HasPrefix(t, "index "):
			// "index abc..def 100644" gives the mode of an unchanged-mode file.
			if i := strings.LastIndexByte(t, ' '); i > len("index ") {
				mode := t[i+1:]
				if f.OldMode == "" && f.Status != Added {
					f.OldMode = mode
				}
				if f.NewMode == "" && f.Status != Deleted {
					f.NewMode = mode
				}
			}
		case isBinaryLine(t):
			f.Binary = true
			a, b := splitBinary(t)
			gitSides(f, a, b, strip)
		case t == "GIT binary patch":
			f.Binary = true
			p.skipBinaryPatch()
		case strings.HasPrefix(t, "--- "):
			next, ok := p.peek()
			if !ok || !strings.HasPrefix(next, "+++ ") {
				return nil, p.errf(p.line, "\"---\" line not followed by \"+++\"")
			}
			p.next()
			a, _ := headerName(t[len("--- "):])
			b, _ := headerName(trimCR(next)[len("+++ "):])
			gitSides(f, a, b, strip)
			hasHunks = true
			break loop
		default:
			p.reset(m)
			break loop
		}
	}
	if f.OldPath == "" && f.NewPath == "" {
		return nil, p.errf(hdrLine, "cannot read the paths of \"diff --git\" header")
	}
	if strings.ContainsRune(f.OldPath, '\r') || strings.ContainsRune(f.NewPath, '\r') {
		return nil, p.errf(hdrLine, "carriage return inside a path (a diff with CR-only line endings is not supported)")
	}
	if hasHunks {
		if err := p.hunksOf(f); err != nil {
			return nil, err
		}
	}
	finishPaths(f)
	return f, nil
}

// gitSides takes the prefixed paths of a ---/+++ or Binary line; they are
// exact where the "diff --git" line may be ambiguous.
func gitSides(f *File, a, b string, strip func(string) string) {
	renamed := f.Status == Renamed || f.Status == Copied
	if a == devNull {
		f.Status = Added
	} else if !renamed {
		f.OldPath = strip(a)
	}
	if b == devNull {
		f.Status = Deleted
	} else if !renamed {
		f.NewPath = strip(b)
	}
}

// plainFile parses a file introduced by ---/+++ alone (diff -u, diff -ruN).
func (p *parser) plainFile(oldHdr, newHdr string) (*File, error) {
	f := p.newFile()
	a, aTime := headerName(oldHdr[len("--- "):])
	b, bTime := headerName(newHdr[len("+++ "):])
	if strings.ContainsRune(a, '\r') || strings.ContainsRune(b, '\r') {
		return nil, p.errf(p.line, "carriage return inside a path (a diff with CR-only line endings is not supported)")
	}
	if err := p.hunksOf(f); err != nil {
		return nil, err
	}
	switch {
	case a == devNull:
		f.Status = Added
	case b == devNull:
		f.Status = Deleted
	case isEpoch(aTime) && len(f.Hunks) == 1 && f.Hunks[0].OldStart == 0 && f.Hunks[0].OldLines == 0:
		// diff -N stands in an empty file dated at the epoch for a missing one.
		f.Status = Added
	case isEpoch(bTime) && len(f.Hunks) == 1 && f.Hunks[0].NewStart == 0 && f.Hunks[0].NewLines == 0:
		f.Status = Deleted
	}
	f.OldPath, f.NewPath = stripPlain(a, b)
	finishPaths(f)
	return f, nil
}

func finishPaths(f *File) {
	switch f.Status {
	case Added:
		f.OldPath = ""
	case Deleted:
		f.NewPath = ""
	}
	if f.OldPath == devNull {
		f.OldPath = ""
	}
	if f.NewPath == devNull {
		f.NewPath = ""
	}
}

// isBinaryLine reports "Binary files A and B differ".
func isBinaryLine(t string) bool {
	return len(t) >= len("Binary files  differ") &&
		strings.HasPrefix(t, "Binary files ") && strings.HasSuffix(t, " differ")
}

func isEpoch(ts string) bool {
	// West of UTC the epoch is still 1969 in local time.
	return strings.HasPrefix(ts, "1970-01-01 ") || strings.HasPrefix(ts, "1969-12-31 ") ||
		strings.HasSuffix(ts, " 1970") && strings.Contains(ts, "Jan  1")
}

// hunksOf reads the hunks that directly follow a file header.
func (p *parser) hunksOf(f *File) error {
	for {
		m := p.mark()
		l, ok := p.next()
		if !ok {
			return nil
		}
		t := trimCR(l)
		if !strings.HasPrefix(t, "@@") {
			p.reset(m)
			break
		}
		h, err := p.hunk(t)
		if err != nil {
			return err
		}
		f.Hunks = append(f.Hunks, h)
	}
	if len(f.Hunks) == 0 {
		return nil
	}
	// A hunk line right after the last hunk means the counts were short.
	l, ok := p.peek()
	if !ok || l == "" {
		return nil
	}
	switch l[0] {
	case '+', '-', ' ':
		t := trimCR(l)
		if t == "-- " { // format-patch signature
			return nil
		}
		if strings.HasPrefix(t, "--- ") {
			m := p.mark()
			p.next()
			next, ok := p.peek()
			p.reset(m)
			if ok && strings.HasPrefix(next, "+++ ") {
				return nil
			}
		}
		return p.errf(p.line+1, "hunk has more lines than its header says")
	}
	return nil
}

// hunk parses one hunk whose header line hdr was just read.
func (p *parser) hunk(hdr string) (*Hunk, error) {
	hdrLine := p.line
	h := p.newHunk()
	if err := parseHunkHeader(hdr, h); err != "" {
		return nil, p.errf(hdrLine, "bad hunk header: %s", err)
	}
	oldLeft, newLeft := h.OldLines, h.NewLines
	oldNo, newNo := h.OldStart, h.NewStart
	start := len(p.arena)
	for oldLeft > 0 || newLeft > 0 {
		l, ok := p.next()
		if !ok {
			return nil, p.errf(p.line, "hunk at line %d ends early: %d old and %d new lines missing", hdrLine, oldLeft, newLeft)
		}
		var kind Kind
		content := ""
		if l == "" || l == "\r" {
			// Editors and mailers strip the space of an empty context line.
			kind = Context
		} else {
			switch l[0] {
			case ' ':
				kind = Context
			case '-':
				kind = Delete
			case '+':
				kind = Add
			case '\\':
				if len(p.arena) == start {
					return nil, p.errf(p.line, "\"\\\" line with no line before it")
				}
				p.arena[len(p.arena)-1].NoNewline = true
				continue
			default:
				if strings.HasPrefix(l, "@@") || strings.HasPrefix(l, "diff ") {
					return nil, p.errf(p.line, "hunk at line %d ends early: %d old and %d new lines missing", hdrLine, oldLeft, newLeft)
				}
				return nil, p.errf(p.line, "bad hunk line prefix %q", l[0])
			}
			content = l[1:]
		}
		crlf := false
		if n := len(content); n > 0 && content[n-1] == '\r' {
			content = content[:n-1]
			crlf = true
		} else if l == "\r" {
			crlf = true
		}
		ln := Line{Kind: kind, Content: content, CRLF: crlf}
		switch kind {
		case Context:
			if oldLeft == 0 || newLeft == 0 {
				return nil, p.errf(p.line, "hunk has more context lines than its header says")
			}
			ln.OldLine, ln.NewLine = oldNo, newNo
			oldNo++
			newNo++
			oldLeft--
			newLeft--
		case Delete:
			if oldLeft == 0 {
				return nil, p.errf(p.line, "hunk has more deleted lines than its header says")
			}
			ln.OldLine = oldNo
			oldNo++
			oldLeft--
		case Add:
			if newLeft == 0 {
				return nil, p.errf(p.line, "hunk has more added lines than its header says")
			}
			ln.NewLine = newNo
			newNo++
			newLeft--
		}
		p.arena = append(p.arena, ln)
	}
	// The marker for the last line comes after the counts are used up.
	if l, ok := p.peek(); ok && len(l) > 0 && l[0] == '\\' && len(p.arena) > start {
		p.next()
		p.arena[len(p.arena)-1].NoNewline = true
	}
	end := len(p.arena)
	h.Lines = p.arena[start:end:end]
	return h, nil
}

// parseHunkHeader parses "@@ -a[,b] +c[,d] @@[ section]"; it returns a
// reason when the header is malformed.
func parseHunkHeader(t string, h *Hunk) string {
	if !strings.HasPrefix(t, "@@ -") {
		return "want \"@@ -\""
	}
	s := t[len("@@ -"):]
	var ok bool
	if h.OldStart, h.OldLines, s, ok = parseRange(s); !ok {
		return "bad old range"
	}
	if !strings.HasPrefix(s, " +") {
		return "want \" +\""
	}
	if h.NewStart, h.NewLines, s, ok = parseRange(s[2:]); !ok {
		return "bad new range"
	}
	if !strings.HasPrefix(s, " @@") {
		return "want closing \" @@\""
	}
	s = s[len(" @@"):]
	if s != "" && s[0] != ' ' {
		return "want space after closing \"@@\""
	}
	if s != "" {
		h.Section = s[1:]
	}
	if h.OldLines > 0 && h.OldStart == 0 || h.NewLines > 0 && h.NewStart == 0 {
		return "line 0 with a nonzero count"
	}
	return ""
}

// parseRange parses "start[,count]"; an omitted count is 1.
func parseRange(s string) (start, count int, rest string, ok bool) {
	start, s, ok = parseNum(s)
	if !ok {
		return 0, 0, "", false
	}
	count = 1
	if s != "" && s[0] == ',' {
		count, s, ok = parseNum(s[1:])
		if !ok {
			return 0, 0, "", false
		}
	}
	return start, count, s, true
}

func parseNum(s string) (int, string, bool) {
	n, i := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n >= maxNum {
			return 0, "", false
		}
	}
	if i == 0 {
		return 0, "", false
	}
	return n, s[i:], true
}

func percent(s string) int {
	n, rest, ok := parseNum(s)
	if !ok || rest != "%" || n > 100 {
		return -1
	}
	return n
}

// skipBinaryPatch skips the base85 blocks of a "GIT binary patch"; their
// lines never contain a space, unlike any header that may follow.
func (p *parser) skipBinaryPatch() {
	for {
		m := p.mark()
		l, ok := p.next()
		if !ok {
			return
		}
		t := trimCR(l)
		if t == "" || strings.HasPrefix(t, "literal ") || strings.HasPrefix(t, "delta ") || isBase85(t) {
			continue
		}
		p.reset(m)
		return
	}
}

func isBase85(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case strings.IndexByte("!#$%&()*+-;<=>?@^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
