package server

import (
	"net/http"
	"strings"

	"github.com/diffgate/diffgate/internal/apikey"
)

// route is one endpoint. The table below is the whole API surface; the
// OpenAPI test checks the document against it.
type route struct {
	pattern string // "METHOD /path"
	handler http.Handler
}

func (s *Server) routeTable() []route {
	h := func(f http.HandlerFunc) http.Handler { return f }
	return []route{
		{"GET /healthz", h(s.handleHealthz)},
		{"GET /readyz", h(s.handleReadyz)},
		{"GET /v1/openapi.json", h(s.handleOpenAPI)},

		{"POST /v1/setup", h(s.handleSetup)},
		{"POST /v1/auth/signup", h(s.handleSignup)},
		{"POST /v1/auth/login", h(s.handleLogin)},
		{"POST /v1/auth/refresh", h(s.handleRefresh)},
		{"POST /v1/auth/logout", h(s.handleLogout)},
		{"POST /v1/auth/password", s.authed("", true, s.handlePassword)},
		{"GET /v1/me", s.authed("", false, s.handleMe)},

		{"POST /v1/keys", s.authed(apikey.ScopeKeysManage, false, s.handleCreateKey)},
		{"GET /v1/keys", s.authed(apikey.ScopeKeysManage, false, s.handleListKeys)},
		{"DELETE /v1/keys/{id}", s.authed(apikey.ScopeKeysManage, false, s.handleRevokeKey)},

		{"POST /v1/reviews", s.authed(apikey.ScopeReviewsWrite, false, s.handleReview)},
		{"GET /v1/reviews/{id}", s.authed(apikey.ScopeReviewsRead, false, s.handleGetReview)},
		{"POST /v1/reviews/quote", s.authed(apikey.ScopeReviewsWrite, false, s.handleQuote)},
		{"GET /v1/requests", s.authed(apikey.ScopeUsageRead, false, s.handleRequestLog)},
		{"GET /v1/credits", s.authed(apikey.ScopeUsageRead, false, s.handleCredits)},
		{"POST /v1/admin/credits", s.authed("", true, s.handleGrant)},
		{"GET /v1/admin/credits", s.authed("", true, s.handleUserCredits)},
		{"POST /v1/admin/reviews/{id}/refund", s.authed("", true, s.handleRefund)},
		{"POST /v1/webhooks", s.authed(apikey.ScopeWebhooksManage, false, s.handleCreateWebhook)},
		{"GET /v1/webhooks", s.authed(apikey.ScopeWebhooksManage, false, s.handleListWebhooks)},
		{"DELETE /v1/webhooks/{id}", s.authed(apikey.ScopeWebhooksManage, false, s.handleDeleteWebhook)},
		{"POST /v1/webhooks/{id}/pause", s.authed(apikey.ScopeWebhooksManage, false, s.handlePauseWebhook(true))},
		{"POST /v1/webhooks/{id}/resume", s.authed(apikey.ScopeWebhooksManage, false, s.handlePauseWebhook(false))},
		{"POST /v1/webhooks/{id}/rotate", s.authed(apikey.ScopeWebhooksManage, false, s.handleRotateWebhook)},
		{"POST /v1/webhooks/{id}/test", s.authed(apikey.ScopeWebhooksManage, false, s.handleTestWebhook)},
		{"GET /v1/webhooks/{id}/deliveries", s.authed(apikey.ScopeWebhooksManage, false, s.handleWebhookDeliveries)},
		{"GET /v1/billing/packs", s.authed("", false, s.handlePacks)},
		{"POST /v1/billing/checkout", s.authed("", false, s.handleCheckout)},
		{"POST /v1/billing/stripe-webhook", h(s.handleStripeWebhook)},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		mux.Handle(rt.pattern, rt.handler)
	}
	// The mux's own answers (404 for an unknown path, 405 with Allow for a
	// wrong method) become problem documents like every other error.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(&problemWriter{ResponseWriter: w, r: r}, r)
	})
}

// problemWriter turns a plain-text error written by the mux into a
// problem document; handlers never write text/plain.
type problemWriter struct {
	http.ResponseWriter
	r         *http.Request
	converted bool
}

func (p *problemWriter) WriteHeader(code int) {
	h := p.Header()
	if code >= 400 && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		p.converted = true
		detail := "no such endpoint; see /v1/openapi.json"
		if code == http.StatusMethodNotAllowed {
			detail = "method not allowed; allowed: " + h.Get("Allow")
		}
		kind := "not_found"
		if code == http.StatusMethodNotAllowed {
			kind = "method_not_allowed"
		}
		writeProblem(p.ResponseWriter, Problem{Type: ProblemBase + kind, Title: http.StatusText(code), Status: code,
			Detail: detail, Instance: p.r.URL.Path, RequestID: requestID(p.r.Context())})
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if p.converted {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

func (p *problemWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz reports whether the database answers; a load balancer stops
// sending traffic while it does not.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if err := s.Store.Ping(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "not ready", "error", err)
		writeProblem(w, Problem{Type: ProblemBase + "unavailable", Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "database unavailable", RequestID: requestID(r.Context())})
		return
	}
	if s.Ready != nil {
		if err := s.Ready(r.Context()); err != nil {
			writeProblem(w, Problem{Type: ProblemBase + "unavailable", Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
				Detail: "shutting down", RequestID: requestID(r.Context())})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Routes lists every "METHOD /path" the server serves, for documentation
// checks.
func Routes() []string {
	var s Server
	var out []string
	for _, r := range s.routeTable() {
		out = append(out, r.pattern)
	}
	return out
}
