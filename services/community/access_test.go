package community

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

// accessStore answers access and room lists from fields; down makes every call fail as an unreachable Postgres.
type accessStore struct {
	Store
	mu       sync.Mutex
	members  map[int64]bool // user ids that can read channel 1
	down     bool
	calls    int
	duringRd func() // runs inside CanRead, between the read and its answer
}

var errDown = errors.New("dial tcp: connection refused")

func (f *accessStore) CanRead(_ context.Context, channelID, userID int64) (model.Channel, string, error) {
	f.mu.Lock()
	f.calls++
	down, ok, during := f.down, f.members[userID], f.duringRd
	f.mu.Unlock()
	if during != nil {
		during()
	}
	switch {
	case down:
		return model.Channel{}, "", errDown
	case !ok || channelID != 1:
		return model.Channel{}, "", model.ErrNotFound
	}
	return model.Channel{ID: 1}, "member", nil
}

func (f *accessStore) ReadableChannelIDs(context.Context, int64) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	return []int64{1}, nil
}

func (f *accessStore) set(fn func()) { f.mu.Lock(); fn(); f.mu.Unlock() }

func accessService(store *accessStore) (*Service, *time.Time) {
	s := New(store, nil, nil, nil, nil, nil, Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Now()
	s.Access.now = func() time.Time { return now }
	return s, &now
}

func TestAccessAnswersAreCachedBothWays(t *testing.T) {
	store := &accessStore{members: map[int64]bool{10: true}}
	s, now := accessService(store)
	ctx := context.Background()
	for range 3 {
		if _, _, err := s.CanRead(ctx, 10, 1); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CanRead(ctx, 99, 1); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("stranger: %v", err)
		}
	}
	if store.calls != 2 {
		t.Fatalf("%d Postgres reads for 6 checks by 2 users, want 2 (a 'no' is cached too)", store.calls)
	}
	// A membership change clears both answers at once.
	store.set(func() { store.members[99] = true })
	s.ForgetAccess()
	if _, _, err := s.CanRead(ctx, 99, 1); err != nil {
		t.Fatalf("after joining: %v", err)
	}
	// Later than the cache's life, Postgres is asked again.
	*now = now.Add(accessTTL + time.Second)
	if _, _, err := s.CanRead(ctx, 10, 1); err != nil || store.calls != 4 {
		t.Fatalf("after the TTL: %v, %d reads", err, store.calls)
	}
}

func TestLastKnownAccessStandsInWhilePostgresIsDown(t *testing.T) {
	store := &accessStore{members: map[int64]bool{10: true}}
	s, now := accessService(store)
	ctx := context.Background()
	if _, _, err := s.CanRead(ctx, 10, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CanRead(ctx, 99, 1); !apperr.Is(err, apperr.NotFound) {
		t.Fatal(err)
	}
	if _, err := s.ReadableChannelIDs(ctx, 10); err != nil {
		t.Fatal(err)
	}
	store.set(func() { store.down = true })
	*now = now.Add(5 * time.Minute)
	if _, _, err := s.CanRead(ctx, 10, 1); err != nil {
		t.Fatalf("member during the outage: %v", err)
	}
	if ids, err := s.ReadableChannelIDs(ctx, 10); err != nil || len(ids) != 1 {
		t.Fatalf("room list during the outage: %v %v", ids, err)
	}
	// A "no" never becomes a "yes", and someone never seen gets a clear unavailable.
	if _, _, err := s.CanRead(ctx, 99, 1); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("stranger during the outage: %v, want unavailable", err)
	}
	if _, _, err := s.CanRead(ctx, 11, 1); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("unknown user during the outage: %v", err)
	}
	// The stand-in is bounded in time.
	*now = now.Add(staleTTL)
	if _, _, err := s.CanRead(ctx, 10, 1); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("after %v of outage: %v, want unavailable", staleTTL, err)
	}
	if _, err := s.ReadableChannelIDs(ctx, 10); err == nil {
		t.Fatal("room list served past its stale bound")
	}
}

// An answer read while a membership change happened is not cached: it may predate the change (a kick).
func TestAccessReadRacingAKickIsNotCached(t *testing.T) {
	store := &accessStore{members: map[int64]bool{10: true}}
	s, _ := accessService(store)
	ctx := context.Background()
	store.duringRd = func() {
		store.set(func() { delete(store.members, 10); store.duringRd = nil })
		s.ForgetAccess() // the kick commits and clears the cache while the read is in flight
	}
	if _, _, err := s.CanRead(ctx, 10, 1); err != nil {
		t.Fatal(err) // the in-flight read saw the old membership
	}
	if _, _, err := s.CanRead(ctx, 10, 1); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("after the kick: %v, want not found (the stale yes must not be cached)", err)
	}
}
