package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Observer hears every database call when it ends (metrics; tracing spans get the real start and end).
type Observer interface {
	DBCall(ctx context.Context, store, op string, start, end time.Time, err error)
}

// tracer adapts pgx's query tracer to an Observer.
type tracer struct{ obs Observer }

type startKey struct{}

type started struct {
	at time.Time
	op string
}

func (t tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, startKey{}, started{at: time.Now(), op: Verb(data.SQL)})
}

func (t tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	st, ok := ctx.Value(startKey{}).(started)
	if !ok {
		return
	}
	err := data.Err
	if err == pgx.ErrNoRows { // a lookup that found nothing is an answer, not a database failure
		err = nil
	}
	t.obs.DBCall(ctx, "postgres", st.op, st.at, time.Now(), err)
}

// Verb is the first keyword of a SQL statement (select, insert, with …), the operation label of its metrics.
func Verb(sql string) string {
	sql = strings.TrimSpace(sql)
	for strings.HasPrefix(sql, "--") { // leading comment lines
		_, rest, _ := strings.Cut(sql, "\n")
		sql = strings.TrimSpace(rest)
	}
	end := strings.IndexFunc(sql, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
	if end < 0 {
		end = len(sql)
	}
	if end == 0 {
		return "other"
	}
	return strings.ToLower(sql[:end])
}
