package keystore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/keystore"
)

func open(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := testenv.PostgresURL(t)
	for i := 0; i < 2; i++ { // the second run is a no-op
		if v, err := keystore.Migrate(url); err != nil || v != 3 {
			t.Fatalf("migrate #%d: %d %v", i+1, v, err)
		}
	}
	db, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// Sessions answers for live sessions only: revoked, expired and unknown ones are not found.
func TestSessions(t *testing.T) {
	t.Parallel()
	db := open(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `INSERT INTO users (id, username, email, password_hash) VALUES (7, 'k7', 'k7@example.test', 'x')`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for id, sql := range map[int64]string{
		1: `INSERT INTO sessions (id, user_id, expires_at) VALUES (1, 7, now() + interval '1 hour')`,
		2: `INSERT INTO sessions (id, user_id, expires_at, revoked_at) VALUES (2, 7, now() + interval '1 hour', now())`,
		3: `INSERT INTO sessions (id, user_id, expires_at) VALUES (3, 7, now() - interval '1 second')`,
	} {
		if _, err := db.Exec(ctx, sql); err != nil {
			t.Fatal(id, err)
		}
	}
	s := keystore.NewSessions(db)
	if uid, err := s.SessionOwner(ctx, 1, now); err != nil || uid != 7 {
		t.Fatalf("live session: %d %v", uid, err)
	}
	for _, id := range []int64{2, 3, 99} {
		if _, err := s.SessionOwner(ctx, id, now); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("session %d: %v", id, err)
		}
	}
}

// The Commit log is returned in epoch order from `since`, bounded by the limit; a Commit against an epoch the
// group has left is ErrStaleEpoch and stores nothing.
func TestCommitLog(t *testing.T) {
	t.Parallel()
	db := open(t)
	ctx := context.Background()
	st := keystore.New(db)
	d, err := st.CreateDevice(ctx, 7, "dev", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateGroup(ctx, model.KeyGroup{ID: "g-0123456789abcdef", EpochStartedAt: now, CreatedBy: 7}, d); err != nil {
		t.Fatal(err)
	}
	for e := int64(0); e < 5; e++ {
		if got, err := st.Commit(ctx, model.CommitRequest{GroupID: "g-0123456789abcdef", Epoch: e, Sender: d.ID, Data: []byte{byte(e)}, Now: now}); err != nil || got != e+1 {
			t.Fatalf("commit %d: %d %v", e, got, err)
		}
	}
	if _, err := st.Commit(ctx, model.CommitRequest{GroupID: "g-0123456789abcdef", Epoch: 3, Sender: d.ID, Data: []byte{9}, Now: now}); !errors.Is(err, model.ErrStaleEpoch) {
		t.Fatalf("stale commit: %v", err)
	}
	if _, err := st.Commit(ctx, model.CommitRequest{GroupID: "nope-0123456789ab", Epoch: 0, Sender: d.ID, Data: []byte{9}, Now: now}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("commit to an unknown group: %v", err)
	}
	cs, err := st.Commits(ctx, "g-0123456789abcdef", 2, 2)
	if err != nil || len(cs) != 2 || cs[0].Epoch != 2 || cs[1].Epoch != 3 || cs[0].Data[0] != 2 {
		t.Fatalf("commits since 2, limit 2: %+v %v", cs, err)
	}
	g, err := st.Group(ctx, "g-0123456789abcdef")
	if err != nil || g.Epoch != 5 {
		t.Fatalf("group: %+v %v", g, err)
	}
	if _, err := st.Group(ctx, "missing-0123456789"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("missing group: %v", err)
	}
	if err := st.AckWelcome(ctx, d.ID, 12345); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ack of an unknown welcome: %v", err)
	}
	// The only member reached epoch 3: the Commits of epochs 0-2 are pruned, once; a step back or a claim
	// beyond the group's epoch prunes nothing.
	for _, c := range []struct{ epoch, pruned int64 }{{3, 3}, {3, 0}, {1, 0}, {6, 0}} {
		if n, err := st.Seen(ctx, "g-0123456789abcdef", d.ID, c.epoch); err != nil || n != c.pruned {
			t.Fatalf("seen %d: pruned %d, want %d (%v)", c.epoch, n, c.pruned, err)
		}
	}
	if cs, _ := st.Commits(ctx, "g-0123456789abcdef", 0, 10); len(cs) != 2 || cs[0].Epoch != 3 {
		t.Fatalf("after pruning: %+v", cs)
	}
	// Whom a change concerns: the users in the groups, and those sharing a group with a user.
	if us, err := st.GroupUsers(ctx, []string{"g-0123456789abcdef", "missing-0123456789"}); err != nil || len(us) != 1 || us[0] != 7 {
		t.Fatalf("group users: %v %v", us, err)
	}
	if us, err := st.Peers(ctx, 7); err != nil || len(us) != 1 || us[0] != 7 {
		t.Fatalf("peers: %v %v", us, err)
	}
	if us, err := st.Peers(ctx, 8); err != nil || len(us) != 0 {
		t.Fatalf("peers of a user in no group: %v %v", us, err)
	}
}

// ClaimDueByAge hands out each group epoch that started before the cut-off once, oldest first and bounded by the
// limit; a group whose epoch advances is due again once its new epoch is old enough.
func TestClaimDueByAge(t *testing.T) {
	t.Parallel()
	db := open(t)
	ctx := context.Background()
	st := keystore.New(db)
	d, err := st.CreateDevice(ctx, 7, "dev", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"due-a-0123456789", "due-b-0123456789", "young-0123456789"} {
		if err := st.CreateGroup(ctx, model.KeyGroup{ID: id, EpochStartedAt: t0.Add(time.Duration(i) * time.Hour), CreatedBy: 7}, d); err != nil {
			t.Fatal(err)
		}
	}
	cut := t0.Add(90 * time.Minute)
	got, err := st.ClaimDueByAge(ctx, cut, 1)
	if err != nil || len(got) != 1 || got[0] != (keystore.DueGroup{ID: "due-a-0123456789", Epoch: 0}) {
		t.Fatalf("first claim, limit 1: %+v %v", got, err)
	}
	if got, err = st.ClaimDueByAge(ctx, cut, 10); err != nil || len(got) != 1 || got[0].ID != "due-b-0123456789" {
		t.Fatalf("second claim: %+v %v", got, err)
	}
	if got, err = st.ClaimDueByAge(ctx, cut, 10); err != nil || len(got) != 0 {
		t.Fatalf("nothing left: %+v %v", got, err)
	}
	if _, err := st.Commit(ctx, model.CommitRequest{GroupID: "due-a-0123456789", Epoch: 0, Sender: d.ID, Data: []byte{1}, Now: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, err = st.ClaimDueByAge(ctx, t0.Add(3*time.Hour), 10); err != nil || len(got) != 2 ||
		got[0] != (keystore.DueGroup{ID: "young-0123456789", Epoch: 0}) || got[1] != (keystore.DueGroup{ID: "due-a-0123456789", Epoch: 1}) {
		t.Fatalf("after a rotation: %+v %v", got, err)
	}
}
