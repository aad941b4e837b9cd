package apikey

import (
	"slices"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Scopes a key may carry (K2). A request outside its key's scopes gets 403.
const (
	ScopeReviewsWrite = "reviews:write"
	ScopeReviewsRead  = "reviews:read"
	ScopeKeysManage   = "keys:manage"
	ScopeUsageRead    = "usage:read"
	// ScopeWebhooksManage registers, pauses, rotates and deletes webhooks.
	ScopeWebhooksManage = "webhooks:manage"
)

// AllScopes lists every known scope, sorted.
func AllScopes() []string {
	return []string{ScopeKeysManage, ScopeReviewsRead, ScopeReviewsWrite, ScopeUsageRead, ScopeWebhooksManage}
}

// DefaultScopes are given to a new key when its creator names none: enough
// to review, not enough to manage keys or read billing.
func DefaultScopes() []string {
	return []string{ScopeReviewsRead, ScopeReviewsWrite}
}

// ParseScopes validates requested scopes and returns them sorted without
// duplicates. An empty request yields an empty list; callers apply
// DefaultScopes themselves so that "no scopes" is never silently widened.
func ParseScopes(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		switch s {
		case ScopeReviewsWrite, ScopeReviewsRead, ScopeKeysManage, ScopeUsageRead, ScopeWebhooksManage:
			out = append(out, s)
		default:
			if len(s) > 64 {
				s = s[:64] + "…"
			}
			return nil, apperr.Newf(apperr.Invalid, "unknown scope %q", s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Has reports whether scopes grants want.
func Has(scopes []string, want string) bool {
	return slices.Contains(scopes, want)
}
