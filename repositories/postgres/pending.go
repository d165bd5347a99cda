package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/model"
)

// CreatePending keeps a registration until its mailed token is used or it expires; expired ones are removed on
// the way (the table stays as small as the registrations in flight).
func (s *UserStore) CreatePending(ctx context.Context, tokenHash []byte, p model.PendingRegistration, now time.Time) error {
	if _, err := s.db.Exec(ctx, "DELETE FROM pending_registrations WHERE expires_at <= $1", now); err != nil {
		return fmt.Errorf("postgres: expiring pending registrations: %w", err)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO pending_registrations (token_hash, username, email, password_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, tokenHash, p.Username, p.Email, p.PasswordHash, p.ExpiresAt)
	if err != nil {
		return fmt.Errorf("postgres: creating pending registration: %w", err)
	}
	return nil
}

// TakePending removes and returns the registration a token belongs to; ErrNotFound when there is none or it
// has expired. Removing it in the same statement makes a token good for one account only.
func (s *UserStore) TakePending(ctx context.Context, tokenHash []byte, now time.Time) (model.PendingRegistration, error) {
	var p model.PendingRegistration
	err := s.db.QueryRow(ctx, `DELETE FROM pending_registrations WHERE token_hash = $1
		RETURNING username, email, password_hash, expires_at`, tokenHash).Scan(&p.Username, &p.Email, &p.PasswordHash, &p.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !now.Before(p.ExpiresAt)) {
		return model.PendingRegistration{}, ErrNotFound
	}
	if err != nil {
		return model.PendingRegistration{}, fmt.Errorf("postgres: taking pending registration: %w", err)
	}
	return p, nil
}
