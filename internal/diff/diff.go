// Package diff parses unified diffs (git diff, git format-patch, diff -u,
// diff -ruN) into files, hunks and lines that know their line numbers.
//
// The parser is pure: it never touches the file system and never logs. Line
// contents are substrings of the input, so parsing allocates little beyond the
// structure itself.
package diff

import "fmt"

// DefaultMaxSize is the default limit on the size of a diff, in bytes (R1).
const DefaultMaxSize = 2 << 20

// Status says what happened to a file.
type Status int

const (
	Modified Status = iota
	Added
	Deleted
	Renamed
	Copied
)

func (s Status) String() string {
	switch s {
	case Added:
		return "added"
	case Deleted:
		return "deleted"
	case Renamed:
		return "renamed"
	case Copied:
		return "copied"
	default:
		return "modified"
	}
}

// Kind is the kind of one line of a hunk.
type Kind uint8

const (
	Context Kind = iota
	Add
	Delete
)

// Diff is a parsed unified diff.
type Diff struct {
	Files []*File
	// Omitted lists files the input names without showing their change,
	// so that a review can say they were not reviewed (R5).
	Omitted []Omitted
}

// Omitted is a file named by the input whose change is not shown: "Only in
// dir: name" of diff -r without -N, git's "* Unmerged path", or a file
// the caller knows was left out (untracked files).
type Omitted struct {
	Path   string
	Reason string
}

// File is the change to one file.
type File struct {
	// OldPath and NewPath are the paths without the a/ and b/ prefixes and
	// with quoting undone. OldPath is empty for an added file, NewPath for a
	// deleted one.
	OldPath string
	NewPath string
	Status  Status
	// Similarity is the similarity index of a rename or copy, in percent;
	// -1 when the diff does not give one.
	Similarity int
	// OldMode and NewMode are the octal file modes ("100644") when the diff
	// gives them.
	OldMode string
	NewMode string
	Binary  bool
	Hunks   []*Hunk
}

// Path is the path a reviewer reports against: the new path, or the old
// one for a deleted file.
func (f *File) Path() string {
	if f.NewPath != "" {
		return f.NewPath
	}
	return f.OldPath
}

// Hunk is one @@ section.
type Hunk struct {
	OldStart, OldLines int
	NewStart, NewLines int
	// Section is the text after the closing @@ (often a function name).
	Section string
	Lines   []Line
}

// Line is one line of a hunk.
type Line struct {
	Kind Kind
	// Content is the line without its +, - or space prefix and without the
	// line ending (a trailing CR of a CRLF line is removed too).
	Content string
	// OldLine and NewLine are 1-based line numbers in the old and new file;
	// 0 where the line does not exist on that side.
	OldLine int
	NewLine int
	// NoNewline is set when the line is followed by
	// "\ No newline at end of file".
	NoNewline bool
	// CRLF is set when the line ended in CRLF.
	CRLF bool
}

// ParseError is malformed input. Line is the 1-based line of the input.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("malformed diff at line %d: %s", e.Line, e.Msg)
}

// TooLargeError is a diff over the size limit. It is refused whole, never
// truncated.
type TooLargeError struct {
	Size  int64 // bytes seen; at least Limit+1 when the input was streamed
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("diff is larger than the limit of %d bytes", e.Limit)
}
