package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/cache"
	"github.com/diffgate/diffgate/internal/credits"
	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/ids"
	"github.com/diffgate/diffgate/internal/report"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/store"
)

// RestartReason is what a review reports when the replica running it
// stopped before it finished (its lease passed).
const RestartReason = "the server running the review stopped or restarted before it finished; diffs are never written to disk, so it cannot resume"

// asyncJob is one queued review. The diff lives only in this struct, in
// memory (D2).
type asyncJob struct {
	id        string
	principal *Principal
	diff      *diff.Diff
	reviewers []review.Reviewer
	quote     credits.Amount
}

// workers runs asynchronous reviews in a bounded pool.
type workers struct {
	jobs chan asyncJob
}

func newWorkers(queue int) *workers { return &workers{jobs: make(chan asyncJob, queue)} }

// RunWorkers runs n review workers until ctx ends. Jobs still queued then
// are failed at once with their credits released and their webhook sent,
// and running ones finish first (graceful drain).
func (s *Server) RunWorkers(ctx context.Context, n int) {
	if n <= 0 {
		n = 2
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.pool.jobs:
					s.runJob(context.WithoutCancel(ctx), j)
				}
			}
		}()
	}
	wg.Wait()
	for {
		select {
		case j := <-s.pool.jobs:
			_, _, _ = s.finishJob(context.WithoutCancel(ctx), j, nil, "the server shut down before the review started")
		default:
			return
		}
	}
}

// Instance is this replica's id: the owner of the reviews it runs. It is
// new at every start, so a restarted replica never renews the leases of
// the reviews its last run lost.
func (s *Server) Instance() string { return s.instance }

// lease is how long a review created or renewed at now is known to be
// alive.
func (s *Server) lease(now time.Time) time.Time { return now.Add(s.Config.ReviewLease) }

// RenewLeases extends the leases of the reviews this replica runs.
func (s *Server) RenewLeases(ctx context.Context) error {
	_, err := s.Store.RenewReviewLeases(ctx, s.instance, s.lease(s.Now().UTC()))
	return err
}

// FailExpired fails the reviews whose replica stopped before finishing
// them (their leases passed): their credits are released and
// review.failed sent. Any replica may run it; each review fails once.
func (s *Server) FailExpired(ctx context.Context) (int, error) {
	now := s.Now().UTC()
	return s.Store.FailExpiredReviews(ctx, RestartReason, now, func(r store.Review) store.Event {
		return newEvent(r.UserID, EventReviewFailed, map[string]any{"review_id": r.ID, "status": "failed", "error": RestartReason}, now)
	})
}

// RunLeases renews this replica's leases and fails other replicas' expired
// reviews every third of a lease, until ctx ends. It must run as long as
// reviews may: through the graceful drain too.
func (s *Server) RunLeases(ctx context.Context) {
	every := s.Config.ReviewLease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.RenewLeases(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "renew review leases", "error", err)
		}
		if n, err := s.FailExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "fail expired reviews", "error", err)
		} else if n > 0 {
			s.log.WarnContext(ctx, "reviews whose server stopped were failed", "count", n)
		}
	}
}

func newReviewID(now time.Time) string { return ids.New("rev_", now) }

func reviewResultKey(id string) string { return cache.Key([]byte("review-result"), []byte(id)) }

// enqueue records the review (reserving its credits) and queues it,
// returning the 202 answer's body and the review's location.
func (s *Server) enqueue(ctx context.Context, p *Principal, parsed *diff.Diff, names []string, reviewers []review.Reviewer, quote credits.Amount) ([]byte, string, error) {
	now := s.Now().UTC()
	rec := store.Review{ID: newReviewID(now), UserID: p.UserID, KeyID: p.KeyID, Sandbox: p.Sandbox, Status: "queued",
		Reviewers: names, Reserved: int64(quote), CreatedAt: now, Owner: s.instance}
	rec.LeaseUntil = s.lease(rec.CreatedAt)
	if len(s.pool.jobs) == cap(s.pool.jobs) {
		return nil, "", apperr.New(apperr.Unavailable, "the review queue is full; retry shortly")
	}
	if err := s.Store.CreateReview(ctx, rec, rec.CreatedAt); err != nil {
		if apperr.KindOf(err) == apperr.PaymentRequired {
			err = apperr.Newf(apperr.PaymentRequired, "this review needs %d credits", quote)
		}
		return nil, "", err
	}
	job := asyncJob{id: rec.ID, principal: p, diff: parsed, reviewers: reviewers, quote: quote}
	select {
	case s.pool.jobs <- job:
	default:
		_, _, _ = s.finishJob(context.WithoutCancel(ctx), job, nil, "the review queue is full")
		return nil, "", apperr.New(apperr.Unavailable, "the review queue is full; retry shortly")
	}
	loc := "/v1/reviews/" + rec.ID
	b, err := json.Marshal(map[string]string{"id": rec.ID, "status": "queued", "location": loc})
	return b, loc, err
}

func (s *Server) runJob(ctx context.Context, j asyncJob) {
	s.wg.Add(1)
	defer s.wg.Done()
	if err := s.Store.MarkReviewRunning(ctx, j.id, s.Now().UTC()); err != nil {
		// Failed meanwhile (a restart elsewhere), or gone: do not run it.
		s.log.WarnContext(ctx, "review not started", "review_id", j.id, "error", err)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.Config.ReviewTimeout)
	defer cancel()
	res := review.Run(rctx, j.diff, j.reviewers, review.Options{Now: s.Now})
	_, _, _ = s.finishJob(ctx, j, res, "") // logged inside
}

// finishJob records the outcome in one transaction with its credits and
// its webhook event: done when any reviewer succeeded, failed otherwise.
// It returns the credits charged and the balance after.
// The findings go only to the result cache, for at most its TTL.
func (s *Server) finishJob(ctx context.Context, j asyncJob, res *review.Result, reason string) (charged, balance int64, err error) {
	now := s.Now().UTC()
	status, findings := "failed", 0
	if res != nil {
		// Usage counts only the chunks that succeeded, whose findings are
		// returned: they are paid for even when the reviewer failed later.
		charged = int64(credits.Settle(j.quote, credits.ForKey(j.principal.Sandbox, credits.Cost(*s.Config.Prices, res.Reviewers))))
		ok := false
		for _, rr := range res.Reviewers {
			ok = ok || rr.OK
		}
		findings = len(res.Findings)
		if ok {
			status = "done"
			doc := reviewAnswer{Document: report.NewDocument(res)}
			if b, err := json.Marshal(doc); err == nil {
				if err := s.Cache.Set(ctx, reviewResultKey(j.id), b, s.Config.CacheTTL); err != nil {
					s.log.WarnContext(ctx, "cache review result", "review_id", j.id, "error", err)
				}
			}
		} else {
			reason = "every reviewer failed"
		}
	}
	typ := EventReviewCompleted
	data := map[string]any{"review_id": j.id, "status": status, "findings_count": findings}
	if status == "failed" {
		typ = EventReviewFailed
		data["error"] = reason
	}
	ev := newEvent(j.principal.UserID, typ, data, now)
	balance, err = s.Store.FinishReview(ctx, j.id, status, reason, findings, charged, now, s.Config.LowBalance,
		s.lowBalanceEvent(j.principal.UserID, now), ev)
	if err != nil {
		s.log.ErrorContext(ctx, "finish review", "review_id", j.id, "error", err)
		return 0, 0, err
	}
	if j.principal.Sandbox {
		charged = 0
	}
	return charged, balance, nil
}

type reviewStatus struct {
	ID         string          `json:"id"`
	Status     string          `json:"status"`
	Reviewers  []string        `json:"reviewers"`
	Error      string          `json:"error,omitempty"`
	Findings   int             `json:"findings_count"`
	Charged    int64           `json:"credits_charged"`
	Refunded   int64           `json:"credits_refunded,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	// Expired is set when the review finished but its findings are no
	// longer kept (results stay in memory for at most 5 minutes, D1).
	Expired bool `json:"result_expired,omitempty"`
}

// handleGetReview reports an asynchronous review to its owner; another
// user's review is answered like an unknown one.
func (s *Server) handleGetReview(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	rec, err := s.Store.ReviewByID(r.Context(), p.UserID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := reviewStatus{ID: rec.ID, Status: rec.Status, Reviewers: rec.Reviewers, Error: rec.Error, Findings: rec.Findings,
		Charged: rec.Charged, Refunded: rec.Refunded, CreatedAt: rec.CreatedAt, FinishedAt: rec.FinishedAt}
	if rec.Status == "done" {
		if b, ok, err := s.Cache.Get(r.Context(), reviewResultKey(rec.ID)); err == nil && ok {
			out.Result = b
		} else {
			out.Expired = true
		}
	}
	writeJSON(w, http.StatusOK, out)
}
