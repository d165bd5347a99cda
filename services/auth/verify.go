package auth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/ratelimit"
	"github.com/parleychat/parley/internal/tracing"
)

// Email verification (issue #22, finding 13). With a mailer, Register does not create the account: it mails a
// link to the address and answers the same whether or not the address already has an account (that owner gets
// a "someone tried to register" mail instead), so registration no longer tells a stranger who is a user.
// Without a mailer there is no private channel to the address, and Register answers a taken address with a
// generic refusal, rate-limited (README, Security).

// Mailer sends one plain-text mail (internal/mail: SMTP, or files in a directory for development).
type Mailer interface {
	Send(ctx context.Context, m model.Mail) error
}

// PendingStore keeps registrations until their address is confirmed (Postgres).
type PendingStore interface {
	CreatePending(ctx context.Context, tokenHash []byte, p model.PendingRegistration, now time.Time) error
	TakePending(ctx context.Context, tokenHash []byte, now time.Time) (model.PendingRegistration, error)
}

// Verification turns email verification on (Config.Verification); nil Mailer: off.
type Verification struct {
	Mailer  Mailer
	Pending PendingStore
	// LinkBase is the web app's origin: links point to LinkBase + "/verify-email?token=…".
	LinkBase string
	TTL      time.Duration // how long a link works (24 h)
}

// VerificationSent is Register's answer when verification is on (RegisterResult.Pending).
type VerificationSent struct{ Email string }

const (
	defaultVerifyTTL = 24 * time.Hour
	mailTimeout      = 30 * time.Second
	maxMailsInFlight = 16
)

// mailsPerAddress bounds the mails one address receives from registrations (nobody can mail-bomb it through
// us): 3 at once, then one per 20 minutes.
func newMailLimiter() *ratelimit.Keyed { return ratelimit.New(20*time.Minute, 3) }

// VerificationOn reports whether Register mails a link instead of creating the account.
func (s *Service) VerificationOn() bool { return s.cfg.Verification.Mailer != nil }

// registerPending is Register with verification on: the form is valid and the password hashed.
func (s *Service) registerPending(ctx context.Context, in RegisterInput, hash string) (VerificationSent, error) {
	sent := VerificationSent{Email: in.Email}
	// A username that exists is said (usernames are public); a pending one is not reserved: the first link used wins.
	if _, err := s.users.ByLogin(ctx, in.Username); err == nil {
		return VerificationSent{}, &apperr.Error{Kind: apperr.Conflict, Field: "username", Message: "that username is taken"}
	} else if !errors.Is(err, model.ErrNotFound) {
		return VerificationSent{}, unavailableErr(err, "check the username")
	}
	owner, err := s.users.ByLogin(ctx, in.Email) // an email cannot be a username ('@'), so this finds only an email
	switch {
	case err == nil:
		s.mailAsync(strings.ToLower(in.Email), model.Mail{To: owner.Email, Subject: "Someone tried to create a Parley account with your address",
			Text: "Hello " + owner.Username + ",\n\nsomeone (maybe you) tried to create a new Parley account with this email address, " +
				"which already belongs to your account. Nothing was changed.\n\nTo sign in, go to " + s.cfg.Verification.LinkBase + "/login\n\n" +
				"If it was not you, you can ignore this mail.\n"})
		return sent, nil
	case !errors.Is(err, model.ErrNotFound):
		return VerificationSent{}, unavailableErr(err, "check the email")
	}
	tok, tokHash, err := newSecretToken()
	if err != nil {
		return VerificationSent{}, apperr.Wrap(apperr.Internal, err, "could not create a verification token")
	}
	now := s.now()
	ttl := s.cfg.Verification.TTL
	if ttl <= 0 {
		ttl = defaultVerifyTTL
	}
	p := model.PendingRegistration{Username: in.Username, Email: in.Email, PasswordHash: hash, ExpiresAt: now.Add(ttl)}
	if err := s.cfg.Verification.Pending.CreatePending(ctx, tokHash, p, now); err != nil {
		return VerificationSent{}, unavailableErr(err, "register")
	}
	link := s.cfg.Verification.LinkBase + "/verify-email?token=" + url.QueryEscape(tok)
	s.mailAsync(strings.ToLower(in.Email), model.Mail{To: in.Email, Subject: "Confirm your email to finish creating your Parley account",
		Text: "Hello " + in.Username + ",\n\nopen this link to confirm your address and create your account:\n\n" + link + "\n\n" +
			"The link works for " + ttl.String() + ". If you did not ask for an account, ignore this mail: nothing is created without it.\n"})
	return sent, nil
}

// mailAsync sends a mail without making the request wait, so the answer takes as long whichever mail is sent.
// Mails to one address are limited; when too many are in flight the mail is dropped and logged (the person can
// register again).
func (s *Service) mailAsync(addr string, m model.Mail) {
	if ok, _ := s.mailsPerAddress.Allow(addr); !ok {
		s.log.Warn("registration mail not sent: too many to this address")
		return
	}
	select {
	case s.mailSlots <- struct{}{}:
	default:
		s.log.Warn("registration mail not sent: too many in flight")
		return
	}
	go func() {
		defer func() { <-s.mailSlots }()
		ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
		defer cancel()
		if err := s.cfg.Verification.Mailer.Send(ctx, m); err != nil {
			s.log.ErrorContext(ctx, "registration mail not sent", "err", err)
		}
	}()
}

// VerifyEmail creates the account a mailed token stands for and logs it in. A token works once.
func (s *Service) VerifyEmail(ctx context.Context, token string) (Result, error) {
	ctx, span := tracing.Start(ctx, "auth.VerifyEmail")
	defer span.End()
	if !s.VerificationOn() {
		return Result{}, apperr.New(apperr.NotFound, "email verification is not enabled on this server")
	}
	if token == "" || len(token) > 100 {
		return Result{}, apperr.InvalidField("token", "token is missing or malformed")
	}
	p, err := s.cfg.Verification.Pending.TakePending(ctx, hashSecretToken(token), s.now())
	if errors.Is(err, model.ErrNotFound) {
		return Result{}, apperr.New(apperr.NotFound, "this link is invalid, used or expired: register again")
	} else if err != nil {
		return Result{}, unavailableErr(err, "verify the email")
	}
	u, err := s.users.Create(ctx, model.User{ID: s.ids.Next(), Username: p.Username, Email: p.Email, PasswordHash: p.PasswordHash, DisplayName: p.Username})
	switch {
	case errors.Is(err, model.ErrUsernameTaken):
		return Result{}, &apperr.Error{Kind: apperr.Conflict, Field: "username", Message: "that username was taken meanwhile: register again with another"}
	case errors.Is(err, model.ErrEmailTaken):
		// The address proved itself: saying it has an account tells its owner only.
		return Result{}, apperr.New(apperr.Conflict, "this address already has an account: log in")
	case err != nil:
		return Result{}, apperr.Wrap(apperr.Internal, err, "could not create account")
	}
	return s.startDeviceSession(ctx, u)
}

func unavailableErr(err error, what string) error {
	return apperr.Wrap(apperr.Unavailable, err, "could not "+what+" now; try again")
}
