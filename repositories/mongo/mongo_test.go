package mongo_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ms truncates to the precision MongoDB stores dates with.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func TestMigrateIsIdempotentAndCreatesIndexes(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t) // migrated once already
	ctx := testCtx(t)
	v, err := mongorepo.Migrate(ctx, db)
	if err != nil || v != 3 {
		t.Fatalf("second Migrate = %d, %v; want 3, nil", v, err)
	}
	var ver struct {
		Version int  `bson:"version"`
		Dirty   bool `bson:"dirty"`
	}
	if err := db.Collection("schema_migrations").FindOne(ctx, bson.D{{Key: "_id", Value: "version"}}).Decode(&ver); err != nil || ver.Version != 3 || ver.Dirty {
		t.Fatalf("schema_migrations = %+v, %v", ver, err)
	}
	if n, err := db.Collection("schema_lock").CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		t.Fatalf("schema_lock holds %d documents after Migrate, %v; the lock must be released", n, err)
	}
	want := map[string][]string{
		"read_states":  {"user_channel", "channel_read"},
		"presence":     {"status_heartbeat", "user", "node"},
		"channel_meta": {"last_message_at"},
		"reactions":    {"message_emoji_user"},
	}
	for coll, names := range want {
		cur, err := db.Collection(coll).Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var specs []bson.M
		if err := cur.All(ctx, &specs); err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, s := range specs {
			name, _ := s["name"].(string)
			have[name] = true
		}
		for _, n := range names {
			if !have[n] {
				t.Errorf("collection %s lacks index %q (has %v)", coll, n, have)
			}
		}
	}
	// user_channel is unique: one read state per user and channel.
	rs := db.Collection("read_states")
	if _, err := rs.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "userId", Value: 1}, {Key: "channelId", Value: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.InsertOne(ctx, bson.D{{Key: "_id", Value: "b"}, {Key: "userId", Value: 1}, {Key: "channelId", Value: 2}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second read state for one user and channel: err = %v, want a duplicate key error", err)
	}
}

func TestMigrateLock(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	locks := db.Collection("schema_lock")

	// A lock older than two minutes was abandoned by a crashed migrator: Migrate takes it over.
	if _, err := locks.InsertOne(ctx, bson.D{{Key: "_id", Value: "migrate-lock"}, {Key: "at", Value: time.Now().Add(-3 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if v, err := mongorepo.Migrate(ctx, db); err != nil || v != 3 {
		t.Fatalf("Migrate with a stale lock = %d, %v", v, err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("taking over a stale lock took %v", d)
	}
	if n, _ := locks.CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("%d lock documents left", n)
	}

	// A fresh lock belongs to a live migrator: Migrate waits instead of stealing it (here until its context
	// ends) and leaves the other migrator's lock alone.
	held := ms(time.Now().Add(-30 * time.Second))
	if _, err := locks.InsertOne(ctx, bson.D{{Key: "_id", Value: "migrate-lock"}, {Key: "at", Value: held}}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, err := mongorepo.Migrate(short, db)
	cancel()
	if err == nil {
		t.Fatal("Migrate succeeded while another migrator held a fresh lock")
	}
	var lock struct {
		At time.Time `bson:"at"`
	}
	if err := locks.FindOne(ctx, bson.D{{Key: "_id", Value: "migrate-lock"}}).Decode(&lock); err != nil || !lock.At.Equal(held) {
		t.Fatalf("the live migrator's lock = %v, %v; want it untouched (at %v)", lock.At, err, held)
	}
	if _, err := locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: "migrate-lock"}}); err != nil {
		t.Fatal(err)
	}
	if v, err := mongorepo.Migrate(ctx, db); err != nil || v != 3 {
		t.Fatalf("Migrate after the lock was released = %d, %v", v, err)
	}
}

// Another migrator holds the lock a little longer than golang-migrate's lock timeout (15 s by default, shorter
// than the 60 s the driver's Lock is written to wait). Whatever Migrate returns, once it has returned and the
// other migrator has released the lock, the lock must be free: a migrator that gave up must not take the lock
// afterwards and keep it (that would block every later Migrate until the lock is two minutes old).
// Takes about 19 s.
func TestMigrateGivingUpOnTheLockDoesNotTakeItLater(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t) // stays alive after Migrate returns, like a server process that keeps running
	locks := db.Collection("schema_lock")
	if _, err := locks.InsertOne(ctx, bson.D{{Key: "_id", Value: "migrate-lock"}, {Key: "at", Value: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	const holdFor = 16500 * time.Millisecond
	released := make(chan error, 1)
	go func() {
		time.Sleep(holdFor)
		_, err := locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: "migrate-lock"}})
		released <- err
	}()
	start := time.Now()
	_, migrateErr := mongorepo.Migrate(ctx, db)
	returnedAfter := time.Since(start)
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // several of Lock's 300 ms polls
	var lock struct {
		At time.Time `bson:"at"`
	}
	err := locks.FindOne(ctx, bson.D{{Key: "_id", Value: "migrate-lock"}}).Decode(&lock)
	if !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("Migrate returned after %v with error %v; %v after the other migrator released the lock, the lock "+
			"is held again (taken at %v, err %v) and nobody will release it: the driver's Lock goroutine kept "+
			"polling after golang-migrate's lock timeout had made Migrate give up",
			returnedAfter.Round(100*time.Millisecond), migrateErr, 2*time.Second, lock.At, err)
	}
}

func TestConnectAndPing(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	client, err := mongorepo.Connect(ctx, testenv.MongoURI())
	if err != nil {
		t.Skipf("MongoDB not reachable: %v", err) // testenv.Mongo in the other tests reports the stack as missing
	}
	defer client.Disconnect(context.Background())
	if err := mongorepo.Ping(ctx, client); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := mongorepo.Connect(ctx, "definitely not a uri"); err == nil {
		t.Fatal("Connect accepted a malformed URI")
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := mongorepo.Connect(short, "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"); err == nil {
		t.Fatal("Connect succeeded against a closed port")
	}
}

func TestChannelMeta(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	s := mongorepo.NewChannelMetaStore(db)
	const c1, c2, c3 = 101, 102, 103
	t0 := ms(time.Now().Add(-time.Hour))

	// SetTopic creates the document.
	if err := s.SetTopic(ctx, c1, "hello"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, []int64{c1})
	if err != nil || len(got) != 1 || got[c1].Topic != "hello" || got[c1].ChannelID != c1 || got[c1].MessageCount != 0 {
		t.Fatalf("Get after SetTopic = %+v, %v", got, err)
	}

	// Activity arrives out of order (a late flush from another node): ids and times only move forward, counts add.
	err = s.RecordActivity(ctx, []model.ChannelActivity{
		{ChannelID: c1, LastMessageID: 500, LastMessageAt: t0.Add(5 * time.Minute), Count: 3},
		{ChannelID: c2, LastMessageID: 100, LastMessageAt: t0.Add(time.Minute), Count: 1},
		{ChannelID: c1, LastMessageID: 300, LastMessageAt: t0.Add(3 * time.Minute), Count: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActivity(ctx, []model.ChannelActivity{{ChannelID: c1, LastMessageID: 200, LastMessageAt: t0.Add(2 * time.Minute), Count: 4}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActivity(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// A later SetTopic keeps the traffic fields; a later activity keeps the topic.
	if err := s.SetTopic(ctx, c2, "second"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTopic(ctx, c1, "hello again"); err != nil {
		t.Fatal(err)
	}

	got, err = s.Get(ctx, []int64{c1, c2, c3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("Get returned %d entries, want 2 (c3 has no document): %+v", len(got), got)
	}
	m1 := got[c1]
	if m1.LastMessageID != 500 || !m1.LastMessageAt.Equal(t0.Add(5*time.Minute)) || m1.MessageCount != 9 || m1.Topic != "hello again" {
		t.Errorf("c1 = %+v; want last id 500 at %v, count 9, topic %q", m1, t0.Add(5*time.Minute), "hello again")
	}
	if m1.LastMessageAt.Location() != time.UTC {
		t.Errorf("LastMessageAt not in UTC: %v", m1.LastMessageAt.Location())
	}
	m2 := got[c2]
	if m2.ChannelID != c2 || m2.LastMessageID != 100 || !m2.LastMessageAt.Equal(t0.Add(time.Minute)) || m2.MessageCount != 1 || m2.Topic != "second" {
		t.Errorf("c2 = %+v", m2)
	}
	if _, ok := got[c3]; ok {
		t.Errorf("c3 present: %+v", got[c3])
	}
	if got, err := s.Get(ctx, nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Get(nil) = %v, %v; want an empty map", got, err)
	}

	// Delete.
	if err := s.Delete(ctx, []int64{c1, c3}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.Get(ctx, []int64{c1, c2})
	if err != nil || len(got) != 1 || got[c2].MessageCount != 1 {
		t.Fatalf("Get after Delete(c1) = %+v, %v", got, err)
	}
	// A deleted channel starts from scratch.
	if err := s.RecordActivity(ctx, []model.ChannelActivity{{ChannelID: c1, LastMessageID: 50, LastMessageAt: t0, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, []int64{c1}); got[c1].LastMessageID != 50 || got[c1].MessageCount != 1 || got[c1].Topic != "" {
		t.Fatalf("c1 after delete and new activity = %+v", got[c1])
	}
}

func TestReadStateOnlyMovesForward(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	s := mongorepo.NewReadStateStore(db)
	const u1, u2 = 1, 2
	const c1, c2, c3 = 11, 12, 13
	t0 := ms(time.Now().Add(-time.Hour))

	if err := s.Advance(ctx, []model.ReadState{
		{UserID: u1, ChannelID: c1, LastReadID: 100, LastDeliveredID: 200, UpdatedAt: t0},
		{UserID: u1, ChannelID: c2, LastReadID: 7, LastDeliveredID: 7, UpdatedAt: t0},
		{UserID: u2, ChannelID: c1, LastReadID: 50, LastDeliveredID: 60, UpdatedAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	// Lower values after higher ones (a late or repeated write): read stays at 100, delivered moves to 300.
	if err := s.Advance(ctx, []model.ReadState{
		{UserID: u1, ChannelID: c1, LastReadID: 40, LastDeliveredID: 300, UpdatedAt: t0.Add(time.Minute)},
		{UserID: u1, ChannelID: c1, LastReadID: 90, LastDeliveredID: 250, UpdatedAt: t0.Add(2 * time.Minute)},
		{UserID: u1, ChannelID: c2, LastReadID: 0, LastDeliveredID: 0, UpdatedAt: t0.Add(time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(ctx, nil); err != nil {
		t.Fatal(err)
	}

	got, err := s.ForUser(ctx, u1, []int64{c1, c2, c3})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b model.ReadState) int { return cmp.Compare(a.ChannelID, b.ChannelID) })
	if len(got) != 2 {
		t.Fatalf("ForUser(u1) = %+v, want c1 and c2", got)
	}
	if g := got[0]; g.UserID != u1 || g.ChannelID != c1 || g.LastReadID != 100 || g.LastDeliveredID != 300 || !g.UpdatedAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("u1/c1 = %+v; want read 100, delivered 300", g)
	}
	if g := got[1]; g.ChannelID != c2 || g.LastReadID != 7 || g.LastDeliveredID != 7 {
		t.Errorf("u1/c2 = %+v; want 7/7", g)
	}
	if got, err := s.ForUser(ctx, u1, []int64{c2}); err != nil || len(got) != 1 || got[0].ChannelID != c2 {
		t.Errorf("ForUser(u1, [c2]) = %+v, %v", got, err)
	}
	if got, err := s.ForUser(ctx, u1, nil); err != nil || len(got) != 0 {
		t.Errorf("ForUser(no channels) = %+v, %v", got, err)
	}
	if got, err := s.ForUser(ctx, 999, []int64{c1}); err != nil || len(got) != 0 {
		t.Errorf("ForUser(unknown user) = %+v, %v", got, err)
	}

	got, err = s.ForChannel(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b model.ReadState) int { return cmp.Compare(a.UserID, b.UserID) })
	if len(got) != 2 || got[0].UserID != u1 || got[0].LastReadID != 100 || got[1].UserID != u2 || got[1].LastReadID != 50 || got[1].LastDeliveredID != 60 {
		t.Errorf("ForChannel(c1) = %+v", got)
	}
	if got, err := s.ForChannel(ctx, c3); err != nil || len(got) != 0 {
		t.Errorf("ForChannel(c3) = %+v, %v", got, err)
	}
}

func presenceByKey(ps []model.NodePresence) map[[2]int64]model.NodePresence {
	out := map[[2]int64]model.NodePresence{}
	for _, p := range ps {
		out[[2]int64{p.UserID, p.NodeID}] = p
	}
	return out
}

func TestPresence(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	s := mongorepo.NewPresenceStore(db)
	const n1, n2 = 1, 2
	const u1, u2, u3, u4 = 10, 20, 30, 40
	t0 := ms(time.Now().Add(-10 * time.Minute))

	if err := s.Put(ctx, []model.NodePresence{
		{UserID: u1, NodeID: n1, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0},
		{UserID: u1, NodeID: n2, Status: model.StatusIdle, LastSeen: t0, HeartbeatAt: t0},
		{UserID: u2, NodeID: n1, Status: model.StatusOffline, LastSeen: t0, HeartbeatAt: t0},
		{UserID: u3, NodeID: n2, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0},
		{UserID: u4, NodeID: n1, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	// Put replaces a (user, node) entry rather than adding one.
	if err := s.Put(ctx, []model.NodePresence{{UserID: u4, NodeID: n1, Status: model.StatusIdle, LastSeen: t0.Add(time.Second), HeartbeatAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, nil); err != nil {
		t.Fatal(err)
	}

	all, err := s.ForUsers(ctx, []int64{u1, u2, u3, u4, 999})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Fatalf("ForUsers = %d entries, want 5: %+v", len(all), all)
	}
	byKey := presenceByKey(all)
	if p := byKey[[2]int64{u4, n1}]; p.Status != model.StatusIdle || !p.LastSeen.Equal(t0.Add(time.Second)) || !p.HeartbeatAt.Equal(t0) {
		t.Errorf("u4@n1 after second Put = %+v", p)
	}
	if p := byKey[[2]int64{u1, n2}]; p.Status != model.StatusIdle || p.UserID != u1 || p.NodeID != n2 {
		t.Errorf("u1@n2 = %+v", p)
	}
	if got, err := s.ForUsers(ctx, []int64{u2}); err != nil || len(got) != 1 || got[0].Status != model.StatusOffline {
		t.Errorf("ForUsers(u2) = %+v, %v", got, err)
	}
	if got, err := s.ForUsers(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("ForUsers(nil) = %+v, %v", got, err)
	}

	// Node 1 heartbeats (its own document): its non-offline entries (u1@n1, u4@n1) read as refreshed, and no
	// entry is written.
	t1 := ms(time.Now())
	if err := s.Heartbeat(ctx, n1, t1); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx, n1, t0); err != nil { // a delayed, older heartbeat does not move it back
		t.Fatal(err)
	}
	all, _ = s.ForUsers(ctx, []int64{u1, u2, u3, u4})
	byKey = presenceByKey(all)
	for _, k := range [][2]int64{{u1, n1}, {u4, n1}} {
		if p := byKey[k]; !p.HeartbeatAt.Equal(t1) || !p.LastSeen.Equal(t1) {
			t.Errorf("%v after heartbeat = %+v; want heartbeat and last seen %v", k, p, t1)
		}
	}
	if n, err := db.Collection("presence").CountDocuments(ctx, bson.D{{Key: "heartbeatAt", Value: t1}}); err != nil || n != 0 {
		t.Errorf("%d entries written by a heartbeat (%v); want none", n, err)
	}
	if p := byKey[[2]int64{u4, n1}]; p.Status != model.StatusIdle {
		t.Errorf("heartbeat changed u4's status to %q", p.Status)
	}
	for _, k := range [][2]int64{{u2, n1}, {u1, n2}, {u3, n2}} { // offline on n1, or another node
		if p := byKey[k]; !p.HeartbeatAt.Equal(t0) || !p.LastSeen.Equal(t0) {
			t.Errorf("%v was refreshed by node 1's heartbeat: %+v", k, p)
		}
	}

	// Node 2 stopped heartbeating: its entries go offline; node 1's stay; the offline u2 is not reported again.
	users, err := s.SweepStale(ctx, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(users)
	if !slices.Equal(users, []int64{u1, u3}) {
		t.Fatalf("SweepStale = %v, want [%d %d] (node 2's users)", users, u1, u3)
	}
	all, _ = s.ForUsers(ctx, []int64{u1, u2, u3, u4})
	byKey = presenceByKey(all)
	want := map[[2]int64]string{
		{u1, n1}: model.StatusOnline, {u1, n2}: model.StatusOffline, {u2, n1}: model.StatusOffline,
		{u3, n2}: model.StatusOffline, {u4, n1}: model.StatusIdle,
	}
	for k, status := range want {
		if byKey[k].Status != status {
			t.Errorf("%v after sweep: status %q, want %q", k, byKey[k].Status, status)
		}
	}
	if p := byKey[[2]int64{u3, n2}]; !p.LastSeen.Equal(t0) {
		t.Errorf("sweeping changed last seen of a node that never heartbeated: %+v", p)
	}
	// Node 1 (live) is spared although its entries were written long ago; node 3 heartbeated once, long ago:
	// its user goes offline, last seen at that heartbeat.
	const n3, u5 = 3, 50
	if err := s.Put(ctx, []model.NodePresence{{UserID: u5, NodeID: n3, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0}}); err != nil {
		t.Fatal(err)
	}
	tBeat := t0.Add(20 * time.Second)
	if err := s.Heartbeat(ctx, n3, tBeat); err != nil {
		t.Fatal(err)
	}
	if users, err := s.SweepStale(ctx, t0.Add(time.Minute)); err != nil || !slices.Equal(users, []int64{u5}) {
		t.Fatalf("sweep with node 3 dead = %v, %v; want [%d]", users, err, u5)
	}
	if got, _ := s.ForUsers(ctx, []int64{u5}); len(got) != 1 || got[0].Status != model.StatusOffline || !got[0].LastSeen.Equal(tBeat) {
		t.Fatalf("u5@n3 after the sweep = %+v; want offline, last seen %v", got, tBeat)
	}
	if users, err := s.SweepStale(ctx, t0.Add(time.Minute)); err != nil || len(users) != 0 {
		t.Fatalf("second sweep = %v, %v; want nothing", users, err)
	}
	// Heartbeat does not bring swept entries back.
	if err := s.Heartbeat(ctx, n2, ms(time.Now())); err != nil {
		t.Fatal(err)
	}
	all, _ = s.ForUsers(ctx, []int64{u3})
	if len(all) != 1 || all[0].Status != model.StatusOffline || !all[0].HeartbeatAt.Equal(t0) {
		t.Fatalf("u3@n2 after node 2's heartbeat = %+v", all)
	}
}

// A node writes an entry between SweepStale's find and its update (the user's status changed, or the node
// rewrote its entries after a late heartbeat): the entry must stay as written and not be reported. A proxy between
// the sweeping client and the server holds back the sweep's first update command until the write (sent directly)
// has been applied, so the interleaving is certain.
func TestSweepStaleSparesEntryRefreshedMeanwhile(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx := testCtx(t)
	direct := mongorepo.NewPresenceStore(db)
	const refreshedNode, deadNode = 5, 6
	const refreshedUser, deadUser = 100, 200
	t0 := ms(time.Now().Add(-10 * time.Minute))
	if err := direct.Put(ctx, []model.NodePresence{
		{UserID: refreshedUser, NodeID: refreshedNode, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0},
		{UserID: deadUser, NodeID: deadNode, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0},
	}); err != nil {
		t.Fatal(err)
	}

	t1 := ms(time.Now())
	var hookErr error
	hooked := make(chan struct{})
	proxyURI := startUpdateHoldingProxy(t, func() {
		defer close(hooked)
		hookErr = direct.Put(ctx, []model.NodePresence{{UserID: refreshedUser, NodeID: refreshedNode, Status: model.StatusOnline, LastSeen: t1, HeartbeatAt: t1}})
	})
	client, err := mongorepo.Connect(ctx, proxyURI)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	sweeper := mongorepo.NewPresenceStore(client.Database(db.Name()))

	users, err := sweeper.SweepStale(ctx, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-hooked:
	default:
		t.Fatal("the sweep sent no update command through the proxy")
	}
	if hookErr != nil {
		t.Fatalf("write during the sweep: %v", hookErr)
	}
	if !slices.Equal(users, []int64{deadUser}) {
		t.Fatalf("SweepStale = %v, want only [%d]: user %d's entry was written during the sweep", users, deadUser, refreshedUser)
	}
	all, err := direct.ForUsers(ctx, []int64{refreshedUser, deadUser})
	if err != nil {
		t.Fatal(err)
	}
	byKey := presenceByKey(all)
	if p := byKey[[2]int64{refreshedUser, refreshedNode}]; p.Status != model.StatusOnline || !p.HeartbeatAt.Equal(t1) {
		t.Errorf("refreshed entry = %+v; want online with heartbeat %v", p, t1)
	}
	if p := byKey[[2]int64{deadUser, deadNode}]; p.Status != model.StatusOffline {
		t.Errorf("stale entry = %+v; want offline", p)
	}
}

// startUpdateHoldingProxy forwards MongoDB wire traffic to the test server and runs hook (once) before
// forwarding the first "update" command. It returns a URI for a client that goes through it.
func startUpdateHoldingProxy(t *testing.T, hook func()) string {
	t.Helper()
	u, err := url.Parse(testenv.MongoURI())
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		once  sync.Once
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	updateCmd := []byte("\x02update\x00")
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			track(client)
			track(server)
			wg.Add(2)
			go func() { // server -> client: plain copy
				defer wg.Done()
				_, _ = io.Copy(client, server)
				client.Close()
			}()
			go func() { // client -> server: message by message
				defer wg.Done()
				defer server.Close()
				header := make([]byte, 16)
				for {
					if _, err := io.ReadFull(client, header); err != nil {
						return
					}
					n := int(binary.LittleEndian.Uint32(header[0:4]))
					if n < 16 || n > 48<<20 {
						return
					}
					msg := make([]byte, n)
					copy(msg, header)
					if _, err := io.ReadFull(client, msg[16:]); err != nil {
						return
					}
					// OP_MSG (2013): flags (4 bytes), section kind 0 (1 byte), document length (4 bytes), then the
					// first element, which is the command: type 0x02 (string), name "update".
					if binary.LittleEndian.Uint32(header[12:16]) == 2013 && n > 25+len(updateCmd) && msg[20] == 0 && bytes.HasPrefix(msg[25:], updateCmd) {
						once.Do(hook)
					}
					if _, err := server.Write(msg); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "mongodb://" + ln.Addr().String() + "/?directConnection=true"
}

// Errors from the database are reported, not turned into empty results.
func TestStoresReportErrors(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	meta, rs, pres := mongorepo.NewChannelMetaStore(db), mongorepo.NewReadStateStore(db), mongorepo.NewPresenceStore(db)
	checks := map[string]error{}
	checks["SetTopic"] = meta.SetTopic(ctx, 1, "x")
	checks["RecordActivity"] = meta.RecordActivity(ctx, []model.ChannelActivity{{ChannelID: 1, Count: 1}})
	_, checks["Get"] = meta.Get(ctx, []int64{1})
	checks["Delete"] = meta.Delete(ctx, []int64{1})
	checks["Advance"] = rs.Advance(ctx, []model.ReadState{{UserID: 1, ChannelID: 1}})
	_, checks["ForUser"] = rs.ForUser(ctx, 1, []int64{1})
	_, checks["ForChannel"] = rs.ForChannel(ctx, 1)
	checks["Put"] = pres.Put(ctx, []model.NodePresence{{UserID: 1, NodeID: 1}})
	checks["Heartbeat"] = pres.Heartbeat(ctx, 1, time.Now())
	_, checks["SweepStale"] = pres.SweepStale(ctx, time.Now())
	_, checks["ForUsers"] = pres.ForUsers(ctx, []int64{1})
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", name, err)
		}
	}
}

// A node whose cluster lease ended: only its non-offline entries go offline, and only those not refreshed
// after the cut-off (the node restarted meanwhile).
func TestPresenceSweepNode(t *testing.T) {
	ctx := context.Background()
	t.Parallel()
	s := mongorepo.NewPresenceStore(testenv.Mongo(t))
	t0 := ms(time.Now().Add(-time.Minute))
	const u1, u2, u3, n1, n2 = 11, 12, 13, 1, 2
	if err := s.Put(ctx, []model.NodePresence{
		{UserID: u1, NodeID: n1, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0},
		{UserID: u2, NodeID: n1, Status: model.StatusIdle, LastSeen: t0, HeartbeatAt: t0.Add(2 * time.Minute)},
		{UserID: u3, NodeID: n1, Status: model.StatusOffline, LastSeen: t0, HeartbeatAt: t0},
		{UserID: u1, NodeID: n2, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	users, err := s.SweepNode(ctx, n1, t0.Add(time.Minute))
	if err != nil || !slices.Equal(users, []int64{u1}) {
		t.Fatalf("SweepNode = %v, %v; want [%d] (u2 refreshed after the cut-off, u3 already offline)", users, err, u1)
	}
	all, _ := s.ForUsers(ctx, []int64{u1, u2})
	byKey := presenceByKey(all)
	if byKey[[2]int64{u1, n1}].Status != model.StatusOffline || byKey[[2]int64{u1, n2}].Status != model.StatusOnline ||
		byKey[[2]int64{u2, n1}].Status != model.StatusIdle {
		t.Errorf("after SweepNode: %+v", byKey)
	}
}

func TestSettingsStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mongorepo.NewSettingsStore(testenv.Mongo(t))
	if _, found, err := s.Get(ctx, 7); err != nil || found {
		t.Fatalf("Get of a user without settings: found=%v %v", found, err)
	}
	want := model.UserSettings{MutedChannels: []int64{3, 4}, MutedServers: []int64{}, SuppressEveryone: []int64{9}, NotifySound: false, Desktop: model.NotifyAll}
	if err := s.Put(ctx, 7, want); err != nil {
		t.Fatal(err)
	}
	got, found, err := s.Get(ctx, 7)
	if err != nil || !found || !slices.Equal(got.MutedChannels, want.MutedChannels) || len(got.MutedServers) != 0 ||
		!slices.Equal(got.SuppressEveryone, want.SuppressEveryone) || got.NotifySound || got.Desktop != model.NotifyAll {
		t.Fatalf("Get = %+v %v %v", got, found, err)
	}
	if err := s.Put(ctx, 7, model.UserSettings{Desktop: model.NotifyNone, NotifySound: true}); err != nil { // replaced whole
		t.Fatal(err)
	}
	if got, _, _ := s.Get(ctx, 7); len(got.MutedChannels) != 0 || got.Desktop != model.NotifyNone || !got.NotifySound {
		t.Fatalf("after replacing: %+v", got)
	}
}
