package server

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// ProblemBase prefixes a problem's type with a stable identifier per kind.
const ProblemBase = "https://diffgate.dev/problems/"

// statusOf maps an error kind to its HTTP status. It is the only place
// that does.
func statusOf(k apperr.Kind) int {
	switch k {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.PaymentRequired:
		return http.StatusPaymentRequired
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	case apperr.UnsupportedMedia:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// writeError answers err as application/problem+json. Only the public
// message leaves the server; internal errors are logged with their cause
// (through the redacting handler, D3).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := apperr.KindOf(err)
	status := statusOf(kind)
	rid := requestID(r.Context())
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "request_id", rid, "route", r.Pattern, "error", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="diffgate"`)
	}
	writeProblem(w, Problem{
		Type:      ProblemBase + kind.String(),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    apperr.PublicMessage(err),
		Instance:  r.URL.Path,
		RequestID: rid,
	})
}

func writeProblem(w http.ResponseWriter, p Problem) {
	b, _ := json.Marshal(p) // a Problem always marshals
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, Problem{Type: ProblemBase + "internal", Title: "Internal Server Error", Status: 500})
		return
	}
	writeRawJSON(w, status, b)
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
