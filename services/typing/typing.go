// Package typing forwards typing indicators: throttled per user and channel, expiring by themselves, stopped
// when the user sends. Nothing is stored.
package typing

import (
	"context"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// Access answers whether a user may read a channel.
type Access interface {
	CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error)
}

// Notifier tells the channel's other members.
type Notifier interface {
	TypingChanged(channelID, userID int64, typing bool)
}

// Defaults: at most one start forwarded per 2 s; an indicator not renewed for 6 s ends by itself.
const (
	DefaultThrottle = 2 * time.Second
	DefaultExpiry   = 6 * time.Second
)

type key struct{ user, channel int64 }

type state struct {
	forwarded time.Time
	timer     *time.Timer
	gen       int // which Start armed the timer: a stale timer that fires late must not end a renewed one
}

// Service tracks who is typing where.
type Service struct {
	access   Access
	notify   Notifier
	throttle time.Duration
	expiry   time.Duration
	now      func() time.Time

	mu     sync.Mutex
	typing map[key]*state
}

func New(access Access, notify Notifier, throttle, expiry time.Duration) *Service {
	return &Service{access: access, notify: notify, throttle: throttle, expiry: expiry, now: time.Now, typing: map[key]*state{}}
}

// Start records that a user is typing. Repeats inside the throttle window only extend the indicator.
func (s *Service) Start(ctx context.Context, userID, channelID int64) error {
	ctx, span := tracing.Start(ctx, "typing.Start")
	defer span.End()
	if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
		return err
	}
	k := key{userID, channelID}
	now := s.now()
	s.mu.Lock()
	st, ok := s.typing[k]
	if !ok {
		st = &state{}
		s.typing[k] = st
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	st.gen++
	gen := st.gen
	st.timer = time.AfterFunc(s.expiry, func() { s.expire(k, st, gen) })
	forward := now.Sub(st.forwarded) >= s.throttle
	if forward {
		st.forwarded = now
	}
	s.mu.Unlock()
	if forward {
		s.notify.TypingChanged(channelID, userID, true)
	}
	return nil
}

// Stop ends a user's indicator in a channel (typing:stop, or a sent message).
func (s *Service) Stop(userID, channelID int64) {
	k := key{userID, channelID}
	s.mu.Lock()
	st, ok := s.typing[k]
	if ok {
		st.timer.Stop()
		delete(s.typing, k)
	}
	s.mu.Unlock()
	if ok {
		s.notify.TypingChanged(channelID, userID, false)
	}
}

func (s *Service) expire(k key, st *state, gen int) {
	s.mu.Lock()
	cur, ok := s.typing[k]
	if !ok || cur != st || st.gen != gen {
		s.mu.Unlock()
		return
	}
	delete(s.typing, k)
	s.mu.Unlock()
	s.notify.TypingChanged(k.channel, k.user, false)
}

// MessageStored stops the sender's indicator.
func (s *Service) MessageStored(m model.Message) { s.Stop(m.SenderID, m.ChannelID) }
