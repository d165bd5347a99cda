package cassandra

import (
	"context"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// Observer hears every database call when it ends (metrics; tracing spans get the real start and end).
type Observer interface {
	DBCall(ctx context.Context, store, op string, start, end time.Time, err error)
}

// observer adapts the driver's query and batch observers to an Observer, after the observer the Config
// already had (tests that count queries).
type observer struct {
	obs  Observer
	next gocql.QueryObserver
}

func (o observer) ObserveQuery(ctx context.Context, q gocql.ObservedQuery) {
	if o.next != nil {
		o.next.ObserveQuery(ctx, q)
	}
	o.obs.DBCall(ctx, "cassandra", verb(q.Statement), q.Start, q.End, q.Err)
}

func (o observer) ObserveBatch(ctx context.Context, b gocql.ObservedBatch) {
	o.obs.DBCall(ctx, "cassandra", "batch", b.Start, b.End, b.Err)
}

// verb is a CQL statement's first keyword (select, insert, update, delete …).
func verb(stmt string) string {
	stmt = strings.TrimSpace(stmt)
	if i := strings.IndexAny(stmt, " \n\t("); i > 0 {
		stmt = stmt[:i]
	}
	if stmt == "" {
		return "other"
	}
	return strings.ToLower(stmt)
}
