package typing_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/testenv"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
	"github.com/parleychat/parley/repositories/postgres"
	"github.com/parleychat/parley/services/community"
	"github.com/parleychat/parley/services/typing"
)

// event is one announcement of the typing service.
type event struct {
	channel, user int64
	typing        bool
}

// announcements records what the socket layer would tell the channel.
type announcements struct {
	mu     sync.Mutex
	events []event
	ch     chan event
}

func newAnnouncements() *announcements { return &announcements{ch: make(chan event, 100)} }

func (a *announcements) TypingChanged(channelID, userID int64, typing bool) {
	a.mu.Lock()
	a.events = append(a.events, event{channelID, userID, typing})
	a.mu.Unlock()
	a.ch <- event{channelID, userID, typing}
}

func (a *announcements) all() []event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]event(nil), a.events...)
}

// next waits for the next announcement (generously: the machine may be loaded).
func (a *announcements) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-a.ch:
		return e
	case <-time.After(15 * time.Second):
		t.Fatal("no announcement within 15 s")
		return event{}
	}
}

// writers is the access the app gives typing: may the user write in the channel now (cmd/server/app).
type writers struct{ svc *community.Service }

func (w writers) CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error) {
	return w.svc.CanWrite(ctx, userID, channelID)
}

type nopNotifier struct{}

func (nopNotifier) ServerChanged(model.Server, string)                      {}
func (nopNotifier) ServerDeleted(int64, []int64)                            {}
func (nopNotifier) MemberJoined(model.Server, model.Member, []int64)        {}
func (nopNotifier) MemberLeft(int64, int64, []int64, string)                {}
func (nopNotifier) MemberChanged(model.Member)                              {}
func (nopNotifier) ChannelChanged(model.Channel, model.ChannelMeta, string) {}
func (nopNotifier) ChannelDeleted(model.Channel)                            {}
func (nopNotifier) DMCreated(model.Channel, []int64)                        {}
func (nopNotifier) DMClosed(int64, int64)                                   {}
func (nopNotifier) DMLeft(model.Channel, int64, []int64)                    {}

// world is a server with #general that alice owns and bob joined, a stranger (carol), and a 1:1 DM of alice
// and bob, on the real Postgres and MongoDB.
type world struct {
	community                      *community.Service
	alice, bob, carol, general, dm int64
}

func newWorld(t *testing.T) world {
	t.Helper()
	ctx := context.Background()
	pg := testenv.Postgres(t)
	users := postgres.NewUserStore(pg)
	ids, err := snowflake.New(1)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := community.New(postgres.NewCommunityStore(pg), mongorepo.NewChannelMetaStore(testenv.Mongo(t)), users, nopNotifier{}, ids, nil, community.Limits{}, log)
	var w world
	w.community = svc
	for _, u := range []struct {
		id   *int64
		name string
	}{{&w.alice, "alice"}, {&w.bob, "bob"}, {&w.carol, "carol"}} {
		created, err := users.Create(ctx, model.User{ID: ids.Next(), Username: u.name, Email: u.name + "@example.com", PasswordHash: "x", DisplayName: u.name})
		if err != nil {
			t.Fatal(err)
		}
		*u.id = created.ID
	}
	srv, err := svc.CreateServer(ctx, w.alice, "Typists")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := svc.CreateInvite(ctx, w.alice, srv.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.JoinInvite(ctx, w.bob, inv.Code); err != nil {
		t.Fatal(err)
	}
	chans, err := svc.Channels(ctx, w.alice, srv.ID)
	if err != nil || len(chans) != 1 {
		t.Fatalf("channels %v %v", chans, err)
	}
	w.general = chans[0].Channel.ID
	dm, _, err := svc.CreateDM(ctx, w.alice, []int64{w.bob})
	if err != nil {
		t.Fatal(err)
	}
	w.dm = dm.Channel.ID
	return w
}

func TestStartIsAnnouncedOncePerThrottleAndStopEndsIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := newAnnouncements()
	svc := typing.New(writers{w.community}, ann, time.Hour, time.Hour)
	ctx := context.Background()
	for range 3 { // a client sends typing:start every few seconds while the user types
		if err := svc.Start(ctx, w.bob, w.general); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Start(ctx, w.alice, w.general); err != nil {
		t.Fatal(err)
	}
	svc.Stop(w.bob, w.general)
	svc.Stop(w.bob, w.general) // already stopped: nothing more to say
	want := []event{{w.general, w.bob, true}, {w.general, w.alice, true}, {w.general, w.bob, false}}
	if got := ann.all(); !equal(got, want) {
		t.Fatalf("announcements %v, want %v", got, want)
	}
	// After a stop, typing again is news at once, throttle or not.
	if err := svc.Start(ctx, w.bob, w.general); err != nil {
		t.Fatal(err)
	}
	if got := ann.all(); len(got) != 4 || got[3] != (event{w.general, w.bob, true}) {
		t.Fatalf("a start after a stop: %v", got)
	}
}

func TestWithoutThrottleEveryStartIsForwarded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := newAnnouncements()
	svc := typing.New(writers{w.community}, ann, 0, time.Hour)
	for range 3 {
		if err := svc.Start(context.Background(), w.bob, w.general); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(ann.all()); n != 3 {
		t.Fatalf("%d announcements, want 3", n)
	}
}

func TestSendingAMessageStopsTheSendersIndicator(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := newAnnouncements()
	svc := typing.New(writers{w.community}, ann, time.Hour, time.Hour)
	if err := svc.Start(context.Background(), w.bob, w.general); err != nil {
		t.Fatal(err)
	}
	svc.MessageStored(model.Message{ChannelID: w.general, SenderID: w.alice}) // someone else's message: bob still types
	svc.MessageStored(model.Message{ChannelID: w.general, SenderID: w.bob})
	want := []event{{w.general, w.bob, true}, {w.general, w.bob, false}}
	if got := ann.all(); !equal(got, want) {
		t.Fatalf("announcements %v, want %v", got, want)
	}
}

func TestAnIndicatorNotRenewedExpiresByItself(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := newAnnouncements()
	const expiry = 300 * time.Millisecond
	svc := typing.New(writers{w.community}, ann, time.Hour, expiry)
	start := time.Now()
	if err := svc.Start(context.Background(), w.bob, w.dm); err != nil {
		t.Fatal(err)
	}
	if e := ann.next(t); e != (event{w.dm, w.bob, true}) {
		t.Fatalf("first announcement %v", e)
	}
	if e := ann.next(t); e != (event{w.dm, w.bob, false}) {
		t.Fatalf("second announcement %v, want the indicator's end", e)
	}
	if elapsed := time.Since(start); elapsed < expiry {
		t.Fatalf("the indicator ended after %v, before its expiry of %v", elapsed, expiry)
	}
	// Once expired, a Stop has nothing to end.
	svc.Stop(w.bob, w.dm)
	time.Sleep(2 * expiry)
	if n := len(ann.all()); n != 2 {
		t.Fatalf("%d announcements, want 2: %v", n, ann.all())
	}
}

func TestOnlyThoseWhoMayWriteCanType(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := newAnnouncements()
	svc := typing.New(writers{w.community}, ann, 0, time.Hour)
	ctx := context.Background()
	// A stranger: the channel does not exist for them.
	if err := svc.Start(ctx, w.carol, w.general); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("non-member: %v, want not found", err)
	}
	if err := svc.Start(ctx, w.carol, w.dm); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("someone else's DM: %v, want not found", err)
	}
	if err := svc.Start(ctx, w.alice, 999); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown channel: %v, want not found", err)
	}
	// In a 1:1 DM closed by a block, neither side shows as typing.
	if err := svc.Start(ctx, w.bob, w.dm); err != nil {
		t.Fatal(err)
	}
	if err := w.community.Block(ctx, w.alice, w.bob); err != nil {
		t.Fatal(err)
	}
	for _, u := range []int64{w.alice, w.bob} {
		if err := svc.Start(ctx, u, w.dm); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("user %d typing in a blocked DM: %v, want forbidden", u, err)
		}
	}
	// Someone who left the server can no longer type in it.
	srvs, err := w.community.Servers(ctx, w.bob)
	if err != nil || len(srvs) != 1 {
		t.Fatalf("servers %v %v", srvs, err)
	}
	if err := w.community.Leave(ctx, w.bob, srvs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx, w.bob, w.general); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("after leaving: %v, want not found", err)
	}
	if got := ann.all(); len(got) != 1 || got[0] != (event{w.dm, w.bob, true}) {
		t.Fatalf("announcements %v: only bob's start before the block may be told", got)
	}
}

func equal(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
