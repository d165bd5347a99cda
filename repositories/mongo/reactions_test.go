package mongo_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
)

func reactionsOf(t *testing.T, s *mongorepo.ReactionStore, ids ...int64) map[int64][]model.Reaction {
	t.Helper()
	got, err := s.ForMessages(testCtx(t), ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]model.Reaction{}
	for _, r := range got {
		out[r.MessageID] = append(out[r.MessageID], r)
	}
	return out
}

func add(msg, user int64, emoji string, at time.Time) model.ReactionChange {
	return model.ReactionChange{ChannelID: 7, MessageID: msg, UserID: user, Emoji: emoji, Add: true, At: at}
}

func del(msg, user int64, emoji string) model.ReactionChange {
	return model.ReactionChange{ChannelID: 7, MessageID: msg, UserID: user, Emoji: emoji}
}

func TestReactionsAddRemoveInOrder(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	s := mongorepo.NewReactionStore(db)
	t0 := time.Now().Add(-time.Minute)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

	// Two batches: 👍 first (users 3, 1), then 🎉 and more 👍; a repeated add changes nothing (not even its time).
	if err := s.Apply(ctx, []model.ReactionChange{add(100, 3, "👍", at(0)), add(100, 1, "👍", at(1))}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, []model.ReactionChange{
		add(100, 2, "🎉", at(2)),
		add(100, 1, "👍", at(9)),
		add(100, 5, "👍", at(3)),
		add(101, 9, "👨‍👩‍👧‍👦", at(4)),
		del(102, 4, "👀"), // nothing there: nothing appears
	}); err != nil {
		t.Fatal(err)
	}
	got := reactionsOf(t, s, 100, 101, 102, 103)
	want100 := []model.Reaction{
		{ChannelID: 7, MessageID: 100, Emoji: "👍", UserIDs: []int64{3, 1, 5}},
		{ChannelID: 7, MessageID: 100, Emoji: "🎉", UserIDs: []int64{2}},
	}
	if !slices.EqualFunc(got[100], want100, reactionEqual) {
		t.Fatalf("message 100: %+v, want %+v", got[100], want100)
	}
	if len(got[101]) != 1 || got[101][0].Emoji != "👨‍👩‍👧‍👦" || !slices.Equal(got[101][0].UserIDs, []int64{9}) {
		t.Fatalf("message 101: %+v", got[101])
	}
	if len(got[102]) != 0 || len(got[103]) != 0 {
		t.Fatalf("messages without reactions: %+v %+v", got[102], got[103])
	}

	// Removing users keeps the others in order; the emoji disappears with its last user.
	if err := s.Apply(ctx, []model.ReactionChange{del(100, 1, "👍"), del(100, 42, "👍"), del(100, 2, "🎉")}); err != nil {
		t.Fatal(err)
	}
	got = reactionsOf(t, s, 100)
	if len(got[100]) != 1 || got[100][0].Emoji != "👍" || !slices.Equal(got[100][0].UserIDs, []int64{3, 5}) {
		t.Fatalf("after removals: %+v", got[100])
	}
	if n, _ := db.Collection("reactions").CountDocuments(ctx, bson.D{{Key: "messageId", Value: 100}}); n != 2 {
		t.Fatalf("%d documents for message 100, want 2", n)
	}
	// A batch written twice (a retry after a failure half-way) changes nothing more.
	batch := []model.ReactionChange{add(100, 8, "🎉", at(10)), del(100, 3, "👍")}
	for i := 0; i < 2; i++ {
		if err := s.Apply(ctx, batch); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if got := reactionsOf(t, s, 100)[100]; len(got) != 2 || got[0].Emoji != "👍" || !slices.Equal(got[0].UserIDs, []int64{5}) || got[1].Emoji != "🎉" {
		t.Fatalf("after a repeated batch: %+v", got)
	}
	if got, err := s.ForMessages(ctx, nil); err != nil || got != nil {
		t.Fatalf("ForMessages(nil) = %v, %v", got, err)
	}
}

func TestReactionUsersPage(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	s := mongorepo.NewReactionStore(db)
	var batch []model.ReactionChange
	for u := int64(1); u <= 7; u++ {
		batch = append(batch, add(300, 100-u, "👍", time.Now()))
	}
	batch = append(batch, add(300, 1, "👎", time.Now()), add(301, 2, "👍", time.Now()))
	if err := s.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	page, err := s.Users(ctx, 300, "👍", 0, 4)
	if err != nil || !slices.Equal(page, []int64{93, 94, 95, 96}) {
		t.Fatalf("first page = %v, %v", page, err)
	}
	page, err = s.Users(ctx, 300, "👍", 96, 4)
	if err != nil || !slices.Equal(page, []int64{97, 98, 99}) {
		t.Fatalf("second page = %v, %v", page, err)
	}
}

// Two writers (two nodes) adding and removing different users' reactions to one message at once lose nothing.
// (The first design, one document per (message, emoji) with a userIds array, failed this on FerretDB.)
func TestReactionsConcurrentWritersDoNotLoseReactions(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	s := mongorepo.NewReactionStore(db)
	if err := s.Apply(ctx, []model.ReactionChange{add(5, 100, "🔥", time.Now()), add(5, 200, "🔥", time.Now())}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := int64(0); w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(1); i <= 10; i++ {
				b := []model.ReactionChange{add(5, w*1000+i, "🔥", time.Now())}
				if i == 1 {
					b = append(b, del(5, (w+1)*100, "🔥")) // each writer removes one of the first two
				}
				if err := s.Apply(ctx, b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := reactionsOf(t, s, 5)[5]
	if len(got) != 1 || len(got[0].UserIDs) != 20 {
		t.Fatalf("after concurrent writes: %+v", got)
	}
	if slices.Contains(got[0].UserIDs, 100) || slices.Contains(got[0].UserIDs, 200) {
		t.Fatalf("removed users still there: %v", got[0].UserIDs)
	}
}

// A large batch goes out in chunks.
func TestReactionsLargeBatch(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	s := mongorepo.NewReactionStore(db)
	var batch []model.ReactionChange
	for u := int64(1); u <= 1200; u++ {
		batch = append(batch, add(u%3+1, u, "👍", time.Now()))
	}
	if err := s.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		batch[i].Add = false
	}
	if err := s.Apply(ctx, batch[:1100]); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Collection("reactions").CountDocuments(ctx, bson.D{}); n != 100 {
		t.Fatalf("%d reactions left, want 100", n)
	}
}

func reactionEqual(a, b model.Reaction) bool {
	return a.ChannelID == b.ChannelID && a.MessageID == b.MessageID && a.Emoji == b.Emoji && slices.Equal(a.UserIDs, b.UserIDs)
}
