package server

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/diffgate/diffgate/internal/store"
	"github.com/diffgate/diffgate/internal/webhook"
)

// Dispatcher tuning.
const (
	// deliveryLease is how long a claimed delivery is someone's: if the
	// process dies mid-delivery the delivery becomes due again after it,
	// so every event arrives at least once (receivers de-duplicate by
	// webhook-id).
	deliveryLease = 2 * time.Minute
	dispatchBatch = 32
	dispatchPar   = 8
	// failingAfter consecutive failures mark an endpoint failing.
	failingAfter = 5
)

// RunDispatcher delivers the webhook outbox until ctx ends: it claims due
// deliveries, sends each signed (Standard Webhooks), and records the
// attempt with the next try scheduled by exponential backoff with jitter,
// for about a day, honouring a receiver's Retry-After.
func (s *Server) RunDispatcher(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for s.DispatchOnce(ctx) == dispatchBatch {
			// A full batch: more may be due.
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DispatchOnce delivers one batch of due deliveries and reports how many
// it claimed.
func (s *Server) DispatchOnce(ctx context.Context) int {
	if ctx.Err() != nil {
		return 0
	}
	now := s.Now().UTC()
	ds, err := s.Store.ClaimDeliveries(ctx, now, deliveryLease, dispatchBatch)
	if err != nil {
		s.log.ErrorContext(ctx, "claim webhook deliveries", "error", err)
		return 0
	}
	sem := make(chan struct{}, dispatchPar)
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.deliver(ctx, d)
		}()
	}
	wg.Wait()
	return len(ds)
}

func (s *Server) deliver(ctx context.Context, d store.Delivery) {
	now := s.Now().UTC()
	var a webhook.Attempt
	secret, err := s.openSecret(d.UserID, d.URL, d.SecretSealed)
	if err != nil {
		s.log.ErrorContext(ctx, "webhook secret", "endpoint_id", d.EndpointID, "error", err)
		a = webhook.Attempt{Err: "secret unavailable"}
	} else {
		body, err := webhook.NewPayload(d.Type, d.EventCreatedAt, s.eventData(ctx, d))
		if err != nil {
			a = webhook.Attempt{Err: "payload"}
		} else {
			a = webhook.Deliver(ctx, s.WebhookClient, d.URL, secret, webhook.Event{ID: d.EventID, Type: d.Type, Timestamp: now, Payload: body})
		}
	}
	if ctx.Err() != nil {
		// Stopping: record nothing; the lease makes the delivery due again.
		return
	}
	res := store.AttemptResult{At: now, Status: a.Status, LatencyMS: a.Latency.Milliseconds(), Err: a.Err, Delivered: a.OK()}
	if !a.OK() && !a.Gone() && d.Attempt+1 < webhook.MaxAttempts {
		wait := max(webhook.NextAttempt(d.Attempt+1, rand.Float64), a.RetryAfter)
		next := now.Add(wait)
		res.NextAt = &next
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.Store.RecordAttempt(rctx, d.ID, res, failingAfter); err != nil {
		s.log.ErrorContext(ctx, "record webhook attempt", "delivery_id", d.ID, "error", err)
	}
}

// eventData is the event's stored metadata; a review.completed event also
// carries the findings while the result cache still holds them (never
// the diff, D1/D2).
func (s *Server) eventData(ctx context.Context, d store.Delivery) any {
	data := map[string]any{}
	_ = json.Unmarshal(d.Payload, &data)
	if d.Type == EventReviewCompleted {
		if id, ok := data["review_id"].(string); ok {
			if b, ok, err := s.Cache.Get(ctx, reviewResultKey(id)); err == nil && ok {
				var doc reviewAnswer
				if json.Unmarshal(b, &doc) == nil && doc.Document != nil {
					data["findings"] = doc.Findings
				}
			}
		}
	}
	return data
}
