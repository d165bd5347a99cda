package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/model"
)

// EncryptionStore keeps the end-to-end encryption flag of DMs (services/dmencryption).
type EncryptionStore struct{ db *pgxpool.Pool }

func NewEncryptionStore(db *pgxpool.Pool) *EncryptionStore { return &EncryptionStore{db: db} }

// EncryptDM turns a DM's flag on. It reports whether this call turned it on (false: it already was, so of
// concurrent callers exactly one gets true), whether the DM is a group DM, and ErrNotFound when channelID is not
// a DM. Nothing turns the flag off.
func (s *EncryptionStore) EncryptDM(ctx context.Context, channelID int64) (changed, group bool, err error) {
	err = s.db.QueryRow(ctx, "UPDATE channels SET encrypted = true WHERE id = $1 AND kind = 'dm' AND NOT encrypted RETURNING dm_key IS NULL",
		channelID).Scan(&group)
	if err == nil {
		return true, group, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, false, err
	}
	var encrypted bool
	err = s.db.QueryRow(ctx, "SELECT encrypted, dm_key IS NULL FROM channels WHERE id = $1 AND kind = 'dm'", channelID).Scan(&encrypted, &group)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !encrypted) { // not a DM, or gone meanwhile
		return false, false, model.ErrNotFound
	}
	return false, group, err
}

// Participants lists a DM's participants' profiles, by id.
func (s *EncryptionStore) Participants(ctx context.Context, channelID int64) ([]model.User, error) {
	rows, err := s.db.Query(ctx, "SELECT "+prefixed("u", userCols)+` FROM dm_participants p JOIN users u ON u.id = p.user_id
		WHERE p.channel_id = $1 ORDER BY u.id`, channelID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.User, error) { return scanUser(r) })
}
