package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
)

// Observer hears every database call when it ends (metrics; tracing spans get the real start and end).
type Observer interface {
	DBCall(ctx context.Context, store, op string, start, end time.Time, err error)
}

// monitor reports every command the driver runs (find, update, insert, aggregate …) to obs.
func monitor(obs Observer) *event.CommandMonitor {
	report := func(ctx context.Context, e event.CommandFinishedEvent, err error) {
		end := time.Now()
		obs.DBCall(ctx, "mongodb", e.CommandName, end.Add(-e.Duration), end, err)
	}
	return &event.CommandMonitor{
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) { report(ctx, e.CommandFinishedEvent, nil) },
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			report(ctx, e.CommandFinishedEvent, e.Failure)
		},
	}
}
