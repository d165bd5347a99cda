package readstate_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/cassandra"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
	"github.com/parleychat/parley/repositories/postgres"
	"github.com/parleychat/parley/services/community"
	"github.com/parleychat/parley/services/messaging"
	"github.com/parleychat/parley/services/readstate"
)

// receipts records what readstate announces.
type receipts struct {
	mu    sync.Mutex
	lines []string
}

func (r *receipts) ReadAdvanced(channelID, userID, messageID int64) {
	r.add(fmt.Sprintf("read %d %d %d", channelID, userID, messageID))
}

func (r *receipts) Delivered(ch model.Channel, userID, messageID, senderID int64) {
	r.add(fmt.Sprintf("delivered %d %d %d to %d", ch.ID, userID, messageID, senderID))
}

func (r *receipts) add(l string) { r.mu.Lock(); r.lines = append(r.lines, l); r.mu.Unlock() }

func (r *receipts) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// peers records the positions this node tells the others about.
type peers struct {
	mu  sync.Mutex
	got []model.ReadState
}

func (p *peers) Advanced(st model.ReadState) { p.mu.Lock(); p.got = append(p.got, st); p.mu.Unlock() }

func (p *peers) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got) }

type quiet struct{}

func (quiet) ServerChanged(model.Server, string)                      {}
func (quiet) ServerDeleted(int64, []int64)                            {}
func (quiet) MemberJoined(model.Server, model.Member, []int64)        {}
func (quiet) MemberLeft(int64, int64, []int64, string)                {}
func (quiet) MemberChanged(model.Member)                              {}
func (quiet) ChannelChanged(model.Channel, model.ChannelMeta, string) {}
func (quiet) ChannelDeleted(model.Channel)                            {}
func (quiet) DMCreated(model.Channel, []int64)                        {}
func (quiet) DMClosed(int64, int64)                                   {}
func (quiet) DMLeft(model.Channel, int64, []int64)                    {}
func (quiet) MessageCreated(model.Message)                            {}
func (quiet) MessageUpdated(model.Message)                            {}
func (quiet) MessageDeleted(int64, int64)                             {}

// env is a server of alice (owner), bob and dave with #general, and carol outside it; messages go through the
// real messaging service into Cassandra; read state lives in MongoDB.
type env struct {
	mdb       *mongo.Database
	community *community.Service
	messages  *messaging.Service
	reads     *readstate.Service
	notes     *receipts
	peers     *peers
	log       *slog.Logger
	server    int64
	general   int64
	users     map[string]int64
	nonce     int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	pg := testenv.Postgres(t)
	mdb := testenv.Mongo(t)
	cs, _ := testenv.SharedCassandra(t)
	ids, err := snowflake.New(1)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	users := postgres.NewUserStore(pg)
	meta := mongorepo.NewChannelMetaStore(mdb)
	comm := community.New(postgres.NewCommunityStore(pg), meta, users, quiet{}, ids, nil, community.Limits{}, log)
	relay := &messaging.Relay{}
	msgs := messaging.New(cassandra.NewMessageStore(cs), comm, quiet{}, meta, ids, messaging.Config{SendBurst: 1000, Mentions: comm, Gate: comm,
		Observers: []messaging.Observer{relay}}, log)
	t.Cleanup(func() { _ = msgs.Close(context.Background()) })
	e := &env{mdb: mdb, community: comm, messages: msgs, log: log, users: map[string]int64{}}
	e.reads, e.notes, e.peers = e.newReads(t, relay)
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		u, err := users.Create(ctx, model.User{ID: ids.Next(), Username: name, Email: name + "@example.com", PasswordHash: "x", DisplayName: name})
		if err != nil {
			t.Fatal(err)
		}
		e.users[name] = u.ID
	}
	srv, err := comm.CreateServer(ctx, e.users["alice"], "Readers")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := comm.CreateInvite(ctx, e.users["alice"], srv.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bob", "dave"} {
		if _, err := comm.JoinInvite(ctx, e.users[name], inv.Code); err != nil {
			t.Fatal(err)
		}
	}
	chans, err := comm.Channels(ctx, e.users["alice"], srv.ID)
	if err != nil || len(chans) != 1 {
		t.Fatalf("channels %v %v", chans, err)
	}
	e.server, e.general = srv.ID, chans[0].Channel.ID
	return e
}

// newReads builds a readstate Service on the env's MongoDB (another node, or the same one after a restart). Its
// writer's interval is long: only Flush and Close write, so the tests see exactly when positions reach MongoDB.
// newReads builds a read state service; with stored, it follows the messages sent (a restarted node's does not
// need to).
func (e *env) newReads(t *testing.T, stored readstate.Stored) (*readstate.Service, *receipts, *peers) {
	t.Helper()
	n, p := &receipts{}, &peers{}
	svc := readstate.New(mongorepo.NewReadStateStore(e.mdb), e.community, e.messages, n, p, stored, time.Hour, e.log)
	t.Cleanup(func() { svc.Close(context.Background()) })
	return svc, n, p
}

// channels lists the server's channels as a client gets them: community's list with the read state added.
func (e *env) channels(ctx context.Context, userID int64) ([]model.ChannelView, error) {
	views, err := e.community.Channels(ctx, userID, e.server)
	if err == nil {
		err = e.reads.Annotate(ctx, userID, views)
	}
	return views, err
}

// send stores a message and returns it once it is in Cassandra.
func (e *env) send(t *testing.T, from, text string) model.Message {
	t.Helper()
	e.nonce++
	type result struct {
		m   model.Message
		err error
	}
	done := make(chan result, 1)
	err := e.messages.Send(context.Background(), messaging.Draft{UserID: e.users[from], ChannelID: e.general, Content: text, Nonce: "n" + strconv.Itoa(e.nonce)},
		func(m model.Message, err error) { done <- result{m, err} })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.m
	case <-time.After(30 * time.Second):
		t.Fatal("message not stored within 30 s")
		return model.Message{}
	}
}

func stored(t *testing.T, mdb *mongo.Database, userID, channelID int64) model.ReadState {
	t.Helper()
	sts, err := mongorepo.NewReadStateStore(mdb).ForUser(context.Background(), userID, []int64{channelID})
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) > 1 {
		t.Fatalf("%d stored positions for one user and channel", len(sts))
	}
	if len(sts) == 0 {
		return model.ReadState{}
	}
	return sts[0]
}

func position(t *testing.T, svc *readstate.Service, caller, userID, channelID int64) model.ReadState {
	t.Helper()
	sts, err := svc.Receipts(context.Background(), caller, channelID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.UserID == userID {
			return st
		}
	}
	return model.ReadState{}
}

func TestReadPositionsOnlyMoveForwardAndAreWrittenCoalesced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	alice, bob := e.users["alice"], e.users["bob"]
	m1, m2, m3 := e.send(t, "alice", "one"), e.send(t, "alice", "two"), e.send(t, "alice", "three")

	for _, m := range []model.Message{m1, m3, m2, m1} { // out of order, as clients on flaky links send them
		if err := e.reads.Read(ctx, bob, e.general, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{fmt.Sprintf("read %d %d %d", e.general, bob, m1.ID), fmt.Sprintf("read %d %d %d", e.general, bob, m3.ID)}
	if got := e.notes.all(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("announcements %v, want only the two forward moves %v", got, want)
	}
	if st := position(t, e.reads, alice, bob, e.general); st.LastReadID != m3.ID || st.LastDeliveredID != m3.ID {
		t.Fatalf("bob's position %+v, want read and delivered up to m3", st)
	}
	// Nothing is in MongoDB until the writer runs; then one document with the furthest position.
	if st := stored(t, e.mdb, bob, e.general); st.LastReadID != 0 {
		t.Fatalf("written before the interval: %+v", st)
	}
	e.reads.Flush(ctx)
	if st := stored(t, e.mdb, bob, e.general); st.LastReadID != m3.ID || st.LastDeliveredID != m3.ID || st.UpdatedAt.IsZero() {
		t.Fatalf("stored after Flush: %+v, want m3", st)
	}
	// The sender's own messages count as read by them (MessageStored), written with the rest.
	if st := stored(t, e.mdb, alice, e.general); st.LastReadID != m3.ID {
		t.Fatalf("alice's own position: %+v, want her last message", st)
	}
	// Each forward move was told to the other nodes.
	if n := e.peers.count(); n != 2 {
		t.Fatalf("%d positions told to peers, want 2", n)
	}

	// A restarted node reads the positions back from MongoDB, and still refuses to move them back.
	again, notes, _ := e.newReads(t, nil)
	if st := position(t, again, alice, bob, e.general); st.LastReadID != m3.ID {
		t.Fatalf("after a restart: %+v", st)
	}
	if err := again.Read(ctx, bob, e.general, m2.ID); err != nil {
		t.Fatal(err)
	}
	again.Flush(ctx)
	if st := stored(t, e.mdb, bob, e.general); st.LastReadID != m3.ID || len(notes.all()) != 0 {
		t.Fatalf("a backward read after a restart moved the position: %+v, %v", st, notes.all())
	}
	if up, err := again.ReadUpTo(ctx, alice, e.general); err != nil || up != m3.ID {
		t.Fatalf("ReadUpTo for alice: %d %v, want bob's m3", up, err)
	}
	if up, err := again.ReadUpTo(ctx, bob, e.general); err != nil || up != m3.ID {
		t.Fatalf("ReadUpTo for bob: %d %v, want alice's m3", up, err)
	}
}

// A position moved by a receipt is written at the next interval; one moved only by the user's own message waits
// OwnWriteFactor intervals (it is most of the writes in a busy channel, and cheap to lose), and is written then
// without anyone flushing.
func TestOwnPositionsAreWrittenLessOftenThanReceipts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	alice, bob := e.users["alice"], e.users["bob"]
	m := e.send(t, "alice", "hello")
	const every = 150 * time.Millisecond
	built := time.Now()
	svc := readstate.New(mongorepo.NewReadStateStore(e.mdb), e.community, e.messages, &receipts{}, nil, nil, every, e.log)
	t.Cleanup(func() { svc.Close(context.Background()) })
	svc.MessageStored(m)
	if err := svc.Read(ctx, bob, e.general, m.ID); err != nil {
		t.Fatal(err)
	}
	waitStored := func(user int64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); stored(t, e.mdb, user, e.general).LastReadID != m.ID; {
			if time.Now().After(deadline) {
				t.Fatalf("position of %d not written within 10 s", user)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitStored(bob)
	ownDue := readstate.OwnWriteFactor * every
	if st := stored(t, e.mdb, alice, e.general); time.Since(built) < ownDue-every {
		if st.LastReadID != 0 {
			t.Fatalf("alice's own position was written with the receipts: %+v", st)
		}
	} else {
		t.Log("too slow here to tell the two intervals apart; only the later write is checked")
	}
	waitStored(alice)
}

func TestReceiptsAreForMembersAndExistingMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	alice, bob, carol := e.users["alice"], e.users["bob"], e.users["carol"]
	m := e.send(t, "alice", "hello")
	for what, err := range map[string]error{
		"read by a stranger":      e.reads.Read(ctx, carol, e.general, m.ID),
		"delivered to a stranger": e.reads.Delivered(ctx, carol, e.general, m.ID),
		"read of no message":      e.reads.Read(ctx, bob, e.general, m.ID+1),
		"read in no channel":      e.reads.Read(ctx, bob, 424242, m.ID),
	} {
		if !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%s: %v, want not found", what, err)
		}
	}
	_, err := e.reads.Receipts(ctx, carol, e.general)
	if !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("receipts for a stranger: %v", err)
	}
	if _, err := e.reads.ReadUpTo(ctx, carol, e.general); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("ReadUpTo for a stranger: %v", err)
	}
	if len(e.notes.all()) != 0 {
		t.Fatalf("refused receipts were announced: %v", e.notes.all())
	}
	e.reads.Flush(ctx)
	if st := stored(t, e.mdb, carol, e.general); st.LastReadID != 0 || st.LastDeliveredID != 0 {
		t.Fatalf("a stranger's position was stored: %+v", st)
	}
	// A member who leaves loses the receipts with the channel.
	if err := e.community.Leave(ctx, bob, e.server); err != nil {
		t.Fatal(err)
	}
	if err := e.reads.Read(ctx, bob, e.general, m.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("read after leaving: %v", err)
	}
	if sts, err := e.reads.Receipts(ctx, alice, e.general); err != nil || len(sts) != 1 || sts[0].UserID != alice {
		t.Fatalf("receipts %+v %v; want alice's own position only", sts, err)
	}
}

func TestDeliveryReceiptsTellTheSender(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	alice, bob := e.users["alice"], e.users["bob"]
	m1, m2 := e.send(t, "alice", "one"), e.send(t, "alice", "two")
	if err := e.reads.Delivered(ctx, bob, e.general, m2.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.reads.Delivered(ctx, bob, e.general, m1.ID); err != nil { // behind: nothing moves
		t.Fatal(err)
	}
	if err := e.reads.Delivered(ctx, alice, e.general, m2.ID); err != nil { // one's own message: nothing to tell
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("delivered %d %d %d to %d", e.general, bob, m2.ID, alice)}
	if got := e.notes.all(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("announcements %v, want %v", got, want)
	}
	st := position(t, e.reads, alice, bob, e.general)
	if st.LastDeliveredID != m2.ID || st.LastReadID != 0 {
		t.Fatalf("bob's position %+v: delivered m2, nothing read", st)
	}
	// Reading m1 moves the read position only; delivery stays at m2.
	if err := e.reads.Read(ctx, bob, e.general, m1.ID); err != nil {
		t.Fatal(err)
	}
	e.reads.Flush(ctx)
	if st := stored(t, e.mdb, bob, e.general); st.LastReadID != m1.ID || st.LastDeliveredID != m2.ID {
		t.Fatalf("stored %+v, want read m1 and delivered m2", st)
	}
}

// Unread and mention counts in the channel list, with messages of blocked users left out.
func TestUnreadAndMentionCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	bob, dave := e.users["bob"], e.users["dave"]
	first := e.send(t, "alice", "before bob reads")
	if err := e.reads.Read(ctx, bob, e.general, first.ID); err != nil {
		t.Fatal(err)
	}
	e.send(t, "alice", "hello @bob")
	e.send(t, "alice", "plain")
	e.send(t, "dave", "hey @bob, dave here")
	e.send(t, "dave", "more from dave")
	e.send(t, "bob", "bob's own message") // moves bob's read position to the end

	// bob's own message read him up to it: nothing is unread.
	views, err := e.channels(ctx, bob)
	if err != nil || len(views) != 1 {
		t.Fatalf("channels %v %v", views, err)
	}
	if v := views[0]; v.UnreadCount != 0 || v.MentionCount != 0 {
		t.Fatalf("after sending: unread %d, mentions %d; want 0, 0", v.UnreadCount, v.MentionCount)
	}
	last := e.send(t, "alice", "after bob's message, @bob")
	e.send(t, "dave", "dave again @bob")
	views, _ = e.channels(ctx, bob)
	if v := views[0]; v.UnreadCount != 2 || v.MentionCount != 2 || v.Meta.LastMessageID <= last.ID {
		t.Fatalf("unread %d, mentions %d (last %d); want 2, 2", v.UnreadCount, v.MentionCount, v.Meta.LastMessageID)
	}
	// bob blocks dave: dave's messages no longer count.
	if err := e.community.Block(ctx, bob, dave); err != nil {
		t.Fatal(err)
	}
	views, _ = e.channels(ctx, bob)
	if v := views[0]; v.UnreadCount != 1 || v.MentionCount != 1 {
		t.Fatalf("with dave blocked: unread %d, mentions %d; want 1, 1", v.UnreadCount, v.MentionCount)
	}
	// Reading to the end clears the badge.
	if err := e.reads.Read(ctx, bob, e.general, last.ID); err != nil {
		t.Fatal(err)
	}
	views, _ = e.channels(ctx, bob)
	if v := views[0]; v.UnreadCount != 0 || v.LastReadID != last.ID {
		t.Fatalf("after reading: %+v", v)
	}
	// A restarted node counts from the positions in MongoDB (it never saw these messages itself).
	e.reads.Flush(ctx)
	again, _, _ := e.newReads(t, nil)
	vs := []model.ChannelView{{Channel: model.Channel{ID: e.general}, Meta: model.ChannelMeta{LastMessageID: views[0].Meta.LastMessageID}}}
	if err := again.Annotate(ctx, bob, vs); err != nil {
		t.Fatal(err)
	}
	if vs[0].LastReadID != last.ID || vs[0].UnreadCount != 0 {
		t.Fatalf("after a restart: %+v, want read up to %d, nothing unread", vs[0], last.ID)
	}
	if err := again.Annotate(ctx, bob, nil); err != nil {
		t.Fatal(err)
	}
}

func TestUnreadCountsStopAtTheCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var last model.Message
	for i := 0; i < readstate.UnreadCap+5; i++ {
		last = e.send(t, "alice", "message "+strconv.Itoa(i))
	}
	vs := []model.ChannelView{{Channel: model.Channel{ID: e.general}, Meta: model.ChannelMeta{LastMessageID: last.ID}}}
	if err := e.reads.Annotate(ctx, e.users["bob"], vs); err != nil {
		t.Fatal(err)
	}
	if vs[0].UnreadCount != readstate.UnreadCap {
		t.Fatalf("unread %d, want the cap %d", vs[0].UnreadCount, readstate.UnreadCap)
	}
}

// Positions another node moved reach this node's cache through Learn, once it holds the channel's positions.
func TestLearnMergesPositionsFromOtherNodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	alice, bob, dave := e.users["alice"], e.users["bob"], e.users["dave"]
	m1, m2 := e.send(t, "alice", "one"), e.send(t, "alice", "two")
	// Not yet loaded here: a learned position is not cached (it would make the channel look complete).
	e.reads.Learn(model.ReadState{UserID: dave, ChannelID: e.general, LastReadID: m1.ID, LastDeliveredID: m1.ID})
	if st := position(t, e.reads, alice, dave, e.general); st.LastReadID != 0 {
		t.Fatalf("a position learned before the channel was loaded: %+v", st)
	}
	// Loaded now: the other node's later position is merged forward, and an older one does not move it back.
	e.reads.Learn(model.ReadState{UserID: bob, ChannelID: e.general, LastReadID: m2.ID, LastDeliveredID: m2.ID})
	e.reads.Learn(model.ReadState{UserID: bob, ChannelID: e.general, LastReadID: m1.ID, LastDeliveredID: m1.ID})
	if st := position(t, e.reads, alice, bob, e.general); st.LastReadID != m2.ID {
		t.Fatalf("bob's learned position %+v, want m2", st)
	}
	// Learned positions are the other node's to write, not this one's.
	e.reads.Flush(ctx)
	if st := stored(t, e.mdb, bob, e.general); st.LastReadID != 0 {
		t.Fatalf("this node wrote another node's position: %+v", st)
	}
}

// While MongoDB cannot answer, receipts still move and are announced (the write merges with $max later), and
// what needs a read from MongoDB answers unavailable.
func TestMongoOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	alice, bob := e.users["alice"], e.users["bob"]
	m := e.send(t, "alice", "hello")
	client, err := mongorepo.Connect(ctx, testenv.MongoURI())
	if err != nil {
		t.Fatal(err)
	}
	down := client.Database(e.mdb.Name())
	if err := client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	n := &receipts{}
	svc := readstate.New(mongorepo.NewReadStateStore(down), e.community, e.messages, n, nil, nil, time.Hour, e.log)
	if err := svc.Read(ctx, bob, e.general, m.ID); err != nil {
		t.Fatalf("read while MongoDB is down: %v", err)
	}
	if got := n.all(); len(got) != 1 {
		t.Fatalf("announcements %v, want bob's read", got)
	}
	if _, err := svc.Receipts(ctx, alice, e.general); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("receipts: %v, want unavailable", err)
	}
	vs := []model.ChannelView{{Channel: model.Channel{ID: e.general}, Meta: model.ChannelMeta{LastMessageID: m.ID}}}
	if err := svc.Annotate(ctx, bob, vs); err == nil {
		t.Fatal("Annotate without MongoDB: no error")
	}
}
