package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
)

func TestPendingRegistrationsAreTakenOnceAndExpire(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := model.PendingRegistration{Username: "ivy", Email: "ivy@example.com", PasswordHash: "h", ExpiresAt: now.Add(time.Hour)}
	if err := f.users.CreatePending(f.ctx, []byte("token-1"), p, now); err != nil {
		t.Fatal(err)
	}
	if err := f.users.CreatePending(f.ctx, []byte("token-1"), p, now); err == nil {
		t.Fatal("a token hash was stored twice")
	}
	if _, err := f.users.TakePending(f.ctx, []byte("other"), now); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	got, err := f.users.TakePending(f.ctx, []byte("token-1"), now)
	if err != nil || got.Username != "ivy" || got.Email != "ivy@example.com" || got.PasswordHash != "h" || !got.ExpiresAt.Equal(p.ExpiresAt) {
		t.Fatalf("take: %+v %v", got, err)
	}
	if _, err := f.users.TakePending(f.ctx, []byte("token-1"), now); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("taken twice: %v", err)
	}

	// An expired registration is not handed out, and the next registration removes expired rows.
	p.ExpiresAt = now.Add(time.Minute)
	for _, tok := range []string{"old-1", "old-2"} {
		if err := f.users.CreatePending(f.ctx, []byte(tok), p, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.users.TakePending(f.ctx, []byte("old-1"), now.Add(time.Minute)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("expired: %v", err)
	}
	if err := f.users.CreatePending(f.ctx, []byte("new"), p, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := f.db.QueryRow(f.ctx, "SELECT count(*) FROM pending_registrations").Scan(&left); err != nil || left != 1 {
		t.Fatalf("%d rows left (%v), want only the new one", left, err)
	}
}
