// Package auth owns accounts and sessions: registration, login, rotating refresh tokens, access tokens, and
// the session checks every REST call and socket event goes through.
package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/ratelimit"
	"github.com/parleychat/parley/internal/rules"
	"github.com/parleychat/parley/internal/tracing"
)

// UserStore is the account storage auth needs.
type UserStore interface {
	Create(ctx context.Context, u model.User) (model.User, error)
	ByID(ctx context.Context, id int64) (model.User, error)
	ByLogin(ctx context.Context, login string) (model.User, error)
	ByIDs(ctx context.Context, ids []int64) ([]model.User, error)
	SearchByName(ctx context.Context, prefix string, limit int) ([]model.User, error)
	UpdateProfile(ctx context.Context, id int64, displayName, avatarURL string) (model.User, error)
}

// SessionStore is the session storage auth needs.
type SessionStore interface {
	Create(ctx context.Context, s model.Session, refreshHash []byte) error
	Rotate(ctx context.Context, oldHash, newHash []byte, now time.Time) (model.Session, error)
	RevokeByToken(ctx context.Context, refreshHash []byte, reason string, now time.Time) (model.Session, error)
	ByID(ctx context.Context, id int64) (model.Session, error)
}

// RevocationListener hears about revoked sessions (the socket layer closes their connections).
type RevocationListener interface {
	SessionRevoked(sessionID, userID int64, reason string)
}

// IDs hands out time-ordered ids.
type IDs interface{ Next() int64 }

// Config tunes the service.
type Config struct {
	BcryptCost    int
	RefreshTTL    time.Duration
	RegisterBurst int // per IP, then one per 30 s
	LoginIPBurst  int // per IP, then 10 per minute
	Verification  Verification
	// Revocations hear about every revoked session, in this order (the other nodes first, then this node's
	// sockets: the composition root).
	Revocations []RevocationListener
}

// Result is what register, login and refresh return.
type Result struct {
	User         model.User
	AccessToken  string
	AccessExpiry time.Time
	RefreshToken string
	SessionID    int64
	// DeviceToken (register and login) marks the client as a device known to the account; the HTTP layer keeps
	// it in an HttpOnly cookie and hands it back to Login.
	DeviceToken string
	// Verification (Register with email verification on) is set instead of everything else: a link was mailed.
	Verification *VerificationSent
}

// Service implements the account rules.
type Service struct {
	users    UserStore
	sessions SessionStore
	tokens   *TokenIssuer
	ids      IDs
	cfg      Config
	log      *slog.Logger
	now      func() time.Time

	dummyHash string // compared against for unknown users, so timing does not reveal who exists
	devices   *deviceTokens

	// Login limits (see Login): every attempt per IP; failures per (IP, account), per account from devices
	// the account does not know, and per known device.
	loginPerIP             *ratelimit.Keyed
	loginFailsPerIPAccount *ratelimit.Keyed
	loginFailsPerAccount   *ratelimit.Keyed
	loginFailsPerDevice    *ratelimit.Keyed
	registerPerIP          *ratelimit.Keyed
	registerRefusedPerIP   *ratelimit.Keyed // registrations refused because the email has an account
	mailsPerAddress        *ratelimit.Keyed // verification mails per address (verify.go)
	mailSlots              chan struct{}    // verification mails being sent

	// validity caches session checks for socket events: a revoked session is dropped at once on this node
	// and, through Forget, on the others.
	validMu  sync.Mutex
	validity map[int64]validEntry
}

type validEntry struct {
	userID        int64
	fresh, usable time.Time
}

const (
	sessionCacheTTL = 30 * time.Second
	// sessionStaleTTL: while Postgres cannot answer, a session checked this recently is still taken as valid,
	// so connected people keep chatting through an outage (a revocation needs Postgres, so none is missed).
	sessionStaleTTL = 10 * time.Minute
)

// New builds the service.
func New(users UserStore, sessions SessionStore, tokens *TokenIssuer, ids IDs, cfg Config, log *slog.Logger) (*Service, error) {
	s := &Service{
		users: users, sessions: sessions, tokens: tokens, ids: ids, cfg: cfg, log: log, now: time.Now,
		devices:                newDeviceTokens(tokens.key),
		loginPerIP:             ratelimit.New(6*time.Second, max(cfg.LoginIPBurst, 1)), // then 10/min from one address
		loginFailsPerIPAccount: ratelimit.New(12*time.Second, 5),                       // 5, then 5/min
		loginFailsPerAccount:   ratelimit.New(time.Minute, 10),                         // 10, then 1/min, all unknown devices together
		loginFailsPerDevice:    ratelimit.New(12*time.Second, 5),                       // 5, then 5/min
		registerPerIP:          ratelimit.New(30*time.Second, max(cfg.RegisterBurst, 1)),
		registerRefusedPerIP:   ratelimit.New(10*time.Minute, 5), // 5, then 6/hour
		mailsPerAddress:        newMailLimiter(),
		mailSlots:              make(chan struct{}, maxMailsInFlight),
		validity:               map[int64]validEntry{},
	}
	h, err := hashPassword("not a real password: timing equalizer", cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	return s, nil
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,32}$`)

// RegisterInput is the registration form.
type RegisterInput struct{ Username, Email, Password, IP string }

// Register creates an account and logs it in; with email verification on it mails a link instead (verify.go).
func (s *Service) Register(ctx context.Context, in RegisterInput) (Result, error) {
	ctx, span := tracing.Start(ctx, "auth.Register")
	defer span.End()
	if ok, wait := s.registerPerIP.Allow(in.IP); !ok {
		return Result{}, apperr.RateLimit(wait)
	}
	in.Username = strings.TrimSpace(in.Username)
	in.Email = strings.TrimSpace(in.Email)
	if !usernameRE.MatchString(in.Username) {
		return Result{}, apperr.InvalidField("username", "username must be 3-32 characters: letters, digits, '_', '.' or '-'")
	}
	if err := validateEmail(in.Email); err != nil {
		return Result{}, err
	}
	if err := validatePassword(in.Password); err != nil {
		return Result{}, err
	}
	// Checked before anything is looked up, so a limited address learns nothing more.
	if ok, wait := s.registerRefusedPerIP.Peek(in.IP); !ok {
		return Result{}, apperr.RateLimit(wait)
	}
	hash, err := hashPassword(in.Password, s.cfg.BcryptCost)
	if err != nil {
		return Result{}, apperr.Wrap(apperr.Internal, err, "could not hash password")
	}
	if s.VerificationOn() {
		sent, err := s.registerPending(ctx, in, hash)
		if err != nil {
			return Result{}, err
		}
		return Result{Verification: &sent}, nil
	}
	u, err := s.users.Create(ctx, model.User{ID: s.ids.Next(), Username: in.Username, Email: in.Email, PasswordHash: hash, DisplayName: in.Username})
	switch {
	case errors.Is(err, model.ErrUsernameTaken):
		// Usernames are public in a chat (mentions, member lists, search): saying one is taken reveals nothing.
		return Result{}, &apperr.Error{Kind: apperr.Conflict, Field: "username", Message: "that username is taken"}
	case errors.Is(err, model.ErrEmailTaken):
		// Email addresses are private: the answer does not name the email, and these refusals are limited per
		// address (registerRefusedPerIP), so probing which addresses have accounts is slow.
		s.registerRefusedPerIP.Spend(in.IP)
		return Result{}, errRegisterRefused
	case err != nil:
		return Result{}, apperr.Wrap(apperr.Internal, err, "could not create account")
	}
	return s.startDeviceSession(ctx, u)
}

var errRegisterRefused = apperr.New(apperr.Conflict, "an account cannot be created with these details; if you already have one, log in")

func validateEmail(email string) error {
	if len(email) > 254 {
		return apperr.InvalidField("email", "email is too long")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		return apperr.InvalidField("email", "email address is not valid")
	}
	return nil
}

func validatePassword(p string) error {
	if !utf8.ValidString(p) {
		return apperr.InvalidField("password", "password must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(p); n < 8 || n > 128 {
		return apperr.InvalidField("password", "password must be 8-128 characters")
	}
	return nil
}

var errBadLogin = apperr.New(apperr.InvalidCredentials, "wrong username/email or password")

// LoginInput is a login attempt: the username or email, the password, the client's address and the device
// token it holds (empty if none).
type LoginInput struct{ Login, Password, IP, Device string }

// Login checks a password. Unknown users and wrong passwords get the same error after the same bcrypt work.
//
// Limits, so that guessing is slow and nobody can lock the owner out: every attempt counts per IP; failures
// count per (IP, account) — the strict limit, which only the guesser's own address hits — and per account, where
// the username and the email are one account. The account-wide limit holds back only devices the account does
// not know: a device that logged in to it before (its device token) has its own limit instead, so the owner keeps
// logging in from their devices while strangers hammer the account.
func (s *Service) Login(ctx context.Context, in LoginInput) (Result, error) {
	ctx, span := tracing.Start(ctx, "auth.Login")
	defer span.End()
	if ok, wait := s.loginPerIP.Allow(in.IP); !ok {
		return Result{}, apperr.RateLimit(wait)
	}
	login := strings.TrimSpace(in.Login)
	u, err := s.users.ByLogin(ctx, login)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return Result{}, apperr.Wrap(apperr.Unavailable, err, "could not check credentials")
	}
	found := err == nil
	// Unknown names are limited like accounts, by what was typed, so a limit never tells whether one exists.
	account := "login:" + strings.ToLower(login)
	device, known := "", false
	if found {
		account = "user:" + strconv.FormatInt(u.ID, 10)
		device, known = s.devices.verify(in.Device, u.ID)
	}
	type limit struct {
		l   *ratelimit.Keyed
		key string
	}
	limits := []limit{{s.loginFailsPerIPAccount, in.IP + "|" + account}, {s.loginFailsPerAccount, account}}
	if known {
		limits[1] = limit{s.loginFailsPerDevice, device}
	}
	for _, l := range limits {
		if ok, wait := l.l.Peek(l.key); !ok {
			return Result{}, apperr.RateLimit(wait)
		}
	}
	if !found {
		checkPassword(s.dummyHash, in.Password)
	}
	if !found || !checkPassword(u.PasswordHash, in.Password) || u.Disabled {
		for _, l := range limits {
			l.l.Spend(l.key)
		}
		return Result{}, errBadLogin
	}
	return s.startDeviceSession(ctx, u)
}

// startDeviceSession starts a session and gives the client a fresh device token for the account.
func (s *Service) startDeviceSession(ctx context.Context, u model.User) (Result, error) {
	res, err := s.startSession(ctx, u)
	if err != nil {
		return res, err
	}
	if res.DeviceToken, err = s.devices.issue(u.ID); err != nil {
		return Result{}, apperr.Wrap(apperr.Internal, err, "could not create device token")
	}
	return res, nil
}

func (s *Service) startSession(ctx context.Context, u model.User) (Result, error) {
	tok, hash, err := newSecretToken()
	if err != nil {
		return Result{}, apperr.Wrap(apperr.Internal, err, "could not create session")
	}
	sess := model.Session{ID: s.ids.Next(), UserID: u.ID, ExpiresAt: s.now().Add(s.cfg.RefreshTTL)}
	if err := s.sessions.Create(ctx, sess, hash); err != nil {
		return Result{}, apperr.Wrap(apperr.Unavailable, err, "could not create session")
	}
	return s.result(u, sess.ID, tok)
}

func (s *Service) result(u model.User, sessionID int64, refresh string) (Result, error) {
	access, exp, err := s.tokens.Issue(u.ID, sessionID)
	if err != nil {
		return Result{}, apperr.Wrap(apperr.Internal, err, "could not sign token")
	}
	return Result{User: u, AccessToken: access, AccessExpiry: exp, RefreshToken: refresh, SessionID: sessionID}, nil
}

// Refresh rotates a refresh token. A token that was already used revokes its whole session (theft detection).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Result, error) {
	ctx, span := tracing.Start(ctx, "auth.Refresh")
	defer span.End()
	if refreshToken == "" || len(refreshToken) > 200 {
		return Result{}, apperr.New(apperr.Unauthorized, "invalid refresh token")
	}
	newTok, newHash, err := newSecretToken()
	if err != nil {
		return Result{}, apperr.Wrap(apperr.Internal, err, "could not rotate token")
	}
	sess, err := s.sessions.Rotate(ctx, hashSecretToken(refreshToken), newHash, s.now())
	switch {
	case errors.Is(err, model.ErrTokenReused):
		s.log.WarnContext(ctx, "refresh token reused: session revoked", "session", sess.ID, "user", sess.UserID)
		s.revoked(sess.ID, sess.UserID, "refresh_token_reuse")
		return Result{}, apperr.New(apperr.Unauthorized, "refresh token was already used; the session has been revoked")
	case errors.Is(err, model.ErrNotFound):
		return Result{}, apperr.New(apperr.Unauthorized, "invalid or expired refresh token")
	case err != nil:
		return Result{}, apperr.Wrap(apperr.Unavailable, err, "could not refresh session")
	}
	u, err := s.users.ByID(ctx, sess.UserID)
	if err != nil || u.Disabled {
		return Result{}, apperr.New(apperr.Unauthorized, "account is not active")
	}
	return s.result(u, sess.ID, newTok)
}

// Logout revokes the session of a refresh token. Unknown tokens are not an error (logout is idempotent).
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	ctx, span := tracing.Start(ctx, "auth.Logout")
	defer span.End()
	sess, err := s.sessions.RevokeByToken(ctx, hashSecretToken(refreshToken), "logout", s.now())
	if errors.Is(err, model.ErrNotFound) {
		return nil
	}
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "could not log out")
	}
	s.revoked(sess.ID, sess.UserID, "logout")
	return nil
}

// Forget drops a session from the validity cache (another node revoked it).
func (s *Service) Forget(sessionID int64) {
	s.validMu.Lock()
	delete(s.validity, sessionID)
	s.validMu.Unlock()
}

func (s *Service) revoked(sessionID, userID int64, reason string) {
	s.Forget(sessionID)
	for _, l := range s.cfg.Revocations {
		l.SessionRevoked(sessionID, userID, reason)
	}
}

// Authenticate verifies an access token and that its session is still live and belongs to the token's subject
// (a token naming one user's session and another user would otherwise act as the other user, should the
// signing key ever leak).
func (s *Service) Authenticate(ctx context.Context, accessToken string) (Claims, error) {
	ctx, span := tracing.Start(ctx, "auth.Authenticate")
	defer span.End()
	c, err := s.tokens.Verify(accessToken)
	if err != nil {
		return Claims{}, err
	}
	owner, err := s.sessionOwner(ctx, c.SessionID)
	if err != nil {
		return Claims{}, err
	}
	if owner != c.UserID {
		s.log.WarnContext(ctx, "access token names another user's session", "session", c.SessionID, "sub", c.UserID)
		return Claims{}, apperr.New(apperr.Unauthorized, "invalid access token")
	}
	return c, nil
}

// CheckSession says whether a session is still valid; positive answers are cached for a short time because
// every socket event asks.
func (s *Service) CheckSession(ctx context.Context, sessionID int64) error {
	ctx, span := tracing.Start(ctx, "auth.CheckSession")
	defer span.End()
	_, err := s.sessionOwner(ctx, sessionID)
	return err
}

// sessionOwner returns the user of a live session.
func (s *Service) sessionOwner(ctx context.Context, sessionID int64) (int64, error) {
	now := s.now()
	s.validMu.Lock()
	e, ok := s.validity[sessionID]
	s.validMu.Unlock()
	if ok && now.Before(e.fresh) {
		return e.userID, nil
	}
	sess, err := s.sessions.ByID(ctx, sessionID)
	if errors.Is(err, model.ErrNotFound) {
		s.Forget(sessionID)
		return 0, apperr.New(apperr.Unauthorized, "session not found")
	}
	if err != nil {
		if ok && now.Before(e.usable) {
			return e.userID, nil
		}
		return 0, apperr.Wrap(apperr.Unavailable, err, "could not check session")
	}
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		s.Forget(sessionID)
		return 0, apperr.New(apperr.Unauthorized, "session has ended")
	}
	s.validMu.Lock()
	if len(s.validity) > 100_000 {
		s.validity = map[int64]validEntry{}
	}
	usable := now.Add(sessionStaleTTL)
	if sess.ExpiresAt.Before(usable) {
		usable = sess.ExpiresAt
	}
	s.validity[sessionID] = validEntry{userID: sess.UserID, fresh: now.Add(sessionCacheTTL), usable: usable}
	s.validMu.Unlock()
	return sess.UserID, nil
}

// Me returns the account of a user.
func (s *Service) Me(ctx context.Context, userID int64) (model.User, error) {
	ctx, span := tracing.Start(ctx, "auth.Me")
	defer span.End()
	u, err := s.users.ByID(ctx, userID)
	if errors.Is(err, model.ErrNotFound) {
		return u, apperr.New(apperr.NotFound, "user not found")
	}
	if err != nil {
		return u, apperr.Wrap(apperr.Unavailable, err, "could not load user")
	}
	return u, nil
}

// UpdateProfile changes display name and/or avatar URL (nil = unchanged).
func (s *Service) UpdateProfile(ctx context.Context, userID int64, displayName, avatarURL *string) (model.User, error) {
	ctx, span := tracing.Start(ctx, "auth.UpdateProfile")
	defer span.End()
	u, err := s.Me(ctx, userID)
	if err != nil {
		return u, err
	}
	if displayName != nil {
		d := strings.TrimSpace(*displayName)
		if n := utf8.RuneCountInString(d); n < 1 || n > rules.DisplayNameMaxRunes || !utf8.ValidString(d) || hasControl(d) {
			return u, apperr.InvalidField("displayName", "display name must be 1-64 characters without control characters")
		}
		if model.HasInvisibleOrBidi(d) {
			return u, apperr.InvalidField("displayName", "display name must not contain invisible or text-direction characters (U+200B, U+202E, ...)")
		}
		u.DisplayName = d
	}
	if avatarURL != nil {
		a := strings.TrimSpace(*avatarURL)
		if a != "" && !model.AvatarURLAllowed(a) {
			return u, apperr.InvalidField("avatarUrl", "avatar must be empty or an image stored by Parley ("+model.AvatarPathPrefix+"…); links to other sites are not accepted, since every viewer's browser would fetch them")
		}
		u.AvatarURL = a
	}
	u, err = s.users.UpdateProfile(ctx, userID, u.DisplayName, u.AvatarURL)
	if err != nil {
		return u, apperr.Wrap(apperr.Unavailable, err, "could not update profile")
	}
	return u, nil
}

// Search lists users by username prefix or by the start of a word of their display name.
func (s *Service) Search(ctx context.Context, prefix string, limit int) ([]model.User, error) {
	ctx, span := tracing.Start(ctx, "auth.Search")
	defer span.End()
	prefix = strings.TrimSpace(prefix)
	if prefix == "" || len(prefix) > 32 {
		return nil, apperr.InvalidField("query", "query must be 1-32 characters")
	}
	if limit <= 0 || limit > 50 {
		limit = 20
	}
	us, err := s.users.SearchByName(ctx, prefix, limit)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "could not search users")
	}
	return us, nil
}

// Users returns the existing users among ids.
func (s *Service) Users(ctx context.Context, ids []int64) ([]model.User, error) {
	ctx, span := tracing.Start(ctx, "auth.Users")
	defer span.End()
	us, err := s.users.ByIDs(ctx, ids)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "could not load users")
	}
	return us, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
