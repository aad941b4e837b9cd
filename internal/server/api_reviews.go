package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/cache"
	"github.com/diffgate/diffgate/internal/credits"
	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/ratelimit"
	"github.com/diffgate/diffgate/internal/report"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/store"
)

// reviewAnswer is a review's JSON answer: the report document and, for
// live keys and sessions, what it cost.
type reviewAnswer struct {
	// ID names the review for GET /v1/reviews/{id} (its metadata outlives
	// the cached findings).
	ID string `json:"id,omitempty"`
	*report.Document
	Credits *CreditsInfo `json:"credits,omitempty"`
}

// ReviewRequest is the JSON form of POST /v1/reviews. The raw form sends
// the diff as the body (text/x-diff) and the reviewers as ?reviewers=a,b.
type ReviewRequest struct {
	Diff      string   `json:"diff"`
	Reviewers []string `json:"reviewers,omitempty"`
	// Async queues the review and answers 202 with its id (also asked
	// for with "Prefer: respond-async" or ?async=true).
	Async bool `json:"async,omitempty"`
}

// handleReview reviews a diff with the server's reviewers. Nothing of the
// diff or of the findings is stored or logged (D2): the result lives only
// in the short-TTL cache, keyed by a hash (D1).
func (s *Server) handleReview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalOf(ctx)
	d, err := s.Limiter.Allow(ctx, "review:"+itoa(p.UserID))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ratelimit.WriteHeaders(w.Header(), d)
	if !d.Allowed {
		s.writeError(w, r, apperr.New(apperr.RateLimited, "review rate limit reached; see Retry-After"))
		return
	}

	text, names, async, err := s.readReview(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reviewers, err := s.pickReviewers(p, names)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entryOf(ctx).set(func(e *logEntry) { e.reviewers, e.diffBytes = names, int64(len(text)) })
	async = async || strings.Contains(strings.ToLower(r.Header.Get("Prefer")), "respond-async")
	run := func() (answer, error) {
		if !async {
			b, err := s.review(w, r, p, text, names, reviewers)
			return answer{Status: http.StatusOK, Body: b}, err
		}
		parsed, err := parseDiff(text)
		if err != nil {
			return answer{}, err
		}
		b, loc, err := s.enqueue(ctx, p, parsed, names, reviewers, credits.ForKey(p.Sandbox, credits.Quote(*s.Config.Prices, names, len(text))))
		return answer{Status: http.StatusAccepted, Location: loc, Body: b}, err
	}
	idem := r.Header.Get("Idempotency-Key")
	if idem == "" {
		a, err := run()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		a.write(w)
		return
	}
	s.reviewIdempotent(w, r, p, idem, fmt.Sprintf("%s\n%t\n%s", strings.Join(names, ","), async, text), run)
}

// answer is a review request's successful answer, kept for idempotent
// replays.
type answer struct {
	Status   int             `json:"status"`
	Location string          `json:"location,omitempty"`
	Body     json.RawMessage `json:"body"`
}

func (a answer) write(w http.ResponseWriter) {
	if a.Location != "" {
		w.Header().Set("Location", a.Location)
	}
	writeRawJSON(w, a.Status, a.Body)
}

// reviewIdempotent runs a review under an Idempotency-Key (L2): the first
// request runs and is charged; a retry with the same key and request gets
// the same answer and is charged nothing; the same key with another
// request is 409. Only a keyed hash of the request is stored; the answer
// is kept in memory as long as results are (at most 5 minutes).
func (s *Server) reviewIdempotent(w http.ResponseWriter, r *http.Request, p *Principal, idem, request string, run func() (answer, error)) {
	ctx := r.Context()
	if len(idem) > 255 || strings.ContainsFunc(idem, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		s.writeError(w, r, apperr.New(apperr.Invalid, "Idempotency-Key must be 1 to 255 printable ASCII characters"))
		return
	}
	hash := s.KeyHasher.Hash(request) // keyed: the hash reveals nothing of the code
	now := s.Now().UTC()
	// A claim older than any review can take was left by a process that
	// died mid-request; it is taken over.
	stale := now.Add(-s.Config.ReviewTimeout - time.Minute)
	state, err := s.Store.BeginIdempotent(ctx, p.UserID, idem, hash, now, stale)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	answerKey := cache.Key([]byte("idempotency"), []byte(itoa(p.UserID)), []byte(idem))
	switch state {
	case store.IdemPending:
		s.writeError(w, r, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still running; retry shortly"))
		return
	case store.IdemDone:
		var a answer
		if b, ok, err := s.Cache.Get(ctx, answerKey); err == nil && ok && json.Unmarshal(b, &a) == nil {
			w.Header().Set("Idempotent-Replayed", "true")
			a.write(w)
			return
		}
		s.writeError(w, r, apperr.New(apperr.Conflict, "this Idempotency-Key's request finished and was charged once; its answer is no longer kept (answers stay in memory for at most 5 minutes)"))
		return
	}
	a, err := run()
	// Finishing must happen even if the client has gone.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err != nil {
		if aerr := s.Store.AbandonIdempotent(fctx, p.UserID, idem); aerr != nil {
			s.log.ErrorContext(ctx, "abandon idempotency key", "error", aerr)
		}
		s.writeError(w, r, err)
		return
	}
	if b, err := json.Marshal(a); err == nil {
		if err := s.Cache.Set(fctx, answerKey, b, s.Config.CacheTTL); err != nil {
			s.log.WarnContext(ctx, "keep idempotent answer", "error", err)
		}
	}
	if err := s.Store.FinishIdempotent(fctx, p.UserID, idem); err != nil {
		s.log.ErrorContext(ctx, "finish idempotency key", "error", err)
	}
	a.write(w)
}

// review answers one review request: from the result cache when an
// identical one was answered recently, otherwise by reserving credits,
// running the reviewers and settling (charge on success only).
func (s *Server) review(w http.ResponseWriter, r *http.Request, p *Principal, text []byte, names []string, reviewers []review.Reviewer) ([]byte, error) {
	ctx := r.Context()
	entry := entryOf(ctx)

	key := cache.Key([]byte(itoa(p.UserID)), []byte(strings.Join(names, ",")), text)
	if b, ok, err := s.Cache.Get(ctx, key); err == nil && ok {
		var doc reviewAnswer
		if json.Unmarshal(b, &doc) == nil {
			entry.set(func(e *logEntry) { e.cached, e.findings, e.models = true, len(doc.Findings), modelsOf(doc.Reviewers) })
			// A cached answer costs nothing: say so, with today's balance.
			if doc.Credits != nil {
				bal, err := s.Store.Balance(ctx, p.UserID)
				if err != nil {
					return nil, err
				}
				doc.Credits = &CreditsInfo{Balance: bal}
				if b, err = json.Marshal(doc); err != nil {
					return nil, err
				}
			}
			w.Header().Set("X-Diffgate-Cache", "hit")
			return b, nil
		}
	}

	parsed, err := parseDiff(text)
	if err != nil {
		return nil, err
	}
	// The review is recorded (metadata only) with its credits reserved in
	// one transaction before any reviewer runs, and finished with the real
	// cost after. A crash in between leaves a recorded review whose lease
	// runs out; then any replica fails it, releasing its credits: a
	// reservation is never lost.
	quote := credits.ForKey(p.Sandbox, credits.Quote(*s.Config.Prices, names, len(text)))
	now := s.Now().UTC()
	rec := store.Review{ID: newReviewID(now), UserID: p.UserID, KeyID: p.KeyID, Sandbox: p.Sandbox, Reviewers: names,
		Reserved: int64(quote), CreatedAt: now, Owner: s.instance, LeaseUntil: s.lease(now)}
	if err := s.Store.CreateReview(ctx, rec, now); err != nil {
		if apperr.KindOf(err) == apperr.PaymentRequired {
			bal, _ := s.Store.Balance(ctx, p.UserID)
			err = apperr.Newf(apperr.PaymentRequired, "this review needs %d credits and the balance is %d", quote, bal)
		}
		return nil, err
	}
	job := asyncJob{id: rec.ID, principal: p, diff: parsed, reviewers: reviewers, quote: quote}
	finished := false
	defer func() {
		if !finished { // a panic on the way: release now rather than at restart
			_, _, _ = s.finishJob(context.WithoutCancel(ctx), job, nil, "internal error")
		}
	}()
	s.wg.Add(1)
	defer s.wg.Done()
	rctx, cancel := context.WithTimeout(ctx, s.Config.ReviewTimeout)
	defer cancel()
	res := review.Run(rctx, parsed, reviewers, review.Options{Now: s.Now})
	charged, balance, err := s.finishJob(context.WithoutCancel(ctx), job, res, "")
	finished = true
	if err != nil {
		return nil, err
	}
	doc := reviewAnswer{ID: rec.ID, Document: report.NewDocument(res)}
	if !p.Sandbox {
		doc.Credits = &CreditsInfo{Quoted: int64(quote), Charged: charged, Balance: balance}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	entry.set(func(e *logEntry) { e.findings, e.models = len(doc.Findings), modelsOf(doc.Reviewers) })
	if !res.Failed() {
		if err := s.Cache.Set(ctx, key, b, s.Config.CacheTTL); err != nil {
			s.log.WarnContext(ctx, "cache review result", "request_id", requestID(ctx), "error", err)
		}
	}
	w.Header().Set("X-Diffgate-Cache", "miss")
	return b, nil
}

func parseDiff(text []byte) (*diff.Diff, error) {
	d, err := diff.Parse(text)
	if err != nil {
		var pe *diff.ParseError
		if errors.As(err, &pe) {
			return nil, apperr.New(apperr.Invalid, pe.Error())
		}
		return nil, err
	}
	return d, nil
}

// readReview reads the diff, the reviewer names and whether the review is
// asynchronous, from either body form.
func (s *Server) readReview(w http.ResponseWriter, r *http.Request) ([]byte, []string, bool, error) {
	limit := s.Config.MaxDiffSize
	switch mt := mediaType(r); mt {
	case "application/json":
		// JSON escaping can double a diff's size; the diff itself is
		// checked against the limit once decoded.
		b, err := readBody(w, r, 2*limit+maxJSONBody)
		if err != nil {
			return nil, nil, false, err
		}
		var req ReviewRequest
		if err := unmarshalStrict(b, &req); err != nil {
			return nil, nil, false, err
		}
		if int64(len(req.Diff)) > limit {
			return nil, nil, false, apperr.Newf(apperr.TooLarge, "the diff is larger than the limit of %d bytes", limit)
		}
		names, err := reviewerNames(req.Reviewers)
		return []byte(req.Diff), names, req.Async, err
	case "text/x-diff", "text/x-patch", "text/plain":
		b, err := readBody(w, r, limit)
		if err != nil {
			if apperr.KindOf(err) == apperr.TooLarge {
				err = apperr.Newf(apperr.TooLarge, "the diff is larger than the limit of %d bytes", limit)
			}
			return nil, nil, false, err
		}
		var list []string
		if q := r.URL.Query().Get("reviewers"); q != "" {
			list = strings.Split(q, ",")
		}
		names, err := reviewerNames(list)
		return b, names, r.URL.Query().Get("async") == "true", err
	default:
		return nil, nil, false, apperr.New(apperr.UnsupportedMedia, "send the diff as application/json or text/x-diff")
	}
}

// reviewerNames cleans the requested names: trimmed, de-duplicated,
// sorted (so equal requests share a cache entry), builtin by default.
func reviewerNames(in []string) ([]string, error) {
	var out []string
	for _, n := range in {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if len(n) > 64 || len(out) >= 16 {
			return nil, apperr.New(apperr.Invalid, "too many or too long reviewer names")
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		out = []string{"builtin"}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (s *Server) pickReviewers(p *Principal, names []string) ([]review.Reviewer, error) {
	var out []review.Reviewer
	for _, n := range names {
		rv, ok := s.Reviewers[n]
		if !ok {
			return nil, apperr.Newf(apperr.Invalid, "reviewer %q is not offered by this server (offered: %s)", n, strings.Join(s.reviewerList(), ", "))
		}
		if p.Sandbox && n != "builtin" {
			return nil, apperr.New(apperr.Forbidden, "sandbox keys run only the builtin reviewer")
		}
		out = append(out, rv)
	}
	return out, nil
}

func (s *Server) reviewerList() []string {
	names := make([]string, 0, len(s.Reviewers))
	for n := range s.Reviewers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func modelsOf(rs []review.ReviewerResult) []string {
	var out []string
	for _, r := range rs {
		if r.Model != "" {
			out = append(out, r.Name+":"+r.Model)
		}
	}
	return out
}

// handleRequestLog lists the caller's request log: metadata only.
func (s *Server) handleRequestLog(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 1000 {
			s.writeError(w, r, apperr.New(apperr.Invalid, "limit must be a whole number from 1 to 1000"))
			return
		}
		limit = n
	}
	rows, err := s.Store.ListRequestLogs(r.Context(), principalOf(r.Context()).UserID, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type row struct {
		At        string   `json:"at"`
		RequestID string   `json:"request_id"`
		KeyID     string   `json:"key_id,omitempty"`
		Method    string   `json:"method"`
		Route     string   `json:"route"`
		Reviewers []string `json:"reviewers,omitempty"`
		Models    []string `json:"models,omitempty"`
		Status    int      `json:"status"`
		LatencyMS int64    `json:"latency_ms"`
		DiffBytes int64    `json:"diff_bytes"`
		Findings  int      `json:"findings"`
		Cached    bool     `json:"cached"`
	}
	out := make([]row, 0, len(rows))
	for _, l := range rows {
		out = append(out, row{At: l.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"), RequestID: l.RequestID, KeyID: l.KeyID,
			Method: l.Method, Route: l.Route, Reviewers: l.Reviewers, Models: l.Models, Status: l.Status,
			LatencyMS: l.LatencyMS, DiffBytes: l.DiffBytes, Findings: l.Findings, Cached: l.Cached})
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": out})
}
