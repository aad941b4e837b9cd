package review

import (
	"context"

	"github.com/diffgate/diffgate/internal/diff"
)

// Reviewer gives an opinion on a diff. Review may be called concurrently
// with different chunks of one diff.
type Reviewer interface {
	// Name is the reviewer's name as the user writes it ("builtin", "anthropic").
	Name() string
	Review(ctx context.Context, d *diff.Diff) (*Report, error)
}

// Budgeted is implemented by reviewers whose input is limited (LLMs). The
// pipeline splits a diff into chunks of at most InputBudget estimated tokens
// (see EstimateTokens) and sends each chunk on its own.
type Budgeted interface {
	InputBudget() int
}

// Usage is the token usage of a reviewer.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

// Add sums usage.
func (u *Usage) Add(o Usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
}

// Report is what one reviewer said about one diff or chunk.
type Report struct {
	Findings []Finding
	Usage    Usage
	// Model is the model that answered, when the reviewer is an LLM.
	Model string
	// Skipped lists parts the reviewer saw but could not review.
	Skipped []Skipped
}

// Skipped is a part of the diff that was not reviewed, and why (R5). Lines
// are of the new file; both 0 means the whole file.
type Skipped struct {
	File      string `json:"file"`
	StartLine int    `json:"start_line,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
	Reviewer  string `json:"reviewer,omitempty"` // empty: skipped for every reviewer
	Reason    string `json:"reason"`
}

// EstimateTokens is a cheap, conservative estimate of the tokens a text
// takes: about three bytes a token, which over-counts English and code
// for every tokenizer we target, so a chunk never overflows a budget.
func EstimateTokens(s string) int { return (len(s) + 2) / 3 }
