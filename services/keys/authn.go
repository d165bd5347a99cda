package keys

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/auth"
)

// TokenVerifier checks an access token's signature and claims (auth.TokenIssuer: the chat server's tokens).
type TokenVerifier interface {
	Verify(token string) (auth.Claims, error)
}

// SessionOwners reads the chat server's sessions (keystore.Sessions).
type SessionOwners interface {
	SessionOwner(ctx context.Context, sessionID int64, now time.Time) (int64, error)
}

// Authenticator accepts the chat server's access tokens: signature, expiry, and a live session owned by the
// token's subject. Live sessions are remembered for sessionTTL so a burst of requests costs one query; a
// revocation therefore reaches the key service within that time (access tokens last minutes anyway).
type Authenticator struct {
	tokens   TokenVerifier
	sessions SessionOwners
	now      func() time.Time

	mu    sync.Mutex
	cache map[int64]cachedSession
}

type cachedSession struct {
	userID int64
	until  time.Time
}

const sessionTTL = 10 * time.Second

func NewAuthenticator(tokens TokenVerifier, sessions SessionOwners) *Authenticator {
	return &Authenticator{tokens: tokens, sessions: sessions, now: time.Now, cache: map[int64]cachedSession{}}
}

// Authenticate returns the user an access token acts for.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (int64, error) {
	c, err := a.tokens.Verify(token)
	if err != nil {
		return 0, err
	}
	now := a.now()
	a.mu.Lock()
	e, ok := a.cache[c.SessionID]
	a.mu.Unlock()
	if !ok || !now.Before(e.until) {
		owner, err := a.sessions.SessionOwner(ctx, c.SessionID, now)
		if errors.Is(err, model.ErrNotFound) {
			return 0, apperr.New(apperr.Unauthorized, "session has ended")
		}
		if err != nil {
			return 0, apperr.Wrap(apperr.Unavailable, err, "could not check session")
		}
		e = cachedSession{userID: owner, until: now.Add(sessionTTL)}
		a.mu.Lock()
		if len(a.cache) > 100_000 {
			a.cache = map[int64]cachedSession{}
		}
		a.cache[c.SessionID] = e
		a.mu.Unlock()
	}
	if e.userID != c.UserID {
		return 0, apperr.New(apperr.Unauthorized, "invalid access token")
	}
	return c.UserID, nil
}
