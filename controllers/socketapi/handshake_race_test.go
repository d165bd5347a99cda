package socketapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv/rawsio"
	"github.com/parleychat/parley/services/auth"
)

// raceAuth accepts one user's token until the session is revoked.
type raceAuth struct {
	mu      sync.Mutex
	revoked bool
}

func (a *raceAuth) Authenticate(ctx context.Context, _ string) (auth.Claims, error) {
	return auth.Claims{UserID: 7, SessionID: 70}, a.CheckSession(ctx, 70)
}

func (a *raceAuth) CheckSession(context.Context, int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.revoked {
		return apperr.New(apperr.Unauthorized, "session has ended")
	}
	return nil
}

// raceRooms answers the first channel-list read only after the test has acted (a kick or a logout), the way
// a slow Postgres read lets one slip in between.
type raceRooms struct {
	mu       sync.Mutex
	channels []int64
	reading  chan struct{} // closed when the first read starts
	proceed  chan struct{} // the first read returns after this is closed
	first    sync.Once
}

func (r *raceRooms) ReadableChannelIDs(context.Context, int64) ([]int64, error) {
	r.mu.Lock()
	list := append([]int64(nil), r.channels...)
	r.mu.Unlock()
	r.first.Do(func() {
		close(r.reading)
		<-r.proceed
	})
	return list, nil
}

func (r *raceRooms) ServerIDs(context.Context, int64) ([]int64, error) { return nil, nil }

func raceServer(t *testing.T) (*Hub, *raceAuth, *raceRooms, string) {
	t.Helper()
	a := &raceAuth{}
	rooms := &raceRooms{channels: []int64{100}, reading: make(chan struct{}), proceed: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := NewHub(Config{}, log)
	New(s, Services{Auth: a, Rooms: rooms}, log)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s.Handler())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, a, rooms, hs.URL
}

// A kick that lands while a socket of the kicked user is connecting (its channel list already read, its rooms
// not yet joined) still takes the socket out of the channel (#22 finding 3).
func TestKickDuringHandshakeIsNotMissed(t *testing.T) {
	s, _, rooms, url := raceServer(t)
	go func() {
		<-rooms.reading
		rooms.mu.Lock()
		rooms.channels = nil // the membership is gone in the database...
		rooms.mu.Unlock()
		s.Publisher().MemberLeft(5, 7, []int64{100}, "kicked") // ...and announced, before the socket joined
		close(rooms.proceed)
	}()
	sock, answer := rawsio.Dial(t, url, "token", 0)
	if !strings.HasPrefix(answer, "40{") {
		t.Fatalf("connect: %q", answer)
	}
	s.Publisher().MessageCreated(model.Message{ID: 1, ChannelID: 100, SenderID: 8, Content: "after the kick"})
	s.Publisher().SettingsChanged(7, model.UserSettings{}) // a marker to the user's own room
	for {
		f := sock.Read(t)
		if strings.Contains(f, `"message:new"`) {
			t.Fatalf("the kicked user's new socket received a message of the channel: %s", f)
		}
		if strings.Contains(f, `"settings:update"`) {
			return
		}
	}
}

// A logout that lands while a socket of that session is connecting ends the socket too.
func TestRevocationDuringHandshakeIsNotMissed(t *testing.T) {
	s, a, rooms, url := raceServer(t)
	go func() {
		<-rooms.reading
		a.mu.Lock()
		a.revoked = true
		a.mu.Unlock()
		s.SessionRevoked(70, 7, "logout")
		close(rooms.proceed)
	}()
	sock, answer := rawsio.Dial(t, url, "token", 0)
	t.Logf("early frames %q, answer %q", sock.Early, answer)
	if strings.HasPrefix(answer, "44") {
		return // refused: the session ended before the socket was connected
	}
	// Connected: then it must be told and closed at once, and get nothing else.
	for {
		f := sock.Read(t)
		if strings.HasPrefix(f, "41") || strings.Contains(f, "session:revoked") {
			return
		}
		if strings.HasPrefix(f, "42") {
			t.Fatalf("a socket of a revoked session got: %s", f)
		}
	}
}
