// Package apperr is diffgate's error vocabulary: a kind that decides how an
// error is answered, a public message safe to show anyone, and the wrapped
// internal cause that is only ever logged (after redaction).
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error. The server maps kinds to HTTP status in one
// place; nothing else looks at status codes.
type Kind int

const (
	Internal Kind = iota
	Invalid
	NotFound
	Conflict
	Unauthorized
	Forbidden
	RateLimited
	PaymentRequired
	TooLarge
	Unavailable
	UnsupportedMedia
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case RateLimited:
		return "rate_limited"
	case PaymentRequired:
		return "payment_required"
	case TooLarge:
		return "too_large"
	case Unavailable:
		return "unavailable"
	case UnsupportedMedia:
		return "unsupported_media_type"
	}
	return "internal"
}

// Error is an error with a kind and a public message.
type Error struct {
	Kind Kind
	// Public is shown to the caller; it never holds secrets, code or
	// internal detail.
	Public string
	// Cause is the internal detail, for logs only.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Public + ": " + e.Cause.Error()
	}
	return e.Public
}

func (e *Error) Unwrap() error { return e.Cause }

// New makes an error of kind with a public message.
func New(kind Kind, public string) *Error { return &Error{Kind: kind, Public: public} }

// Newf is New with formatting of the public message.
func Newf(kind Kind, format string, a ...any) *Error {
	return &Error{Kind: kind, Public: fmt.Sprintf(format, a...)}
}

// Wrap attaches an internal cause to a public message.
func Wrap(kind Kind, public string, cause error) *Error {
	return &Error{Kind: kind, Public: public, Cause: cause}
}

// KindOf is the kind of the first *Error in err's chain; Internal when none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// PublicMessage is what may be shown for err: the public message of its
// *Error, or a generic text for anything else, so internal detail never
// reaches a caller by accident.
func PublicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Public != "" {
		return e.Public
	}
	return "internal error"
}
