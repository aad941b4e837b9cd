package review

// Result is the outcome of a review by one or more reviewers.
type Result struct {
	// Findings are checked against the diff (R2), merged across reviewers
	// (R4) and sorted by file, then line, then severity (highest first).
	Findings  []Finding        `json:"findings"`
	Reviewers []ReviewerResult `json:"reviewers"`
	// Skipped lists every part of the diff some reviewer did not review (R5).
	Skipped []Skipped `json:"skipped"`
	// Files is the number of files in the diff.
	Files int `json:"files"`
}

// ReviewerResult is how one reviewer fared.
type ReviewerResult struct {
	Name  string `json:"name"`
	Model string `json:"model,omitempty"`
	// OK is false when the reviewer failed; Error then says why in one line
	// that is safe to show (no keys, no code).
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Usage    Usage  `json:"usage"`
	Chunks   int    `json:"chunks"`
	Findings int    `json:"findings"`
	// Dropped counts findings that named a file outside the diff; they are
	// never reported at a wrong place (R2).
	Dropped    int   `json:"dropped,omitempty"`
	DurationMS int64 `json:"duration_ms"`
}

// Failed reports whether any reviewer failed.
func (r *Result) Failed() bool {
	for _, rv := range r.Reviewers {
		if !rv.OK {
			return true
		}
	}
	return false
}
