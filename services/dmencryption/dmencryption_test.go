package dmencryption_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/dmencryption"
)

// fake is every dependency at once: a DM 10 with users 1 and 2, a text channel 20; it counts what was announced.
type fake struct {
	mu                       sync.Mutex
	on                       bool
	storeErr                 error
	lineErr                  error
	forgot, announced, lines int
}

func (f *fake) CanRead(_ context.Context, userID, channelID int64) (model.Channel, string, error) {
	switch {
	case channelID == 20:
		return model.Channel{ID: 20, Kind: model.ChannelText, ServerID: 1}, model.RoleMember, nil
	case channelID == 10 && (userID == 1 || userID == 2):
		return model.Channel{ID: 10, Kind: model.ChannelDM}, model.RoleMember, nil
	}
	return model.Channel{}, "", apperr.New(apperr.NotFound, "channel not found")
}

func (f *fake) EncryptDM(_ context.Context, channelID int64) (bool, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.storeErr != nil {
		return false, false, f.storeErr
	}
	if channelID != 10 {
		return false, false, model.ErrNotFound
	}
	changed := !f.on
	f.on = true
	return changed, true, nil
}

func (f *fake) Participants(context.Context, int64) ([]model.User, error) {
	return []model.User{{ID: 1}, {ID: 2}}, nil
}
func (f *fake) AccessChanged()            { f.mu.Lock(); f.forgot++; f.mu.Unlock() }
func (f *fake) DMEncrypted(model.Channel) { f.mu.Lock(); f.announced++; f.mu.Unlock() }
func (f *fake) EncryptionLine(context.Context, int64, int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines++
	return f.lineErr
}

func newService(f *fake) *dmencryption.Service {
	return dmencryption.New(f, f, f, f, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestEnableOnceForEveryone(t *testing.T) {
	f := &fake{}
	s := newService(f)
	var wg sync.WaitGroup
	for i := range 8 { // concurrent clicks of both members: one change, one announcement, one line
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := s.Enable(context.Background(), int64(1+i%2), 10)
			if err != nil || !ch.Encrypted || !ch.Group || len(ch.Participants) != 2 {
				t.Errorf("Enable: %+v %v", ch, err)
			}
		}()
	}
	wg.Wait()
	if f.forgot != 1 || f.announced != 1 || f.lines != 1 {
		t.Fatalf("forgot %d, announced %d, lines %d; want 1 each", f.forgot, f.announced, f.lines)
	}
}

func TestEnableRefusals(t *testing.T) {
	f := &fake{}
	s := newService(f)
	if _, err := s.Enable(context.Background(), 3, 10); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a non-member: %v", err)
	}
	if _, err := s.Enable(context.Background(), 1, 20); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("a server channel: %v", err)
	}
	f.storeErr = errors.New("postgres down")
	if _, err := s.Enable(context.Background(), 1, 10); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("store down: %v", err)
	}
	if f.announced != 0 || f.lines != 0 {
		t.Fatal("a refusal announced something")
	}
	// A lost system line does not undo the flag (it is logged).
	f.storeErr, f.lineErr = nil, errors.New("queue full")
	if ch, err := s.Enable(context.Background(), 2, 10); err != nil || !ch.Encrypted || f.announced != 1 {
		t.Fatalf("line lost: %+v %v", ch, err)
	}
}
