package server

import (
	"context"
	"time"
)

// PurgeEvery is how often RunRetention purges.
const PurgeEvery = time.Hour

// Purge deletes what the retention policy no longer keeps (O2): request
// logs, webhook events with their deliveries and attempts, finished
// reviews' metadata, ended sessions and old Idempotency-Keys.
func (s *Server) Purge(ctx context.Context) error {
	p, err := s.Store.Purge(ctx, s.Now().UTC(), s.Config.Retention)
	if p.RequestLogs+p.Events+p.Reviews+p.Sessions+p.IdempotencyKeys > 0 {
		s.log.InfoContext(ctx, "purged old records", "request_logs", p.RequestLogs, "events", p.Events,
			"reviews", p.Reviews, "sessions", p.Sessions, "idempotency_keys", p.IdempotencyKeys)
	}
	return err
}

// RunRetention purges at once and then every PurgeEvery until ctx ends.
// Every replica may run it.
func (s *Server) RunRetention(ctx context.Context) {
	t := time.NewTicker(PurgeEvery)
	defer t.Stop()
	for {
		if err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "purge old records", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
