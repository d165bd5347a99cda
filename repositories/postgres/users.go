package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/model"
)

// Errors the user store reports; services turn them into client errors.
var (
	ErrNotFound      = model.ErrNotFound
	ErrUsernameTaken = model.ErrUsernameTaken
	ErrEmailTaken    = model.ErrEmailTaken
)

// UserStore keeps accounts.
type UserStore struct{ db *pgxpool.Pool }

func NewUserStore(db *pgxpool.Pool) *UserStore { return &UserStore{db: db} }

const userCols = "id, username, email, password_hash, display_name, avatar_url, disabled_at IS NOT NULL, created_at"

func scanUser(row pgx.Row) (model.User, error) {
	var u model.User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.DisplayName, &u.AvatarURL, &u.Disabled, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrNotFound
	}
	return u, err
}

// Create inserts a user; a case-insensitive clash on username or email gives ErrUsernameTaken/ErrEmailTaken.
func (s *UserStore) Create(ctx context.Context, u model.User) (model.User, error) {
	row := s.db.QueryRow(ctx, `INSERT INTO users (id, username, email, password_hash, display_name, avatar_url)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+userCols,
		u.ID, u.Username, u.Email, u.PasswordHash, u.DisplayName, u.AvatarURL)
	created, err := scanUser(row)
	switch name, _ := isUniqueViolation(err); name {
	case "users_email_lower":
		return model.User{}, ErrEmailTaken
	case "users_username_lower":
		return model.User{}, ErrUsernameTaken
	}
	if err != nil {
		return model.User{}, fmt.Errorf("postgres: creating user: %w", err)
	}
	return created, nil
}

// ByID returns a user.
func (s *UserStore) ByID(ctx context.Context, id int64) (model.User, error) {
	return scanUser(s.db.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = $1", id))
}

// ByLogin finds a user by username or email, case-insensitively.
func (s *UserStore) ByLogin(ctx context.Context, login string) (model.User, error) {
	return scanUser(s.db.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE lower(username) = lower($1) OR lower(email) = lower($1) LIMIT 1", login))
}

// ByIDs returns the users that exist among ids.
func (s *UserStore) ByIDs(ctx context.Context, ids []int64) ([]model.User, error) {
	rows, err := s.db.Query(ctx, "SELECT "+userCols+" FROM users WHERE id = ANY($1) ORDER BY id", ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.User, error) { return scanUser(r) })
}

// SearchByName lists users whose username starts with prefix, or whose display name has a word starting with it
// (case-insensitive): username matches first, each group by lower(username). The display-name part is not indexed
// (a scan of users), fine at this size.
func (s *UserStore) SearchByName(ctx context.Context, prefix string, limit int) ([]model.User, error) {
	escaped := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(prefix))
	rows, err := s.db.Query(ctx, "SELECT "+userCols+` FROM users WHERE disabled_at IS NULL
		AND (lower(username) LIKE $1 || '%' OR lower(display_name) LIKE $1 || '%' OR lower(display_name) LIKE '% ' || $1 || '%')
		ORDER BY (lower(username) LIKE $1 || '%') DESC, lower(username) LIMIT $2`, escaped, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.User, error) { return scanUser(r) })
}

// UpdateProfile sets display name and avatar URL.
func (s *UserStore) UpdateProfile(ctx context.Context, id int64, displayName, avatarURL string) (model.User, error) {
	return scanUser(s.db.QueryRow(ctx, `UPDATE users SET display_name = $2, avatar_url = $3, updated_at = now()
		WHERE id = $1 RETURNING `+userCols, id, displayName, avatarURL))
}

// SessionStore keeps login sessions and their rotating refresh tokens.
type SessionStore struct{ db *pgxpool.Pool }

func NewSessionStore(db *pgxpool.Pool) *SessionStore { return &SessionStore{db: db} }

// Create starts a session with its first refresh token.
func (s *SessionStore) Create(ctx context.Context, sess model.Session, tokenHash []byte) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, $3)", sess.ID, sess.UserID, sess.ExpiresAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)", tokenHash, sess.ID, sess.ExpiresAt)
		return err
	})
}

// Rotate spends a refresh token and stores its successor in one transaction. The row lock (FOR UPDATE) makes
// two concurrent uses of one token resolve to one success and one reuse. Errors: model.ErrNotFound (unknown,
// expired or revoked), model.ErrTokenReused (already spent: the session has now been revoked).
func (s *SessionStore) Rotate(ctx context.Context, oldHash, newHash []byte, now time.Time) (model.Session, error) {
	var sess model.Session
	result := ErrNotFound
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var usedAt *time.Time
		var tokenExpires time.Time
		err := tx.QueryRow(ctx, `SELECT t.used_at, t.expires_at, s.id, s.user_id, s.created_at, s.expires_at, s.revoked_at
			FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1 FOR UPDATE OF t, s`, oldHash).
			Scan(&usedAt, &tokenExpires, &sess.ID, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt, &sess.RevokedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil || !now.Before(tokenExpires) || !now.Before(sess.ExpiresAt) {
			return nil
		}
		if usedAt != nil {
			result = model.ErrTokenReused
			_, err := tx.Exec(ctx, "UPDATE sessions SET revoked_at = $2, revoke_reason = 'refresh_token_reuse' WHERE id = $1", sess.ID, now)
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1", oldHash, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)", newHash, sess.ID, sess.ExpiresAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE sessions SET last_used_at = $2 WHERE id = $1", sess.ID, now); err != nil {
			return err
		}
		result = nil
		return nil
	})
	if err != nil {
		return model.Session{}, fmt.Errorf("postgres: rotating refresh token: %w", err)
	}
	return sess, result
}

// RevokeByToken revokes the session a refresh token (used or not) belongs to and returns it.
func (s *SessionStore) RevokeByToken(ctx context.Context, tokenHash []byte, reason string, now time.Time) (model.Session, error) {
	var sess model.Session
	err := s.db.QueryRow(ctx, `UPDATE sessions s SET revoked_at = COALESCE(s.revoked_at, $2), revoke_reason = COALESCE(s.revoke_reason, $3)
		FROM refresh_tokens t WHERE t.token_hash = $1 AND t.session_id = s.id
		RETURNING s.id, s.user_id, s.created_at, s.expires_at, s.revoked_at`, tokenHash, now, reason).
		Scan(&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt, &sess.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return sess, ErrNotFound
	}
	return sess, err
}

// ByID returns a session.
func (s *SessionStore) ByID(ctx context.Context, id int64) (model.Session, error) {
	var sess model.Session
	err := s.db.QueryRow(ctx, "SELECT id, user_id, created_at, expires_at, revoked_at FROM sessions WHERE id = $1", id).
		Scan(&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt, &sess.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return sess, ErrNotFound
	}
	return sess, err
}
