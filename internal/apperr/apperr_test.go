package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindAndPublic(t *testing.T) {
	cause := errors.New("pq: relation users does not exist")
	tests := []struct {
		err    error
		kind   Kind
		public string
	}{
		{New(NotFound, "key not found"), NotFound, "key not found"},
		{fmt.Errorf("revoke key: %w", Wrap(Conflict, "already revoked", cause)), Conflict, "already revoked"},
		{cause, Internal, "internal error"},
		{fmt.Errorf("x: %w", cause), Internal, "internal error"},
		{Newf(Invalid, "field %q is required", "email"), Invalid, `field "email" is required`},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.kind {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.kind)
		}
		if got := PublicMessage(tt.err); got != tt.public {
			t.Errorf("PublicMessage(%v) = %q, want %q", tt.err, got, tt.public)
		}
	}
	w := Wrap(Internal, "could not save", cause)
	if !errors.Is(w, cause) {
		t.Error("Wrap does not unwrap to its cause")
	}
}
